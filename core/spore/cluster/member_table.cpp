#include "spore/cluster/member_table.h"

#include <cstdio>
#include <cstring>

#include "spore/base/incarnation.h"
#include "spore/base/ports.h"

namespace spore {

const char* member_status_name(MemberStatus status) {
  switch (status) {
    case MemberStatus::kActive: return "ACTIVE";
    case MemberStatus::kInactive: return "INACTIVE";
    case MemberStatus::kDead: return "DEAD";
  }
  return "UNKNOWN";
}

const char* member_change_name(MemberChange change) {
  switch (change) {
    case MemberChange::kDiscovered: return "discovered";
    case MemberChange::kRestarted: return "restarted";
    case MemberChange::kRecovered: return "recovered";
    case MemberChange::kInactive: return "inactive";
    case MemberChange::kDead: return "dead";
    case MemberChange::kLeft: return "left";
    case MemberChange::kForgotten: return "forgotten";
  }
  return "unknown";
}

void format_ipv4(uint32_t ip, char* out, size_t out_size) {
  std::snprintf(out, out_size, "%u.%u.%u.%u", static_cast<unsigned>((ip >> 24) & 0xFF),
                static_cast<unsigned>((ip >> 16) & 0xFF), static_cast<unsigned>((ip >> 8) & 0xFF),
                static_cast<unsigned>(ip & 0xFF));
}

namespace {
void copy_hostname(char (&dst)[SPORE_MAX_HOSTNAME_LEN + 1], std::string_view src) {
  const size_t n = src.size() < SPORE_MAX_HOSTNAME_LEN ? src.size() : SPORE_MAX_HOSTNAME_LEN;
  if (n != 0) std::memcpy(dst, src.data(), n);  // an empty view may have no data() at all
  dst[n] = '\0';
}
}  // namespace

Member* MemberTable::find(uint32_t node_id) {
  for (Member& m : slots_)
    if (m.used() && m.node_id == node_id) return &m;
  return nullptr;
}

const Member* MemberTable::find(uint32_t node_id) const {
  for (const Member& m : slots_)
    if (m.used() && m.node_id == node_id) return &m;
  return nullptr;
}

const Member* MemberTable::find_at(uint32_t ip, uint16_t udp_port, uint16_t default_udp_port) const {
  for (const Member& m : slots_)
    if (m.used() && m.ip == ip && m.udp_port_or(default_udp_port) == udp_port) return &m;
  return nullptr;
}

size_t MemberTable::size() const {
  size_t n = 0;
  for (const Member& m : slots_) n += m.used() ? 1 : 0;
  return n;
}

size_t MemberTable::count(MemberStatus status) const {
  size_t n = 0;
  for (const Member& m : slots_) n += (m.used() && m.status == status) ? 1 : 0;
  return n;
}

void MemberTable::notify(const Member& m, MemberChange change) {
  if (listener_) listener_(m, change);
}

void MemberTable::set_status(Member& m, MemberStatus status, uint32_t now_ms) {
  m.status = status;
  m.status_since_ms = now_ms;
}

Member* MemberTable::insert(uint32_t node_id, uint32_t now_ms) {
  Member* slot = nullptr;
  for (Member& m : slots_) {
    if (!m.used()) {
      slot = &m;
      break;
    }
  }
  if (slot == nullptr) {
    // Full: evict the longest-silent DEAD member, else the longest-silent INACTIVE one.
    for (MemberStatus victim_status : {MemberStatus::kDead, MemberStatus::kInactive}) {
      uint32_t oldest_age_ms = 0;
      for (Member& m : slots_) {
        if (m.status != victim_status) continue;
        const uint32_t age_ms = elapsed_ms(now_ms, m.last_seen_ms);
        if (slot == nullptr || age_ms > oldest_age_ms) {
          slot = &m;
          oldest_age_ms = age_ms;
        }
      }
      if (slot != nullptr) break;
    }
    if (slot == nullptr) {
      ++refused_full_;
      return nullptr;
    }
    ++evictions_;
    forget(*slot);
  }
  *slot = Member{};
  slot->node_id = node_id;  // not 0 (observe() refuses it): the slot is used from now on
  return slot;
}

void MemberTable::forget(Member& m) {
  notify(m, MemberChange::kForgotten);
  free_block(m.sdk_);
  free_block(m.api_);
  m = Member{};
}

bool MemberTable::forget_dead(Member& m) {
  if (m.status != MemberStatus::kDead) return false;
  forget(m);
  return true;
}

Member* MemberTable::observe(const MemberHello& hello, uint32_t now_ms) {
  if (hello.node_id == 0) return nullptr;
  Member* m = find(hello.node_id);
  MemberChange change = MemberChange::kRecovered;
  bool changed = true;
  if (m == nullptr) {
    m = insert(hello.node_id, now_ms);
    if (m == nullptr) return nullptr;
    m->incarnation = hello.incarnation;
    set_status(*m, MemberStatus::kActive, now_ms);
    change = MemberChange::kDiscovered;
  } else if (incarnation_older(hello.incarnation, m->incarnation)) {
    return nullptr;  // delayed datagram from before a restart
  } else if (incarnation_newer(hello.incarnation, m->incarnation) && hello.refutation && !m->left) {
    m->incarnation = hello.incarnation;
    if (m->status != MemberStatus::kActive) {
      set_status(*m, MemberStatus::kActive, now_ms);
    } else {
      changed = false;
    }
  } else if (incarnation_newer(hello.incarnation, m->incarnation)) {
    // Restarted: what we knew about the old process no longer holds.
    free_block(m->sdk_);
    free_block(m->api_);
    m->incarnation = hello.incarnation;
    m->resources = MemberResources{};
    m->api_digest = 0;
    m->latency_ms = Member::kUnknownLatency;
    m->left = false;
    m->details_truncated = false;
    set_status(*m, MemberStatus::kActive, now_ms);
    change = MemberChange::kRestarted;
  } else if (m->left) {
    return nullptr;  // a datagram sent before its goodbye, arriving late
  } else if (m->status != MemberStatus::kActive) {
    set_status(*m, MemberStatus::kActive, now_ms);
  } else {
    changed = false;
  }
  m->ip = hello.ip;
  m->http_port = hello.http_port;
  copy_hostname(m->hostname, hello.hostname);
  m->last_seen_ms = now_ms;
  if (changed) notify(*m, change);
  return m;
}

Member* MemberTable::touch(uint32_t node_id, uint32_t incarnation, uint32_t now_ms) {
  Member* m = find(node_id);
  if (m == nullptr || incarnation_older(incarnation, m->incarnation)) return nullptr;
  if (incarnation == m->incarnation && m->left) return nullptr;  // late datagram from before its goodbye
  if (incarnation_newer(incarnation, m->incarnation)) {
    m->incarnation = incarnation;
    m->left = false;  // back with a new incarnation: whatever it was, it is alive now
  }
  m->last_seen_ms = now_ms;
  if (m->status != MemberStatus::kActive) {
    set_status(*m, MemberStatus::kActive, now_ms);
    notify(*m, MemberChange::kRecovered);
  }
  return m;
}

Member* MemberTable::vouch(uint32_t node_id, uint32_t seen_ms, uint32_t now_ms) {
  Member* m = find(node_id);
  if (m == nullptr || m->left || static_cast<int32_t>(seen_ms - m->last_seen_ms) <= 0) return nullptr;
  if (!deadline_reached(now_ms, seen_ms)) seen_ms = now_ms;  // never fresher than now
  m->last_seen_ms = seen_ms;
  if (m->status != MemberStatus::kActive && elapsed_ms(now_ms, seen_ms) < thresholds_.inactive_after_ms) {
    set_status(*m, MemberStatus::kActive, now_ms);
    notify(*m, MemberChange::kRecovered);
  }
  return m;
}

void MemberTable::mark_left(uint32_t node_id, uint32_t incarnation, uint32_t now_ms) {
  Member* m = find(node_id);
  if (m == nullptr || incarnation_older(incarnation, m->incarnation) || m->left) return;
  m->incarnation = incarnation;
  m->left = true;
  set_status(*m, MemberStatus::kDead, now_ms);
  notify(*m, MemberChange::kLeft);
}

void MemberTable::update(uint32_t now_ms) {
  for (Member& m : slots_) {
    if (!m.used()) continue;
    if (m.status == MemberStatus::kDead) {
      if (elapsed_ms(now_ms, m.status_since_ms) >= thresholds_.dead_retention_ms) forget(m);
      continue;
    }
    const uint32_t silent_ms = elapsed_ms(now_ms, m.last_seen_ms);
    if (m.status == MemberStatus::kActive && silent_ms >= thresholds_.inactive_after_ms) {
      set_status(m, MemberStatus::kInactive, now_ms);
      notify(m, MemberChange::kInactive);
    }
    if (m.status == MemberStatus::kInactive && silent_ms >= thresholds_.dead_after_ms) {
      set_status(m, MemberStatus::kDead, now_ms);
      notify(m, MemberChange::kDead);
    }
  }
}

bool MemberTable::set_latency(uint32_t node_id, uint32_t round_trip_ms) {
  Member* m = find(node_id);
  if (m == nullptr) return false;
  m->latency_ms = static_cast<uint16_t>(round_trip_ms < Member::kUnknownLatency ? round_trip_ms
                                                                                : Member::kUnknownLatency - 1);
  return true;
}

bool MemberTable::set_resources(uint32_t node_id, const MemberResources& resources, std::string_view sdk_version) {
  Member* m = find(node_id);
  if (m == nullptr) return false;
  m->resources = resources;
  if (sdk_version.size() > SPORE_MAX_VERSION_LEN) sdk_version = sdk_version.substr(0, SPORE_MAX_VERSION_LEN);
  if (!store_block(m->sdk_, reinterpret_cast<const uint8_t*>(sdk_version.data()), sdk_version.size())) {
    m->details_truncated = true;
  }
  return true;
}

bool MemberTable::set_api(uint32_t node_id, uint32_t api_digest, const ApiEndpoint* endpoints, size_t count) {
  Member* m = find(node_id);
  if (m == nullptr) return false;
  free_block(m->api_);
  m->api_digest = api_digest;
  m->details_truncated = false;
  // A fleet runs few firmware builds: share the bytes of a member that announced the same list.
  if (api_digest != 0) {
    for (const Member& o : slots_) {
      if (o.used() && &o != m && o.api_digest == api_digest && o.api_.size != 0 &&
          api_block_equals(o.api_, endpoints, count)) {
        m->api_ = o.api_;
        return true;
      }
    }
  }
  // Append records straight into the free tail of the arena (the block just freed is gone, so
  // this member's new block is the last one).
  const size_t start = arena_used_;
  size_t end = start;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view uri = endpoints[i].uri_view();
    const size_t record = 2 + uri.size();
    if (uri.size() > 0xFF || end + record > arena_.size()) {
      m->details_truncated = true;
      break;
    }
    arena_[end] = static_cast<uint8_t>(endpoints[i].method);
    arena_[end + 1] = static_cast<uint8_t>(uri.size());
    std::memcpy(&arena_[end + 2], uri.data(), uri.size());
    end += record;
  }
  m->api_.offset = static_cast<uint16_t>(start);
  m->api_.size = static_cast<uint16_t>(end - start);
  arena_used_ = end;
  return true;
}

