#include "spore/auth/image_version.h"

#include "spore/base/flash_string.h"

namespace spore {

namespace {

// The marker, XOR-masked: a plain copy here would be a second marker in every image (the patch
// tools in tests/integration/ota_lib.sh and bench/ expect exactly one slot), and the scanner of
// the node receiving this image would have to skip it. The literal below is only read during
// constant evaluation, so it is not emitted.
constexpr uint8_t kMarkerMask = 0x5A;

struct MarkerTables {
  uint8_t masked[kImageVersionMarkerBytes];
  /// KMP failure function: after `i + 1` matched bytes and a mismatch, how many still match.
  uint8_t fallback[kImageVersionMarkerBytes];
};

constexpr MarkerTables make_marker_tables(const char (&marker)[kImageVersionMarkerBytes + 1]) {
  MarkerTables t{};
  for (size_t i = 0; i < kImageVersionMarkerBytes; ++i) t.masked[i] = static_cast<uint8_t>(marker[i] ^ kMarkerMask);
  size_t k = 0;
  for (size_t i = 1; i < kImageVersionMarkerBytes; ++i) {
    while (k > 0 && marker[i] != marker[k]) k = t.fallback[k - 1];
    if (marker[i] == marker[k]) ++k;
    t.fallback[i] = static_cast<uint8_t>(k);
  }
  return t;
}

// In flash on the ESP8266 (38 bytes): read with flash_read_byte() only.
constexpr MarkerTables kMarker SPORE_FLASH = make_marker_tables("SPORE-VERSION-SLOT:");

uint8_t marker_byte(size_t i) {
  return static_cast<uint8_t>(static_cast<uint8_t>(flash_read_byte(reinterpret_cast<const char*>(&kMarker.masked[i]))) ^
                              kMarkerMask);
}

uint8_t marker_fallback(size_t i) {
  return static_cast<uint8_t>(flash_read_byte(reinterpret_cast<const char*>(&kMarker.fallback[i])));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr size_t kMaxComponentDigits = 9;  // < 10^9 fits uint32_t

/// A decimal number of 1..kMaxComponentDigits digits at text[*pos]; advances *pos past it.
bool take_number(std::string_view text, size_t* pos, uint32_t* out) {
  size_t digits = 0;
  uint32_t v = 0;
  while (*pos < text.size() && is_digit(text[*pos])) {
    if (++digits > kMaxComponentDigits) return false;
    v = v * 10 + static_cast<uint32_t>(text[*pos] - '0');
    ++*pos;
  }
  *out = v;
  return digits > 0;
}

/// Characters of semver pre-release and build identifiers, and the '.' between them.
bool is_identifier_char(char c) {
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '.';
}

/// Reads the suffix at text[pos] (just after PATCH) into `v`: a pre-release ("-rc1"), then build
/// metadata ("+g12ab.downgrade") whose identifiers are checked for the downgrade marker.
void take_suffix(std::string_view text, size_t pos, ImageVersion* v) {
  if (pos < text.size() && text[pos] == '-') {
    v->prerelease = true;
    while (pos < text.size() && is_identifier_char(text[pos])) ++pos;
  }
  if (pos >= text.size() || text[pos] != '+') return;
  ++pos;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && is_identifier_char(text[end]) && text[end] != '.') ++end;
    // No substr(): its range check brings libstdc++'s exception text into the ESP8266's DRAM.
    if (std::string_view(text.data() + pos, end - pos) == std::string_view(kImageDowngradeMarker)) {
      v->downgrade_marked = true;
    }
    if (end >= text.size() || text[end] != '.') return;
    pos = end + 1;
  }
}

}  // namespace

ImageVersion parse_image_version(std::string_view text) {
  for (size_t start = 0; start < text.size(); ++start) {
    // Only at the start of a digit run: "8266-0.1.0" is 0.1.0, never 266-something.
    if (!is_digit(text[start]) || (start > 0 && is_digit(text[start - 1]))) continue;
    ImageVersion v;
    size_t pos = start;
    if (take_number(text, &pos, &v.major) && pos < text.size() && text[pos] == '.' && ++pos &&
        take_number(text, &pos, &v.minor) && pos < text.size() && text[pos] == '.' && ++pos &&
        take_number(text, &pos, &v.patch)) {
      v.valid = true;
      take_suffix(text, pos, &v);
      return v;
    }
  }
  return ImageVersion{};
}

int compare_image_versions(const ImageVersion& a, const ImageVersion& b) {
  const uint32_t x[3] = {a.major, a.minor, a.patch};
  const uint32_t y[3] = {b.major, b.minor, b.patch};
  for (size_t i = 0; i < 3; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  if (a.prerelease != b.prerelease) return a.prerelease ? -1 : 1;  // 1.0.0-rc1 < 1.0.0 (semver §11)
  return 0;
}

void ImageVersionScanner::reset() { *this = ImageVersionScanner{}; }

void ImageVersionScanner::end_text() {
  in_text_ = false;
  text_[text_len_] = '\0';
  version_ = parse_image_version(std::string_view(text_, text_len_));
  found_ = version_.valid;
  if (!found_) version_ = ImageVersion{};
  text_len_ = 0;
}

void ImageVersionScanner::finish() {
  if (in_text_) end_text();
}

void ImageVersionScanner::feed(const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes && !found_; ++i) {
    const uint8_t c = data[i];
    if (in_text_) {
      // The same rule as the running firmware's reader (platform/posix/version.cpp): printable
      // ASCII without spaces, up to the first other byte.
      if (c > ' ' && c <= '~') {
        text_[text_len_++] = static_cast<char>(c);
        if (text_len_ == kImageVersionMaxTextBytes) end_text();  // a full slot ends without a NUL
        continue;
      }
      end_text();
      if (found_) return;
      // Not a version: this byte may start the next marker.
    }
    while (matched_ > 0 && c != marker_byte(matched_)) matched_ = marker_fallback(matched_ - 1u);
    if (c == marker_byte(matched_)) ++matched_;
    if (matched_ == kImageVersionMarkerBytes) {
      matched_ = 0;
      in_text_ = true;
      text_len_ = 0;
    }
  }
}

}  // namespace spore
