#pragma once
/// @file mqtt_bridge.h
/// The MQTT bridge (docs/mqtt.md): each node that enables it connects to one broker and bridges
/// itself, as ESPHome and Tasmota devices do, so nodes on several LANs can be watched from one
/// broker and from Home Assistant.
///
/// Topics under `spore/<cluster>/<node>` (<node>: the hostname, every byte outside [A-Za-z0-9_-]
/// replaced by '_'):
///   status            retained, QoS 1: "online"; the connection's last will and leave(): "offline"
///   state             retained JSON, the REST API's names: freeHeap, uptimeMs, firmwareVersion,
///                     ip, nodeId (decimal, a number), mqttDropped, members {active,inactive,dead};
///                     on connect, every state_interval_ms and when the member counts change
///   members/<peer>    retained: the peer's status as this node sees it ("ACTIVE", "INACTIVE",
///                     "DEAD"); an empty retained message (deletes it) when the peer is forgotten
///   events/<topic>    not retained: every cluster event THIS node published, as JSON
///   cmd/restart       payload `nonce=<hex> proof=<hex>`   (subscribed: cmd/+; mqtt_proof.h)
///   cmd/ota           payload `nonce=<hex> proof=<hex> <http-url>`
///   cmd/publish       payload `nonce=<hex> proof=<hex> <topic> <data>`
///   cmd/nonce         retained: the nonce the next command's proof must name (a new one on
///                     every connect, and after every command whose proof verified)
///   cmd/result        not retained: the answer to a command, as JSON (refusals within the
///                     command budget, SPORE_MQTT_COMMANDS_PER_S / SPORE_MQTT_COMMAND_BURST)
/// plus Home Assistant MQTT discovery documents under `<discovery_prefix>/<component>/spore_<nodeId>/
/// <object>/config` (retained; docs/mqtt.md "Home Assistant"): status, free heap, uptime,
/// firmware and the three member counts, with default_entity_id, the device's configuration_url
/// (the node's dashboard) and origin, in HA's abbreviated keys.
///
/// Transport-agnostic: the platform owns the MQTT client (libmosquitto on Linux, an Arduino
/// library on the ESP8266) behind MqttPort, connects with client_id() and the last will
/// (will_topic(), kWillPayload, retained, QoS 1), calls on_connected() after every (re)connect,
/// hands every received message to on_message() and calls loop() from the node loop.
///
/// Outbox: what the bridge publishes because of a callback (on_event(): member changes, this
/// node's cluster and OTA events, which fire inside web-server handlers on the ESP8266's system
/// stack; on_message(): command results, built inside the client's read) is queued in a fixed
/// ring (MqttQueue, SPORE_MQTT_QUEUE_BYTES) and published only from loop(), in order, so no
/// publish ever runs inside another client call or in the ESP8266's system context. A message
/// that does not fit is dropped and counted (MqttBridgeStats::queue_drops, the state document's
/// "mqtt_dropped", a log line), never waited for; a dropped retained message (a member's status)
/// makes the next loop() with an empty outbox republish the whole retained set, as a reconnect
/// does. on_connected(), loop() and leave(), which the platform calls from its loop, publish at
/// once, but through the same outbox (after what waits in it): the client is only ever handed
/// ring memory, which a callback running inside one of the client's waits cannot overwrite.
///
/// No allocation: topics and payloads are built in two fixed buffers (SPORE_MQTT_TOPIC_MAX,
/// SPORE_MQTT_PAYLOAD_MAX), copied into a third (the outbox) and published from there; one
/// EventBus slot (kAnyTopic). The API token never travels: commands carry proofs made with it
/// (mqtt_proof.h); a message that arrives retained is never carried out.
/// Not thread-safe: call everything from the thread that runs the node loop.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/delegate.h"
#include "spore/base/event_bus.h"
#include "spore/base/flash_string.h"
#include "spore/base/limits.h"
#include "spore/mqtt/mqtt_queue.h"