bool MemberTable::append_api(uint32_t node_id, HttpMethod method, std::string_view uri) {
  Member* m = find(node_id);
  if (m == nullptr) return false;
  const size_t record = 2 + uri.size();
  if (uri.size() > SPORE_MAX_URI_LEN) {
    m->details_truncated = true;
    return false;
  }
  if (m->api_.size != 0 && (m->api_.offset + m->api_.size != arena_used_ || references(m->api_.offset) > 1)) {
    // Not the last block, or other members share it: copy it to the tail, then release the old
    // copy (freeing it slides the later blocks, this one included, down).
    if (arena_used_ + m->api_.size + record > arena_.size()) {
      m->details_truncated = true;
      return false;
    }
    Member::Block old = m->api_;
    std::memcpy(&arena_[arena_used_], &arena_[old.offset], old.size);
    m->api_.offset = static_cast<uint16_t>(arena_used_);
    arena_used_ += old.size;
    free_block(old);
  }
  if (arena_used_ + record > arena_.size()) {
    m->details_truncated = true;
    return false;
  }
  if (m->api_.size == 0) m->api_.offset = static_cast<uint16_t>(arena_used_);
  arena_[arena_used_] = static_cast<uint8_t>(method);
  arena_[arena_used_ + 1] = static_cast<uint8_t>(uri.size());
  std::memcpy(&arena_[arena_used_ + 2], uri.data(), uri.size());
  arena_used_ += record;
  m->api_.size = static_cast<uint16_t>(m->api_.size + record);
  return true;
}

