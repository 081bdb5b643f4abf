// The version an image carries (image_version.h): the MAJOR.MINOR.PATCH rule, the comparison,
// and the streaming search for the version slot in any chunking.

#include "spore/auth/image_version.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spore {
namespace {

std::string v(std::string_view text) {
  const ImageVersion p = parse_image_version(text);
  if (!p.valid) return "-";
  return std::to_string(p.major) + "." + std::to_string(p.minor) + "." + std::to_string(p.patch);
}

TEST(ImageVersionTest, TheFirstMajorMinorPatchCounts) {
  EXPECT_EQ(v("0.2.0"), "0.2.0");
  EXPECT_EQ(v("0.0.9"), "0.0.9");
  EXPECT_EQ(v("v1.4.2-rc1+g1234567"), "1.4.2");
  EXPECT_EQ(v("spore-esp8266-0.1.0"), "0.1.0");  // "8266" is followed by '-', not '.'
  EXPECT_EQ(v("spore 0.2.0-ota+g1234567"), "0.2.0");
  EXPECT_EQ(v("1.2.3.4"), "1.2.3");
  EXPECT_EQ(v("10.20.300"), "10.20.300");
  EXPECT_EQ(v("999999999.0.1"), "999999999.0.1");
  EXPECT_EQ(v("1.2.3x"), "1.2.3");
  for (const char* none : {"", "dev", "1.2", "1..2", "a.b.c", "1.2.", "1000000000.0.0"}) {
    EXPECT_EQ(v(none), "-") << none;
  }
  // A number too long to be one is skipped as a whole, not read from its middle.
  EXPECT_EQ(v("12345678901.2.3"), "-");
  EXPECT_EQ(v("12345678901.2.3 then 4.5.6"), "4.5.6");
}

int cmp(const char* a, const char* b) { return compare_image_versions(parse_image_version(a), parse_image_version(b)); }

TEST(ImageVersionTest, ComparisonIsNumericPerComponent) {
  EXPECT_LT(cmp("0.0.9", "0.2.0"), 0);
  EXPECT_GT(cmp("0.2.0", "0.0.9"), 0);
  EXPECT_GT(cmp("0.2.0", "0.2.0-rc1"), 0);
  EXPECT_GT(cmp("0.10.0", "0.9.99"), 0);  // not a text comparison
  EXPECT_LT(cmp("1.99.99", "2.0.0"), 0);
  EXPECT_GT(cmp("1.0.10", "1.0.9"), 0);
}

// Issue 18 (ota-fix): semver §11 as far as a node can without keeping texts: a pre-release is
// older than its release, two pre-releases of one version are equal, build metadata never counts.
TEST(ImageVersionTest, PreReleaseIsOlderAndBuildMetadataIsIgnored) {
  EXPECT_LT(cmp("0.2.0-rc", "0.2.0"), 0);
  EXPECT_GT(cmp("0.2.0", "0.2.0-rc"), 0);
  EXPECT_LT(cmp("v1.4.2-rc1+g1234567", "1.4.2"), 0);
  EXPECT_GT(cmp("0.2.1-rc1", "0.2.0"), 0);  // numbers first
  EXPECT_EQ(cmp("0.2.0-rc1", "0.2.0-rc2"), 0);
  EXPECT_EQ(cmp("1.0.0+build9", "1.0.0"), 0);
  EXPECT_EQ(cmp("1.0.0+downgrade", "1.0.0"), 0);
  EXPECT_EQ(cmp("spore-esp8266-0.1.0", "0.1.0"), 0);  // a '-' before the version is no pre-release
  EXPECT_EQ(cmp("1.2.3.4", "1.2.3"), 0);
}

TEST(ImageVersionTest, TheDowngradeMarkerIsABuildMetadataIdentifier) {
  for (const char* marked : {"0.1.0+downgrade", "0.1.0-rc1+downgrade", "0.1.0+g12ab.downgrade",
                             "0.1.0+downgrade.g12ab", "spore-0.1.0+a.downgrade.b"}) {
    EXPECT_TRUE(parse_image_version(marked).downgrade_marked) << marked;
  }
  for (const char* plain : {"0.1.0", "0.1.0-downgrade", "0.1.0+downgrades", "0.1.0+xdowngrade", "downgrade-0.1.0",
                            "0.1.0+build.downgrad", "0.1.0 +downgrade", "0.1.0-rc1", "downgrade"}) {
    EXPECT_FALSE(parse_image_version(plain).downgrade_marked) << plain;
  }
}

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

/// Feeds `data` in chunks of `chunk` bytes and returns the version text found ("" when none).
std::string scan(const std::vector<uint8_t>& data, size_t chunk) {
  ImageVersionScanner scanner;
  for (size_t off = 0; off < data.size(); off += chunk) {
    scanner.feed(data.data() + off, std::min(chunk, data.size() - off));
  }
  scanner.finish();
  EXPECT_EQ(scanner.found(), scanner.version().valid);
  return scanner.text();
}

void expect_found(const std::string& image, const std::string& text) {
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{19}, size_t{64}, image.size() + 1}) {
    EXPECT_EQ(scan(bytes(image), chunk), text) << "chunk " << chunk;
  }
}

