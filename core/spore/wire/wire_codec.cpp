#include "spore/wire/wire_codec.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/flash_string.h"
#include "spore/wire/wire_format.h"

namespace spore {
namespace wire {

using format::valid_type;

// ---- names ---------------------------------------------------------------------------------------

// The name tables are string lists ("a\0" "b\0", flash_string.h), one object per function: the
// firmware links only decode_error_name() (GET /metrics), and --gc-sections drops the other
// tables with their functions. Switches returning literals kept every name in the object's merged
// string section, in the ESP8266's DRAM, used or not.

namespace {
/// The n-th string of a string list in RAM (flash_nth() reads flash).
const char* nth_name(const char* list, size_t n) {
  for (; n > 0; --n) list += std::strlen(list) + 1;
  return list;
}
}  // namespace

const char* message_type_name(MessageType type) {
  // Index 0 ("?") stands for every value outside the enum.
  static constexpr char kNames[] = "?\0announce\0ping\0ack\0ping_req\0gossip\0leave\0info_req\0info\0event\0event_req\0"
                               "event_digest\0discover\0digest\0digest_req\0roster_digest\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(MessageType::kLastType) + 1, "one name per MessageType");
  const auto i = static_cast<uint8_t>(type);
  return nth_name(kNames, valid_type(i) ? i : 0);
}

const char* member_state_name(MemberState state) {
  static constexpr char kNames[] = "?\0alive\0suspect\0dead\0left\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(MemberState::kLeft) + 1, "one name per MemberState");
  const auto i = static_cast<size_t>(state);
  return nth_name(kNames, i < kCount ? i : 0);
}

FlashStr decode_error_name(DecodeError error) {
  // In flash: GET /metrics names every reason it counts.
  static constexpr char kNames[] SPORE_FLASH =
      "ok\0too_short\0too_long\0bad_magic\0bad_version\0unknown_type\0bad_flags\0bad_sender\0truncated_body\0"
      "trailing_bytes\0bad_length\0bad_string\0bad_field\0auth_required\0unexpected_auth\0bad_tag\0stale\0"
      "replayed\0wrong_destination\0unknown_sender\0address_mismatch\0discover_limited\0?\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == kDecodeErrorCount + 1, "one name per DecodeError, then \"?\"");
  const auto i = static_cast<size_t>(error);
  return flash_nth(kNames, kCount, i < kDecodeErrorCount ? i : kDecodeErrorCount);
}

const char* encode_error_name(EncodeError error) {
  static constexpr char kNames[] = "ok\0no_space\0bad_string\0bad_field\0unknown_type\0?\0";
  constexpr size_t kCount = flash_list_count(kNames, sizeof kNames);
  static_assert(kCount == static_cast<size_t>(EncodeError::kUnknownType) + 2, "one name per EncodeError, then \"?\"");
  const auto i = static_cast<size_t>(error);
  return nth_name(kNames, i < kCount - 1 ? i : kCount - 1);
}

}  // namespace wire
}  // namespace spore
