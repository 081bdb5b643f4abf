#include "esp8266/node.h"

#include <Arduino.h>

#include <cstdio>

#include <bearssl/bearssl_hash.h>

#include "spore/device/boot_counter.h"
#include "spore/base/incarnation.h"
#include "spore/device/reset_reason.h"
// The web dashboard, generated into the build by firmware/embed_dashboard.py (PlatformIO pre:
// script) from web/dashboard/. A build without it (Arduino IDE library) serves no GET /.
#if __has_include("spore_dashboard_asset.h")
#include "spore_dashboard_asset.h"
#define SPORE_HAS_DASHBOARD 1
#endif
#include "spore/auth/hmac_sha256.h"
#include "spore/auth/image_version.h"

namespace spore::esp8266 {

namespace {

// Seed credentials from the build (PlatformIO: WIFI_SSID=... WIFI_PASSWORD=... pio run). An
// empty WIFI_SSID (the variable unset at build time) counts as none.
#ifdef WIFI_SSID
constexpr const char* kBuildSsid = WIFI_SSID;
#else
constexpr const char* kBuildSsid = "";
#endif
#ifdef WIFI_PASSWORD
constexpr const char* kBuildPassword = WIFI_PASSWORD;
#else
constexpr const char* kBuildPassword = "";
#endif

#ifndef SPORE_FIRMWARE_VERSION
#define SPORE_FIRMWARE_VERSION "spore-esp8266-0.1.0"
#endif

// This image's version slot (core/spore/auth/image_version.h), in flash (irom0, inside the .bin and so
// covered by its signature): a node receiving this image finds the version here and refuses it
// when signed and older than its own (docs/ota.md, "Downgrades"). begin() reads the version from
// it too, which keeps it through --gc-sections. The only place the marker occurs in the image.
static_assert(sizeof("SPORE-VERSION-SLOT:" SPORE_FIRMWARE_VERSION) <= spore::kImageVersionSlotBytes,
              "SPORE_FIRMWARE_VERSION is longer than a version slot holds (28 characters)");
static const char kVersionSlot[spore::kImageVersionSlotBytes] PROGMEM __attribute__((used)) =
    "SPORE-VERSION-SLOT:" SPORE_FIRMWARE_VERSION;

#ifdef SPORE_WITH_MQTT
// Broker and bridge settings from the build (PlatformIO: MQTT_HOST=... pio run -e esp01_1m_mqtt),
// string literals; "" = the default.
#ifndef SPORE_MQTT_HOST
#define SPORE_MQTT_HOST ""
#endif
#ifndef SPORE_MQTT_PORT
#define SPORE_MQTT_PORT ""
#endif
#ifndef SPORE_MQTT_USER
#define SPORE_MQTT_USER ""
#endif
#ifndef SPORE_MQTT_PASSWORD
#define SPORE_MQTT_PASSWORD ""
#endif
#ifndef SPORE_MQTT_CLUSTER
#define SPORE_MQTT_CLUSTER ""
#endif
#ifndef SPORE_MQTT_DISCOVERY
#define SPORE_MQTT_DISCOVERY ""
#endif

/// "" = 1883; 0 when not a port number (1..65535).
uint16_t mqtt_port_from(const char* text) {
  if (*text == '\0') return 1883;
  uint32_t port = 0;
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9' || port > 6553) return 0;
    port = port * 10 + static_cast<uint32_t>(*text - '0');
  }
  return port <= 65535 ? static_cast<uint16_t>(port) : 0;
}
#endif

}  // namespace

Node::Node(const Config& config, const SafeModeConfig& safe_mode)
    : safe_mode_(rtc_, safe_mode),
      node_(config, NodePorts{clock_, random_, system_, udp_, flash_, &log_, &watchdog_}),
      server_(config.http_port),
      http_(server_, api(), clock_),
      wifi_(radio_, random_, &log_),
      settings_(store_),
      portal_(server_, wifi_, settings_.config(), store_, api(), clock_, log_, hostname_)