const std::string kMarker = "SPORE-VERSION-SLOT:";
std::string slot(const std::string& version) {
  std::string s = kMarker + version;
  s.resize(48, '\0');
  return s;
}

TEST(ImageVersionScannerTest, FindsTheSlotInAnyChunking) {
  expect_found("\x7f" "ELF...." + slot("0.2.0") + "more bytes", "0.2.0");
  expect_found(slot("1.2.3"), "1.2.3");
  expect_found("xx" + kMarker + "4.5.6", "4.5.6");  // ends with the image, no NUL
  expect_found(std::string(1000, 'S') + slot("7.8.9"), "7.8.9");
  // A partial marker that overlaps the real one ("...VERSION-S" then "SPORE-...").
  expect_found("SPORE-VERSION-SPORE-VERSION-SLOT:2.0.0", "2.0.0");
  expect_found("SPORE-VERSION-S" + slot("2.0.1"), "2.0.1");
  // The text is printable ASCII without spaces: a space ends it.
  expect_found(kMarker + "3.0.0 trailing", "3.0.0");
  // A full 28-byte text with no NUL after it.
  const std::string longest = "1.0.0-" + std::string(22, 'a');
  ASSERT_EQ(longest.size(), kImageVersionMaxTextBytes);
  expect_found(kMarker + longest + "zzzz", longest);
}

TEST(ImageVersionScannerTest, AMarkerWithoutAVersionIsSkippedAndTheFirstRealSlotWins) {
  // What a scanner that held the marker in plain text would find first in its own image.
  expect_found(kMarker + std::string(1, '\0') + "junk" + slot("0.3.0") + slot("9.9.9"), "0.3.0");
  expect_found(kMarker + "dev" + std::string(1, '\0') + slot("0.3.1"), "0.3.1");
  // The marker glued to a failed text: the scan resumes at the byte that ended the text.
  expect_found(kMarker + "nope" + std::string(1, '\0') + "SPORE-VERSION-SLOT:0.3.2", "0.3.2");
}

TEST(ImageVersionScannerTest, NothingWithoutAWholeMarker) {
  expect_found("", "");
  expect_found("SPORE-VERSION-SLO", "");
  expect_found("SPORE-VERSION-SLOT", "");
  expect_found("spore-version-slot:1.2.3", "");  // case matters
  expect_found(kMarker, "");
  expect_found(kMarker + "1.2", "");
  ImageVersionScanner s;
  const auto image = bytes(slot("1.0.0"));
  s.feed(image.data(), image.size());
  ASSERT_TRUE(s.found());
  s.reset();
  EXPECT_FALSE(s.found());
  EXPECT_STREQ(s.text(), "");
  EXPECT_FALSE(s.version().valid);
}

}  // namespace
}  // namespace spore
