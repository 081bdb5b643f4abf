#include "ota_crypto.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "spore/ota/ota.h"

namespace spore {
namespace cli {

namespace {

constexpr size_t kChunkBytes = 64 * 1024;

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

std::string errno_text() { return std::strerror(errno); }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Writes `data` to `path` atomically: a temporary file in the same directory with `mode`, fsync,
// rename. The temporary is removed on failure.
bool write_file_atomic(const std::string& path, const std::string& data, mode_t mode, std::string* error) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(error, "cannot create " + tmp + ": " + errno_text());
  ::fchmod(fd, mode);  // whatever the umask
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(error, "cannot write " + tmp + ": " + why);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return fail(error, "cannot write " + tmp + ": " + errno_text());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    return fail(error, "cannot rename " + tmp + " to " + path + ": " + why);
  }
  return true;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 && data != nullptr ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// Reads the last 4 bytes of an open file and works out its layout; rewinds the file.
bool read_layout(std::FILE* f, const std::string& path, uint64_t* size, ImageLayout* layout, std::string* error) {
  if (std::fseek(f, 0, SEEK_END) != 0) return fail(error, "cannot seek in " + path + ": " + errno_text());
  const long end = std::ftell(f);
  if (end < 0) return fail(error, "cannot read the size of " + path + ": " + errno_text());
  *size = static_cast<uint64_t>(end);
  uint8_t last4[4] = {0, 0, 0, 0};
  if (*size >= 4) {
    if (std::fseek(f, -4, SEEK_END) != 0 || std::fread(last4, 1, 4, f) != 4) {
      return fail(error, "cannot read the end of " + path + ": " + errno_text());
    }
  }
  *layout = detect_image_layout(*size, *size >= 4 ? last4 : nullptr);
  std::rewind(f);
  return true;
}

Pkey read_pem_private_key(const std::string& path, std::string* error) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    fail(error, "cannot open the private key " + path + ": " + errno_text());
    return nullptr;
  }
  Pkey key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!key) fail(error, path + " is not a PEM private key: " + openssl_error());
  return key;
}

Pkey read_pem_public_key(const std::string& path, std::string* error) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    fail(error, "cannot open the public key " + path + ": " + errno_text());
    return nullptr;
  }
  Pkey key(PEM_read_PUBKEY(f.get(), nullptr, nullptr, nullptr));
  if (!key) fail(error, path + " is not a PEM public key (-----BEGIN PUBLIC KEY-----): " + openssl_error());
  return key;
}

}  // namespace

bool inspect_image(const std::string& path, ImageFile* out, std::string* error) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return fail(error, "cannot open " + path + ": " + errno_text());
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode)) return fail(error, path + " is not a regular file");
  ImageFile img;
  img.path = path;
  if (!read_layout(f.get(), path, &img.size_bytes, &img.layout, error)) return false;
  if (img.size_bytes == 0) return fail(error, path + " is empty");
  MdCtx image_ctx(EVP_MD_CTX_new()), file_ctx(EVP_MD_CTX_new());
  if (!image_ctx || !file_ctx || EVP_DigestInit_ex(image_ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestInit_ex(file_ctx.get(), EVP_sha256(), nullptr) != 1) {
    return fail(error, "SHA-256: " + openssl_error());
  }
  std::vector<unsigned char> buf(kChunkBytes);
  uint64_t offset = 0;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n == 0) break;
    EVP_DigestUpdate(file_ctx.get(), buf.data(), n);
    if (offset == 0) img.head.assign(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(n, 16));
    if (offset < img.layout.image_bytes) {
      const uint64_t left = img.layout.image_bytes - offset;
      EVP_DigestUpdate(image_ctx.get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(left, n)));
    }
    offset += n;
  }
  if (std::ferror(f.get()) != 0) return fail(error, "cannot read " + path + ": " + errno_text());
  if (offset != img.size_bytes) return fail(error, path + " changed while it was read");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(image_ctx.get(), md, &md_len);
  img.hashes.image_sha256 = to_hex(md, md_len);
  EVP_DigestFinal_ex(file_ctx.get(), md, &md_len);
  img.hashes.file_sha256 = to_hex(md, md_len);
  *out = std::move(img);
  return true;
}

