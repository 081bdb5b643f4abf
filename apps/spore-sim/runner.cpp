#include "runner.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <limits>

#include "backend.h"
#include "core_alloc.h"
#include "seed_model.h"
#include "sim/simulation.h"
#include "spore/base/limits.h"

namespace spore_sim {

using spore::Config;
using spore::Member;
using spore::MemberStatus;
using spore::sim::Cluster;

uint64_t default_converge_bound_ms(const Config& cfg) {
  const uint64_t period = std::max(cfg.discovery_interval_ms, cfg.heartbeat_interval_ms);
  return 2 * period + std::min(cfg.start_jitter_max_ms, cfg.discovery_interval_ms);
}

uint64_t default_detect_bound_ms(const Config& cfg, const LinkSettings& link) {
  // Datagrams the victim sent just before the crash still arrive up to one worst-case delay later.
  const uint64_t worst_delay = uint64_t{link.delay_ms} + link.jitter_ms + (link.reorder > 0 ? 1 + link.reorder_ms : 0);
  return uint64_t{cfg.inactive_after_ms} + cfg.status_interval_ms + worst_delay;
}

uint64_t seed_converge_bound_ms(const SeedParams& p) {
  // A discovery round and its answers (each read by the 100 ms listen task), twice, since either
  // may be lost; a restarted or healed peer is ACTIVE again after its next successful poll.
  return 2 * (uint64_t{p.discovery_interval_ms} + 2 * p.listen_interval_ms) + p.poll_interval_ms + p.poll_timeout_ms;
}

uint64_t seed_detect_bound_ms(const SeedParams& p, const LinkSettings& link) {
  // The last answer of the victim arrives at most one worst-case delay after the crash (a poll
  // in flight); it is INACTIVE inactive_after_ms later, at the next status pass. Poll interval and
  // timeout are added as the brief's bound (10 s + poll interval + timeout) asks: they are margin.
  const uint64_t worst_delay = uint64_t{link.delay_ms} + link.jitter_ms + (link.reorder > 0 ? 1 + link.reorder_ms : 0);
  return uint64_t{p.inactive_after_ms} + p.status_interval_ms + p.poll_interval_ms + p.poll_timeout_ms + worst_delay;
}

namespace {

// Same key on every node: authenticated datagrams are what a deployed cluster sends (sizes and
// CPU then include the tag).
constexpr const char* kClusterKey = "000102030405060708090a0b0c0d0e0f";
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
// Cluster numbers node i as 0x1000 + i.
constexpr uint32_t kFirstNodeId = 0x1000;

// Test hook (Scenario::test_allocate_in_core): an event handler running inside the core's
// dispatch that allocates, as a core that broke the rule would. volatile: the compiler may not
// drop the pair.
void* volatile g_test_allocation = nullptr;
void allocate_inside_core(void*) {
  g_test_allocation = ::operator new(16);
  ::operator delete(g_test_allocation);
}

// The no-allocation invariant through platform/sim's call hooks: every call into a begun node's
// core is counted (core_alloc.h), its calls back into the simulated network are not.
class AllocationCounter final : public spore::sim::CallHooks {
 public:
  uint64_t total() const { return total_; }

  void enter_core(spore::sim::SimNode& node) override {
    if (depth_++ == 0) {
      // SimNode records every event the node fires into a vector, from inside the core's
      // dispatch. Room is reserved first so that recording allocates nothing (the topics fit
      // std::string's inline buffer); a growth that happens anyway is the simulator's.
      if (node.events.capacity() - node.events.size() < kEventHeadroom) {
        node.events.reserve(std::max(2 * node.events.capacity(), node.events.size() + kEventHeadroom));
      }
      events_capacity_ = node.events.capacity();
      before_ = spore_sim::core_allocations();
    }
    spore_sim::enter_core_call();
  }
  void leave_core(spore::sim::SimNode& node) override {
    spore_sim::leave_core_call();
    if (--depth_ > 0) return;
    uint64_t made = spore_sim::core_allocations() - before_;
    if (node.events.capacity() != events_capacity_ && made > 0) --made;  // the event log grew
    total_ += made;
  }
  void enter_simulator() override { spore_sim::enter_simulator_call(); }
  void leave_simulator() override { spore_sim::leave_simulator_call(); }

