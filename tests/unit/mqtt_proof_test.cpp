// MQTT command proofs (core/spore/mqtt/mqtt_proof.h): the payload forms the parser tells apart, and
// the proof against a vector computed independently (Python's hmac, in the comment below).

#include "spore/mqtt/mqtt_proof.h"

#include <gtest/gtest.h>

#include <string>

#include "spore/base/hex.h"

namespace spore {
namespace {

const std::string kNonce = "00112233445566778899aabbccddeeff";

TEST(MqttProofTest, MatchesAnIndependentHmac) {
  // python3 -c 'import hmac,hashlib; print(hmac.new(b"s3cret", b"SPORE-MQTT-CMD\n0a1b2c3d\n'
  //   '00112233445566778899aabbccddeeff\npublish\ndoor/x open", hashlib.sha256).hexdigest())'
  uint8_t mac[32];
  compute_mqtt_command_proof("s3cret", 0x0a1b2c3d, kNonce, "publish", "door/x open", mac);
  char hex[65];
  hex_encode(mac, sizeof mac, hex);
  EXPECT_STREQ(hex, "6294eb7ed7bd1e7dbac6d2ecbd55f21ce1c5b70bceade500de1424bfed681553");
}

TEST(MqttProofTest, PayloadForms) {
  const std::string proof(64, 'a');
  MqttCommandPayload p;
  // The views point into the payload: keep it alive.
  const std::string plain = "nonce=" + kNonce + " proof=" + proof;
  ASSERT_EQ(parse_mqtt_command_payload(plain, &p), MqttPayloadForm::kProof);
  EXPECT_EQ(p.nonce_hex, kNonce);
  EXPECT_EQ(p.proof[0], 0xaa);
  EXPECT_TRUE(p.args.empty());
  const std::string with_args = "nonce=" + kNonce + " proof=" + std::string(64, 'A') + " t a b";
  ASSERT_EQ(parse_mqtt_command_payload(with_args, &p), MqttPayloadForm::kProof);
  EXPECT_EQ(p.args, "t a b");
  // The old form: token, then arguments.
  ASSERT_EQ(parse_mqtt_command_payload("tok http://x/y", &p), MqttPayloadForm::kToken);
  EXPECT_EQ(p.token, "tok");
  EXPECT_EQ(p.args, "http://x/y");
  ASSERT_EQ(parse_mqtt_command_payload("", &p), MqttPayloadForm::kToken);
  EXPECT_TRUE(p.token.empty());
  // Anything starting with nonce= that is not exactly the proof form.
  for (const std::string& bad : {
           std::string("nonce="),
           "nonce=" + kNonce,
           "nonce=" + kNonce.substr(1) + " proof=" + proof,
           "nonce=" + std::string(32, 'A') + " proof=" + proof,  // the nonce is lower case, as published
           "nonce=" + kNonce + " proof=" + proof.substr(1),
           "nonce=" + kNonce + " proof=" + proof.substr(1) + "g",
           "nonce=" + kNonce + "  proof=" + proof,
           "nonce=" + kNonce + " proof=" + proof + "x",
           "nonce=" + kNonce + " sha256=" + proof,
       }) {
    EXPECT_EQ(parse_mqtt_command_payload(bad, &p), MqttPayloadForm::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace spore
