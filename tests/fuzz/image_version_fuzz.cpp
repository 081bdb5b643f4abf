// libFuzzer target for the version an image carries (core/spore/auth/image_version.h): the streaming
// search for the version slot (ImageVersionScanner) and the MAJOR.MINOR.PATCH reader.
//
// Input: bytes 0-3 seed the chunking (fuzz_chunker.h; 0 = one chunk), the rest is an image.
//
// Properties checked on every input, abort() on violation:
// - never crashes or reads out of bounds (ASan/UBSan);
// - the result does not depend on how the image is split into feed() calls;
// - a slot found is in the image: the marker, then its text, which is 1..28 printable characters
//   without spaces, followed by the end of the image, a byte that ends a text, or nothing when it
//   is 28 long; its version is parse_image_version(text), valid;
// - the first marker in the image is never missed: when its text holds a version, that is the
//   slot found; when nothing is found, it holds none;
// - parse_image_version(image as text), when valid, names numbers written in the text as
//   "MAJOR.MINOR.PATCH" (each without leading zeros beyond one digit, as printed);
// - a pre-release is only read from a '-', the downgrade marker only from "+...downgrade"; the
//   comparison is antisymmetric and a pre-release is older than the same version without one.
//
// Seed corpus: tests/fuzz/corpus/image_version/.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_chunker.h"
#include "spore/auth/image_version.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "image_version_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

bool text_byte(char c) { return c > ' ' && c <= '~'; }

spore::ImageVersionScanner scan(std::string_view image, uint32_t seed) {
  spore::ImageVersionScanner s;
  spore::fuzz::Chunker chunker(seed, 64);
  size_t at = 0;
  while (at < image.size()) {
    const size_t n = chunker.next(image.size() - at);
    s.feed(reinterpret_cast<const uint8_t*>(image.data()) + at, n);
    at += n;
  }
  s.finish();
  return s;
}

/// The text after a marker at `at`, by the slot rule.
std::string_view text_after(std::string_view image, size_t at) {
  size_t end = at;
  while (end < image.size() && end - at < spore::kImageVersionMaxTextBytes && text_byte(image[end])) ++end;
  return image.substr(at, end - at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4 || size > 64 * 1024) return 0;
  uint32_t seed = 0;
  std::memcpy(&seed, data, 4);
  const std::string_view image(reinterpret_cast<const char*>(data) + 4, size - 4);

  const spore::ImageVersionScanner whole = scan(image, 0);
  const spore::ImageVersionScanner split = scan(image, seed);
  require(whole.found() == split.found() && std::strcmp(whole.text(), split.text()) == 0,
          "the result depends on the chunking");

  static constexpr std::string_view kMarker = "SPORE-VERSION-SLOT:";
  const size_t first = image.find(kMarker);
  if (whole.found()) {
    const std::string_view text = whole.text();
    require(!text.empty() && text.size() <= spore::kImageVersionMaxTextBytes, "text length");
    for (char c : text) require(text_byte(c), "text byte");
    const spore::ImageVersion v = spore::parse_image_version(text);
    require(v.valid && whole.version().valid, "the text found holds no version");
    require(spore::compare_image_versions(v, whole.version()) == 0, "version() is not the text's version");
    bool in_image = false;
    for (size_t at = image.find(kMarker); at != std::string_view::npos && !in_image;
         at = image.find(kMarker, at + 1)) {
      in_image = text_after(image, at + kMarker.size()) == text;
    }
    require(in_image, "the slot found is not marker + text in the image");
  }
  if (first != std::string_view::npos) {
    const std::string_view text = text_after(image, first + kMarker.size());
    const bool has_version = spore::parse_image_version(text).valid;
    if (has_version) require(whole.found() && text == whole.text(), "the first marker's version was missed");
    if (!whole.found()) require(!has_version, "nothing found although the first marker holds a version");
  } else {
    require(!whole.found(), "a slot found without a marker in the image");
  }

  const spore::ImageVersion parsed = spore::parse_image_version(image);
  if (parsed.prerelease) require(image.find('-') != std::string_view::npos, "a pre-release without a '-'");
  if (parsed.downgrade_marked) {
    const size_t plus = image.find('+');
    require(plus != std::string_view::npos && image.find(spore::kImageDowngradeMarker, plus) != std::string_view::npos,
            "a downgrade marker without '+...downgrade'");
  }
  if (parsed.valid && whole.found()) {
    const int ab = spore::compare_image_versions(parsed, whole.version());
    const int ba = spore::compare_image_versions(whole.version(), parsed);
    require((ab < 0) == (ba > 0) && (ab == 0) == (ba == 0), "the comparison is not antisymmetric");
  }
  if (parsed.valid) {
    spore::ImageVersion release = parsed;
    release.prerelease = false;
    if (parsed.prerelease) require(spore::compare_image_versions(parsed, release) < 0, "a pre-release is not older");
  }
  if (parsed.valid) {
    const std::string printed =
        std::to_string(parsed.major) + "." + std::to_string(parsed.minor) + "." + std::to_string(parsed.patch);
    // Leading zeros ("01.2.3") print shorter: compare the numbers' digits only when none has one.
    if (image.find("0") == std::string_view::npos) {
      require(image.find(printed) != std::string_view::npos, "the version read is not written in the text");
    }
  }
  return 0;
}
