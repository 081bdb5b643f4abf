#pragma once
/// @file node_context.h
/// The seed's central object: one per node, tying together its configuration, event bus,
/// scheduler, membership table and API registry, and rendering the seed's REST documents.
///
/// Everything is sized at compile time (limits.h); after begin() nothing is allocated. The
/// membership protocol, HTTP server and OTA attach to a NodeContext; they are not part of it.

#include <cstdarg>
#include <cstdint>
#include <string_view>

#include "spore/cluster/api_registry.h"
#include "spore/http/chunked_answer.h"
#include "spore/node/config.h"
#include "spore/base/event_bus.h"
#include "spore/base/json_writer.h"
#include "spore/cluster/member_table.h"
#include "spore/base/ports.h"
#include "spore/base/scheduler.h"

namespace spore {

class ClusterEvents;

/// The seed's name for a member as handed to "node_*" event handlers.
using NodeInfo = Member;

/// Topics of the events NodeContext fires itself; each carries the Member as payload.
namespace topics {
constexpr std::string_view kNodeDiscovered = "node_discovered";
constexpr std::string_view kNodeRestarted = "node_restarted";
constexpr std::string_view kNodeRecovered = "node_recovered";
constexpr std::string_view kNodeInactive = "node_inactive";
constexpr std::string_view kNodeDead = "node_dead";
constexpr std::string_view kNodeLeft = "node_left";
constexpr std::string_view kNodeForgotten = "node_forgotten";
/// A member announced a different firmware image than before (it was updated); fired after the
/// announcement that carries it, besides node_restarted when the update restarted it.
constexpr std::string_view kNodeUpdated = "node_updated";
}  // namespace topics

/// Who this node is.
struct NodeIdentity {
  uint32_t node_id = 0;      ///< stable across restarts (chip id); must not be 0
  uint32_t incarnation = 0;  ///< must grow on every restart (persisted counter or boot time)
  uint32_t ip = 0;           ///< IPv4, most significant byte first
  std::string_view hostname;
};

class NodeContext {
 public:
  NodeContext(const Config& config, const Clock& clock, Random& random, const SystemInfo& system, LogSink* log);
  NodeContext(const NodeContext&) = delete;
  NodeContext& operator=(const NodeContext&) = delete;

  /// Validates the config, registers the built-in tasks and starts the scheduler. Returns false
  /// (and logs why) on an invalid config or identity; the node must not run then.
  bool begin(const NodeIdentity& self);
  /// One pass of the cooperative loop; returns ms until a task is next due.
  uint32_t loop() { return scheduler_.tick(); }

  // The seed's API.
  EventBus::SubscriptionId on(std::string_view topic, EventHandler handler) { return events_.on(topic, handler); }
  EventBus::SubscriptionId on(std::string_view topic, LegacyEventHandler handler) {
    return events_.on(topic, handler);
  }
  template <typename T>
  size_t fire(std::string_view topic, const T& payload) {
    return events_.fire(topic, payload);
  }
  size_t fire(std::string_view topic) { return events_.fire(topic); }
  /// Cluster-wide event (docs/events.md): `payload` (0..SPORE_EVENT_PAYLOAD_MAX bytes, copied)
  /// reaches the subscribers of `topic` on this node at once and on every other node, once each,
  /// in publish order, as a ClusterEvent. False when refused (ClusterEvents::publish() says why)
  /// or before the membership protocol began.
  bool publish(std::string_view topic, const void* payload, size_t size_bytes);
  bool publish(std::string_view topic, std::string_view text) { return publish(topic, text.data(), text.size()); }
  /// Set by Membership::begin(); nullptr before.
  void set_cluster_events(ClusterEvents* events) { cluster_events_ = events; }
  /// Called when the MemberTable forgets a member, before the node_forgotten event fires and before
  /// the slot is reused: state other components keep per member slot goes with it, directly rather
  /// than through a topic. Membership::begin() sets it (Membership::forget_member()).
  using ForgetHook = Delegate<void(const Member&)>;
  void set_forget_hook(ForgetHook hook) { forget_hook_ = hook; }
  ClusterEvents* cluster_events() { return cluster_events_; }