 private:
  // Events one call into a node can fire at most, with a wide margin: a status pass marks each
  // member at most once or twice (INACTIVE, DEAD / forgotten), a datagram a few.
  static constexpr size_t kEventHeadroom = 4 * SPORE_MAX_MEMBERS + 64;

  int depth_ = 0;
  size_t events_capacity_ = 0;
  uint64_t before_ = 0;
  uint64_t total_ = 0;
};

// SPORE's core on platform/sim's Cluster, its allocations after begin() counted.
class SporeBackend final : public Backend {
 public:
  SporeBackend(uint32_t nodes, const Config& cfg, uint64_t seed, bool allocate_in_core)
      : cluster_(nodes, cfg, seed), nodes_(nodes), allocate_in_core_(allocate_in_core) {
    cluster_.set_call_hooks(&allocations_);
  }
  spore::sim::Cluster& cluster() { return cluster_; }

  uint64_t now() const override { return cluster_.now(); }
  spore::sim::SimNetwork& net() override { return cluster_.net(); }
  void start(uint32_t i) override {
    cluster_.start(i, 1);
    arm_test_hook(i);
  }
  void crash(uint32_t i) override { cluster_.crash(i); }
  void restart(uint32_t i) override {
    cluster_.restart(i);
    arm_test_hook(i);
  }
  void leave(uint32_t i) override { cluster_.leave(i); }
  void set_drift_ppm(uint32_t i, int32_t ppm) override { cluster_.node(i).set_clock_drift_ppm(ppm); }
  bool up(uint32_t i) const override { return const_cast<Cluster&>(cluster_).node(i).up(); }
  int status_of(uint32_t observer, uint32_t subject) const override { return cluster_.status_of(observer, subject); }
  size_t table_size(uint32_t i) const override { return const_cast<Cluster&>(cluster_).node(i).ctx().members().size(); }
  size_t table_capacity() const override { return SPORE_MAX_MEMBERS; }
  void for_each_member(uint32_t i, const std::function<void(uint32_t, int)>& f) const override {
    const spore::MemberTable& t = const_cast<Cluster&>(cluster_).node(i).ctx().members();
    t.for_each([&](const Member& m) {
      if (m.node_id < kFirstNodeId || m.node_id - kFirstNodeId >= nodes_) return;
      f(m.node_id - kFirstNodeId, static_cast<int>(m.status));
    });
  }
  const std::vector<spore::sim::EventRecord>& events(uint32_t i) const override {
    return const_cast<Cluster&>(cluster_).node(i).events;
  }
  bool run_until(const std::function<bool()>& done, uint64_t max_ms, uint64_t check_every_ms) override {
    return cluster_.run_until(done, max_ms, check_every_ms);
  }
  NodeTraffic traffic(uint32_t i) const override {
    const spore::sim::TrafficCounters& c = const_cast<Cluster&>(cluster_).net().counters(i);
    NodeTraffic t;
    t.datagrams_sent = c.datagrams_sent;
    t.bytes_sent = c.bytes_sent;
    t.wire_bytes_sent = c.bytes_sent + kUdpIpHeaderBytes * c.datagrams_sent;
    t.datagrams_received = c.datagrams_received;
    t.bytes_received = c.bytes_received;
    t.wire_bytes_received = c.bytes_received + kUdpIpHeaderBytes * c.datagrams_received;
    return t;
  }
  std::optional<uint64_t> core_allocations() const override { return allocations_.total(); }
  std::optional<spore::sim::AddressTraffic> max_amplification() const override {
    const spore::sim::AddressTraffic worst = cluster_.max_amplification();
    if (worst.bytes_to == 0 && worst.bytes_from == 0) return std::nullopt;
    return worst;
  }

 private:
  // After begin() (which may allocate: it is not "after begin"), the test hook if asked for.
  void arm_test_hook(uint32_t i) {
    if (allocate_in_core_ && cluster_.node(i).up()) {
      cluster_.node(i).ctx().on(spore::topics::kNodeDiscovered, &allocate_inside_core);
    }
  }

