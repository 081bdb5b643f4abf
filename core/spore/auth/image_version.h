#pragma once
/// @file image_version.h
/// The version an image carries inside its own bytes, so that a signature over the image covers it
/// (docs/ota.md, "Downgrades"). Both platforms embed one **version slot** in their image: the
/// bytes `SPORE-VERSION-SLOT:` followed by the version text (printable ASCII, no spaces, at most
/// kImageVersionMaxTextBytes), NUL-padded to kImageVersionSlotBytes. The running firmware reads its
/// own slot (platform/posix/version.cpp, platform/esp8266/node.cpp); OtaSession finds the slot of
/// an uploaded image while it streams (ImageVersionScanner) and refuses a signed image older than
/// the running one unless the request allows a downgrade.
///
/// Why a slot in the image and not a field in the signature trailer: the trailer is the ESP8266
/// Arduino core's format (image || signature || uint32 LE length, cores/esp8266/Updater.cpp
/// 241-330, tools/signing.py), which has no room for anything else, and images signed by the
/// core's tools must keep installing. Bytes inside the image are covered by the signature as they
/// are; no new format, no new signing step.
///
/// The comparable version is the first `MAJOR.MINOR.PATCH` (three dot-separated decimal numbers, each
/// 1..9 digits, starting at a digit run) in the text: "0.2.0", "v1.4.2-rc1", "spore-esp8266-0.1.0"
/// all have one. What follows it, semver-style (semver.org §9-§11):
///  - a pre-release, '-' right after PATCH ("0.2.0-rc1"): older than the same release without one
///    (0.2.0-rc1 < 0.2.0). Two pre-releases of one MAJOR.MINOR.PATCH compare equal (the
///    identifiers are not compared: a node would need to keep the text; equal installs anyway).
///  - build metadata, '+' then dot-separated identifiers ("1.0.0+build9"): never compared. The
///    identifier `downgrade` ("0.1.0+downgrade", "0.1.0-rc1+g12ab.downgrade") is the **downgrade
///    marker**: `spore sign --allow-downgrade` writes it into the slot before signing, so the
///    signature covers it, and a node installs a signed image older than its own only when the
///    image carries it AND the request asks for a downgrade (OtaSession::begin()).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spore {

/// Size of a whole slot: marker, version text and NUL padding.
constexpr size_t kImageVersionSlotBytes = 48;
/// Length of the marker "SPORE-VERSION-SLOT:" in front of the version text.
constexpr size_t kImageVersionMarkerBytes = 19;
/// Longest version text a slot holds (it always keeps one NUL).
constexpr size_t kImageVersionMaxTextBytes = kImageVersionSlotBytes - kImageVersionMarkerBytes - 1;

/// MAJOR.MINOR.PATCH of a version text; `valid` false when the text has none.
struct ImageVersion {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t patch = 0;
  bool valid = false;
  bool prerelease = false;        ///< a '-' suffix right after PATCH: older than the same release
  bool downgrade_marked = false;  ///< build metadata holds the identifier `downgrade` (file comment)
};

/// The build-metadata identifier that marks an image as signed for downgrades.
constexpr char kImageDowngradeMarker[] = "downgrade";

/// The first MAJOR.MINOR.PATCH in `text` (see the file comment); invalid when there is none.
ImageVersion parse_image_version(std::string_view text);

/// Negative when `a` is older than `b`, 0 when equal, positive when newer; numeric, component by
/// component, then a pre-release before the release (build metadata and the marker never count).
/// Both must be valid (an invalid one compares as 0.0.0).
int compare_image_versions(const ImageVersion& a, const ImageVersion& b);

/// Finds the first version slot in a stream of image bytes fed in any split: the marker, then
/// the version text up to the first byte that is not printable ASCII (or kImageVersionMaxTextBytes
/// bytes). A marker whose text has no MAJOR.MINOR.PATCH is skipped and the search goes on, so a
/// stray marker never hides the real slot. Fixed size (~48 bytes), no allocation; the marker is
/// kept masked in flash, so the scanner's code never holds a second copy of it in an image.
class ImageVersionScanner {
 public:
  /// Forgets what was fed: ready for a new image.
  void reset();
  /// The next image bytes, in order. Stops looking once a slot was found.
  void feed(const uint8_t* data, size_t size_bytes);
  /// The image ended: a version text running up to its last byte counts.
  void finish();
  bool found() const { return found_; }
  /// The version text of the slot found, NUL-terminated; "" when none was found (yet).
  const char* text() const { return found_ ? text_ : ""; }
  /// Its parsed version (invalid when none was found).
  const ImageVersion& version() const { return version_; }

 private:
  void end_text();

  char text_[kImageVersionMaxTextBytes + 1] = {};
  ImageVersion version_{};
  uint8_t matched_ = 0;   // marker bytes matched so far
  uint8_t text_len_ = 0;  // version text bytes collected after a whole marker
  bool in_text_ = false;
  bool found_ = false;
};

}  // namespace spore