  /// printf-style log line through the LogSink; truncated at 160 bytes. No-op without a sink.
  void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 3, 4)));
  /// log() with the format kept in flash (formats up to 127 bytes). Call it through SPORE_LOG,
  /// which also checks the format against the arguments at compile time.
  void log(LogLevel level, FlashStr format, ...);

  /// The seed's GET /api/node/status document (plus extra fields: hostname, nodeId, ...), whole:
  /// write_status_unit() until it returns false.
  void write_status_json(JsonWriter& w) const;
  /// The seed's GET /api/cluster/members document, whole: write_members_unit() until it returns
  /// false. This node is listed first with "self": true, then the members by increasing node id.
  void write_members_json(JsonWriter& w) const;
  /// One unit of the status document (an AnswerSource, chunked_answer.h): its head with the
  /// resources, one API entry, its tail in two pieces. Each at most SPORE_ANSWER_CARRY_BYTES.
  bool write_status_unit(AnswerCursor& c, JsonWriter& w) const;
  /// One unit of the members document (an AnswerSource): its opening, one member's head, its
  /// resources, one of its API entries, its tail, the closing. A member is found afresh by node id
  /// for each of its units, so the table may change between two calls (chunked_answer.h says how
  /// the document stays whole); its own fields come from the copy in `c` taken at its first unit.
  bool write_members_unit(AnswerCursor& c, JsonWriter& w) const;

  const Config& config() const { return config_; }
  /// Before begin() only: liveness kDigest with its timers (Config::with_digest_liveness()), for a
  /// device whose stored settings pick the mode (DeviceConfig liveness=) after its node was built
  /// with its profile. begin() validates the result; the timers it changes are read from config()
  /// at begin() and after, never kept from construction.
  void use_digest_liveness() { config_ = config_.with_digest_liveness(); }
  const NodeIdentity& self() const { return self_; }
  const char* hostname() const { return hostname_; }
  uint32_t uptime_ms() const { return elapsed_ms(clock_.now_ms(), started_ms_); }
  EventBus& events() { return events_; }
  Scheduler& scheduler() { return scheduler_; }
  const Scheduler& scheduler() const { return scheduler_; }
  MemberTable& members() { return members_; }
  const MemberTable& members() const { return members_; }
  ApiRegistry& api() { return api_; }
  const ApiRegistry& api() const { return api_; }
  const Clock& clock() const { return clock_; }
  /// The platform's random source (nonces, jitter).
  Random& random() const { return random_; }
  const SystemInfo& system() const { return system_; }
  /// The running firmware's version string (truncated to SPORE_MAX_VERSION_LEN) and the SHA-256
  /// of its image, shown in /api/node/status as "firmwareVersion" and "imageSha256" and, as the
  /// 4-byte "imageDigest", in this node's /api/cluster/members entry. The platform calls it at
  /// start (Linux: hash of its executable; ESP8266: of the sketch). Membership announces the
  /// digest separately (Membership::set_image_digest(image_digest())).
  void set_firmware(std::string_view version, const uint8_t (&sha256)[32]);
  const char* firmware_version() const { return firmware_version_; }
  /// All zero until set_firmware().
  const uint8_t (&image_sha256() const)[32] { return image_sha256_; }
  /// First 4 bytes of image_sha256(), big-endian: what ANNOUNCE carries. 0 until set_firmware().
  uint32_t image_digest() const;
  bool has_firmware() const { return has_firmware_; }
  /// The platform started this boot in safe mode (core/spore/device/safe_mode.h: after repeated early
  /// crashes only WiFi, REST and OTA run). Shown in /api/node/status as "safeMode"; false until
  /// set, and always on platforms without one.
  void set_safe_mode(bool active) { safe_mode_ = active; }
  bool safe_mode() const { return safe_mode_; }
  /// The device runs on settings it may not save (an ESP8266 whose stored settings record is
  /// damaged, does not parse or cannot be read: core/spore/device/device_settings.h). Shown in
  /// /api/node/status as "settingsReadOnly"; false until set, and always on Linux.
  void set_settings_read_only(bool read_only) { settings_read_only_ = read_only; }
  /// The running image is on trial after an update (Linux: docs/ota.md §11) and may still be
  /// rolled back; shown in /api/node/status as "otaTrial", which `spore ota` waits to see false
  /// before it counts the node as updated. False on platforms without trials.
  void set_ota_trial(bool on_trial) { ota_trial_ = on_trial; }
  /// The cluster protocol runs with a cluster key (datagrams tagged and checked). Shown in
  /// /api/node/status as "clusterAuth": "keyed" or "open"; spore::Node::set_cluster_key() sets it.
  void set_cluster_keyed(bool keyed) { cluster_keyed_ = keyed; }
  bool cluster_keyed() const { return cluster_keyed_; }

  /// After a refutation the membership protocol raises this node's incarnation (SWIM).
  void set_incarnation(uint32_t incarnation) { self_.incarnation = incarnation; }
  /// A device that (re)joined its network with a new address (DHCP) reports it here; it shows in
  /// this node's /api/cluster/members entry and goes out in the next ANNOUNCE. Peers use a
  /// datagram's source address anyway, so nothing is lost meanwhile.
  void set_ip(uint32_t ip) { self_.ip = ip; }

 private:
  void on_member_change(const Member& member, MemberChange change);
  void run_status(uint32_t now_ms);
  void run_debug(uint32_t now_ms);
  /// The next unit of the entry of c.member (c.step: head, resources, API entries, tail);
  /// `is_self`: this node, whose resources, API and firmware come from here rather than from the
  /// table. True once the entry's last unit is written.
  bool write_member_unit(AnswerCursor& c, JsonWriter& w, bool is_self) const;
  /// The member whose entry is being written as the table holds it now, if it still has the
  /// incarnation and API list of c.member; nullptr (and c.cut set) otherwise.
  const Member* unchanged_member(AnswerCursor& c) const;
  void write_self_resources(JsonWriter& w) const;

  Config config_;
  const Clock& clock_;
  Random& random_;
  const SystemInfo& system_;
  LogSink* log_;
  NodeIdentity self_{};
  char hostname_[SPORE_MAX_HOSTNAME_LEN + 1] = {};
  uint32_t started_ms_ = 0;
  char firmware_version_[SPORE_MAX_VERSION_LEN + 1] = {};
  uint8_t image_sha256_[32] = {};
  bool has_firmware_ = false;
  bool safe_mode_ = false;
  bool ota_trial_ = false;
  bool settings_read_only_ = false;
  bool cluster_keyed_ = false;
  EventBus events_;
  Scheduler scheduler_;
  MemberTable members_;
  ApiRegistry api_;
  Task status_task_;
  Task debug_task_;
  ClusterEvents* cluster_events_ = nullptr;
  ForgetHook forget_hook_;
};

}  // namespace spore

namespace spore {
/// Never called: lets the compiler check a SPORE_LOG format against its arguments.
inline void log_format_check(const char*, ...) __attribute__((format(printf, 1, 2)));
inline void log_format_check(const char*, ...) {}
}  // namespace spore

#define SPORE_LOG_FIRST_(first, ...) first
#define SPORE_LOG_REST_(first, ...) __VA_ARGS__
/// `SPORE_LOG(ctx, LogLevel::kInfo, "format %u", args...)`: ctx.log() with the format string in
/// flash instead of the ESP8266's DRAM (flash_string.h), still checked like printf. The trailing
/// 0 only keeps the argument list non-empty for the preprocessor; vsnprintf ignores it.
#define SPORE_LOG(ctx, level, ...)                                                                   \
  do {                                                                                              \
    if (false) ::spore::log_format_check(__VA_ARGS__);                                              \
    (ctx).log(level, SPORE_FSTR(SPORE_LOG_FIRST_(__VA_ARGS__, 0)), SPORE_LOG_REST_(__VA_ARGS__, 0)); \
  } while (0)