#ifdef SPORE_WITH_MQTT
      ,
      mqtt_(random_),
      bridge_(context(), api(), mqtt_)
#endif
{
}

uint32_t Node::next_incarnation() {
  // The same scheme as spored's (core/spore/base/incarnation.h): boot count << 16, room for 65,535
  // refutations per run, compared with serial arithmetic so that it wraps instead of saturating.
  const uint32_t legacy = boot_log_.legacy_count();
  if (!boot_log_.begin()) {
    // No room for the log: peers may take this boot's datagrams for a stale life's.
    SPORE_LOG(context(), LogLevel::kError, "boot counter: no flash area for its log in this layout; boot count %lu",
              static_cast<unsigned long>(legacy + 1));
    return incarnation_for_boot(legacy < kBootCountMax ? legacy + 1 : kBootCountMax);
  }
  // Never the EEPROM sector: its old 8 bytes are read once (migrate), never written.
  const BootCount c = next_boot_count(boot_log_, legacy);
  if (c.migrated) {
    SPORE_LOG(context(), LogLevel::kInfo, "boot counter: continued from the EEPROM counter %lu in the log at 0x%lx",
              static_cast<unsigned long>(legacy), static_cast<unsigned long>(boot_log_.address()));
  }
  if (!c.saved) {
    SPORE_LOG(context(), LogLevel::kError, "boot counter: flash write failed; the next boot may repeat boot count %lu",
              static_cast<unsigned long>(c.count));
  }
  return incarnation_for_boot(c.count);
}

bool Node::hash_running_image(uint8_t (&sha256)[32]) {
  // The flash may only be read in aligned 32-bit words; the sketch size is a multiple of 16.
  alignas(4) uint8_t chunk[256];
  br_sha256_context sha;
  br_sha256_init(&sha);
  const uint32_t size = ESP.getSketchSize();
  for (uint32_t offset = 0; offset < size; offset += sizeof chunk) {
    const uint32_t n = size - offset < sizeof chunk ? size - offset : sizeof chunk;
    if (!ESP.flashRead(offset, reinterpret_cast<uint32_t*>(chunk), (n + 3) & ~3u)) {
      SPORE_LOG(context(), LogLevel::kError, "firmware: flash read failed; imageSha256 left unset");
      return false;
    }
    br_sha256_update(&sha, chunk, n);
    if ((offset & 0x3FFF) == 0) watchdog_.feed();  // ~0.4 s in all: keep the watchdog quiet
  }
  br_sha256_out(&sha, sha256);
  return size > 0;
}

void Node::load_device_config() {
  const bool store_ok = store_.begin();
  if (!store_ok) {
    SPORE_LOG(context(), LogLevel::kError, "config: no flash area for settings in this layout; running on build-time settings");
  }
  settings_.begin(kBuildSsid, kBuildPassword, sketch_token_);
  const DeviceConfig& config = settings_.config();
  if (settings_.access() == SettingsAccess::kUnavailable && store_ok) {
    SPORE_LOG(context(), LogLevel::kError, "config: stored settings unreadable; READ-ONLY on build-time settings");
  } else if (settings_.access() == SettingsAccess::kReadOnly && settings_.bad_lines() > 0) {
    SPORE_LOG(context(), LogLevel::kError,
              "config: settings line %u: %s (%u bad line(s)); READ-ONLY on the rest until the portal saves",
              static_cast<unsigned>(settings_.first_error().line), settings_.first_error().reason,
              static_cast<unsigned>(settings_.bad_lines()));
  } else if (settings_.access() == SettingsAccess::kReadOnly) {
    SPORE_LOG(context(), LogLevel::kError,
              "config: settings record damaged; kept, READ-ONLY on build-time settings until the portal saves");
  }
  if (settings_.degraded()) {
    // Never keyless, never bearer tokens the record may refuse (DeviceSettings::degraded()).
    SPORE_LOG(context(), LogLevel::kError,
              "config: cluster key or no_bearer may be lost; WiFi, REST and OTA only until the portal saves");
  }
  if (config.unknown_keys() > 0) {
    SPORE_LOG(context(), LogLevel::kWarn, "config: %u setting(s) with keys this image does not know kept%s",
              static_cast<unsigned>(config.unknown_keys()),
              config.unknown_keys_dropped() > 0 ? "; some over the budget: a save loses them" : "");
  }
  if (const char* reason = settings_.build_wifi_error()) {
    SPORE_LOG(context(), LogLevel::kError, "config: WIFI_SSID/WIFI_PASSWORD build flags: %s", reason);
  }
  context().set_settings_read_only(settings_.read_only());
}

