// spore keygen, spore sign, spore verify: RSA keys and signed images in the ESP8266 core's
// signed-update format (the crypto is in ota_crypto.cpp).

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "ota_crypto.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

struct KeygenOptions {
  std::string dir = ".";
  int bits = 2048;
  bool force = false;
};

struct SignOptions {
  std::string file, key;
  std::optional<std::string> out;
  bool force = false;
  bool allow_downgrade = false;
};

struct VerifyOptions {
  std::string file, key;
};

int cmd_keygen(const std::string& dir, int bits, bool force) {
  std::string error;
  if (!generate_key_pair(dir, bits, force, &error)) throw CliError{kExitFailure, error};
  std::cout << "wrote " << dir << "/private.key (RSA-" << bits << ", PEM, mode 0600: keep it secret, it signs updates)\n"
            << "wrote " << dir << "/public.key  (PEM: give it to the nodes, e.g. spored --ota-public-key-file "
            << dir << "/public.key)\n";
  return kExitOk;
}

int cmd_sign(const std::string& file, const std::string& key, const std::optional<std::string>& out, bool force,
             bool allow_downgrade) {
  const std::string target = out ? *out : file + ".signed";
  std::string error, marked;
  size_t sig_bytes = 0;
  if (!sign_image(file, key, target, force, &sig_bytes, &error, allow_downgrade, &marked)) {
    throw CliError{kExitFailure, error};
  }
  if (allow_downgrade) {
    std::cout << "version slot marked for downgrades: '" << terminal_safe(marked)
              << "' (a node installs it over a newer version only when the request also allows a downgrade)\n";
  }
  ImageFile image;
  if (!inspect_image(target, &image, &error)) throw CliError{kExitFailure, error};
  std::cout << "wrote " << target << ": " << format_bytes(image.layout.image_bytes) << " image + " << sig_bytes
            << "-byte signature + 4-byte length (ESP8266 signed-update format); image sha256 "
            << image.hashes.image_sha256 << "\n";
  return kExitOk;
}

int cmd_verify(const std::string& file, const std::string& key) {
  std::string error;
  if (!verify_image(file, key, &error)) throw CliError{kExitFailure, file + ": " + error};
  std::cout << file << ": signature OK (" << key << ")\n";
  return kExitOk;
}

}  // namespace

void add_signing_commands(CLI::App& app, Cli& cli) {
  auto k = std::make_shared<KeygenOptions>();
  CLI::App* keygen = app.add_subcommand(
      "keygen", "write private.key and public.key (RSA-2048, PEM) for signed updates (ESP8266 core format)");
  keygen->add_option("--out", k->dir, "directory for the two files")->type_name("DIR")->capture_default_str();
  keygen->add_option("--bits", k->bits, "RSA key size (the ESP8266 core verifies 2048)")
      ->check(CLI::IsMember({2048, 3072, 4096}))
      ->capture_default_str();
  keygen->add_flag("--force", k->force, "replace existing key files");
  cli.on_run(keygen, [k] { return cmd_keygen(k->dir, k->bits, k->force); });

  auto s = std::make_shared<SignOptions>();
  CLI::App* sign = app.add_subcommand(
      "sign", "append an RSA/SHA-256 signature and its length to FILE (ESP8266 core signed-update format)");
  sign->add_option("file", s->file, "the unsigned image")->required()->check(CLI::ExistingFile)->type_name("FILE");
  sign->add_option("--key", s->key, "the PEM private key (spore keygen)")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  sign->add_option("--out", s->out, "the signed image (default FILE.signed)")->type_name("FILE");
  sign->add_flag("--force", s->force, "replace --out, or sign a file that already ends with a signature");
  sign->add_flag("--allow-downgrade", s->allow_downgrade,
                 "mark the image's version slot (inside the signed bytes) so that nodes with a newer version install "
                 "it when the update also says --allow-downgrade");
  cli.on_run(sign, [s] { return cmd_sign(s->file, s->key, s->out, s->force, s->allow_downgrade); });

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify = app.add_subcommand("verify", "check a signed image's signature with a PEM public key");
  verify->add_option("file", v->file, "the signed image")->required()->check(CLI::ExistingFile)->type_name("FILE");
  verify->add_option("--key", v->key, "the PEM public key")->required()->check(CLI::ExistingFile)->type_name("FILE");
  cli.on_run(verify, [v] { return cmd_verify(v->file, v->key); });
}

}  // namespace cli
}  // namespace spore
