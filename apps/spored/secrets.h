#pragma once
/// @file secrets.h
/// The secrets spored reads from files named by its flags: the cluster keys, the API token, the
/// MQTT password and the OTA public key. All are read before the state dir is touched, so a
/// refused one stops the start with nothing counted or locked (issue 18, state-fix 6).

#include <string>

#include "options.h"
#include "posix/log_sink.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/ota/ota.h"

namespace spored {

struct Secrets {
  spore::HmacKey cluster_key;
  spore::HmacKey accept_key;          ///< the second key accepted on receive (key rotation)
  std::string api_token;              ///< from --api-token-file; empty otherwise
  std::string mqtt_password;          ///< from --mqtt-password-file, with --mqtt
  std::string ota_public_key_pem;     ///< from --ota-public-key-file, checked; empty: none
};

/// Reads every secret `opt` names, in the order of the flags' documentation (OTA key first).
/// False with the reason on stderr (spored exits 2). `flash` is only used to check the OTA key.
bool load_secrets(const Options& opt, spore::FlashTarget& flash, spore::posix::StderrLogSink& log, Secrets* out);

}  // namespace spored