void Node::poll_settings() {
  if (settings_.read_only() && store_.saves() > 0) {
    const bool was_degraded = settings_.degraded();
    settings_.saved_by_user();  // the setup portal saved new settings over the record
    context().set_settings_read_only(false);
    if (was_degraded) {
      // begin() left the cluster services off; a clean boot starts them on the saved record.
      SPORE_LOG(context(), LogLevel::kWarn, "config: settings saved by the portal; restarting onto them");
      http_.request_restart();
    }
  }
  if (!settings_.token_pending() || !(wifi_.connected() || radio_.access_point_up())) return;
  // The radio runs now: RANDOM_REG32 gives RF noise, not the pseudo-random numbers of boot time.
  uint8_t mac[6];
  radio_.station_mac(mac);
  const bool saved = settings_.draw_token(entropy_, mac);
  api().set_api_token(settings_.api_token());  // 32 hex digits: always valid; ends lock_until_token()
  // Shown once, when it is made: reading it needs the board in hand, which the threat model
  // leaves out anyway; the setup portal never shows it (its access point is open).
  SPORE_LOG(context(), LogLevel::kWarn, "new API token %s%s", settings_.api_token().data(),
            saved ? "" : " (for this boot only: not saved)");
}

void Node::begin_safe_mode() {
  const bool power_on = system_.reset_reason_code() == static_cast<uint32_t>(EspResetReason::kPowerOn);
  const SafeModeConfig& c = safe_mode_.config();
  if (safe_mode_.begin(clock_.now_ms(), power_on)) {
    SPORE_LOG(context(), LogLevel::kWarn,
              "SAFE MODE: %u boots in a row ended within %lu s; WiFi, REST and OTA only for %lu s",
              static_cast<unsigned>(safe_mode_.failed_boots()), static_cast<unsigned long>(c.stable_after_ms / 1000),
              static_cast<unsigned long>(c.timeout_ms / 1000));
  } else if (safe_mode_.failed_boots() > 0) {
    SPORE_LOG(context(), LogLevel::kWarn, "safe mode: %u boot(s) in a row ended early (last reset: %s); safe mode at %u",
              static_cast<unsigned>(safe_mode_.failed_boots()), system_.reset_reason_name(),
              static_cast<unsigned>(c.boot_attempts));
  }
  context().set_safe_mode(safe_mode_.active());
}

void Node::poll_safe_mode(uint32_t now_ms) {
  switch (safe_mode_.poll(now_ms, ota_session().busy() || http_.restart_scheduled())) {
    case SafeModeEvent::kBootStable:
      SPORE_LOG(context(), LogLevel::kInfo, "safe mode: boot stable; early-reset counter cleared");
      break;
    case SafeModeEvent::kTimeout:
      SPORE_LOG(context(), LogLevel::kWarn, "safe mode: time is up; restarting into a normal boot");
      http_.request_restart();  // loop()'s deferred restart, through before_restart()
      break;
    case SafeModeEvent::kNone:
      break;
  }
}

