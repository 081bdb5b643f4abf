// libFuzzer target for the MQTT bridge's command handling (core/spore/mqtt/mqtt_bridge.h,
// MqttBridge::on_message): whatever a broker delivers on a topic the node subscribed to.
//
// Input: byte 0 = flags (bit 0: prefix the topic with "<base>/cmd/", so most inputs reach the
// command parser; bit 1: the node has no API token; bit 2: every message arrives retained; bit 3:
// the payload is replaced by a valid proof for the node's current nonce over the payload as the
// arguments, as `spore mqtt proof` makes it; bit 4: each message is sent twice, the replay
// of a proof), then the topic up to the first '\n' (a C string: an embedded NUL ends it), then
// the payload (any bytes). Several messages per input, separated by "\n\x1e\n", so sequences
// (publish then restart, ...) are explored too.
//
// Properties checked on every input, abort() on violation:
// - on_message() never crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - every publish is a NUL-free topic without wildcards, under the node's base topic, and
//   never retained except the bridge's own status / state / members documents;
// - the restart handler runs only for "<base>/cmd/restart" not retained, with a valid proof for
//   the current nonce and no arguments (with no token: any payload that is not a malformed proof
//   form, without arguments), and never for a replay of a proof (unless the node has no token);
// - the configured token is never published unless the input itself contained it;
// - every command message gets one answer on cmd/result or is counted as throttled (the command
//   budget), published by the next loop() and never inside on_message(), and never retained;
//   an accepted command is always answered, whatever the budget;
// - the nonce changes exactly when a proof verified (and never when the message was retained).
//
// Seed corpus: tests/fuzz/corpus/mqtt_command/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_ports.h"
#include "spore/cluster/membership.h"
#include "spore/base/hex.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/mqtt/mqtt_proof.h"
#include "spore/node/node_context.h"
#include "spore/http/rest_api.h"

