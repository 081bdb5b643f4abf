// libFuzzer target for the MQTT bridge's command handling (core/spore/mqtt_bridge.h,
// MqttBridge::on_message): whatever a broker delivers on a topic the node subscribed to.
//
// Input: byte 0 = flags (bit 0: prefix the topic with "<base>/cmd/", so most inputs reach the
// command parser; bit 1: the node has no API token), then the topic up to the first '\n' (a
// C string: an embedded NUL ends it), then the payload (any bytes). Several messages per input,
// separated by "\n\x1e\n", so sequences (publish then restart, ...) are explored too.
//
// Properties checked on every input, abort() on violation:
// - on_message() never crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - every publish is a NUL-free topic without wildcards, under the node's base topic, and
//   never retained except the bridge's own status / state / members documents;
// - the restart handler runs only for "<base>/cmd/restart" whose payload is the token exactly
//   (any payload when the node has no token);
// - the configured token is never published unless the input itself contained it;
// - every answer on cmd/result is one per command message, published by the next loop() and never
//   inside on_message(), and never retained.
//
// Seed corpus: tests/fuzz/corpus/mqtt_command/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_ports.h"
#include "spore/membership.h"
#include "spore/mqtt_bridge.h"
#include "spore/node_context.h"
#include "spore/rest_api.h"

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
    const bool is_command = t.size() > kBase.size() + 5 && t.substr(0, kBase.size() + 5) == "spore/spore/fuzz-node/cmd/" &&
                            t.substr(kBase.size() + 5) != "result";
    const bool restart_ok = t == "spore/spore/fuzz-node/cmd/restart" && (no_token || payload == kToken);
    const int restarts_before = g_restarts;
    const int results_before = port.results;
    bridge.on_message(topic, reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    if (g_restarts - restarts_before != (restart_ok ? 1 : 0)) std::abort();
    // Answers wait in the outbox: nothing is published inside on_message() (the client's read).
    if (port.results != results_before) std::abort();
    bridge.loop(clock.now_ms());
    if (port.results - results_before != (is_command ? 1 : 0)) std::abort();
  }
  bridge.leave();
  return 0;
}
