#pragma once
/// @file member_table.h
/// The membership table one node keeps about its peers, with the seed's status model:
/// ACTIVE while heard from within inactive_after_ms, INACTIVE until dead_after_ms, then DEAD;
/// DEAD members are forgotten after dead_retention_ms.
///
/// Memory: SPORE_MAX_MEMBERS fixed slots plus one shared arena of SPORE_MEMBER_ARENA_BYTES for the
/// variable-length details (SDK version, API list). Sizing the API list per slot would cost
/// SPORE_MAX_APIS x (SPORE_MAX_URI_LEN + 2) = ~800 B per member, which a 40 KB-heap ESP-01 cannot
/// spend on 32 members; most nodes serve a handful of endpoints, so they share one pool. A fleet
/// runs few firmware builds, so the arena also keeps one copy per distinct detail: members whose
/// SDK version bytes are equal, or whose complete API lists have the same digest and the same
/// records, refer to the same bytes (a block is freed when its last member lets go of it).
///
/// Full-table policy: a newcomer takes the slot of the DEAD member heard from least recently; if
/// none is DEAD, of the INACTIVE member heard from least recently; if every member is ACTIVE the
/// newcomer is refused and counted (refused_full()). Healthy members are never displaced, so a
/// burst of newcomers cannot make the table forget live peers. If the arena is full, the member's
/// details are dropped and `details_truncated` is set (the member itself is still tracked).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/cluster/api_registry.h"
#include "spore/base/delegate.h"
#include "spore/base/heap_size.h"
#include "spore/base/limits.h"

namespace spore {

static_assert(SPORE_MEMBER_ARENA_BYTES <= 0xFFFF, "arena offsets are 16-bit");

enum class MemberStatus : uint8_t { kActive = 0, kInactive = 1, kDead = 2 };
/// "ACTIVE", "INACTIVE" or "DEAD", as in the seed's JSON.
const char* member_status_name(MemberStatus status);

/// The seed's `resources` object, minus sdkVersion which lives in the arena.
struct MemberResources {
  /// Free memory as heap_size.h codes it (4 bytes, as on the wire): free_heap_bytes() reads it.
  uint32_t free_heap_code = 0;
  uint32_t chip_id = 0;
  uint32_t flash_chip_size_bytes = 0;
  uint16_t cpu_freq_mhz = 0;

  uint64_t free_heap_bytes() const { return heap_bytes_from_code(free_heap_code); }
};

/// What a node says about itself when it is heard from (discovery, heartbeat, ack).
struct MemberHello {
  uint32_t node_id = 0;      ///< stable identity (chip id); 0 is invalid
  uint32_t incarnation = 0;  ///< grows on every restart; a larger one means the node restarted
  uint32_t ip = 0;           ///< IPv4, most significant byte first (192.168.1.2 = 0xC0A80102)
  uint16_t http_port = 0;
  std::string_view hostname;  ///< truncated to SPORE_MAX_HOSTNAME_LEN
  /// A larger incarnation than known is a SWIM refutation by the same process (details kept,
  /// no kRestarted), not a restart. The membership protocol sets it for every hello except a
  /// joining node's ANNOUNCE.
  bool refutation = false;
};

struct Member {
  // Bit-fields take no default member initializer in C++17, so the constructor clears them.
  Member() : left(false), details_truncated(false), suspected(false) {}

  uint32_t node_id = 0;
  uint32_t incarnation = 0;
  uint32_t ip = 0;
  uint32_t last_seen_ms = 0;    ///< local clock when last heard from
  uint32_t status_since_ms = 0; ///< local clock when status last changed
  uint32_t api_digest = 0;      ///< the digest the member announced (ApiRegistry::digest())
  MemberResources resources;
  uint32_t image_digest = 0;  ///< first 4 bytes of the SHA-256 of its running image, as announced
  uint16_t http_port = 0;
  uint16_t udp_port = 0;      ///< where it receives SPORE datagrams, as announced
  uint16_t latency_ms = kUnknownLatency;  ///< last measured round trip
  MemberStatus status = MemberStatus::kActive;
  // One byte for the three flags, and a slot is free when its node_id is 0 (an id observe()
  // refuses), not by a flag of its own: 92 B per slot on the lx106 ABI instead of 96.
  bool left : 1;               ///< said goodbye (graceful leave) rather than fell silent
  bool details_truncated : 1;  ///< arena was full: sdk version / API list not stored
  bool suspected : 1;  ///< silent and a whole probe round (direct + indirect) went unanswered
  char hostname[SPORE_MAX_HOSTNAME_LEN + 1] = {};