namespace spore {

class NodeContext;
class JsonWriter;
class RestApi;
struct Member;
struct MqttCommandPayload;

struct MqttBridgeConfig {
  /// Second topic level: nodes of one cluster share `spore/<cluster>/`. 1..31 bytes of
  /// [A-Za-z0-9_-] (it is a topic level: no '/', '+', '#').
  const char* cluster = "spore";
  /// Home Assistant discovery prefix; "" = no Home Assistant discovery. At most 31 bytes of
  /// printable ASCII without space, '+' or '#'.
  const char* discovery_prefix = "homeassistant";
  /// How often the retained state is refreshed besides connects and member-count changes. More
  /// often costs broker traffic; less often makes free heap and uptime in Home Assistant older.
  /// At least 1000.
  uint32_t state_interval_ms = 30000;
  /// The Home Assistant device's "model": the platform ("ESP8266", "Linux"). At most 31 bytes;
  /// bytes outside printable ASCII, '"' and '\' are shown as '_'.
  const char* model = "SPORE node";
  /// UNSAFE, off by default: also accept the old payload form `<token> <args>`, which puts the
  /// API token on the broker in clear and can be replayed by anyone who saw it. Only for
  /// operators' scripts that cannot make proofs yet (docs/mqtt.md).
  bool allow_token_payload = false;
};

/// What the bridge needs from an MQTT client (libmosquitto on Linux, an Arduino library on the ESP8266).
class MqttPort {
 public:
  virtual ~MqttPort() = default;
  virtual bool connected() const = 0;
  /// `topic` NUL-terminated; QoS 1 when `retain`, else QoS 0. False when not sent (buffer, disconnected).
  /// The bridge may publish from inside on_message(): a client that shares one buffer between
  /// the message being handled and outgoing ones must have copied what it still needs.
  virtual bool publish(const char* topic, const uint8_t* payload, size_t size_bytes, bool retain) = 0;
  /// QoS 0 subscription; `topic` NUL-terminated (may hold '+'). False when not sent. QoS 0, not
  /// 1: a broker queues at most max_queued_messages (mosquitto: 1,000) QoS 1 messages per
  /// subscriber and drops the rest, so a QoS 1 junk flood on cmd/zz made it drop a valid command
  /// (issue 18 review); at QoS 0 there is no such queue to overflow, and no redelivery: the
  /// operator sees the answer on cmd/result, or none, and retries (docs/mqtt.md, "Command budget").
  virtual bool subscribe(const char* topic) = 0;
};

/// Counters of one bridge (since construction).
struct MqttBridgeStats {
  uint32_t connects = 0;          ///< on_connected() calls
  uint32_t published = 0;         ///< messages the port accepted
  uint32_t publish_failures = 0;  ///< messages not sent: disconnected, port refused, or too large
  uint32_t oversize = 0;          ///< of those, documents that did not fit SPORE_MQTT_PAYLOAD_MAX
  uint32_t events_bridged = 0;    ///< own cluster events handed to the port (events/<topic>)
  uint32_t messages = 0;          ///< on_message() calls for a cmd/ topic of this node (results excluded)
  uint32_t commands = 0;          ///< commands accepted (authenticated and carried out)
  uint32_t rejected_commands = 0; ///< commands without a valid proof (or token): nothing changed
  uint32_t bad_commands = 0;      ///< authenticated but malformed, unknown, refused or not supported
  uint32_t queue_drops = 0;       ///< messages built in a callback that did not fit the outbox (also publish_failures)
  uint32_t retained_commands = 0; ///< commands that arrived retained: refused, never carried out
  uint32_t stale_commands = 0;    ///< proofs for a nonce that is not the current one (also rejected_commands)
  uint32_t throttled = 0;         ///< refusals over the command budget: dropped unanswered
};

class MqttBridge {
 public:
  /// Payload of the last will and of leave() on will_topic().
  static constexpr const char* kWillPayload = "offline";
  static constexpr const char* kOnlinePayload = "online";
  /// Longest cluster name, discovery prefix and model (MqttBridgeConfig), bytes.
  static constexpr size_t kMaxClusterLen = 31;
  static constexpr size_t kMaxPrefixLen = 31;
  static constexpr size_t kMaxModelLen = 31;
  static constexpr uint32_t kMinStateIntervalMs = 1000;
  /// Upper bound of the largest document the bridge writes (a discovery config with every
  /// variable field at its longest); unit-tested against the real document, checked against
  /// SPORE_MQTT_PAYLOAD_MAX below.
  static constexpr size_t kLargestDocumentBytes = 680;

