// libFuzzer target for the texts of a Linux node's OTA trial (platform/posix/ota_trial_text.h):
// the trial record (the marker `ota_trial` and the rollback record `ota_rollback` in the state
// dir), the self-test line a new image prints, and the decimal reader behind the guardian's
// command line and the temporary files' pids.
//
// Input: byte 0 % 3 selects the parser (0 record, 1 self-test line, 2 decimal with the maximum
// from bytes 1-4, little-endian); the rest is its text.
//
// Properties checked on every input, abort() on violation:
// - never crashes or reads out of bounds (ASan/UBSan);
// - record: a refusal leaves the output untouched and has a sentence; an accepted record formats
//   to a text that parses back to the same record, and formatting is then a fixed point;
// - self-test line: accepted iff the first line (without a trailing '\r') is exactly
//   self_test_line(version) for the version returned, which is 1..28 printable characters
//   without spaces;
// - decimal: accepted iff the text is 1..10 ASCII digits whose value is <= max, and the value is
//   that number.
//
// Seed corpus: tests/fuzz/corpus/ota_trial_text/.

#include "../../platform/posix/ota_trial_text.cpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace spore::posix;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "ota_trial_text_fuzz: property violated: %s\n", what);
    std::abort();
  }
}

void check_record(std::string_view text) {
  TrialRecord sentinel;
  sentinel.id = 0x5EED;
  sentinel.reason = "untouched";
  TrialRecord r = sentinel;
  std::string error;
  if (!parse_trial_record(text, &r, &error)) {
    require(r == sentinel, "a refused record changed the output");
    require(!error.empty(), "a refusal without a sentence");
    return;
  }
  require(r.id != 0, "an accepted record with id 0");
  const std::string formatted = format_trial_record(r);
  TrialRecord back;
  require(parse_trial_record(formatted, &back, &error), "a formatted record does not parse");
  require(back == r, "format/parse does not round-trip");
  require(format_trial_record(back) == formatted, "formatting is not a fixed point");
}

void check_self_test_line(std::string_view text) {
  std::string version;
  const bool ok = parse_self_test_line(text, &version);
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!ok) return;
  require(!version.empty() && version.size() <= kMaxTrialVersionBytes, "version length");
  for (char c : version) require(c > 0x20 && c <= 0x7E, "a version character outside printable non-space ASCII");
  require(line == self_test_line(version), "accepted a line that is not self_test_line(version)");
}

void check_decimal(const uint8_t* data, size_t size) {
  if (size < 4) return;
  const uint32_t max = static_cast<uint32_t>(data[0] | data[1] << 8 | data[2] << 16) | static_cast<uint32_t>(data[3]) << 24;
  const std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  uint32_t v = 0xDEAD;
  const bool ok = parse_decimal_u32(text, max, &v);
  bool digits = !text.empty() && text.size() <= 10;
  uint64_t value = 0;
  for (char c : text) {
    digits = digits && c >= '0' && c <= '9';
    if (digits) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  require(ok == (digits && value <= max), "parse_decimal_u32 accepts other than 1..10 digits <= max");
  require(ok ? v == value : v == 0xDEAD, "wrong value, or output written on refusal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: check_record(text); break;
    case 1: check_self_test_line(text); break;
    default: check_decimal(data + 1, size - 1); break;
  }
  return 0;
}
