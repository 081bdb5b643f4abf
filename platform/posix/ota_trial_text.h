#pragma once
/// @file ota_trial_text.h
/// The two texts a Linux node's OTA trial exchanges (docs/ota.md, "Linux: proven before the
/// switch, rolled back after it"):
///
///  - the self-test line a new image prints for `spored --self-test`: `spored <version> self-test
///    ok`, which the running node checks before it switches to that image;
///  - the trial record, kept in the state directory as `ota_trial` while a new image is on trial
///    (the marker) and as `ota_rollback` after the guardian or a start rolled it back:
///
///        spore-ota-trial 1
///        id 6f1c0e2ab4d39a10
///        image 9f2c...64 hex digits
///        image-version 9.9.9
///        previous 1b7e...64 hex digits
///        previous-version 0.1.0
///        peers 2
///        guardian 4242
///        state trial
///        reason the new image's process ended 310 ms after the switch, before it proved healthy
///
/// Pure functions over text, fuzzed by tests/fuzz/ota_trial_text_fuzz.cpp.

#include <cstdint>
#include <string>
#include <string_view>

namespace spore::posix {

/// "spored <version> self-test ok".
std::string self_test_line(std::string_view version);

/// True when the first line of `output` (up to '\n', a trailing '\r' allowed) is
/// self_test_line(v) for a version v of 1..kMaxSlotVersionBytes printable ASCII characters without
/// spaces; `*version` (may be nullptr) gets v. Anything after the first line is ignored.
bool parse_self_test_line(std::string_view output, std::string* version);

/// One trial: what is being tried, what it replaces, and (for a rollback) why it ended.
struct TrialRecord {
  uint64_t id = 0;                   ///< random, non-zero: tells one trial from the next
  uint8_t image_sha256[32] = {};     ///< the image on trial
  std::string image_version;         ///< as its self-test printed it; "" = unknown
  uint8_t previous_sha256[32] = {};  ///< the proven image a rollback returns to (all 0 = unknown)
  std::string previous_version;
  uint32_t peers = 0;                ///< ACTIVE peers when the update came; > 0: the new image must see one
  uint32_t guardian_pid = 0;         ///< 0 = none (yet)
  bool stopped = false;              ///< the image on trial was stopped (SIGTERM/SIGINT) before it proved healthy
  std::string reason;                ///< rollback records: one sentence

  bool operator==(const TrialRecord& o) const;
};

/// Limits of the text fields (longer values are cut by format_trial_record()).
constexpr size_t kMaxTrialVersionBytes = 28;
constexpr size_t kMaxTrialReasonBytes = 300;
/// Largest record parse_trial_record() reads.
constexpr size_t kMaxTrialRecordBytes = 4096;
constexpr uint32_t kMaxTrialPeers = 65535;
constexpr uint32_t kMaxTrialPid = 4194304;  ///< the kernel's PID_MAX_LIMIT

/// The record as text (see the file comment). Versions keep only printable non-space ASCII, the
/// reason only printable ASCII; both are cut to their limits; peers and pid are clamped. The
/// result always parses back to the same record.
std::string format_trial_record(const TrialRecord& record);

/// Parses a record. Lines are `key value`; unknown keys are skipped (a newer writer may add some),
/// a known key twice is an error, `id` (16 hex digits, not all 0) and `image` (64 hex digits) are
/// required. False with a sentence in `*error` (may be nullptr); `*out` is written only on success.
bool parse_trial_record(std::string_view text, TrialRecord* out, std::string* error);

/// A decimal number 0..max: 1..10 digits only (no sign, no space). `*out` written only on success.
bool parse_decimal_u32(std::string_view text, uint32_t max, uint32_t* out);

/// The first 12 hex digits of a SHA-256, for log lines.
std::string short_sha(const uint8_t (&sha256)[32]);

}  // namespace spore::posix
