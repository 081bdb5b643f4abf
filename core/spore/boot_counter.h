#pragma once
/// @file boot_counter.h
/// The incarnation number of a device without a clock that survives restarts: a counter kept in
/// a few bytes of persistent storage (on the ESP8266 the first 8 bytes of the EEPROM sector),
/// raised once per boot. Membership needs a number that grows on every restart so that peers
/// tell a restarted node from a stale datagram of its previous life.
///
/// Layout (little-endian): 4 bytes magic 0x53504231, 4 bytes counter. Blank or foreign contents
/// (erased flash reads 0xFF) start the count again at 1.

#include <cstddef>
#include <cstdint>

namespace spore {

/// Bytes of storage next_boot_count() reads and writes.
constexpr size_t kBootCounterBytes = 8;

/// Reads the counter from `storage`, writes the next one back and returns it (>= 1, never 0).
/// After 2^32 - 1 boots it wraps to 1 instead of 0 (0 is not a valid incarnation).
uint32_t next_boot_count(uint8_t (&storage)[kBootCounterBytes]);

}  // namespace spore