bool MemberTable::complete_api(uint32_t node_id, uint32_t api_digest) {
  Member* m = find(node_id);
  if (m == nullptr) return false;
  m->api_digest = api_digest;
  if (api_digest == 0 || m->api_.size == 0 || m->details_truncated) return true;
  for (const Member& o : slots_) {
    if (!o.used() || &o == m || o.api_digest != api_digest || o.api_.size != m->api_.size ||
        o.api_.offset == m->api_.offset) {
      continue;
    }
    if (std::memcmp(&arena_[o.api_.offset], &arena_[m->api_.offset], o.api_.size) != 0) continue;
    Member::Block own = m->api_;
    m->api_ = o.api_;
    free_block(own);  // nobody else refers to it: slides the later blocks down
    return true;
  }
  return true;
}

bool MemberTable::api_block_equals(const Member::Block& block, const ApiEndpoint* endpoints, size_t count) const {
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view uri = endpoints[i].uri_view();
    if (uri.size() > 0xFF || pos + 2 + uri.size() > block.size) return false;
    const uint8_t* rec = &arena_[block.offset + pos];
    if (rec[0] != static_cast<uint8_t>(endpoints[i].method) || rec[1] != uri.size() ||
        std::memcmp(rec + 2, uri.data(), uri.size()) != 0) {
      return false;
    }
    pos += 2 + uri.size();
  }
  return pos == block.size;
}