bool generate_key_pair(const std::string& dir, int bits, bool force, std::string* error) {
  if (!file_exists(dir) && ::mkdir(dir.c_str(), 0700) != 0) return fail(error, "cannot create " + dir + ": " + errno_text());
  const std::string priv_path = dir + "/private.key", pub_path = dir + "/public.key";
  if (!force) {
    for (const std::string& p : {priv_path, pub_path}) {
      if (file_exists(p)) {
        return fail(error, p + " exists: refusing to replace a key (images signed with it would no longer match); "
                               "use --force, or another --out directory");
      }
    }
  }
  Pkey key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!key) return fail(error, "RSA key generation: " + openssl_error());
  Bio priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  if (!priv || !pub || PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    return fail(error, "PEM encoding: " + openssl_error());
  }
  if (!write_file_atomic(priv_path, bio_text(priv.get()), 0600, error)) return false;
  return write_file_atomic(pub_path, bio_text(pub.get()), 0644, error);
}

namespace {

/// The patch that marks `f`'s version slot for downgrades (see sign_image()): `*patch` at `*at`.
bool plan_downgrade_mark(std::FILE* f, const std::string& path, uint64_t size, uint64_t* at, std::string* patch,
                         std::string* marked_text, std::string* error) {
  if (std::fseek(f, 0, SEEK_SET) != 0) return fail(error, "cannot seek in " + path + ": " + errno_text());
  std::string window;
  std::vector<char> buf(kChunkBytes);
  uint64_t base = 0;
  VersionSlotAt slot;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0 && std::ferror(f) != 0) return fail(error, "cannot read " + path + ": " + errno_text());
    window.append(buf.data(), n);
    const bool at_end = n == 0 || base + window.size() >= size;
    size_t resume = 0;
    if (find_version_slot(window, base, at_end, &slot, &resume)) break;
    if (at_end) {
      return fail(error, path + " has no version slot (SPORE-VERSION-SLOT:<version>): a node could not tell its "
                                "version, so it cannot be marked for a downgrade");
    }
    window.erase(0, resume);
    base += resume;
  }
  size_t offset = 0;
  if (!downgrade_slot_patch(slot.slot_tail, marked_text, patch, &offset, error)) {
    *error = path + ": " + *error;
    return false;
  }
  *at = slot.text_offset + offset;
  return std::fseek(f, 0, SEEK_SET) == 0 || fail(error, "cannot seek in " + path + ": " + errno_text());
}

/// The RSA private key at `key_path` (null with `error` when it is not one, or shorter than the
/// nodes accept).
Pkey read_signing_key(const std::string& key_path, std::string* error) {
  Pkey key = read_pem_private_key(key_path, error);
  if (!key) return key;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    fail(error, key_path + " is not an RSA key: the ESP8266 signed-update format uses RSA-2048");
    return Pkey();
  }
  const int sig_len = EVP_PKEY_get_size(key.get());
  const int bits = EVP_PKEY_get_bits(key.get());
  if (sig_len <= 0 || !plausible_signature_length(static_cast<uint32_t>(sig_len)) ||
      bits < static_cast<int>(OtaSession::kMinKeyBits)) {
    // Nodes refuse such a key too (OtaSession::kMinKeyBits): a short one can be factored and images forged.
    fail(error, key_path + ": an RSA key of " + std::to_string(bits) +
                    " bits; at least 2048 are required (nodes refuse shorter keys): make a new pair with "
                    "'spore keygen'");
    return Pkey();
  }
  return key;
}

/// The image `in` opened for signing, its size in `*size` (null with `error` when it cannot be
/// read, is empty, or already ends with a signature and `force` is false).
File open_image_to_sign(const std::string& in, bool force, uint64_t* size, std::string* error) {
  File src(std::fopen(in.c_str(), "rb"));
  if (!src) {
    fail(error, "cannot open " + in + ": " + errno_text());
    return File();
  }
  ImageLayout layout;
  if (!read_layout(src.get(), in, size, &layout, error)) return File();
  if (*size == 0) {
    fail(error, in + " is empty");
    return File();
  }
  if (layout.is_signed && !force) {
    fail(error, in + " already ends with a " + std::to_string(layout.signature_bytes) +
                    "-byte signature trailer (signed already?); sign the unsigned image, or use --force");
    return File();
  }
  return src;
}

}  // namespace