  /// `ctx`, `api` (its token guards the commands) and `port` must outlive the bridge.
  MqttBridge(NodeContext& ctx, RestApi& api, MqttPort& port);
  MqttBridge(const MqttBridge&) = delete;
  MqttBridge& operator=(const MqttBridge&) = delete;

  /// After ctx.begin(): checks `config`, builds the topic base and client id, subscribes to the
  /// node's events (1 EventBus slot). False (logged why) when the config is invalid or the event
  /// table is full; the bridge then does nothing. The config's strings are copied.
  bool begin(const MqttBridgeConfig& config);
  /// "spore-<node_id, 8 hex digits>-<8 hex digits drawn at begin()>", for the platform's connect:
  /// 23 bytes, the length every MQTT 3.1.1 broker accepts. Random per boot so that another broker
  /// user cannot take the session over by connecting with it (docs/mqtt.md). "" before begin().
  const char* client_id() const { return client_id_; }
  /// Draws the client id's random part again. begin() draws it; a platform whose RNG is weak
  /// until its radio runs (the ESP8266) calls this once more before its first connect.
  void draw_client_id();
  /// "<base>/status": the topic of the connection's last will. "" before begin().
  const char* will_topic() const { return will_topic_; }
  /// "spore/<cluster>/<node>". "" before begin().
  const char* base_topic() const { return base_; }
  /// The nonce the next command's proof must name (kMqttNonceHexLen lower-case hex digits),
  /// published retained on <base>/cmd/nonce. "" before begin().
  const char* nonce() const { return nonce_; }

  /// The platform calls this after each (re)connect: draws a new nonce (a proof made for the
  /// last connection's no longer verifies), subscribes to <base>/cmd/+, publishes status
  /// online, the nonce, the discovery documents, the state and every member's status.
  void on_connected(uint32_t now_ms);
  /// A message the client received. `topic` NUL-terminated; `payload` any bytes, valid only
  /// during the call; `retained`: the PUBLISH had its RETAIN flag set (the broker resends such a
  /// message on every subscribe): refused as "retained", never carried out; its proof, when it
  /// verifies for the current nonce, is spent all the same. Anything but
  /// <base>/cmd/<command> is ignored; a command is answered on <base>/cmd/result (queued:
  /// published by the next loop()) unless it is refused over the command budget. Runs the
  /// restart / OTA handlers and ctx.publish() synchronously.
  void on_message(const char* topic, const uint8_t* payload, size_t size_bytes, bool retained);
  /// From the node loop, never from inside a client call: publishes what the callbacks queued
  /// (at most the messages queued when it starts; what they queue meanwhile waits for the next
  /// call, unless this call publishes a message of its own, which goes out behind them), then
  /// republishes the retained set when one was dropped and the outbox is empty, else refreshes
  /// the state when due or when the member counts changed. Cheap when nothing is due (no table
  /// scan).
  void loop(uint32_t now_ms);
  /// Clean shutdown: publishes what is queued, then "offline" on will_topic() (retained; a clean
  /// disconnect does not fire the will) and stops publishing. The platform then flushes and
  /// disconnects.
  void leave();

