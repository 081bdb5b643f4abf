#pragma once
/// @file incarnation.h
/// Incarnation numbers that never saturate: how a boot count becomes an incarnation, and the one
/// way core compares two of them (docs/protocol.md §7, "Incarnations").
///
/// An incarnation is 32 bits on the wire (v1 header, unchanged). A node starts each boot at
/// incarnation_for_boot(boot count) = boot count << 16 (mod 2^32) and raises it by one on every
/// SWIM refutation (and when its datagram sequence would wrap). Membership refuses refutations
/// past kIncarnationRunSteps per run, so refutations never reach the next boot's value (only a
/// 2^32-datagram sequence wrap after that could; spored then stores a higher boot count). The
/// boot count itself is 32 bits; only its low 16 bits reach the incarnation, which therefore
/// wraps every 65,536 boots instead of stopping at the old 16-bit limit (where restarts stopped
/// being told from stale datagrams, issue 18 finding 2).
///
/// Every ordering of two incarnations (membership, gossip precedence, replay window, event
/// streams, refutations) uses RFC 1982 serial number arithmetic with SERIAL_BITS = 32: `a` is
/// newer than `b` when (a - b) mod 2^32 lies in 1 .. 2^31 - 1. It is correct while the two values
/// compared are less than 2^31 apart: 32,767 boots (plus refutations) between what a peer last
/// heard of a node and what the node says now. A peer forgets a silent member after
/// dead_after + retention, so only a node that restarted 32,768 times while a peer kept hearing
/// nothing from it and still remembered it could be misjudged (then as stale, until forgotten).
/// A value exactly 2^31 away is undefined in RFC 1982; here it counts as older (refused), never as
/// newer, so an ambiguous datagram changes nothing.

#include <cstdint>

namespace spore {

/// Bits of an incarnation below the boot count: the refutations one run may make.
constexpr uint32_t kIncarnationBootShift = 16;

/// Incarnation steps one run may take above its boot's first incarnation (refutations; the
/// membership protocol refuses more, so a run never reaches the next boot's value).
constexpr uint32_t kIncarnationRunSteps = (1u << kIncarnationBootShift) - 1;

/// The incarnation a node starts a boot with: the low 16 bits of `boot_count` in the upper half.
/// Wraps to 0 every 65,536 boots, which serial arithmetic reads as newer than the boot before.
constexpr uint32_t incarnation_for_boot(uint32_t boot_count) {
  return static_cast<uint32_t>(boot_count << kIncarnationBootShift);
}

/// RFC 1982 (SERIAL_BITS 32): true when `a` is a later incarnation than `b`, i.e.
/// (a - b) mod 2^32 is in 1 .. 2^31 - 1.
constexpr bool incarnation_newer(uint32_t a, uint32_t b) {
  const uint32_t ahead = a - b;
  return ahead != 0 && ahead < 0x80000000u;
}

/// True when `a` is an earlier incarnation than `b`, or exactly 2^31 away (undefined in RFC 1982:
/// treated as older so that it is refused).
constexpr bool incarnation_older(uint32_t a, uint32_t b) { return a != b && !incarnation_newer(a, b); }

/// `a` is `b` or later: the same life or a newer one.
constexpr bool incarnation_at_least(uint32_t a, uint32_t b) { return !incarnation_older(a, b); }

}  // namespace spore