namespace {

// Starts with "QZ": no JSON escape (\uXXXX, \n, ...) emits those letters, so the token can show in
// an answer only if the input held it.
constexpr std::string_view kToken = "QZ-token_42";
constexpr std::string_view kBase = "spore/spore/fuzz-node";


class CheckingPort : public spore::MqttPort {
 public:
  bool connected() const override { return true; }
  bool publish(const char* topic, const uint8_t* payload, size_t size, bool retain) override {
    const std::string_view t(topic);
    if (t.substr(0, kBase.size()) != kBase && t.substr(0, 14) != "homeassistant/") std::abort();
    if (t.find_first_of("+#") != std::string_view::npos) std::abort();
    const std::string_view p(reinterpret_cast<const char*>(payload), size);
    if (!input_has_token && p.find(kToken) != std::string_view::npos) std::abort();
    const bool result = t.size() > kBase.size() && t.substr(kBase.size()) == "/cmd/result";
    if (result) {
      if (retain) std::abort();
      ++results;
    }
    const bool event = t.substr(kBase.size(), 8) == "/events/";
    if (event && retain) std::abort();
    return true;
  }
  bool subscribe(const char*) override { return true; }
  bool input_has_token = false;
  int results = 0;
};

int g_restarts = 0;
void on_restart() { ++g_restarts; }
bool on_ota(const char* url, bool /*allow_downgrade*/) {
  // What the platform is handed is one http:// URL: no space, no control byte (the optional
  // "allow_downgrade" word never reaches it as part of the URL).
  for (const char* c = url; *c != '\0'; ++c) {
    if (static_cast<unsigned char>(*c) <= 0x20 || static_cast<unsigned char>(*c) >= 0x7F) std::abort();
  }
  return std::strncmp(url, "http://", 7) == 0 && std::strlen(url) > 7;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  static spore::fuzz::SettableClock clock(5000);
  static spore::fuzz::CountingRandom random;
  static spore::fuzz::FixedSystem info(30000);
  static spore::fuzz::NullUdp udp;
  spore::Config config = spore::Config::fast();
  config.start_jitter_max_ms = 0;
  spore::NodeContext ctx(config, clock, random, info, nullptr);
  if (!ctx.begin({0xF022, 3, 0x7F000001, "fuzz-node"})) std::abort();
  spore::RestApi api(ctx);
  const bool no_token = (flags & 2) != 0;
  if (!api.set_api_token(no_token ? std::string_view() : kToken)) std::abort();
  spore::Membership membership(ctx, udp, random);
  membership.begin();
  CheckingPort port;
  port.input_has_token = input.find(kToken) != std::string_view::npos;
  spore::MqttBridge bridge(ctx, api, port);
  if (!bridge.begin(spore::MqttBridgeConfig{})) std::abort();
  bridge.set_restart_handler(spore::Delegate<void()>(&on_restart));
  bridge.set_ota_url_handler(spore::Delegate<bool(const char*, bool)>(&on_ota));
  bridge.on_connected(clock.now_ms());

  const bool retained = (flags & 4) != 0;
  const bool sign = (flags & 8) != 0;
  const bool twice = (flags & 16) != 0;
  constexpr std::string_view kSeparator = "\n\x1e\n";
  char topic[256];
  size_t at = 0;
  while (at <= input.size()) {
    size_t end = input.find(kSeparator, at);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view message = input.substr(at, end - at);
    at = end + kSeparator.size();

    const size_t newline = message.find('\n');
    std::string_view topic_part = message.substr(0, newline);
    const std::string_view payload =
        newline == std::string_view::npos ? std::string_view() : message.substr(newline + 1);
    size_t n = 0;
    if ((flags & 1) != 0) {
      std::memcpy(topic, kBase.data(), kBase.size());
      std::memcpy(topic + kBase.size(), "/cmd/", 5);
      n = kBase.size() + 5;
    }
    topic_part = topic_part.substr(0, sizeof topic - 1 - n);
    std::memcpy(topic + n, topic_part.data(), topic_part.size());
    topic[n + topic_part.size()] = '\0';

    const std::string_view t(topic);  // up to an embedded NUL, as the client would pass it
    const std::string_view cmd_prefix = "spore/spore/fuzz-node/cmd/";
    const std::string_view name = t.size() > cmd_prefix.size() && t.substr(0, cmd_prefix.size()) == cmd_prefix
                                      ? t.substr(cmd_prefix.size())
                                      : std::string_view();
    const bool is_command = !name.empty() && name != "result" && name != "nonce";
    // The payload as sent: with `sign`, a proof over `payload` as the arguments.
    std::string signed_payload;
    std::string_view sent = payload;
    if (sign) {
      uint8_t mac[32];
      spore::compute_mqtt_command_proof(kToken, 0xF022, bridge.nonce(), name, payload, mac);
      char hex[65];
      spore::hex_encode(mac, sizeof mac, hex);
      signed_payload = std::string("nonce=") + bridge.nonce() + " proof=" + hex;
      if (!payload.empty()) signed_payload += " " + std::string(payload);
      sent = signed_payload;
    }
    spore::MqttCommandPayload parsed;
    const spore::MqttPayloadForm form = spore::parse_mqtt_command_payload(sent, &parsed);
    const bool authorized = no_token ? form != spore::MqttPayloadForm::kMalformed : sign;
    const bool restart_ok = name == "restart" && !retained && authorized && parsed.args.empty();
    for (int round = 0; round < (twice ? 2 : 1); ++round) {
      const std::string nonce_before = bridge.nonce();
      const int restarts_before = g_restarts;
      const int results_before = port.results;
      const uint32_t throttled_before = bridge.stats().throttled;
      const uint32_t accepted_before = bridge.stats().commands;
      bridge.on_message(topic, reinterpret_cast<const uint8_t*>(sent.data()), sent.size(), retained);
      // A replay (round 1) never runs: the first round spent the nonce, or it was refused anyway
      // (without a token nothing is authenticated, replays included).
      if (g_restarts - restarts_before != (restart_ok && (round == 0 || no_token) ? 1 : 0)) std::abort();
      // Answers wait in the outbox: nothing is published inside on_message() (the client's read).
      if (port.results != results_before) std::abort();
      // A proof that verifies spends the nonce exactly once: for a known command, or for any
      // command that arrives retained (refused, but its readable copy must not run later).
      const bool spent = nonce_before != bridge.nonce();
      const bool known = name == "restart" || name == "ota" || name == "publish";
      const bool must_spend = sign && !no_token && is_command && round == 0 && (known || retained);
      if (spent != must_spend) std::abort();
      bridge.loop(clock.now_ms());
      const int answered = port.results - results_before;
      const uint32_t throttled = bridge.stats().throttled - throttled_before;
      if (answered + static_cast<int>(throttled) != (is_command ? 1 : 0)) std::abort();
      if (bridge.stats().commands != accepted_before && answered != 1) std::abort();
    }
    clock.now += 50;  // the budget refills a little between messages
  }
  bridge.leave();
  return 0;
}
