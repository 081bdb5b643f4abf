#pragma once
/// @file bytes.h
/// 32-bit integers to and from bytes, in both orders: big-endian for the wire protocol, request-proof
/// nonces and image digests (network order, docs/protocol.md), little-endian for what the ESP8266
/// core writes (image headers, the signed-image trailer length, the boot counter record); and FNV-1a,
/// the 32-bit hash of the API and resources digests. One copy for core and the programs, instead
/// of one per module.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spore {

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void store_be32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

inline void store_le32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

/// FNV-1a (32 bit) offset basis: the hash of no bytes.
constexpr uint32_t kFnv1aOffset = 0x811C9DC5u;

/// FNV-1a (32 bit) of `size_bytes` bytes at `p`, continuing from `h` (kFnv1aOffset to start), so a
/// digest over several pieces equals the digest of their concatenation. Not for security.
inline uint32_t fnv1a(uint32_t h, const uint8_t* p, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; ++i) h = (h ^ p[i]) * 0x01000193u;
  return h;
}

/// fnv1a() over the bytes of `text`.
inline uint32_t fnv1a(uint32_t h, std::string_view text) {
  return fnv1a(h, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace spore
