// EspStagedImageCheck: the staged ESP8266 image read back before eboot's command is written. A
// model of the core's Updater (3.1.2 Updater.cpp: byte 2 of the first sector replaced by the
// running chip's flash mode when they differ; end(true) reads back in 128-byte pieces) stages
// an image; the check must accept exactly the image as uploaded, with or without that byte
// rewritten, and refuse any other staged byte, a short or a long read-back.

#include "spore/device/esp_staged_image.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ota_test_support.h"

namespace spore {
namespace {

using testing::Bytes;
using testing::make_image;
using testing::sha256_of;

/// What the Updater leaves in flash for `image` on a chip running in `chip_mode`.
Bytes staged(Bytes image, uint8_t chip_mode) {
  if (image[2] != chip_mode) image[2] = chip_mode;
  return image;
}

/// begin() with `image`'s digest and byte 2, then the staged bytes in pieces of `piece`.
bool check(const Bytes& image, const Bytes& flash, uint8_t chip_mode, size_t piece = 128) {
  EspStagedImageCheck c;
  const Bytes sha = sha256_of(image);
  uint8_t expected[32];
  std::copy(sha.begin(), sha.end(), expected);
  c.begin(expected, image.size(), image[2], chip_mode);
  for (size_t off = 0; off < flash.size(); off += piece) {
    c.update(flash.data() + off, std::min(piece, flash.size() - off));
  }
  EXPECT_EQ(c.bytes_read(), flash.size());
  const bool first = c.matches();
  EXPECT_EQ(c.matches(), first) << "asking twice gives the same answer";
  return first;
}

TEST(EspStagedImageTest, TheImageAsUploadedMatches) {
  Bytes image = make_image(9000, 5);
  image[2] = 3;  // DOUT, what an ESP-01 image says
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{128}, size_t{4096}, image.size()}) {
    SCOPED_TRACE(piece);
    EXPECT_TRUE(check(image, staged(image, 3), 3, piece));
  }
}

TEST(EspStagedImageTest, TheFlashModeByteTheUpdaterRewroteStillMatches) {
  Bytes image = make_image(5000, 6);
  image[2] = 0;  // a QIO image uploaded to a DOUT board: the Updater writes 3 there
  const Bytes flash = staged(image, 3);
  ASSERT_NE(flash, image);
  for (size_t piece : {size_t{1}, size_t{2}, size_t{128}}) {
    SCOPED_TRACE(piece);
    EXPECT_TRUE(check(image, flash, 3, piece));
  }
  // A chip whose own mode byte is not 0..3: ESP.getFlashChipMode() is 0xFF and so is byte 2.
  EXPECT_TRUE(check(image, staged(image, 0xFF), 0xFF));
}

TEST(EspStagedImageTest, AnyOtherDifferenceIsRefused) {
  Bytes image = make_image(5000, 7);
  image[2] = 3;
  const Bytes good = staged(image, 3);
  for (size_t at : {size_t{0}, size_t{1}, size_t{3}, size_t{127}, size_t{128}, size_t{4095}, size_t{4096},
                    image.size() - 1}) {
    SCOPED_TRACE(at);
    Bytes flash = good;
    flash[at] ^= 0x10;
    EXPECT_FALSE(check(image, flash, 3));
  }
  // Byte 2 neither as uploaded nor the chip's mode.
  Bytes flash = good;
  flash[2] = 1;
  EXPECT_FALSE(check(image, flash, 3));
  // The uploaded byte was rewritten, but to another mode than the chip's.
  image[2] = 0;
  flash = staged(image, 3);
  EXPECT_FALSE(check(image, flash, 2));
}

TEST(EspStagedImageTest, ShortLongAndEmptyReadBacksAreRefused) {
  Bytes image = make_image(3000, 8);
  image[2] = 3;
  const Bytes flash = staged(image, 3);
  EXPECT_FALSE(check(image, Bytes(flash.begin(), flash.end() - 1), 3));
  Bytes longer = flash;
  longer.push_back(0xFF);  // an erased byte past the image
  EXPECT_FALSE(check(image, longer, 3));
  EXPECT_FALSE(check(image, Bytes(flash.begin(), flash.begin() + 2), 3));
  EspStagedImageCheck c;
  uint8_t expected[32] = {};
  c.begin(expected, 0, 0, 0);
  EXPECT_FALSE(c.matches()) << "nothing read back is never a match";
  c.update(nullptr, 10);
  EXPECT_EQ(c.bytes_read(), 0u);
}

TEST(EspStagedImageTest, BeginStartsOver) {
  Bytes image = make_image(2000, 9);
  image[2] = 2;
  const Bytes flash = staged(image, 2);
  EspStagedImageCheck c;
  const Bytes sha = sha256_of(image);
  uint8_t expected[32];
  std::copy(sha.begin(), sha.end(), expected);
  c.begin(expected, image.size(), image[2], 2);
  c.update(flash.data(), 700);  // an earlier, unfinished read-back
  c.begin(expected, image.size(), image[2], 2);
  c.update(flash.data(), flash.size());
  EXPECT_TRUE(c.matches());
  EXPECT_EQ(c.staged_mode_byte(), 2);
  uint8_t digest[32];
  c.digest(digest);
  EXPECT_EQ(Bytes(digest, digest + 32), sha);
}

}  // namespace
}  // namespace spore
