#include "posix/ota_trial_text.h"

#include <cstdio>
#include <cstring>

#include "spore/base/hex.h"
#include "spore/ota/ota.h"

namespace spore::posix {

namespace {

constexpr std::string_view kSelfTestPrefix = "spored ";
constexpr std::string_view kSelfTestSuffix = " self-test ok";
constexpr std::string_view kRecordMagic = "spore-ota-trial 1";

bool printable(char c) { return c >= 0x20 && c <= 0x7E; }
bool version_char(char c) { return c > 0x20 && c <= 0x7E; }

bool valid_version(std::string_view v) {
  if (v.size() > kMaxTrialVersionBytes) return false;
  for (char c : v)
    if (!version_char(c)) return false;
  return true;
}

/// Keeps the characters `keep` accepts, at most `max` of them.
template <typename Keep>
std::string filtered(std::string_view text, size_t max, Keep keep) {
  std::string s;
  for (char c : text) {
    if (s.size() == max) break;
    if (keep(c)) s.push_back(c);
  }
  return s;
}

bool parse_hex_bytes(std::string_view text, uint8_t* out, size_t n) {
  if (text.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    const int hi = hex_digit_value(text[2 * i]), lo = hex_digit_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool fail(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return false;
}

}  // namespace

bool parse_decimal_u32(std::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string self_test_line(std::string_view version) {
  return std::string(kSelfTestPrefix) + std::string(version) + std::string(kSelfTestSuffix);
}

bool parse_self_test_line(std::string_view output, std::string* version) {
  std::string_view line = output.substr(0, output.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() <= kSelfTestPrefix.size() + kSelfTestSuffix.size()) return false;
  if (line.substr(0, kSelfTestPrefix.size()) != kSelfTestPrefix) return false;
  if (line.substr(line.size() - kSelfTestSuffix.size()) != kSelfTestSuffix) return false;
  const std::string_view v =
      line.substr(kSelfTestPrefix.size(), line.size() - kSelfTestPrefix.size() - kSelfTestSuffix.size());
  if (v.empty() || !valid_version(v)) return false;
  if (version) *version = std::string(v);
  return true;
}

bool TrialRecord::operator==(const TrialRecord& o) const {
  return id == o.id && std::memcmp(image_sha256, o.image_sha256, 32) == 0 && image_version == o.image_version &&
         std::memcmp(previous_sha256, o.previous_sha256, 32) == 0 && previous_version == o.previous_version &&
         peers == o.peers && guardian_pid == o.guardian_pid && stopped == o.stopped && reason == o.reason;
}

std::string short_sha(const uint8_t (&sha256)[32]) {
  char hex[65];
  ota_sha256_hex(sha256, hex);
  return std::string(hex, 12);
}

std::string format_trial_record(const TrialRecord& r) {
  char id[17], image[65], previous[65];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(r.id));
  ota_sha256_hex(r.image_sha256, image);
  ota_sha256_hex(r.previous_sha256, previous);
  std::string t(kRecordMagic);
  t += "\nid ";
  t += id;
  t += "\nimage ";
  t += image;
  t += "\nimage-version " + filtered(r.image_version, kMaxTrialVersionBytes, version_char);
  t += "\nprevious ";
  t += previous;
  t += "\nprevious-version " + filtered(r.previous_version, kMaxTrialVersionBytes, version_char);
  t += "\npeers " + std::to_string(r.peers > kMaxTrialPeers ? kMaxTrialPeers : r.peers);
  t += "\nguardian " + std::to_string(r.guardian_pid > kMaxTrialPid ? kMaxTrialPid : r.guardian_pid);
  t += r.stopped ? "\nstate stopped" : "\nstate trial";
  // The value runs to the end of its line; trailing spaces would not survive a reader that trims.
  std::string reason = filtered(r.reason, kMaxTrialReasonBytes, printable);
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  t += "\nreason " + reason + "\n";
  return t;
}

bool parse_trial_record(std::string_view text, TrialRecord* out, std::string* error) {
  if (text.size() > kMaxTrialRecordBytes) return fail(error, "longer than " + std::to_string(kMaxTrialRecordBytes) + " bytes");
  TrialRecord r;
  enum Key : unsigned { kId = 1, kImage = 2, kImageVersion = 4, kPrevious = 8, kPreviousVersion = 16, kPeers = 32,
                        kGuardian = 64, kState = 128, kReason = 256 };
  unsigned seen = 0;
  bool first = true;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (first) {
      if (line != kRecordMagic) return fail(error, "it does not start with '" + std::string(kRecordMagic) + "'");
      first = false;
      continue;
    }
    if (line.empty()) continue;
    for (char c : line)
      if (!printable(c)) return fail(error, "it holds a control character");
    const size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    unsigned which = 0;
    bool ok = true;
    if (key == "id") {
      which = kId;
      uint8_t b[8] = {};
      ok = parse_hex_bytes(value, b, sizeof b);
      r.id = 0;
      for (uint8_t x : b) r.id = r.id << 8 | x;
      ok = ok && r.id != 0;
    } else if (key == "image") {
      which = kImage;
      ok = parse_hex_bytes(value, r.image_sha256, 32);
    } else if (key == "image-version") {
      which = kImageVersion;
      ok = valid_version(value);
      r.image_version = std::string(value);
    } else if (key == "previous") {
      which = kPrevious;
      ok = parse_hex_bytes(value, r.previous_sha256, 32);
    } else if (key == "previous-version") {
      which = kPreviousVersion;
      ok = valid_version(value);
      r.previous_version = std::string(value);
    } else if (key == "peers") {
      which = kPeers;
      ok = parse_decimal_u32(value, kMaxTrialPeers, &r.peers);
    } else if (key == "guardian") {
      which = kGuardian;
      ok = parse_decimal_u32(value, kMaxTrialPid, &r.guardian_pid);
    } else if (key == "state") {
      which = kState;
      ok = value == "trial" || value == "stopped";
      r.stopped = value == "stopped";
    } else if (key == "reason") {
      which = kReason;
      ok = value.size() <= kMaxTrialReasonBytes && (value.empty() || value.back() != ' ');
      r.reason = std::string(value);
    } else {
      continue;  // a key of a newer writer
    }
    if ((seen & which) != 0) return fail(error, "'" + std::string(key) + "' appears twice");
    seen |= which;
    if (!ok) return fail(error, "its '" + std::string(key) + "' line is malformed");
  }
  if (first) return fail(error, "it is empty");
  if ((seen & kId) == 0 || (seen & kImage) == 0) return fail(error, "it lacks its 'id' or 'image' line");
  *out = r;
  return true;
}

}  // namespace spore::posix
