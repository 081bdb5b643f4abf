#pragma once
/// @file heap_size.h
/// Free memory as a 32-bit code, for the two places that keep it per peer: the wire (ANNOUNCE and
/// INFO, docs/protocol.md §4) and the member table. A node's own free memory is a 64-bit byte
/// count (SystemInfo::free_heap_bytes()); a Linux host has more than the 4 GiB a uint32 holds.
///
/// The code is the byte count itself below 2 GiB (so every ESP8266 value, and every v2 datagram
/// an older node sends, reads unchanged), else bit 31 set and the count in whole KiB (rounded
/// down) in bits 0..30, saturating at 2^31 - 1 KiB (2 TiB - 1 KiB). A peer's free memory thus
/// costs no more RAM or wire bytes than before, and above 2 GiB is exact to 1 KiB.

#include <cstdint>

namespace spore {

/// Codes with this bit set count KiB.
constexpr uint32_t kHeapCodeKibFlag = 0x80000000u;

/// The code of `bytes` (see above): exact below 2 GiB, else KiB rounded down, saturating. Out of
/// line: ANNOUNCE and INFO both call it, and the 64-bit compares cost flash on the lx106.
uint32_t heap_code_from_bytes(uint64_t bytes);

/// The byte count a code stands for (a KiB code: its KiB x 1024).
constexpr uint64_t heap_bytes_from_code(uint32_t code) {
  return (code & kHeapCodeKibFlag) != 0 ? static_cast<uint64_t>(code & ~kHeapCodeKibFlag) << 10 : code;
}

}  // namespace spore