  /// Called for an accepted cmd/restart, after its "accepted" result was handed to the port. It
  /// must not restart at once: the platform restarts after flushing (as for REST). Unset = the
  /// command is answered not_supported.
  void set_restart_handler(Delegate<void()> handler) { restart_handler_ = handler; }
  /// OTA from URL: the platform downloads `url` (NUL-terminated, http://, valid only during the
  /// call: copy it) into its OTA path; false = refused at once (busy, unsupported URL). Progress
  /// and outcome then show as the usual ota_* events. `allow_downgrade`: the command's third
  /// word was `allow_downgrade` (a signed image older than the running one may install, as
  /// POST /api/node/update?allow_downgrade=1). Unset = answered not_supported.
  void set_ota_url_handler(Delegate<bool(const char* url, bool allow_downgrade)> handler) { ota_url_handler_ = handler; }

  const MqttBridgeStats& stats() const { return stats_; }
  /// Messages waiting in the outbox for the next loop().
  size_t queued() const { return outbox_.size(); }
  /// True between on_connected() and leave() or the port reporting a disconnect.
  bool online() const { return session_; }

  /// Writes the topic level for `hostname` (every byte outside [A-Za-z0-9_-] as '_') into `out`
  /// (NUL-terminated, at most out_size - 1 bytes); an empty hostname becomes the node id in hex.
  /// Returns the length.
  static size_t sanitize_level(std::string_view hostname, uint32_t node_id, char* out, size_t out_size);

 private:
  enum class Entity : uint8_t {
    kStatus,
    kFreeHeap,
    kUptime,
    kFirmware,
    kMembersActive,
    kMembersInactive,
    kMembersDead,
    kCount
  };

  void on_event(const Event& event);
  void on_event_queued(const Event& event);
  void on_member_event(const Member& member, bool forgotten);
  void on_cluster_event(const Event& event);
  /// Carries out cmd/<command> (not retained): unknown names refused first, then authorize(),
  /// then run_restart() / run_ota() / run_publish() with the arguments after the proof.
  void run_command(std::string_view command, std::string_view payload);
  void run_restart(std::string_view command, std::string_view args);
  void run_ota(std::string_view command, std::string_view args);
  void run_publish(std::string_view command, std::string_view args);
  /// Counts an authenticated but malformed, unknown, refused or unsupported command and refuse()s it.
  void refuse_bad(std::string_view command, const char* code, FlashStr error);
  /// Counts an accepted command and answers it "accepted".
  void accept(std::string_view command);
  /// Checks the proof (or, when allowed, the token) of `payload`; sets `*args` to what follows
  /// it. Answers and counts a failure.
  bool authorize(std::string_view command, std::string_view payload, std::string_view* args);
  /// The HMAC of proof-form `p` verifies for `command` with the token (not checked: the nonce).
  bool proof_verifies(std::string_view command, const MqttCommandPayload& p) const;
  /// Publishes the result of `command` on <base>/cmd/result: accepted when `code` is nullptr.
  void answer(std::string_view command, const char* code, FlashStr error);
  /// answer() for a refusal, if the command budget has a token left; else dropped and counted.
  void refuse(std::string_view command, const char* code, FlashStr error);
  /// Takes one token from the command budget (refilled first); false when empty.
  bool take_budget();
  /// Draws the next nonce (the current one is spent).
  void renew_nonce();
  void publish_state(uint32_t now_ms);
  void publish_member(const Member& member, bool forgotten);
  /// Every entity's discovery document (mqtt_discovery.cpp).
  void publish_discovery_documents();
  void publish_discovery(size_t entity);
  /// The entity's optional keys (template, unit, classes, category) from its table row.
  void write_entity_options(JsonWriter& w, size_t entity);
  /// The "dev" (device) and "o" (origin) objects every discovery document carries.
  void write_device(JsonWriter& w, const char* device_id);
  /// "http://<ip>[:<port>]/", the node's dashboard; returns its length.
  size_t dashboard_url(char* out, size_t out_size) const;
  /// Status "online", the discovery documents, the state and every member's status: what the
  /// broker keeps for this node (on connect, and after a retained message was dropped).
  void publish_retained(uint32_t now_ms);
  /// topic_ = base_ + suffix (+ level, sanitized for a topic name: '+' and '#' become '_').
  bool build_topic(const char* suffix, std::string_view level);
  /// Queues payload_[0..size) on topic_ and, unless a callback runs (callback_depth_ > 0),
  /// publishes the outbox up to it, so the client only ever reads ring memory. False when
  /// dropped (oversize, or no room: counted; a retained one sets resync_). `event`: a bridged
  /// event (events_bridged once published).
  bool send(size_t size_bytes, bool retain, bool overflowed, bool event = false);
  /// Publishes at most `limit` queued messages, oldest first.
  void flush_outbox(size_t limit);
  bool send_text(const char* text, bool retain);