  static constexpr uint16_t kUnknownLatency = 0xFFFF;
  /// Where to send it datagrams: its announced port, or `fallback` (the cluster's) if it gave none.
  uint16_t udp_port_or(uint16_t fallback) const { return udp_port != 0 ? udp_port : fallback; }

 private:
  friend class MemberTable;
  bool used() const { return node_id != 0; }
  struct Block {
    uint16_t offset = 0;
    uint16_t size = 0;
  };
  Block sdk_;  // raw bytes of the SDK version string
  Block api_;  // records of [method u8][uri_len u8][uri bytes]
};

/// What changed, reported to the listener (NodeContext turns these into events).
enum class MemberChange : uint8_t {
  kDiscovered,  ///< first heard from
  kRestarted,   ///< heard from with a larger incarnation
  kRecovered,   ///< INACTIVE or DEAD member heard from again (same incarnation)
  kInactive,
  kDead,
  kLeft,       ///< graceful leave; the member is DEAD from now on
  kForgotten,  ///< DEAD past retention or evicted; the Member is about to be cleared
};
const char* member_change_name(MemberChange change);

class MemberTable {
 public:
  using Listener = Delegate<void(const Member&, MemberChange)>;

  struct Thresholds {
    uint32_t inactive_after_ms = 10000;
    uint32_t dead_after_ms = 60000;
    uint32_t dead_retention_ms = 300000;
  };

  void set_thresholds(const Thresholds& thresholds) { thresholds_ = thresholds; }
  void set_listener(Listener listener) { listener_ = listener; }

  /// Records that `hello.node_id` was heard from at `now_ms`. Inserts it (full-table policy
  /// above), refreshes address and hostname, and marks it ACTIVE. A hello with a smaller
  /// incarnation than known is stale (a delayed datagram from before a restart) and is ignored.
  /// Returns the member, or nullptr if refused (invalid id, stale, or table full).
  Member* observe(const MemberHello& hello, uint32_t now_ms);

  /// First-hand evidence that a known member is alive at `now_ms` (a datagram of it, or an ACK
  /// relayed for it) without a hello's details: refreshes last_seen, recovers an INACTIVE or DEAD
  /// member, and takes a larger incarnation as a refutation (details kept). Returns nullptr for
  /// an unknown member, a stale incarnation, or a member that left in this incarnation.
  Member* touch(uint32_t node_id, uint32_t incarnation, uint32_t now_ms);

  /// Second-hand evidence (a DIGEST entry, docs/protocol.md §11.12): another member had evidence
  /// that `node_id` was alive at `seen_ms` (not after now_ms). Moves last_seen forward only, and
  /// recovers an INACTIVE or DEAD member when seen_ms is within inactive_after_ms of now_ms. Never
  /// for an unknown member or one that left (only its own datagrams say it is back). Returns the
  /// member when last_seen moved, else nullptr.
  Member* vouch(uint32_t node_id, uint32_t seen_ms, uint32_t now_ms);

  /// Graceful leave: the member becomes DEAD at once with `left` set. Ignored if stale.
  void mark_left(uint32_t node_id, uint32_t incarnation, uint32_t now_ms);

  /// Forgets `m` (a member of this table) now if it is DEAD, as retention would later (listener
  /// kForgotten first); false, and nothing changes, for a member in any other status.
  bool forget_dead(Member& m);

  /// Re-evaluates every member's status at `now_ms`; forgets DEAD members past retention.
  void update(uint32_t now_ms);

