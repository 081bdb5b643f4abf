#include "spore/node/node_context.h"

#include <cstdio>
#include <cstring>

#include "spore/base/bytes.h"
#include "spore/events/cluster_events.h"
#include "spore/base/hex.h"

namespace spore {

NodeContext::NodeContext(const Config& config, const Clock& clock, Random& random, const SystemInfo& system,
                         LogSink* log)
    : config_(config),
      clock_(clock),
      random_(random),
      system_(system),
      log_(log),
      scheduler_(clock, random, log),
      status_task_("status", config.status_interval_ms,
                   Task::Callback::bind<NodeContext, &NodeContext::run_status>(this)),
      debug_task_("debug", config.debug_interval_ms, Task::Callback::bind<NodeContext, &NodeContext::run_debug>(this)) {
}

bool NodeContext::begin(const NodeIdentity& self) {
  if (const FlashStr error = config_.validation_error(); !error.is_null()) {
    char why[100];  // the longest sentence is 84 bytes
    error.copy_to(why, sizeof why);
    SPORE_LOG(*this, LogLevel::kError, "invalid config: %s", why);
    return false;
  }
  if (self.node_id == 0) {
    SPORE_LOG(*this, LogLevel::kError, "invalid identity: node_id must not be 0");
    return false;
  }
  if (self.hostname.empty() || self.hostname.size() > SPORE_MAX_HOSTNAME_LEN) {
    SPORE_LOG(*this, LogLevel::kError, "invalid identity: hostname must be 1..%d bytes", SPORE_MAX_HOSTNAME_LEN);
    return false;
  }
  std::memcpy(hostname_, self.hostname.data(), self.hostname.size());
  hostname_[self.hostname.size()] = '\0';
  self_ = self;
  self_.hostname = std::string_view(hostname_, self.hostname.size());
  started_ms_ = clock_.now_ms();

  members_.set_thresholds({config_.inactive_after_ms, config_.dead_after_ms, config_.dead_retention_ms});
  members_.set_listener(MemberTable::Listener::bind<NodeContext, &NodeContext::on_member_change>(this));

  scheduler_.add(status_task_);
  if (config_.debug_interval_ms != 0) scheduler_.add(debug_task_);
  scheduler_.begin(config_.start_jitter_max_ms, config_.long_task_warn_ms);
  SPORE_LOG(*this, LogLevel::kInfo, "node %s (id %08lx, incarnation %lu) starting", hostname_,
            static_cast<unsigned long>(self_.node_id), static_cast<unsigned long>(self_.incarnation));
  return true;
}

bool NodeContext::publish(std::string_view topic, const void* payload, size_t size_bytes) {
  return cluster_events_ != nullptr &&
         cluster_events_->publish(topic, static_cast<const uint8_t*>(payload), size_bytes) == PublishError::kOk;
}

void NodeContext::log(LogLevel level, const char* format, ...) {
  if (log_ == nullptr) return;
  char line[160];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  log_->write(level, line);
}

void NodeContext::log(LogLevel level, FlashStr format, ...) {
  if (log_ == nullptr) return;
  char ram_format[128];
  format.copy_to(ram_format, sizeof ram_format);
  char line[160];
  va_list args;
  va_start(args, format);
  // The format was checked at compile time by SPORE_LOG; the compiler cannot see it here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  std::vsnprintf(line, sizeof line, ram_format, args);
#pragma GCC diagnostic pop
  va_end(args);
  log_->write(level, line);
}

void NodeContext::on_member_change(const Member& member, MemberChange change) {
  std::string_view topic;
  switch (change) {
    case MemberChange::kDiscovered: topic = topics::kNodeDiscovered; break;
    case MemberChange::kRestarted: topic = topics::kNodeRestarted; break;
    case MemberChange::kRecovered: topic = topics::kNodeRecovered; break;
    case MemberChange::kInactive: topic = topics::kNodeInactive; break;
    case MemberChange::kDead: topic = topics::kNodeDead; break;
    case MemberChange::kLeft: topic = topics::kNodeLeft; break;
    case MemberChange::kForgotten: topic = topics::kNodeForgotten; break;
  }
  const LogLevel level =
      change == MemberChange::kDiscovered || change == MemberChange::kForgotten ? LogLevel::kDebug : LogLevel::kInfo;
  SPORE_LOG(*this, level, "member %s (%08lx) %s", member.hostname, static_cast<unsigned long>(member.node_id),
            member_change_name(change));
  // State kept per member slot goes with the member, directly rather than through a topic.
  if (change == MemberChange::kForgotten && forget_hook_) forget_hook_(member);
  events_.fire(topic, static_cast<const NodeInfo&>(member));
}

void NodeContext::run_status(uint32_t now_ms) { members_.update(now_ms); }

void NodeContext::run_debug(uint32_t) {
  SPORE_LOG(*this, LogLevel::kDebug, "members: %u active, %u inactive, %u dead; longest task %lu ms (%s)",
            static_cast<unsigned>(members_.count(MemberStatus::kActive)),
            static_cast<unsigned>(members_.count(MemberStatus::kInactive)),
            static_cast<unsigned>(members_.count(MemberStatus::kDead)),
            static_cast<unsigned long>(scheduler_.max_run_ms()),
            scheduler_.max_run_task() != nullptr ? scheduler_.max_run_task() : "-");
}

void NodeContext::set_firmware(std::string_view version, const uint8_t (&sha256)[32]) {
  const size_t n = version.size() < SPORE_MAX_VERSION_LEN ? version.size() : SPORE_MAX_VERSION_LEN;
  std::memset(firmware_version_, 0, sizeof firmware_version_);
  if (n > 0) std::memcpy(firmware_version_, version.data(), n);
  std::memcpy(image_sha256_, sha256, sizeof image_sha256_);
  has_firmware_ = true;
}

uint32_t NodeContext::image_digest() const {
  return load_be32(image_sha256_);
}

namespace {

void write_digest(JsonWriter& w, uint32_t digest) {
  uint8_t bytes[4];
  store_be32(digest, bytes);
  char hex[9];
  hex_encode(bytes, sizeof bytes, hex);
  w.field(SPORE_FSTR("imageDigest"), static_cast<const char*>(hex));
}

/// The five resource fields, in the seed's order, shared by /api/node/status and every entry of
/// /api/cluster/members (one copy of the code and of the keys in flash). `sdk` null writes null.
/// freeHeap apart from `r`: this node's own is the exact 64-bit count, a peer's its code's.
void write_resources(JsonWriter& w, uint64_t free_heap_bytes, const MemberResources& r, const std::string_view* sdk) {
  w.field(SPORE_FSTR("freeHeap"), free_heap_bytes);
  w.field(SPORE_FSTR("chipId"), r.chip_id);
  w.key(SPORE_FSTR("sdkVersion"));
  if (sdk != nullptr) {
    w.value(*sdk);
  } else {
    w.null_value();
  }
  w.field(SPORE_FSTR("cpuFreqMHz"), r.cpu_freq_mhz);
  w.field(SPORE_FSTR("flashChipSize"), r.flash_chip_size_bytes);
}

}  // namespace

void NodeContext::write_self_resources(JsonWriter& w) const {
  MemberResources r;
  r.chip_id = system_.chip_id();
  r.cpu_freq_mhz = system_.cpu_freq_mhz();
  r.flash_chip_size_bytes = system_.flash_chip_size_bytes();
  const char* sdk = system_.sdk_version();
  const std::string_view sdk_view = sdk != nullptr ? std::string_view(sdk) : std::string_view();
  write_resources(w, system_.free_heap_bytes(), r, sdk != nullptr ? &sdk_view : nullptr);
}

void NodeContext::write_status_json(JsonWriter& w) const {
  AnswerCursor c;
  while (write_status_unit(c, w)) {
  }
}

void NodeContext::write_members_json(JsonWriter& w) const {
  AnswerCursor c;
  while (write_members_unit(c, w)) {
  }
}

bool NodeContext::write_status_unit(AnswerCursor& c, JsonWriter& w) const {
  // Units: the head with the resources (the SDK string fully escaped: ~330 B at most), one API
  // entry each, then the tail in two pieces of ~340 B at most (hostname, firmware version).
  switch (c.part) {
    case 0:
      w.begin_object();
      write_self_resources(w);
      w.key(SPORE_FSTR("api")).begin_array();
      c.part = 1;
      return true;
    case 1:
      if (c.index < api_.size()) {
        write_api_entry(w, api_.at(c.index).method, api_.at(c.index).uri_view());
        ++c.index;
        return true;
      }
      w.end_array();
      w.field(SPORE_FSTR("hostname"), std::string_view(hostname_));
      w.field(SPORE_FSTR("nodeId"), self_.node_id);
      w.field(SPORE_FSTR("incarnation"), self_.incarnation);
      w.field(SPORE_FSTR("uptimeMs"), uptime_ms());
      if (const int8_t rssi = system_.wifi_rssi_dbm(); rssi < 0) w.field(SPORE_FSTR("wifiRssiDbm"), int32_t{rssi});
      w.field(SPORE_FSTR("apiDigest"), api_.digest());
      w.field(SPORE_FSTR("maxTaskRunMs"), scheduler_.max_run_ms());
      c.part = 2;
      return true;
    default: {
      // Empty strings until the platform called set_firmware(), so the fields are always there.
      w.field(SPORE_FSTR("firmwareVersion"), static_cast<const char*>(firmware_version_));
      char sha_hex[65] = {};
      if (has_firmware_) hex_encode(image_sha256_, sizeof image_sha256_, sha_hex);
      w.field(SPORE_FSTR("imageSha256"), static_cast<const char*>(sha_hex));
      w.field(SPORE_FSTR("safeMode"), safe_mode_);
      w.field(SPORE_FSTR("otaTrial"), ota_trial_);
      w.field(SPORE_FSTR("settingsReadOnly"), settings_read_only_);
      w.field(SPORE_FSTR("clusterAuth"), cluster_keyed_ ? SPORE_FSTR("keyed") : SPORE_FSTR("open"));
      w.end_object();
      return false;
    }
  }
}

bool NodeContext::write_members_unit(AnswerCursor& c, JsonWriter& w) const {
  if (c.part == 0) {
    c.now_ms = clock_.now_ms();
    w.begin_object();
    w.key(SPORE_FSTR("members")).begin_array();
    // This node first, as the seed's dashboard expects to find the node it asked. Described as a
    // member heard from just now, so that it shares the members' writer (one copy in flash).
    c.member = Member{};
    c.member.node_id = self_.node_id;
    c.member.incarnation = self_.incarnation;
    c.member.ip = self_.ip;
    c.member.last_seen_ms = c.now_ms;
    c.member.latency_ms = 0;
    c.member.http_port = config_.http_port;
    c.member.image_digest = image_digest();
    c.member.api_digest = api_.digest();
    std::memcpy(c.member.hostname, hostname_, sizeof c.member.hostname);
    c.part = 1;
    return true;
  }
  if (!write_member_unit(c, w, c.part == 1)) return true;
  // That entry is complete. The next member is the one with the smallest node id above the last
  // one written, looked up now: whatever joined or left meanwhile, none is written twice.
  const Member* next = nullptr;
  members_.for_each([&](const Member& m) {
    if (m.node_id > c.key && (next == nullptr || m.node_id < next->node_id)) next = &m;
  });
  if (next == nullptr) {
    w.end_array();
    w.end_object();
    return false;
  }
  c.member = *next;
  c.key = next->node_id;
  c.part = 2;
  c.step = 0;
  c.index = 0;
  c.cut = false;
  return true;
}

const Member* NodeContext::unchanged_member(AnswerCursor& c) const {
  if (c.cut) return nullptr;  // once cut, the list stays cut: no entries after a gap
  const Member* live = members_.find(c.member.node_id);
  if (live == nullptr || live->incarnation != c.member.incarnation || live->api_digest != c.member.api_digest) {
    c.cut = true;
    return nullptr;
  }
  return live;
}

bool NodeContext::write_member_unit(AnswerCursor& c, JsonWriter& w, bool is_self) const {
  // Units: head (~290 B at most, the hostname fully escaped), resources and the API list's
  // opening (~330 B: the SDK string), one API entry each (~320 B: the URI), the tail (~400 B:
  // the firmware version fully escaped).
  const Member& m = c.member;
  if (c.step == 0) {
    char ip[16];
    format_ipv4(m.ip, ip, sizeof ip);
    w.begin_object();
    w.field(SPORE_FSTR("hostname"), std::string_view(m.hostname));
    w.field(SPORE_FSTR("ip"), ip);
    w.field(SPORE_FSTR("lastSeen"), m.last_seen_ms);
    // -1 = no round trip measured yet; the seed's field is a number, so no null here.
    w.field(SPORE_FSTR("latency"), m.latency_ms == Member::kUnknownLatency ? int32_t{-1} : int32_t{m.latency_ms});
    w.field(SPORE_FSTR("status"), member_status_name(m.status));
    c.step = 1;
    return false;
  }
  if (c.step == 1) {
    w.key(SPORE_FSTR("resources")).begin_object();
    if (is_self) {
      write_self_resources(w);
    } else {
      // The SDK string lives in the table's arena, which may have moved since the copy: read it
      // from the member as it is now, or write none if it changed.
      const Member* live = unchanged_member(c);
      const std::string_view sdk = live != nullptr ? members_.sdk_version(*live) : std::string_view();
      write_resources(w, m.resources.free_heap_bytes(), m.resources, &sdk);
    }
    w.end_object();
    w.key(SPORE_FSTR("api")).begin_array();
    c.step = 2;
    c.index = 0;
    return false;
  }
  if (is_self) {
    if (c.index < api_.size()) {
      write_api_entry(w, api_.at(c.index).method, api_.at(c.index).uri_view());
      ++c.index;
      return false;
    }
  } else if (const Member* live = unchanged_member(c)) {
    HttpMethod method;
    std::string_view uri;
    if (members_.api_at(*live, c.index, &method, &uri)) {
      write_api_entry(w, method, uri);
      ++c.index;
      return false;
    }
  }
  w.end_array();
  w.field(SPORE_FSTR("nodeId"), m.node_id);
  w.field(SPORE_FSTR("incarnation"), m.incarnation);
  w.field(SPORE_FSTR("httpPort"), m.http_port);
  // One shape for this node and its peers (docs/api.md): every key in every entry, this node's
  // from the member written in part 0 (heard from now, not left, its own digest, nothing cut).
  w.field(SPORE_FSTR("self"), is_self);
  w.field(SPORE_FSTR("lastSeenAgoMs"), elapsed_ms(c.now_ms, m.last_seen_ms));
  w.field(SPORE_FSTR("left"), m.left);
  w.field(SPORE_FSTR("apiDigest"), m.api_digest);
  // Also when the list changed while this answer was being sent and ended early.
  w.field(SPORE_FSTR("detailsTruncated"), m.details_truncated || c.cut);
  write_digest(w, m.image_digest);  // "00000000" until the member announced one
  // A peer's version is not on the wire (only its image digest): null (a null char*), never a guess.
  w.field(SPORE_FSTR("firmwareVersion"), is_self ? static_cast<const char*>(firmware_version_) : nullptr);
  w.end_object();
  return true;
}

}  // namespace spore