#ifdef SPORE_OTA_PUBLIC_KEY_PEM
bool Node::load_ota_key() {
  // The PEM stays in flash; parsing needs it in RAM for a moment (stack, ~450 B for RSA-2048).
  static const char kPem[] PROGMEM = SPORE_OTA_PUBLIC_KEY_PEM;
  // A key longer than this build holds would be refused at every boot, and the node would lose its
  // update route: refuse it at build time. OtaSession decodes at most SPORE_OTA_MAX_SIGNATURE_BYTES
  // + 64 bytes of DER; base64 takes 4/3 of that, plus ~128 B of PEM lines and newlines (an RSA-2048
  // PEM is ~450 B and passes at 256; RSA-3072, ~625 B, needs 512).
  static_assert(sizeof kPem <= (SPORE_OTA_MAX_SIGNATURE_BYTES + 64) * 4 / 3 + 128,
                "SPORE_OTA_PUBLIC_KEY_PEM is longer than this build's RSA limit (SPORE_OTA_MAX_SIGNATURE_BYTES, 256 = "
                "RSA-2048 on the ESP8266): build with -DSPORE_OTA_MAX_SIGNATURE_BYTES=512 for RSA-3072/4096");
  char pem[sizeof kPem];
  memcpy_P(pem, kPem, sizeof kPem);
  ota_session().require_public_key();  // whatever happens below, this build never installs unsigned
  if (ota_session().set_public_key_pem(std::string_view(pem, sizeof kPem - 1))) return true;
  // Taking unsigned images instead would be a downgrade: no update route at all; the serial
  // port is the way back for this build.
  if (ota_session().refused_key_bits() > 0) {
    SPORE_LOG(context(), LogLevel::kError, "OTA: SPORE_OTA_PUBLIC_KEY_PEM is an RSA key of %u bits, under %u; no updates",
              static_cast<unsigned>(ota_session().refused_key_bits()), static_cast<unsigned>(OtaSession::kMinKeyBits));
  } else {
    // Keys over the build's buffer land here too (SPORE_OTA_MAX_SIGNATURE_BYTES, 2048 bits on the
    // ESP8266 since issue 19: core/spore/base/limits.h).
    SPORE_LOG(context(), LogLevel::kError,
              "OTA: SPORE_OTA_PUBLIC_KEY_PEM is not an RSA public key in PEM of at most %u bits; no updates",
              static_cast<unsigned>(SPORE_OTA_MAX_SIGNATURE_BYTES * 8));
  }
  return false;
}
#endif

bool Node::apply_settings(bool* ota_ok) {
  bool ok = true;
  // A fresh board gets a random token rather than an open REST API (docs/security.md), drawn in
  // loop() once WiFi runs (poll_settings()). Until then every protected route answers 503
  // token_pending: no throwaway token, which the pre-radio RNG would make guessable.
  if (settings_.sketch_token_invalid()) {
    SPORE_LOG(context(), LogLevel::kError,
              "API token passed to begin(): 1-64 characters of A-Z a-z 0-9 - . _ ~ + / = expected; not used");
  }
  if (settings_.token_pending()) {
    api().lock_until_token();
  } else if (!api().set_api_token(settings_.api_token())) {
    ok = false;  // DeviceSettings checked it: cannot happen; never an open API instead
  }
  // What a 401 says (a string literal: it must outlive the RestApi). Not the token, only where it is.
  api().set_token_location("its first boot's serial log (./ctl.sh monitor) or its api_token setting");
  const DeviceConfig& device = settings_.config();
  api().set_bearer_allowed(!device.no_bearer());
  // Before node_.begin(), which validates the configuration and starts the timers it names.
  // A build without the chain (the MQTT image, platformio.ini) keeps the broadcast timers: the
  // digest timers (a heartbeat every I/3) are only sound where DIGESTs relay the evidence.
  if (SPORE_DIGEST_LIVENESS && device.digest_liveness()) context().use_digest_liveness();
  // The stored key, else the build's (SPORE_CLUSTER_KEY: firmware/cluster_key.py puts the .env's
  // key there unless the build opted into open mode), copied out of flash for this call only.
  std::string_view key_hex = device.cluster_key_hex();
#ifdef SPORE_CLUSTER_KEY
  static const char kBuildKey[] PROGMEM = SPORE_CLUSTER_KEY;
  static_assert(sizeof kBuildKey % 2 == 1 && sizeof kBuildKey > 2 * HmacKey::kMinKeyBytes &&
                    sizeof kBuildKey <= 2 * SPORE_MAX_KEY_BYTES + 1,
                "SPORE_CLUSTER_KEY: 32..64 hex digits, an even number (firmware/cluster_key.py)");
  char build_key[sizeof kBuildKey];
  memcpy_P(build_key, kBuildKey, sizeof kBuildKey);
  if (key_hex.empty()) key_hex = std::string_view(build_key, sizeof kBuildKey - 1);
#endif
  if (!key_hex.empty()) {
    HmacKey key;
    if (key.set_hex(key_hex)) {
      node_.set_cluster_key(key);
    } else {
      ok = false;  // checked (DeviceConfig, the build script): cannot happen; never run keyless instead
    }
  } else {
    SPORE_LOG(context(), LogLevel::kWarn,
              "cluster: OPEN mode (no cluster key): anyone on this network can forge members (docs/security.md)");
  }
  *ota_ok = true;
#ifdef SPORE_OTA_PUBLIC_KEY_PEM
  *ota_ok = load_ota_key();
  ok = *ota_ok && ok;
#endif
  // Without a key OtaSession passes a signature trailer through to the flash target.
  flash_.set_signature_trailer_allowed(!ota_session().has_public_key());
  // RSA runs on the core's stack thunk, never on the system stack of the upload's callbacks.
  flash_.set_needs_rsa_stack(ota_session().has_public_key());
  ota_session().set_rsa_verifier(&UpdaterFlashTarget::rsa_verify);
  flash_.set_log(&context());
  return ok;
}

