// `spore mqtt proof` (apps/spore/mqtt_cmd.cpp): the payload it prints for each command, and the
// refusals of bad node ids, nonces, tokens, commands and arguments. That a node accepts the
// payload is checked end to end in tests/integration/mqtt_proof_test.sh.

#include "../../apps/spore/cli_context.cpp"
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"
#include "../../apps/spore/events_logic.cpp"
#include "../../apps/spore/bounded_http.cpp"
#include "../../apps/spore/mqtt_cmd.cpp"
#include "../../apps/spore/request_signer.cpp"
#include "../../apps/spore/sse_parser.cpp"

#include <gtest/gtest.h>

namespace spore::cli {
namespace {

const std::string kNonce = "00112233445566778899aabbccddeeff";

std::string proof_hex(const std::string& command, const std::string& args, const std::string& nonce = kNonce) {
  uint8_t mac[32];
  compute_mqtt_command_proof("tok", 0x0a1b2c3d, nonce, command, args, mac);
  char hex[65];
  hex_encode(mac, sizeof mac, hex);
  return hex;
}

TEST(SporeMqttCli, PayloadsForEachCommand) {
  std::string error;
  EXPECT_EQ(mqtt_proof_payload("169552957", kNonce, "tok", {"restart"}, &error),
            "nonce=" + kNonce + " proof=" + proof_hex("restart", ""));
  EXPECT_EQ(mqtt_proof_payload("0X0A1B2C3D", "00112233445566778899AABBCCDDEEFF", "tok", {"ota", "http://h:8/fw"}, &error),
            "nonce=" + kNonce + " proof=" + proof_hex("ota", "http://h:8/fw") + " http://h:8/fw");
  EXPECT_EQ(mqtt_proof_payload("0X0A1B2C3D", "00112233445566778899AABBCCDDEEFF", "tok",
                               {"ota", "http://h:8/fw", "allow_downgrade"}, &error),
            "nonce=" + kNonce + " proof=" + proof_hex("ota", "http://h:8/fw allow_downgrade") +
                " http://h:8/fw allow_downgrade");
  // DATA as several words or one quoted word: the same payload.
  const std::string p = "nonce=" + kNonce + " proof=" + proof_hex("publish", "door/x open now") + " door/x open now";
  EXPECT_EQ(mqtt_proof_payload("169552957", kNonce, "tok", {"publish", "door/x", "open", "now"}, &error), p);
  EXPECT_EQ(mqtt_proof_payload("169552957", kNonce, "tok", {"publish", "door/x", "open now"}, &error), p);
  EXPECT_EQ(mqtt_proof_payload("169552957", kNonce, "tok", {"publish", "t"}, &error),
            "nonce=" + kNonce + " proof=" + proof_hex("publish", "t") + " t");
  // What it prints parses as the node parses it.
  MqttCommandPayload parsed;
  EXPECT_EQ(parse_mqtt_command_payload(p, &parsed), MqttPayloadForm::kProof);
  EXPECT_EQ(parsed.args, "door/x open now");
}

TEST(SporeMqttCli, RefusesWhatANodeWouldRefuse) {
  const std::vector<std::vector<std::string>> bad_words = {
      {},
      {"reboot"},
      {"restart", "now"},
      {"ota"},
      {"ota", "https://h/fw"},
      {"ota", "http://a b"},
      {"ota", "http://h/fw", "x"},
      {"publish"},
      {"publish", "node_dead", "x"},
      {"publish", "*"},
      {"publish", std::string(32, 't')},
  };
  for (const auto& words : bad_words) {
    std::string error;
    EXPECT_FALSE(mqtt_proof_payload("169552957", kNonce, "tok", words, &error)) << testing::PrintToString(words);
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  EXPECT_FALSE(mqtt_proof_payload("0a1b2c3", kNonce, "tok", {"restart"}, &error));
  EXPECT_NE(error.find("--node-id"), std::string::npos);
  EXPECT_FALSE(mqtt_proof_payload("0a1b2c3g", kNonce, "tok", {"restart"}, &error));
  // Decimal is the id (nodeId); bare hex is not (12345678 would be both), nor anything past 2^32 - 1.
  EXPECT_FALSE(mqtt_proof_payload("0a1b2c3d", kNonce, "tok", {"restart"}, &error));
  EXPECT_FALSE(mqtt_proof_payload("4294967296", kNonce, "tok", {"restart"}, &error));
  EXPECT_FALSE(mqtt_proof_payload("0x0a1b2c3", kNonce, "tok", {"restart"}, &error));
  EXPECT_FALSE(mqtt_proof_payload("", kNonce, "tok", {"restart"}, &error));
  ASSERT_TRUE(mqtt_proof_payload("4294967295", kNonce, "tok", {"restart"}, &error)) << error;
  EXPECT_EQ(mqtt_proof_payload("4294967295", kNonce, "tok", {"restart"}, &error),
            mqtt_proof_payload("0xffffffff", kNonce, "tok", {"restart"}, &error));
  EXPECT_FALSE(mqtt_proof_payload("169552957", kNonce.substr(1), "tok", {"restart"}, &error));
  EXPECT_NE(error.find("--nonce"), std::string::npos);
  EXPECT_FALSE(mqtt_proof_payload("169552957", kNonce, "", {"restart"}, &error));
  EXPECT_NE(error.find("token"), std::string::npos);
  // An unknown command's name is shown escaped (it came from the command line, maybe a paste).
  EXPECT_FALSE(mqtt_proof_payload("169552957", kNonce, "tok", {"x\x1b[2J"}, &error));
  EXPECT_EQ(error.find('\x1b'), std::string::npos) << error;
}

}  // namespace
}  // namespace spore::cli
