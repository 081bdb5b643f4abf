#pragma once
/// @file hex.h
/// Hex digits, for the places core reads and writes them: cluster keys (HmacKey::set_hex),
/// percent-escapes in request targets (http_query_param, canonical_target), image digests in JSON,
/// and request-proof nonces and proofs (request_auth.h).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spore {

/// 0..15 for a hex digit (either case), -1 for anything else.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Lower-case hex of `size_bytes` bytes into `out`: 2 * size_bytes characters, then a NUL.
void hex_encode(const uint8_t* data, size_t size_bytes, char* out);

/// Decodes exactly 2 * size_bytes hex digits (either case) into `out`; false (out partly written)
/// for any other length or a character that is not a hex digit.
bool hex_decode(std::string_view hex, uint8_t* out, size_t size_bytes);

}  // namespace spore