bool Node::begin(const char* api_token) {
  if (begun_) return true;
  // First: a crash anywhere below is what safe mode counts.
  begin_safe_mode();
  // A step below that fails never ends begin() early: WiFi, the REST API and OTA start whatever
  // happens, so an image with a bad setting stays reachable and replaceable over the air (it
  // would otherwise sit offline without crashing, where safe mode cannot help). Such a node runs
  // like one in safe mode, without the cluster services.
  bool degraded = false;
  const uint32_t chip = system_.chip_id();
  snprintf_P(hostname_, sizeof hostname_, PSTR("esp_%06lx"), static_cast<unsigned long>(chip));
  snprintf_P(ap_name_, sizeof ap_name_, PSTR("spore-%06lx"), static_cast<unsigned long>(chip));
  sketch_token_ = api_token != nullptr ? api_token : "";
  load_device_config();
  if (settings_.degraded()) degraded = true;  // logged why
  if (!safe_mode_.active() && !udp_.begin(context().config().udp_port)) {
    SPORE_LOG(context(), LogLevel::kError, "UDP: cannot bind the cluster port; WiFi, REST and OTA only");
    degraded = true;
  }
  bool ota_ok = true;
  if (!apply_settings(&ota_ok)) degraded = true;  // logged why
  char version[kImageVersionMaxTextBytes + 1];
  memcpy_P(version, kVersionSlot + kImageVersionMarkerBytes, sizeof version - 1);
  version[sizeof version - 1] = '\0';
  uint8_t image_sha256[32] = {};
  FirmwareIdentity firmware{version};
  if (hash_running_image(image_sha256)) firmware.sha256 = &image_sha256;
  // The address comes with the WiFi connection (on_ip_change); 0 until then. Every step runs
  // (logged why when one fails); the routes that fit are served.
  if (!node_.begin({chip, next_incarnation(), radio_.station_ip(), hostname_}, firmware,
                   ota_ok ? NodeRest::kRoutesAndUpdate : NodeRest::kRoutes)) {
    degraded = true;
  }
  ota_ok = node_.serves_update();
  if (degraded) context().set_safe_mode(true);  // "safeMode": only WiFi, REST and OTA run
  if (!safe_mode_.active() && !degraded) begin_services();
  if (ota_ok) http_.set_ota(&node_.ota());  // else POST /api/node/update is a plain request: 413/404
  http_.set_before_restart(Delegate<void()>::bind<Node, &Node::before_restart>(this));
  portal_.begin();  // before the REST handler: the server asks handlers in order
  if (!http_.begin(context().config().http_port)) {
    SPORE_LOG(context(), LogLevel::kError, "http: cannot listen on port %u",
              static_cast<unsigned>(context().config().http_port));
  }
  if (http_.restart_blocked()) {
    SPORE_LOG(context(), LogLevel::kWarn, "boot mode is UART download (reset by a serial flash): restart requests are "
                                          "refused until the board is power-cycled");
  }
  radio_.begin();
  wifi_.set_on_ip_change(WifiManager::IpChanged::bind<Node, &Node::on_ip_change>(this));
  const DeviceConfig& device = settings_.config();
  wifi_.begin(clock_.now_ms(), hostname_, ap_name_, device.wifi_ssid(), device.wifi_password());
  begun_ = true;
  return true;
}