  NodeContext& ctx_;
  RestApi& api_;
  MqttPort& port_;
  Delegate<void()> restart_handler_;
  Delegate<bool(const char*, bool)> ota_url_handler_;
  MqttBridgeStats stats_;
  uint32_t state_interval_ms_ = 30000;
  uint32_t last_state_ms_ = 0;
  uint16_t last_counts_[3] = {};  // active (self included), inactive, dead as last published
  bool begun_ = false;
  bool session_ = false;
  bool left_ = false;
  bool counts_dirty_ = false;
  bool resync_ = false;  // a retained message was dropped: loop() republishes the retained set
  uint8_t callback_depth_ = 0;  // on_event() / on_message() calls in progress: send() queues
  uint32_t drops_logged_ = 0;   // queue_drops when loop() last logged them
  bool allow_token_payload_ = false;
  bool nonce_spent_ = false;      // a proof verified during this on_message(): renew after it
  uint32_t nonce_serial_ = 0;
  uint32_t budget_milli_ = SPORE_MQTT_COMMAND_BURST * 1000u;  // command budget, 1/1000 tokens
  uint32_t budget_ms_ = 0;        // when it was last refilled
  uint8_t base_len_ = 0;
  char base_[6 + kMaxClusterLen + 1 + SPORE_MAX_HOSTNAME_LEN + 1] = {};
  char will_topic_[sizeof base_ + 7] = {};
  char client_id_[24] = {};
  char nonce_[2 * 16 + 1] = {};
  char prefix_[kMaxPrefixLen + 1] = {};
  char model_[kMaxModelLen + 1] = {};
  char topic_[SPORE_MQTT_TOPIC_MAX] = {};
  char payload_[SPORE_MQTT_PAYLOAD_MAX] = {};
  MqttQueue outbox_;
};

static_assert(SPORE_MQTT_COMMAND_BURST >= 1 && SPORE_MQTT_COMMAND_BURST <= 1000000 && SPORE_MQTT_COMMANDS_PER_S >= 1,
              "SPORE_MQTT_COMMAND_BURST: 1..1e6, SPORE_MQTT_COMMANDS_PER_S: >= 1");
static_assert(SPORE_MQTT_PAYLOAD_MAX > MqttBridge::kLargestDocumentBytes,
              "SPORE_MQTT_PAYLOAD_MAX must hold the largest discovery document");
// {"nodeId":4294967295,"epoch":4294967295,"seq":4294967295,"data":"..."} around the payload.
static_assert(SPORE_MQTT_PAYLOAD_MAX >= 6 * SPORE_EVENT_PAYLOAD_MAX + 80,
              "SPORE_MQTT_PAYLOAD_MAX must hold an own event with every payload byte escaped");
// "<base>/members/<peer>" is the longest topic under the base; "<prefix>/sensor/spore_<10 digits>/
// members_inactive/config" the longest discovery topic.
static_assert(SPORE_MQTT_TOPIC_MAX > 6 + MqttBridge::kMaxClusterLen + 1 + 2 * SPORE_MAX_HOSTNAME_LEN + 9,
              "SPORE_MQTT_TOPIC_MAX must hold <base>/members/<peer>");
static_assert(SPORE_MQTT_TOPIC_MAX > MqttBridge::kMaxPrefixLen + 48, "SPORE_MQTT_TOPIC_MAX must hold discovery topics");

}  // namespace spore