bool sign_image(const std::string& in, const std::string& key_path, const std::string& out, bool force,
                size_t* signature_bytes, std::string* error, bool mark_downgrade, std::string* marked_text) {
  if (in == out) return fail(error, "the output must be another file than the input");
  if (!force && file_exists(out)) return fail(error, out + " exists; use --force to replace it");
  const Pkey key = read_signing_key(key_path, error);
  if (!key) return false;
  uint64_t size = 0;
  const File src = open_image_to_sign(in, force, &size, error);
  if (!src) return false;
  // The marker goes into the slot before the digest is taken: the signature covers it.
  uint64_t patch_at = 0;
  std::string patch, marked;
  if (mark_downgrade && !plan_downgrade_mark(src.get(), in, size, &patch_at, &patch, &marked, error)) return false;
  if (marked_text != nullptr) *marked_text = marked;
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return fail(error, "signing: " + openssl_error());
  }
  const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(error, "cannot create " + tmp + ": " + errno_text());
  auto write_all = [&](const void* data, size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  auto abort_with = [&](std::string why) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(error, std::move(why));
  };
  std::vector<unsigned char> buf(kChunkBytes);
  uint64_t total = 0;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), src.get());
    if (n == 0) break;
    for (size_t i = 0; i < patch.size(); ++i) {
      if (patch_at + i >= total && patch_at + i < total + n) buf[patch_at + i - total] = static_cast<unsigned char>(patch[i]);
    }
    if (EVP_DigestSignUpdate(ctx.get(), buf.data(), n) != 1) return abort_with("signing: " + openssl_error());
    if (!write_all(buf.data(), n)) return abort_with("cannot write " + tmp + ": " + errno_text());
    total += n;
  }
  if (std::ferror(src.get()) != 0) return abort_with("cannot read " + in + ": " + errno_text());
  if (total != size) return abort_with(in + " changed while it was signed");
  size_t len = 0;
  if (EVP_DigestSignFinal(ctx.get(), nullptr, &len) != 1) return abort_with("signing: " + openssl_error());
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSignFinal(ctx.get(), sig.data(), &len) != 1) return abort_with("signing: " + openssl_error());
  const std::string trailer =
      signature_trailer(std::string_view(reinterpret_cast<const char*>(sig.data()), len));
  if (!write_all(trailer.data(), trailer.size())) return abort_with("cannot write " + tmp + ": " + errno_text());
  // Keep the executable bit of the input (a signed spored is still an executable).
  struct stat st {};
  if (::fstat(::fileno(src.get()), &st) == 0) ::fchmod(fd, st.st_mode & 0777);
  if (::fsync(fd) != 0) return abort_with("cannot write " + tmp + ": " + errno_text());
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return fail(error, "cannot write " + tmp + ": " + errno_text());
  }
  if (::rename(tmp.c_str(), out.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    return fail(error, "cannot rename " + tmp + " to " + out + ": " + why);
  }
  if (signature_bytes != nullptr) *signature_bytes = len;
  return true;
}

bool verify_image(const std::string& path, const std::string& public_key_path, std::string* error) {
  Pkey key = read_pem_public_key(public_key_path, error);
  if (!key) return false;
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return fail(error, "cannot open " + path + ": " + errno_text());
  uint64_t size = 0;
  ImageLayout layout;
  if (!read_layout(f.get(), path, &size, &layout, error)) return false;
  if (!layout.is_signed) return fail(error, path + " is not signed (it does not end with a signature trailer)");
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return fail(error, "verifying: " + openssl_error());
  }
  std::vector<unsigned char> buf(kChunkBytes);
  uint64_t left = layout.image_bytes;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    const size_t n = std::fread(buf.data(), 1, want, f.get());
    if (n == 0) return fail(error, "cannot read " + path + ": " + errno_text());
    EVP_DigestVerifyUpdate(ctx.get(), buf.data(), n);
    left -= n;
  }
  std::vector<unsigned char> sig(layout.signature_bytes);
  if (std::fread(sig.data(), 1, sig.size(), f.get()) != sig.size()) return fail(error, "cannot read the signature");
  if (EVP_DigestVerifyFinal(ctx.get(), sig.data(), sig.size()) != 1) {
    ERR_clear_error();
    return fail(error, "the signature does not verify with " + public_key_path + " (another key, or a damaged file)");
  }
  return true;
}

}  // namespace cli
}  // namespace spore