  AllocationCounter allocations_;  // before cluster_: the nodes point to it
  Cluster cluster_;
  uint32_t nodes_;
  bool allocate_in_core_;
};

std::unique_ptr<Backend> make_backend(const Scenario& s, const Config& cfg) {
  if (s.protocol == "seed") return std::make_unique<SeedModel>(s.nodes, s.seed);
  auto b = std::make_unique<SporeBackend>(s.nodes, cfg, s.seed, s.test_allocate_in_core);
  if (s.keyed) b->cluster().set_key_hex(kClusterKey);
  return b;
}

class Runner {
 public:
  explicit Runner(const Scenario& s)
      : s_(s),
        seed_(s.protocol == "seed"),
        cfg_(config_for(s)),
        backend_(make_backend(s, cfg_)),
        cluster_(*backend_),
        t0_(cluster_.now()),
        up_since_(s.nodes, kNever),
        cursor_(s.nodes, 0) {
    result_.name = s.name;
    result_.nodes = s.nodes;
    result_.profile = s.profile;
    result_.protocol = s.protocol;
    if (!seed_) result_.liveness = liveness_name(cfg_.liveness);
    result_.seed = s.seed;
    const SeedParams seed_params;
    inactive_after_ms_ = seed_ ? seed_params.inactive_after_ms : cfg_.inactive_after_ms;
    result_.converge_bound_ms = s.converge_within_ms.value_or(
        seed_ ? seed_converge_bound_ms(seed_params) : default_converge_bound_ms(cfg_));
    result_.detect_bound_ms = s.detect_within_ms.value_or(
        seed_ ? seed_detect_bound_ms(seed_params, s.link) : default_detect_bound_ms(cfg_, s.link));
    for (const DriftSetting& d : s.drift)
      for (uint32_t n : d.nodes) cluster_.set_drift_ppm(n, d.ppm);
    set_link(s.link);
    groups_.push_back(Epoch{0, std::vector<int>(s.nodes, 0)});
  }

  ScenarioResult run() {
    const auto wall0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < s_.nodes; ++i) {
      if (std::find(s_.idle.begin(), s_.idle.end(), i) != s_.idle.end()) continue;
      cluster_.start(i);
      up_since_[i] = 0;
    }
    open_convergence(0, "start");
    size_t next = 0;
    while (true) {
      // Segments also end at every pending deadline, so a bound is judged at its exact time.
      const uint64_t until =
          std::min(next < s_.actions.size() ? s_.actions[next].at_ms : s_.duration_ms, next_deadline());
      if (until > elapsed()) {
        // run_until calls the check at its start, every check_every_ms and at its end, so every
        // event is judged before the next action changes who is up and who is reachable.
        cluster_.run_until([this] { check(); return false; }, until - elapsed(), s_.check_every_ms);
      } else {
        check();
      }
      if (elapsed() < (next < s_.actions.size() ? s_.actions[next].at_ms : s_.duration_ms)) continue;
      if (next >= s_.actions.size()) break;
      apply(s_.actions[next++]);
    }
    finish_obligations();
    measure_traffic();
    result_.virtual_ms = elapsed();
    result_.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    return result_;
  }

 private:
  // Reachability between nodes from `at_ms` on (one entry per partition / heal).
  struct Epoch {
    uint64_t at_ms;
    std::vector<int> group;
  };
  struct Convergence {
    uint64_t since_ms;
    uint64_t deadline_ms;
    std::string cause;
    bool initial;
    bool late;  // bound already missed (reported once); still timed until converged
  };
  struct Detection {
    uint32_t victim;
    uint64_t crashed_ms;
    uint64_t deadline_ms;
    std::vector<uint32_t> observers;  // still to detect it
    std::vector<uint32_t> late;       // missed the bound (reported once), still timed
  };

  uint64_t elapsed() const { return cluster_.now() - t0_; }

  // Earliest bound still to be judged after now, or kNever.
  uint64_t next_deadline() const {
    const uint64_t now = elapsed();
    uint64_t t = kNever;
    if (convergence_ && !convergence_->late && convergence_->deadline_ms > now) t = convergence_->deadline_ms;
    for (const Detection& d : detections_)
      if (!d.observers.empty() && d.deadline_ms > now) t = std::min(t, d.deadline_ms);
    return t;
  }

