#include "spore/wire/replay_window.h"

#include "spore/base/incarnation.h"

namespace spore {

const char* replay_verdict_name(ReplayVerdict verdict) {
  switch (verdict) {
    case ReplayVerdict::kFresh:
      return "fresh";
    case ReplayVerdict::kReplayed:
      return "replayed";
    case ReplayVerdict::kStale:
      return "stale";
  }
  return "?";
}

const ReplayWindow::Entry* ReplayWindow::find(uint32_t node_id) const {
  if (node_id == 0) return nullptr;
  for (const Entry& e : entries_)
    if (e.node_id == node_id) return &e;
  return nullptr;
}

ReplayWindow::Entry* ReplayWindow::find(uint32_t node_id) {
  return const_cast<Entry*>(static_cast<const ReplayWindow*>(this)->find(node_id));
}

ReplayVerdict ReplayWindow::verdict(const Entry& e, uint32_t incarnation, uint32_t seq) {
  // Serial arithmetic (incarnation.h): a boot count past 65,535 wraps the incarnation to 0.
  if (incarnation_older(incarnation, e.incarnation)) return ReplayVerdict::kStale;
  if (incarnation_newer(incarnation, e.incarnation)) return ReplayVerdict::kFresh;
  if (seq > e.max_seq) return ReplayVerdict::kFresh;
  const uint32_t behind = e.max_seq - seq;
  if (behind >= kWindowSize) return ReplayVerdict::kReplayed;
  return (e.seen >> behind) & 1u ? ReplayVerdict::kReplayed : ReplayVerdict::kFresh;
}

ReplayVerdict ReplayWindow::check(uint32_t node_id, uint32_t incarnation, uint32_t seq) const {
  const Entry* e = find(node_id);
  return e == nullptr ? ReplayVerdict::kFresh : verdict(*e, incarnation, seq);
}

void ReplayWindow::commit(uint32_t node_id, uint32_t incarnation, uint32_t seq) {
  if (node_id == 0) return;
  Entry* e = find(node_id);
  if (e != nullptr && verdict(*e, incarnation, seq) != ReplayVerdict::kFresh) return;
  const uint32_t now = ++commit_clock_;
  if (e == nullptr) {
    for (Entry& candidate : entries_) {
      if (candidate.node_id == 0) {
        e = &candidate;
        break;
      }
    }
    if (e == nullptr) {
      // Full: the entry committed to longest ago has the largest age (wrap-safe difference).
      e = &entries_[0];
      for (Entry& candidate : entries_)
        if (now - candidate.last_commit > now - e->last_commit) e = &candidate;
      ++evictions_;
    }
    *e = Entry{};
    e->node_id = node_id;
    e->incarnation = incarnation;
    e->max_seq = seq;
    e->seen = 1;
  } else if (incarnation_newer(incarnation, e->incarnation)) {
    e->incarnation = incarnation;
    e->max_seq = seq;
    e->seen = 1;
  } else if (seq > e->max_seq) {
    const uint32_t shift = seq - e->max_seq;
    e->seen = shift >= kWindowSize ? 1 : (e->seen << shift) | 1u;
    e->max_seq = seq;
  } else {
    e->seen |= uint64_t{1} << (e->max_seq - seq);
  }
  e->last_commit = now;
}

void ReplayWindow::forget(uint32_t node_id) {
  Entry* e = find(node_id);
  if (e != nullptr) *e = Entry{};
}

void ReplayWindow::clear() {
  entries_.fill(Entry{});
  commit_clock_ = 0;
  evictions_ = 0;
}

size_t ReplayWindow::size() const {
  size_t n = 0;
  for (const Entry& e : entries_)
    if (e.node_id != 0) ++n;
  return n;
}

}  // namespace spore