size_t MemberTable::references(uint16_t offset) const {
  // Blocks are packed without overlap, so a non-empty block at the same offset is the same block.
  size_t refs = 0;
  for (const Member& m : slots_) {
    if (!m.used()) continue;
    refs += (m.sdk_.size != 0 && m.sdk_.offset == offset) ? 1 : 0;
    refs += (m.api_.size != 0 && m.api_.offset == offset) ? 1 : 0;
  }
  return refs;
}

size_t MemberTable::shared_bytes_saved() const {
  size_t referenced = 0;
  for (const Member& m : slots_) {
    if (m.used()) referenced += m.sdk_.size + m.api_.size;
  }
  return referenced - arena_used_;
}

std::string_view MemberTable::sdk_version(const Member& m) const {
  return std::string_view(reinterpret_cast<const char*>(arena_.data()) + m.sdk_.offset, m.sdk_.size);
}

size_t MemberTable::api_count(const Member& m) const {
  size_t n = 0;
  for (size_t pos = 0; pos + 2 <= m.api_.size; pos += 2 + arena_[m.api_.offset + pos + 1]) ++n;
  return n;
}

bool MemberTable::api_at(const Member& m, size_t i, HttpMethod* method, std::string_view* uri) const {
  size_t pos = 0;
  for (size_t n = 0; pos + 2 <= m.api_.size; ++n) {
    const uint8_t* rec = &arena_[m.api_.offset + pos];
    if (n == i) {
      *method = static_cast<HttpMethod>(rec[0]);
      *uri = std::string_view(reinterpret_cast<const char*>(rec + 2), rec[1]);
      return true;
    }
    pos += 2 + rec[1];
  }
  return false;
}

void MemberTable::free_block(Member::Block& block) {
  const Member::Block released = block;
  block = Member::Block{};  // drop this reference before counting the others
  if (released.size == 0 || references(released.offset) > 0) return;  // others still use it
  const size_t off = released.offset;
  const size_t size = released.size;
  std::memmove(&arena_[off], &arena_[off + size], arena_used_ - off - size);
  arena_used_ -= size;
  for (Member& m : slots_) {
    if (!m.used()) continue;
    for (Member::Block* b : {&m.sdk_, &m.api_}) {
      if (b->size != 0 && b->offset > off) b->offset = static_cast<uint16_t>(b->offset - size);
    }
  }
}

bool MemberTable::store_block(Member::Block& block, const uint8_t* data, size_t size) {
  free_block(block);
  if (size == 0) return true;
  // Same bytes as another member's SDK version (same firmware build): share them.
  for (const Member& m : slots_) {
    if (m.used() && m.sdk_.size == size && std::memcmp(&arena_[m.sdk_.offset], data, size) == 0) {
      block = m.sdk_;
      return true;
    }
  }
  if (arena_used_ + size > arena_.size()) return false;
  std::memcpy(&arena_[arena_used_], data, size);
  block.offset = static_cast<uint16_t>(arena_used_);
  block.size = static_cast<uint16_t>(size);
  arena_used_ += size;
  return true;
}

}  // namespace spore