  void set_link(const LinkSettings& l) {
    spore::sim::LinkProfile p;
    p.loss = l.loss;
    p.delay_ms = l.delay_ms;
    p.jitter_ms = l.jitter_ms;
    p.duplicate = l.duplicate;
    p.reorder = l.reorder;
    p.reorder_ms = l.reorder_ms;
    cluster_.net().set_profile(p);
    link_ = l;
  }

  void violate(const char* invariant, int node, int subject, const std::string& detail, uint64_t at_ms) {
    ++result_.violation_count;
    if (result_.violations.size() < kMaxViolations) {
      result_.violations.push_back(Violation{invariant, at_ms, node, subject, detail});
    }
  }

  void open_convergence(uint64_t now, const std::string& cause) {
    // A later trigger moves the deadline on; time is measured from the latest one.
    const bool initial = convergence_ && convergence_->initial;
    convergence_ = Convergence{now, now + result_.converge_bound_ms, cause, initial || cause == "start", false};
  }

  void apply(const Action& a) {
    const uint64_t now = elapsed();
    switch (a.kind) {
      case ActionKind::kCrash:
        for (uint32_t v : a.nodes) {
          Detection d{v, now, now + result_.detect_bound_ms, {}, {}};
          for (uint32_t o = 0; o < s_.nodes; ++o) {
            if (o != v && cluster_.up(o) && cluster_.status_of(o, v) == static_cast<int>(MemberStatus::kActive))
              d.observers.push_back(o);
          }
          cluster_.crash(v);
          up_since_[v] = kNever;
          ++result_.crashes;
          if (!d.observers.empty()) detections_.push_back(std::move(d));
        }
        break;
      case ActionKind::kRestart:
        for (uint32_t v : a.nodes) {
          cluster_.restart(v);
          up_since_[v] = now;
          drop_detection(v);
        }
        open_convergence(now, "restart at " + format_ms(now));
        break;
      case ActionKind::kStart:
        for (uint32_t v : a.nodes) {
          cluster_.start(v);
          up_since_[v] = now;
        }
        open_convergence(now, "start at " + format_ms(now));
        break;
      case ActionKind::kLeave:
        for (uint32_t v : a.nodes) {
          cluster_.leave(v);
          up_since_[v] = kNever;
          drop_detection(v);
        }
        break;
      case ActionKind::kPartition: {
        std::vector<std::vector<size_t>> groups;
        for (const auto& g : a.groups) groups.emplace_back(g.begin(), g.end());
        cluster_.net().partition(groups);
        std::vector<int> group(s_.nodes);
        for (uint32_t i = 0; i < s_.nodes; ++i) group[i] = -1 - static_cast<int>(i);  // alone
        for (size_t g = 0; g < a.groups.size(); ++g)
          for (uint32_t n : a.groups[g]) group[n] = static_cast<int>(g);
        groups_.push_back(Epoch{now, std::move(group)});
        break;
      }
      case ActionKind::kHeal:
        cluster_.net().heal();
        groups_.push_back(Epoch{now, std::vector<int>(s_.nodes, 0)});
        open_convergence(now, "heal at " + format_ms(now));
        break;
      case ActionKind::kDrift:
        for (uint32_t v : a.nodes) cluster_.set_drift_ppm(v, a.ppm);
        break;
      case ActionKind::kLoss:
      case ActionKind::kDuplicate:
      case ActionKind::kReorder:
      case ActionKind::kDelay:
      case ActionKind::kJitter: {
        LinkSettings l = link_;
        if (a.kind == ActionKind::kLoss) l.loss = a.fraction;
        if (a.kind == ActionKind::kDuplicate) l.duplicate = a.fraction;
        if (a.kind == ActionKind::kReorder) l.reorder = a.fraction;
        if (a.kind == ActionKind::kDelay) l.delay_ms = a.ms;
        if (a.kind == ActionKind::kJitter) l.jitter_ms = a.ms;
        set_link(l);
        break;
      }
    }
  }

