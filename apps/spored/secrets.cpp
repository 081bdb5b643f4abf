#include "secrets.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "posix/private_file.h"
#include "posix/state_store.h"
#include "posix/system_info.h"

namespace spored {

namespace {

using spore::LogLevel;
namespace px = spore::posix;

/// Reads a secret from `path`: trimmed content; warns when group/others may read it. Refuses a
/// symbolic link, a file that is not regular, and one another user can write (private_file.h).
bool read_secret_file(const std::string& path, const char* what, std::string* out, px::StderrLogSink& log) {
  std::string why;
  const px::PrivateRead got = px::read_private_file(what, path, out, 4096, &why);
  if (got != px::PrivateRead::kOk) {
    if (got == px::PrivateRead::kMissing) why = std::string(what) + " " + path + ": cannot read: " + std::strerror(ENOENT);
    std::fprintf(stderr, "spored: %s\n", why.c_str());
    return false;
  }
  *out = std::string(px::trim_ascii(*out));
  if (out->empty()) {
    std::fprintf(stderr, "spored: %s %s is empty\n", what, path.c_str());
    return false;
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    log.logf(LogLevel::kWarn, "%s %s is readable by group/others (mode %03o); chmod 600 it", what, path.c_str(),
             static_cast<unsigned>(st.st_mode & 0777));
  }
  return true;
}

/// Reads a cluster key file (hex) into `key`; an empty path leaves the key empty. False with the
/// reason on stderr.
bool read_cluster_key(const std::string& path, const char* what, spore::HmacKey* key, px::StderrLogSink& log) {
  if (path.empty()) return true;
  std::string hex;
  if (!read_secret_file(path, what, &hex, log)) return false;
  if (!key->set_hex(hex)) {
    std::fprintf(stderr, "spored: %s %s must hold %zu to %d bytes as hex digits (e.g. from 'openssl rand -hex 32')\n",
                 what, path.c_str(), spore::HmacKey::kMinKeyBytes, SPORE_MAX_KEY_BYTES);
    return false;
  }
  return true;
}

/// Reads the OTA public key file into `pem` and checks that `session` takes it; false with the
/// reason on stderr.
bool read_ota_public_key(const std::string& path, spore::OtaSession& session, std::string* pem) {
  if (!px::read_small_file(path, pem, 16 * 1024)) {
    std::fprintf(stderr, "spored: OTA public key file %s: cannot read: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  if (pem->find("PRIVATE KEY") != std::string::npos) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds a private key; give nodes only the public key "
                 "('openssl rsa -in private.key -pubout -out public.key') and keep the private one for signing\n",
                 path.c_str());
    return false;
  }
  if (!session.set_public_key_pem(*pem) && session.refused_key_bits() > 0) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds an RSA key of %zu bits; at least %zu are required (a key "
                 "this short can be factored and images forged): make a new pair with 'spore keygen' or "
                 "'openssl genrsa 2048' and sign with it\n",
                 path.c_str(), session.refused_key_bits(), spore::OtaSession::kMinKeyBits);
    return false;
  }
  if (!session.has_public_key()) {
    std::fprintf(stderr,
                 "spored: OTA public key file %s holds no usable RSA public key (expected PEM '-----BEGIN PUBLIC "
                 "KEY-----', 2048-4096 bits, as 'openssl rsa -in private.key -pubout' or 'spore keygen' write)\n",
                 path.c_str());
    return false;
  }
  return true;
}

}  // namespace

bool load_secrets(const Options& opt, spore::FlashTarget& flash, px::StderrLogSink& log, Secrets* out) {
  if (!opt.ota_public_key_file.empty()) {
    spore::OtaSession check(flash);  // the node's session takes the same PEM once it exists
    if (!read_ota_public_key(opt.ota_public_key_file, check, &out->ota_public_key_pem)) return false;
  }
  if (!read_cluster_key(opt.cluster_key_file, "cluster key file", &out->cluster_key, log) ||
      !read_cluster_key(opt.cluster_key_accept_file, "cluster key accept file", &out->accept_key, log)) {
    return false;
  }
  if (!opt.no_api_token && !opt.api_token_file.empty() &&
      !read_secret_file(opt.api_token_file, "API token file", &out->api_token, log)) {
    return false;
  }
  return opt.mqtt_host.empty() || opt.mqtt_password_file.empty() ||
         read_secret_file(opt.mqtt_password_file, "MQTT password file", &out->mqtt_password, log);
}

}  // namespace spored