  bool set_latency(uint32_t node_id, uint32_t round_trip_ms);
  bool set_resources(uint32_t node_id, const MemberResources& resources, std::string_view sdk_version);
  /// Replaces the member's API list and digest. Entries beyond what fits are dropped and
  /// details_truncated is set.
  bool set_api(uint32_t node_id, uint32_t api_digest, const ApiEndpoint* endpoints, size_t count);
  /// Appends one endpoint to the member's API list (lists arrive in pages). False, with
  /// details_truncated set, when the arena is full or the uri longer than SPORE_MAX_URI_LEN.
  bool append_api(uint32_t node_id, HttpMethod method, std::string_view uri);
  /// The list built with append_api() is complete and has `api_digest`: sets the member's digest
  /// and, if another member holds the same list (same digest, same bytes), shares that copy and
  /// frees this one. A truncated list is never shared. False for an unknown member.
  bool complete_api(uint32_t node_id, uint32_t api_digest);

  Member* find(uint32_t node_id);
  const Member* find(uint32_t node_id) const;
  /// The member whose (signed) address is ip:udp_port, a member without a port of its own counting
  /// as `default_udp_port`; null when none.
  const Member* find_at(uint32_t ip, uint16_t udp_port, uint16_t default_udp_port) const;

  /// Slot index of a member of this table, in [0, capacity()): state other components keep per
  /// member (probe, replay, event stream) is indexed by it. A slot is reused only after its
  /// member was forgotten (listener kForgotten), so per-slot state is reset on that change.
  size_t slot_of(const Member& m) const { return static_cast<size_t>(&m - slots_.data()); }
  /// The member in `slot`, or null when the slot is free or out of range.
  Member* at_slot(size_t slot) { return slot < slots_.size() && slots_[slot].used() ? &slots_[slot] : nullptr; }
  const Member* at_slot(size_t slot) const {
    return slot < slots_.size() && slots_[slot].used() ? &slots_[slot] : nullptr;
  }

  std::string_view sdk_version(const Member& m) const;
  size_t api_count(const Member& m) const;
  /// The i-th endpoint of the member; false when i is out of range.
  bool api_at(const Member& m, size_t i, HttpMethod* method, std::string_view* uri) const;

  /// Calls `fn(member)` for every tracked member, in slot order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Member& m : slots_)
      if (m.used()) fn(m);
  }
  size_t size() const;
  size_t count(MemberStatus status) const;
  static constexpr size_t capacity() { return SPORE_MAX_MEMBERS; }

  uint32_t refused_full() const { return refused_full_; }
  uint32_t evictions() const { return evictions_; }
  size_t arena_used_bytes() const { return arena_used_; }
  /// Arena bytes that sharing saves now: the details every member refers to, minus arena_used.
  size_t shared_bytes_saved() const;

 private:
  Member* insert(uint32_t node_id, uint32_t now_ms);
  void forget(Member& m);
  void set_status(Member& m, MemberStatus status, uint32_t now_ms);
  void notify(const Member& m, MemberChange change);
  // Arena: blocks are packed back to back; members with equal details refer to one block.
  // free_block() clears `block` and, if no member refers to its bytes any more, frees them,
  // sliding the later blocks down.
  void free_block(Member::Block& block);
  /// How many member fields refer to the block at `offset`.
  size_t references(uint16_t offset) const;
  bool api_block_equals(const Member::Block& block, const ApiEndpoint* endpoints, size_t count) const;
  bool store_block(Member::Block& block, const uint8_t* data, size_t size);

  std::array<Member, SPORE_MAX_MEMBERS> slots_{};
  std::array<uint8_t, SPORE_MEMBER_ARENA_BYTES> arena_{};
  size_t arena_used_ = 0;
  Thresholds thresholds_{};
  Listener listener_;
  uint32_t refused_full_ = 0;
  uint32_t evictions_ = 0;
};

/// Formats `ip` (most significant byte first) as dotted quad into `out` (>= 16 bytes).
void format_ipv4(uint32_t ip, char* out, size_t out_size);

}  // namespace spore