  void drop_detection(uint32_t node) {
    // Back up (or gone gracefully) before every peer noticed: nothing left to detect. And a
    // rebooted observer starts with an empty table, which is no evidence of detection: excused.
    for (Detection& d : detections_) {
      d.observers.erase(std::remove(d.observers.begin(), d.observers.end(), node), d.observers.end());
      d.late.erase(std::remove(d.late.begin(), d.late.end(), node), d.late.end());
    }
    detections_.erase(std::remove_if(detections_.begin(), detections_.end(),
                                     [&](const Detection& d) { return d.victim == node; }),
                      detections_.end());
  }

  // Since when observer `i` and subject `j` have both been up and able to reach each other
  // without a break; kNever if they are not now.
  uint64_t healthy_since(uint32_t i, uint32_t j) const {
    if (up_since_[i] == kNever || up_since_[j] == kNever) return kNever;
    uint64_t since = kNever;
    for (size_t e = groups_.size(); e-- > 0;) {
      if (groups_[e].group[i] != groups_[e].group[j]) break;
      since = groups_[e].at_ms;
    }
    if (since == kNever) return kNever;
    return std::max({since, up_since_[i], up_since_[j]});
  }

  static int index_of(uint32_t node_id, uint32_t nodes) {
    if (node_id < kFirstNodeId || node_id - kFirstNodeId >= nodes) return -1;
    return static_cast<int>(node_id - kFirstNodeId);
  }

  void check() {
    const uint64_t now = elapsed();
    scan_events();
    check_detection(now);
    check_convergence(now);
    check_allocations(now);
    last_check_ms_ = now;
    for (uint32_t i = 0; i < s_.nodes; ++i) {
      if (!cluster_.up(i)) continue;
      const size_t size = cluster_.table_size(i);
      result_.max_table = std::max(result_.max_table, size);
      if (size > cluster_.table_capacity()) {
        violate("table-bound", static_cast<int>(i), -1,
                "member table holds " + std::to_string(size) + " > SPORE_MAX_MEMBERS", now);
      }
    }
  }

  // Allocations by core since the last check: each check that finds some is one violation, so
  // the report says when (to the check-every resolution) and how many.
  void check_allocations(uint64_t now) {
    const std::optional<uint64_t> total = cluster_.core_allocations();
    if (!total) return;
    result_.core_allocations = total;
    if (*total == allocations_seen_) return;
    violate("core-allocation", -1, -1,
            std::to_string(*total - allocations_seen_) + " heap allocation(s) by core after begin() since " +
                format_ms(last_check_ms_) + " (" + std::to_string(*total) + " in all)",
            now);
    allocations_seen_ = *total;
  }

  // Status events since the last check: false alarms, and precise detection times.
  void scan_events() {
    for (uint32_t i = 0; i < s_.nodes; ++i) {
      const auto& events = cluster_.events(i);
      for (; cursor_[i] < events.size(); ++cursor_[i]) {
        const spore::sim::EventRecord& e = events[cursor_[i]];
        const bool inactive = e.topic == "node_inactive";
        const bool dead = e.topic == "node_dead";
        if (!inactive && !dead) continue;
        const int j = index_of(e.node_id, s_.nodes);
        if (j < 0) continue;
        const uint64_t at = e.at_ms - t0_;
        for (Detection& d : detections_) {
          if (d.victim != static_cast<uint32_t>(j) || at < d.crashed_ms) continue;
          if (auto it = std::find(d.observers.begin(), d.observers.end(), i); it != d.observers.end()) {
            record_detection(d, at, i, false);
            d.observers.erase(it);
          } else if (auto l = std::find(d.late.begin(), d.late.end(), i); l != d.late.end()) {
            record_detection(d, at, i, true);
            d.late.erase(l);
          }
        }
        const uint64_t since = healthy_since(i, static_cast<uint32_t>(j));
        if (since != kNever && since + inactive_after_ms_ <= at) {
          (inactive ? result_.false_inactive : result_.false_dead)++;
          if (result_.false_inactive + result_.false_dead > s_.max_false_alarms) {
            violate("false-alarm", static_cast<int>(i), j,
                    std::string(inactive ? "INACTIVE" : "DEAD") + " although up and reachable since " +
                        format_ms(since),
                    at);
          }
        }
      }
    }
  }