#ifdef SPORE_WITH_MQTT
void Node::begin_mqtt() {
  if (*SPORE_MQTT_HOST == '\0') {
    SPORE_LOG(context(), LogLevel::kInfo, "mqtt: no broker (SPORE_MQTT_HOST empty); bridge off");
    return;
  }
  EspMqttClient::Settings settings;
  settings.host = SPORE_MQTT_HOST;
  settings.port = mqtt_port_from(SPORE_MQTT_PORT);
  settings.user = SPORE_MQTT_USER;
  settings.password = SPORE_MQTT_PASSWORD;
  MqttBridgeConfig config;
  if (*SPORE_MQTT_CLUSTER != '\0') config.cluster = SPORE_MQTT_CLUSTER;
  if (*SPORE_MQTT_DISCOVERY != '\0') config.discovery_prefix = SPORE_MQTT_DISCOVERY[0] == '-' ? "" : SPORE_MQTT_DISCOVERY;
  config.model = "ESP8266";
  if (settings.port == 0) {
    SPORE_LOG(context(), LogLevel::kError, "mqtt: SPORE_MQTT_PORT is not a port number; bridge off");
    return;
  }
  if (!node_.begin_mqtt(bridge_, config, Delegate<void()>::bind<EspHttpServer, &EspHttpServer::request_restart>(&http_))) {
    return;  // logged why
  }
  mqtt_.begin(settings, bridge_);
  SPORE_LOG(context(), LogLevel::kInfo, "mqtt: broker %s port %u, topics under %s", settings.host,
            static_cast<unsigned>(settings.port), bridge_.base_topic());
}
#endif

void Node::begin_services() {
  NodeServices services;
#ifdef SPORE_HAS_DASHBOARD
  // Gzipped, in flash (SPORE_FLASH); ESPAsyncWebServer streams it with memcpy_P, no RAM copy.
  services.dashboard_gzip = generated::kDashboardGzip;
  services.dashboard_bytes = generated::kDashboardGzipBytes;
  services.dashboard_csp = generated::kDashboardCsp;
#endif
  services.event_sink = EventApi::Sink::bind<EspHttpServer, &EspHttpServer::stream>(&http_);
  if (node_.begin_services(services)) http_.set_event_api(&event_api());
#ifdef SPORE_WITH_MQTT
  begin_mqtt();
#endif
}

void Node::on_ip_change(uint32_t ip) {
  context().set_ip(ip);
  SPORE_LOG(context(), LogLevel::kInfo, "wifi: %s address %lu.%lu.%lu.%lu", hostname_,
            static_cast<unsigned long>(ip >> 24), static_cast<unsigned long>((ip >> 16) & 0xFF),
            static_cast<unsigned long>((ip >> 8) & 0xFF), static_cast<unsigned long>(ip & 0xFF));
  // Joining before there is a network would spend the join ANNOUNCEs on nobody. Safe mode never
  // joins: a node that keeps crashing stays out of the cluster.
  if (!safe_mode_.active()) node_.start_membership();
}

