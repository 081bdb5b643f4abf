// The command side of MqttBridge (mqtt_bridge.h, docs/mqtt.md): cmd/<command> messages, their
// proofs and nonces, the command budget and the answers on cmd/result. Part of MqttBridge, as
// prober.cpp is of Membership; publishing, the outbox and the retained documents are in
// mqtt_bridge.cpp.
#include "spore/mqtt/mqtt_bridge.h"

#include <cstring>

#include "spore/auth/hmac_sha256.h"
#include "spore/base/hex.h"
#include "spore/events/cluster_events.h"
#include "spore/http/rest_api.h"
#include "spore/mqtt/mqtt_proof.h"
#include "spore/mqtt/mqtt_text.h"
#include "spore/node/node_context.h"

namespace spore {

namespace {

using mqtt_text::after;
using mqtt_text::starts_with;

/// Why ClusterEvents refused a cmd/publish (the code is publish_error_name()).
FlashStr publish_error_text(PublishError error) {
  switch (error) {
    case PublishError::kBadTopic: return SPORE_FSTR("The topic must be 1-31 bytes of 0x21-0x7E, not '*'.");
    case PublishError::kReservedTopic: return SPORE_FSTR("Topics node_* and ota_* are reserved.");
    case PublishError::kTooLarge: return SPORE_FSTR("The data is longer than this node publishes.");
    default: return SPORE_FSTR("The node is not in a cluster (not running).");
  }
}

}  // namespace

void MqttBridge::on_message(const char* topic, const uint8_t* payload, size_t size_bytes, bool retained) {
  if (!begun_ || left_ || topic == nullptr) return;
  const std::string_view t(topic);
  constexpr std::string_view kCmd = "/cmd/";
  const size_t skip = base_len_ + kCmd.size();
  if (t.size() <= skip || !starts_with(t, {base_, base_len_}) || !starts_with(after(t, base_len_ - 1), kCmd)) {
    return;
  }
  const std::string_view command(t.data() + skip, t.size() - skip);
  // Our own answers and nonces come back through the cmd/+ subscription.
  if (command == "result" || command == "nonce") return;
  ++stats_.messages;
  if (payload == nullptr) size_bytes = 0;
  // Called inside the client's read: the results wait in the outbox for loop().
  ++callback_depth_;
  nonce_spent_ = false;
  const std::string_view body(reinterpret_cast<const char*>(payload), size_bytes);
  if (retained) {
    // The broker sends a retained message again on every subscribe, i.e. every reconnect: one
    // retained cmd/restart restarted a node in a loop (issue 18). Never carried out, whatever it
    // holds. A proof in it that verifies is spent all the same: the retained copy is readable
    // by every broker user, who could otherwise publish it again without RETAIN and have it run.
    ++stats_.retained_commands;
    MqttCommandPayload p;
    if (api_.has_api_token() && parse_mqtt_command_payload(body, &p) == MqttPayloadForm::kProof &&
        p.nonce_hex == std::string_view(nonce_, kMqttNonceHexLen) && proof_verifies(command, p)) {
      nonce_spent_ = true;
    }
    refuse(command, "retained", SPORE_FSTR("Retained commands are refused."));
  } else {
    run_command(command, body);
  }
  if (nonce_spent_) {
    // A verified proof spends its nonce whatever the command's outcome, so that a captured
    // command refused now (busy, retained) cannot succeed later.
    renew_nonce();
    if (build_topic("/cmd/nonce", {})) send_text(nonce_, true);
  }
  --callback_depth_;
}

void MqttBridge::answer(std::string_view command, const char* code, FlashStr error) {
  if (!build_topic("/cmd/result", {})) return;
  // A command name is whatever followed cmd/ in the topic: cap what is echoed.
  if (command.size() > 32) command = std::string_view(command.data(), 32);
  BufferJsonOutput out(payload_, sizeof payload_);
  JsonWriter w(out);
  w.begin_object().field(SPORE_FSTR("command"), command);
  if (code == nullptr) {
    w.field(SPORE_FSTR("status"), SPORE_FSTR("accepted"));
  } else {
    w.field(SPORE_FSTR("status"), SPORE_FSTR("error"))
        .field(SPORE_FSTR("code"), code)
        .field(SPORE_FSTR("error"), error);
  }
  w.end_object();
  send(out.size(), false, out.overflowed() || !w.complete());
}

void MqttBridge::refuse(std::string_view command, const char* code, FlashStr error) {
  if (!take_budget()) {
    // Over the budget: no answer, so a junk flood costs the node a parse per message and no
    // publish (issue 18: 20,000 answered junk commands delayed a valid one by 113 s).
    ++stats_.throttled;
    return;
  }
  answer(command, code, error);
}

bool MqttBridge::take_budget() {
  constexpr uint32_t kFull = SPORE_MQTT_COMMAND_BURST * 1000u;
  constexpr uint32_t kFillMs = kFull / SPORE_MQTT_COMMANDS_PER_S + 1;  // empty to full
  const uint32_t now_ms = ctx_.clock().now_ms();
  const uint32_t elapsed = elapsed_ms(now_ms, budget_ms_);
  budget_ms_ = now_ms;
  // 32-bit arithmetic (no 64-bit multiply on the ESP8266): elapsed * rate cannot overflow below kFillMs.
  budget_milli_ = elapsed >= kFillMs ? kFull : budget_milli_ + elapsed * SPORE_MQTT_COMMANDS_PER_S;
  if (budget_milli_ > kFull) budget_milli_ = kFull;
  if (budget_milli_ < 1000) return false;
  budget_milli_ -= 1000;
  return true;
}

void MqttBridge::renew_nonce() {
  // Incarnation and serial keep it unique even when the RNG is weak at boot (an ESP8266 before
  // its radio runs); the random part keeps it unpredictable after a reset boot counter.
  uint8_t raw[kMqttNonceBytes];
  const uint32_t words[] = {ctx_.self().incarnation, ++nonce_serial_, ctx_.random().next_u32(),
                            ctx_.random().next_u32()};
  for (size_t i = 0; i < 4; ++i) {
    for (size_t b = 0; b < 4; ++b) raw[4 * i + b] = static_cast<uint8_t>(words[i] >> (24 - 8 * b));
  }
  hex_encode(raw, sizeof raw, nonce_);
}

bool MqttBridge::proof_verifies(std::string_view command, const MqttCommandPayload& p) const {
  uint8_t expected[32];
  compute_mqtt_command_proof(api_.token_pending() ? std::string_view() : api_.auth().token(), ctx_.self().node_id,
                             p.nonce_hex, command, p.args, expected);
  const bool ok = !api_.token_pending() && constant_time_equal(expected, p.proof, sizeof expected);
  secure_wipe(expected, sizeof expected);
  return ok;
}

bool MqttBridge::authorize(std::string_view command, std::string_view payload, std::string_view* args) {
  MqttCommandPayload p;
  const MqttPayloadForm form = parse_mqtt_command_payload(payload, &p);
  *args = p.args;
  const char* code = nullptr;
  FlashStr why;
  if (form == MqttPayloadForm::kMalformed) {
    code = "bad_request";
    why = SPORE_FSTR("Payload: nonce=<32 hex> proof=<64 hex>[ <args>].");
  } else if (!api_.has_api_token()) {
    return true;  // without a token every payload is accepted, as on the REST API
  } else if (form == MqttPayloadForm::kToken) {
    // The old form: the token in clear on the broker, replayable. Only when explicitly allowed.
    if (!allow_token_payload_) {
      code = "proof_required";
      why = SPORE_FSTR("A proof is required (spore mqtt proof), not the token.");
    } else if (p.token.empty()) {
      code = "auth_required";
      why = SPORE_FSTR("This node requires its API token as the first word of the payload.");
    } else if (!api_.token_matches(p.token)) {
      code = "auth_invalid";
      why = SPORE_FSTR("The token does not match this node's API token.");
    }
  } else if (p.nonce_hex != std::string_view(nonce_, kMqttNonceHexLen)) {
    // Used already, from before a restart, or another node's: the cheap check, before any HMAC.
    ++stats_.stale_commands;
    code = "stale";
    why = SPORE_FSTR("Not the current nonce (cmd/nonce): make a new proof.");
  } else if (!proof_verifies(command, p)) {
    code = "auth_invalid";
    why = SPORE_FSTR("The proof does not verify.");
  } else {
    nonce_spent_ = true;
  }
  if (code == nullptr) return true;
  ++stats_.rejected_commands;
  refuse(command, code, why);
  return false;
}

void MqttBridge::run_command(std::string_view command, std::string_view payload) {
  void (MqttBridge::*run)(std::string_view, std::string_view) = command == "restart"   ? &MqttBridge::run_restart
                                                                : command == "ota"     ? &MqttBridge::run_ota
                                                                : command == "publish" ? &MqttBridge::run_publish
                                                                                       : nullptr;
  // Unknown names first: no proof check for them, and they draw from the budget like junk.
  if (run == nullptr) {
    refuse_bad(command, "unknown_command", SPORE_FSTR("Commands are restart, ota and publish."));
    return;
  }
  std::string_view rest;
  if (!authorize(command, payload, &rest)) return;
  (this->*run)(command, rest);
}

void MqttBridge::refuse_bad(std::string_view command, const char* code, FlashStr error) {
  ++stats_.bad_commands;
  refuse(command, code, error);
}

void MqttBridge::accept(std::string_view command) {
  ++stats_.commands;
  answer(command, nullptr, FlashStr());
}

void MqttBridge::run_restart(std::string_view command, std::string_view args) {
  if (!args.empty()) {
    refuse_bad(command, "bad_request", SPORE_FSTR("No arguments."));
    return;
  }
  if (!restart_handler_) {
    refuse_bad(command, "not_supported", SPORE_FSTR("This node cannot restart itself."));
    return;
  }
  accept(command);
  restart_handler_();
}

void MqttBridge::run_ota(std::string_view command, std::string_view args) {
  // "<url>" or "<url> allow_downgrade" (both covered by the proof): the URL holds no space.
  const size_t gap = args.find(' ');
  const std::string_view url(args.data(), gap == std::string_view::npos ? args.size() : gap);
  const std::string_view option = after(args, gap);
  const bool allow_downgrade = option == "allow_downgrade";
  bool url_ok = url.size() > 7 && url.size() < sizeof payload_ && starts_with(url, "http://") &&
                (gap == std::string_view::npos || allow_downgrade);
  for (char c : url) url_ok = url_ok && static_cast<uint8_t>(c) > 0x20 && static_cast<uint8_t>(c) < 0x7F;
  if (!url_ok) {
    refuse_bad(command, "bad_request",
               SPORE_FSTR("The payload must be '<proof> <http://host[:port]/path>[ allow_downgrade]'."));
    return;
  }
  if (!ota_url_handler_) {
    refuse_bad(command, "not_supported", SPORE_FSTR("This node cannot update from a URL; use POST /api/node/update."));
    return;
  }
  // The handler gets a NUL-terminated copy; payload_ is free until the answer is written.
  std::memcpy(payload_, url.data(), url.size());
  payload_[url.size()] = '\0';
  if (!ota_url_handler_(payload_, allow_downgrade)) {
    refuse_bad(command, "ota_refused", SPORE_FSTR("The node refused the update: busy, or the URL is not supported."));
    return;
  }
  accept(command);
}

void MqttBridge::run_publish(std::string_view command, std::string_view args) {
  const size_t gap = args.find(' ');
  const std::string_view event_topic(args.data(), gap == std::string_view::npos ? args.size() : gap);
  const std::string_view data = after(args, gap);
  if (event_topic.empty()) {
    refuse_bad(command, "bad_request", SPORE_FSTR("The payload must be '<proof> <topic> <data>'."));
    return;
  }
  ClusterEvents* events = ctx_.cluster_events();
  const PublishError error =
      events == nullptr ? PublishError::kNotRunning
                        : events->publish(event_topic, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (error != PublishError::kOk) {
    refuse_bad(command, publish_error_name(error), publish_error_text(error));
    return;
  }
  accept(command);
}

}  // namespace spore