  void record_detection(const Detection& d, uint64_t at, uint32_t observer, bool reported) {
    const uint64_t took = at - d.crashed_ms;
    if (at > d.deadline_ms && !reported) {
      violate("detection", static_cast<int>(observer), static_cast<int>(d.victim),
              "crash at " + format_ms(d.crashed_ms) + " seen after " + format_ms(took) + " (bound " +
                  format_ms(result_.detect_bound_ms) + ")",
              at);
    }
    result_.detect_min_ms = std::min(result_.detect_min_ms.value_or(kNever), took);
    result_.detect_max_ms = std::max(result_.detect_max_ms.value_or(0), took);
  }

  void check_detection(uint64_t now) {
    for (Detection& d : detections_) {
      for (size_t k = 0; k < d.late.size();) {
        const uint32_t o = d.late[k];
        if (!cluster_.up(o)) {
          d.late.erase(d.late.begin() + static_cast<long>(k));
        } else if (cluster_.status_of(o, d.victim) != static_cast<int>(MemberStatus::kActive)) {
          record_detection(d, now, o, true);
          d.late.erase(d.late.begin() + static_cast<long>(k));
        } else {
          ++k;
        }
      }
      for (size_t k = 0; k < d.observers.size();) {
        const uint32_t o = d.observers[k];
        const int status = cluster_.status_of(o, d.victim);
        if (!cluster_.up(o)) {
          d.observers.erase(d.observers.begin() + static_cast<long>(k));  // crashed itself: excused
        } else if (status != static_cast<int>(MemberStatus::kActive)) {
          // Gone from the table without an event we saw (e.g. forgotten): now is the best bound.
          record_detection(d, now, o, false);
          d.observers.erase(d.observers.begin() + static_cast<long>(k));
        } else if (now >= d.deadline_ms) {
          violate("detection", static_cast<int>(o), static_cast<int>(d.victim),
                  "crash at " + format_ms(d.crashed_ms) + ": still ACTIVE when the bound (" +
                      format_ms(result_.detect_bound_ms) + ") passed",
                  now);
          d.late.push_back(o);
          d.observers.erase(d.observers.begin() + static_cast<long>(k));
        } else {
          ++k;
        }
      }
    }
    detections_.erase(std::remove_if(detections_.begin(), detections_.end(),
                                     [](const Detection& d) { return d.observers.empty() && d.late.empty(); }),
                      detections_.end());
  }

  // First observer / subject pair that keeps the cluster from being converged, or false.
  bool find_unconverged(int* observer, int* subject) {
    std::vector<int> seen(s_.nodes);
    for (uint32_t i = 0; i < s_.nodes; ++i) {
      if (!cluster_.up(i)) continue;
      // What i's table says about everyone: -1 absent, else its status.
      std::fill(seen.begin(), seen.end(), -1);
      size_t stale = 0;
      cluster_.for_each_member(i, [&](uint32_t j, int status) {
        seen[j] = status;
        if (!cluster_.up(j) || !cluster_.net().reachable(i, j)) ++stale;
      });
      size_t peers = 0, active = 0;
      int missing = -1;
      for (uint32_t j = 0; j < s_.nodes; ++j) {
        if (j == i || !cluster_.up(j) || !cluster_.net().reachable(i, j)) continue;
        ++peers;
        if (seen[j] == static_cast<int>(MemberStatus::kActive)) {
          ++active;
        } else if (seen[j] != -1 || missing < 0) {
          // Known but not ACTIVE is always wrong; absent is wrong only if there was room.
          if (seen[j] != -1) {
            *observer = static_cast<int>(i);
            *subject = static_cast<int>(j);
            return true;
          }
          missing = static_cast<int>(j);
        }
      }
      // More peers than table slots: full of ACTIVE reachable peers is as converged as it gets
      // (healthy members are never displaced, MemberTable).
      const size_t cap = cluster_.table_capacity();
      const size_t room = cap > stale ? cap - stale : 0;
      if (active < std::min(peers, room)) {
        *observer = static_cast<int>(i);
        *subject = missing;
        return true;
      }
    }
    return false;
  }