void Node::before_restart() {
  // A restart the node decided (REST, MQTT, a new image, safe mode's end) is not an early death.
  safe_mode_.clear();
  // Log formats in flash (SPORE_LOG): the ESP8266 keeps every other string literal in DRAM.
  if (node_.ota().restart_pending()) {
    SPORE_LOG(context(), LogLevel::kInfo, "new firmware installed: leaving the cluster and restarting");
  } else {
    SPORE_LOG(context(), LogLevel::kInfo, "restart requested over REST or MQTT: leaving the cluster");
  }
#ifdef SPORE_WITH_MQTT
  mqtt_.leave();  // "offline" (retained), then DISCONNECT: the broker does not fire the will
#endif
  if (!membership().begun()) return;  // safe mode, or no address yet: nobody to tell
  membership().leave();
  // leave() queues its datagrams in lwIP; give them a moment to go out before the reset.
  delay(50);
}

void Node::loop() {
  if (!begun_) {
    watchdog_.feed();
    return;
  }
  // Safe mode, or a setting begin() could not use: no UDP, no MQTT.
  const uint32_t now_ms = clock_.now_ms();
  radio_.loop();
  wifi_.loop(now_ms);
  portal_.loop();
  poll_settings();
  poll_safe_mode(now_ms);
  const bool normal = !context().safe_mode();
  const bool receive = normal && wifi_.connected();
  node_.loop(receive);  // the watchdog, the pass timing, the datagrams, the due tasks
  if (receive && node_.intake().last_poll_taken() >= EspUdp::kCoreQueueDatagrams) ++full_queue_polls_;
#ifdef SPORE_WITH_MQTT
  if (normal) {
    mqtt_.loop(now_ms, wifi_.connected());
    bridge_.loop(now_ms);
  }
#endif
  http_.loop();
  log_counter_changes(now_ms);
}

void Node::log_counter_changes(uint32_t now_ms) {
  if (elapsed_ms(now_ms, counters_logged_ms_) < kCounterLogIntervalMs) return;
  counters_logged_ms_ = now_ms;
  // Neither counter has a metric (GET /metrics counts datagrams, and a full queue is not one);
  // the log (serial) is where an operator sees them, as the MQTT outbox drops.
  if (full_queue_polls_ != full_queue_polls_logged_) {
    full_queue_polls_logged_ = full_queue_polls_;
    SPORE_LOG(context(), LogLevel::kWarn, "UDP: receive queue found full by %lu poll(s) so far; datagrams may be lost",
              static_cast<unsigned long>(full_queue_polls_logged_));
  }
  // HTTP connections ended without an answer: no memory for the response object (a reset), or a
  // plain request still unanswered 10 s after admission (a trickled or endless body).
  if (http_.memory_resets() != http_resets_logged_ || http_.expired_requests() != http_expired_logged_) {
    http_resets_logged_ = http_.memory_resets();
    http_expired_logged_ = http_.expired_requests();
    SPORE_LOG(context(), LogLevel::kWarn, "HTTP: %lu connection(s) reset for lack of memory, %lu unanswered at 10 s",
              static_cast<unsigned long>(http_resets_logged_), static_cast<unsigned long>(http_expired_logged_));
  }
  // Connections reset before the library parsed them: no screen or heap at accept, or a head over
  // the screen's limits or its deadline (http_listener.h).
  if (http_.refused_connections() != http_refused_logged_) {
    http_refused_logged_ = http_.refused_connections();
    SPORE_LOG(context(), LogLevel::kWarn, "HTTP: %lu connection(s) reset at accept or for their request head",
              static_cast<unsigned long>(http_refused_logged_));
  }
#ifdef SPORE_WITH_MQTT
  if (mqtt_.reentrant_refusals() != reentrant_refusals_logged_) {
    reentrant_refusals_logged_ = mqtt_.reentrant_refusals();
    SPORE_LOG(context(), LogLevel::kWarn, "mqtt: %lu client call(s) refused: begun inside another (a bug, mqtt_client.h)",
              static_cast<unsigned long>(reentrant_refusals_logged_));
  }
#endif
}

}  // namespace spore::esp8266
