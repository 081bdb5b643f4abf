#pragma once
/// @file ota_crypto.h
/// File hashing, key generation and image signing for the `spore` CLI, with OpenSSL's libcrypto
/// (Debian libssl-dev). The formats are the ESP8266 Arduino core's (tools/signing.py): an RSA-2048
/// key pair in PEM (private key usable by `openssl dgst -sha256 -sign`, public key
/// "-----BEGIN PUBLIC KEY-----"), and a signed image = image ‖ PKCS#1 v1.5 signature over SHA-256
/// of the image ‖ uint32 LE signature length. Files are streamed, never read whole.

#include <cstdint>
#include <string>

#include "ota_logic.h"

namespace spore {
namespace cli {

/// A local image file as the CLI will send it.
struct ImageFile {
  std::string path;
  uint64_t size_bytes = 0;
  ImageLayout layout;
  ImageHashes hashes;
  std::string head;  ///< the file's first bytes (up to 16), for image_format_problem()
};

/// Reads `path` once: size, signed-trailer detection, SHA-256 of the image part and of the whole
/// file. False with `error` set when the file cannot be read or is empty.
bool inspect_image(const std::string& path, ImageFile* out, std::string* error);

/// Writes `dir`/private.key (PKCS#8 PEM, mode 0600) and `dir`/public.key (SubjectPublicKeyInfo PEM)
/// for a new RSA key of `bits` (2048 for the ESP8266). Refuses to overwrite existing files unless
/// `force`. Creates `dir` if missing. False with `error` set on failure (nothing half-written: each
/// file is written to a temporary name and renamed).
bool generate_key_pair(const std::string& dir, int bits, bool force, std::string* error);

/// Signs `in` with the PEM private key `key_path` into `out` (image ‖ signature ‖ uint32 LE length).
/// `out` must differ from `in`; an existing `out` is replaced only with `force`. A file that already
/// ends with a signature trailer is refused unless `force` (it would be signed twice). On success
/// `signature_bytes` gets the signature length. False with `error` set on failure.
/// `mark_downgrade` (spore sign --allow-downgrade): the image's version slot gets the downgrade
/// marker (image_version.h) in the signed copy, so nodes may install it over a newer version when
/// the request asks; an image without a slot, or whose slot has no room, is refused. `marked_text`
/// (may be nullptr) gets the slot's version text as signed.
bool sign_image(const std::string& in, const std::string& key_path, const std::string& out, bool force,
                size_t* signature_bytes, std::string* error, bool mark_downgrade = false,
                std::string* marked_text = nullptr);

/// True when the signed file `path` (ESP8266 format) verifies with the PEM public key in
/// `public_key_path`; `error` says why not (unsigned, wrong key, damaged). For `spore verify`.
bool verify_image(const std::string& path, const std::string& public_key_path, std::string* error);

}  // namespace cli
}  // namespace spore