  void check_convergence(uint64_t now) {
    if (!convergence_) return;
    int o = -1, j = -1;
    if (!find_unconverged(&o, &j)) {
      const uint64_t took = now - convergence_->since_ms;
      if (convergence_->initial && !result_.converge_ms) {
        result_.converge_ms = took;
      } else {
        result_.reconverge_max_ms = std::max(result_.reconverge_max_ms.value_or(0), took);
      }
      convergence_.reset();
      return;
    }
    if (now >= convergence_->deadline_ms && !convergence_->late) {
      std::string detail = "not converged " + format_ms(now - convergence_->since_ms) + " after " + convergence_->cause;
      if (j >= 0) {
        const int status = cluster_.status_of(static_cast<size_t>(o), static_cast<size_t>(j));
        detail += ": node " + std::to_string(o) + " shows node " + std::to_string(j) + " " +
                  (status < 0 ? std::string("absent") : spore::member_status_name(static_cast<MemberStatus>(status)));
      }
      detail += " (bound " + format_ms(result_.converge_bound_ms) + ")";
      violate("convergence", o, j, detail, now);
      convergence_->late = true;
    }
  }

  void finish_obligations() {
    // The run ended before a bound passed: nothing is known to be broken, but say so.
    const uint64_t now = elapsed();
    check_allocations(now);
    if (convergence_ && !convergence_->late) {
      violate("convergence", -1, -1,
              "run ended " + format_ms(now - convergence_->since_ms) + " after " + convergence_->cause +
                  ", before converging or the bound passed: lengthen the duration",
              now);
    }
    for (const Detection& d : detections_) {
      if (d.observers.empty()) continue;  // every miss already reported
      violate("detection", -1, static_cast<int>(d.victim),
              "run ended before every peer saw the crash at " + format_ms(d.crashed_ms) + ": lengthen the duration",
              now);
    }
  }

  void measure_traffic() {
    uint64_t dg_tx = 0, b_tx = 0, dg_rx = 0, b_rx = 0, w_tx = 0, w_rx = 0;
    for (uint32_t i = 0; i < s_.nodes; ++i) {
      const NodeTraffic c = cluster_.traffic(i);
      dg_tx += c.datagrams_sent;
      b_tx += c.bytes_sent;
      w_tx += c.wire_bytes_sent;
      dg_rx += c.datagrams_received;
      b_rx += c.bytes_received;
      w_rx += c.wire_bytes_received;
    }
    const double node_s = static_cast<double>(s_.nodes) * static_cast<double>(elapsed()) / 1000.0;
    if (node_s <= 0) return;
    result_.sent_datagrams_per_s = static_cast<double>(dg_tx) / node_s;
    result_.sent_bytes_per_s = static_cast<double>(b_tx) / node_s;
    result_.received_datagrams_per_s = static_cast<double>(dg_rx) / node_s;
    result_.received_bytes_per_s = static_cast<double>(b_rx) / node_s;
    result_.sent_wire_bytes_per_s = static_cast<double>(w_tx) / node_s;
    result_.received_wire_bytes_per_s = static_cast<double>(w_rx) / node_s;
    result_.amplification = cluster_.max_amplification();
  }

  const Scenario& s_;
  bool seed_;  // protocol seed: the model of the seed's design
  Config cfg_;
  std::unique_ptr<Backend> backend_;
  Backend& cluster_;
  uint32_t inactive_after_ms_ = 0;
  uint64_t t0_;
  std::vector<uint64_t> up_since_;  // per node, kNever while down
  std::vector<size_t> cursor_;      // per node, events already judged
  std::vector<Epoch> groups_;
  LinkSettings link_;
  std::optional<Convergence> convergence_;
  std::vector<Detection> detections_;
  uint64_t allocations_seen_ = 0;  // core allocations already reported
  uint64_t last_check_ms_ = 0;
  ScenarioResult result_;
};

}  // namespace

ScenarioResult run_scenario(const Scenario& scenario) {
  Runner r(scenario);
  return r.run();
}

std::string profile_label(const ScenarioResult& result) {
  if (result.protocol == "seed") return "seed";
  return result.liveness == "digest" ? result.profile + " digest" : result.profile;
}

}  // namespace spore_sim
