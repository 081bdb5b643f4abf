// libFuzzer target for the OTA image pipeline (core/spore/ota/ota.h): random upload bodies through an
// OtaSession, with and without a public key, against a checking fake FlashTarget.
//
// Input layout: byte 0 = flags (bit 0: key set; bit 1: declare the body size; bits 2-3: capacity
// 1 KB / 4 KB / 64 KB / 300 bytes), byte 1 = chunking seed (0 = whole), then the body.
//
// Properties checked on every input, abort() on violation:
// - never crashes, never reads or writes out of bounds (ASan/UBSan in the fuzz preset);
// - nothing is written before check_magic() or beyond capacity_bytes(); commit() gets the SHA-256
//   of exactly the bytes written; every failure aborts the target and never commits;
// - with a key, a committed image is never mis-signed: the harness re-verifies the trailer with
//   BearSSL independently, and the committed bytes are exactly the body minus its trailer;
// - without a key, a committed image is the whole body;
// - success does not depend on chunking (whole vs pseudo-random chunks): same result, same hash.
//
// The key is an RSA-2048 pair generated once with BearSSL from a fixed HMAC-DRBG seed, so no key
// file exists; the seed corpus (tests/fuzz/corpus/ota_image/) holds images signed with it, written
// by running this target with SPORE_OTA_FUZZ_WRITE_SEEDS=<dir> (see write_seeds below).

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_rand.h>
#include <bearssl/bearssl_rsa.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fuzz_chunker.h"
#include "spore/ota/ota.h"

namespace {

using spore::FlashTarget;
using spore::OtaError;
using spore::OtaSession;

constexpr unsigned kBits = 2048;

struct FuzzKey {
  uint8_t priv_buf[BR_RSA_KBUF_PRIV_SIZE(kBits)] = {};
  uint8_t pub_buf[BR_RSA_KBUF_PUB_SIZE(kBits)] = {};
  br_rsa_private_key sk{};
  br_rsa_public_key pk{};
  FuzzKey() {
    static constexpr char kSeed[] = "spore-ota-fuzz-key";
    br_hmac_drbg_context rng;
    br_hmac_drbg_init(&rng, &br_sha256_vtable, kSeed, sizeof kSeed - 1);
    if (br_rsa_i31_keygen(&rng.vtable, &sk, priv_buf, &pk, pub_buf, kBits, 65537) != 1) std::abort();
  }
};

const FuzzKey& fuzz_key() {
  static const FuzzKey key;
  return key;
}

void sha256(const uint8_t* data, size_t size, uint8_t (&out)[32]) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, data, size);
  br_sha256_out(&c, out);
}

/// Up to 80 KB written per session: enough for the 64 KB capacity.
class CheckingFlash : public FlashTarget {
 public:
  explicit CheckingFlash(size_t capacity) : capacity_(capacity) {}
  size_t capacity_bytes() const override { return capacity_; }
  bool check_magic(const uint8_t* head, size_t size) const override {
    if (size == 0 || size > OtaSession::kMagicBytes || written_ != 0) std::abort();
    magic_checked_ = true;
    return head[0] == 0xE9;
  }
  bool begin(size_t max_image_bytes) override {
    if (begun_ || max_image_bytes > capacity_) std::abort();
    begun_ = true;
    begun_ever_ = true;
    return true;
  }
  bool write(const uint8_t* data, size_t size_bytes) override {
    if (!begun_ || !magic_checked_ || size_bytes == 0) std::abort();
    if (written_ + size_bytes > capacity_ || written_ + size_bytes > sizeof buf_) std::abort();
    std::memcpy(buf_ + written_, data, size_bytes);
    written_ += size_bytes;
    return true;
  }
  OtaError commit(const uint8_t (&sha)[32]) override {
    if (!begun_ || committed_) std::abort();
    uint8_t check[32];
    sha256(buf_, written_, check);
    if (std::memcmp(check, sha, 32) != 0) std::abort();
    committed_ = true;
    begun_ = false;
    return OtaError::kOk;
  }
  void abort() override {
    if (committed_) std::abort();
    aborted_ = true;
    begun_ = false;
  }

  const uint8_t* data() const { return buf_; }
  size_t written() const { return written_; }
  bool committed() const { return committed_; }
  bool aborted() const { return aborted_; }
  bool open() const { return begun_; }
  bool begun_ever() const { return begun_ever_; }

 private:
  size_t capacity_;
  mutable bool magic_checked_ = false;
  bool begun_ = false;
  bool begun_ever_ = false;
  bool committed_ = false;
  bool aborted_ = false;
  size_t written_ = 0;
  uint8_t buf_[80 * 1024];
};

struct Outcome {
  OtaError error;
  uint8_t sha[32];
};

Outcome run(const uint8_t* body, size_t size, bool keyed, bool declare, size_t capacity, uint32_t seed) {
  static CheckingFlash* flash = nullptr;  // 80 KB: not on the stack
  if (flash == nullptr) flash = static_cast<CheckingFlash*>(std::malloc(sizeof(CheckingFlash)));
  new (flash) CheckingFlash(capacity);
  OtaSession s(*flash);
  const FuzzKey& key = fuzz_key();
  if (keyed && !s.set_public_key(key.pk.n, key.pk.nlen, key.pk.e, key.pk.elen)) std::abort();

  OtaError e = s.begin(declare ? size : 0, 0);
  size_t off = 0;
  spore::fuzz::Chunker chunks(seed, 700);
  while (e == OtaError::kOk && off < size) {
    const size_t n = chunks.next(size - off);
    e = s.write(body + off, n, static_cast<uint32_t>(off));
    off += n;
  }
  if (e == OtaError::kOk || s.busy()) e = s.finish(1);
  if (s.busy() || flash->open()) std::abort();  // finish() always ends the session
  if (e != s.result().error) std::abort();

  Outcome o{};
  o.error = e;
  if (e != OtaError::kOk) {
    if (flash->committed()) std::abort();
    if (flash->begun_ever() && !flash->aborted()) std::abort();  // every failure aborts the target
    return o;
  }
  if (!flash->committed()) std::abort();
  std::memcpy(o.sha, s.result().sha256, 32);
  if (s.result().image_bytes != flash->written()) std::abort();
  if (!keyed) {
    if (flash->written() != size || std::memcmp(flash->data(), body, size) != 0) std::abort();
    return o;
  }
  // Keyed: the body must be image || sig(256) || 256 LE, and the signature must verify on its own.
  if (!s.result().signature_verified || size < 260) std::abort();
  const uint8_t* len = body + size - 4;
  if (len[0] != 0x00 || len[1] != 0x01 || len[2] != 0 || len[3] != 0) std::abort();
  const size_t image = size - 260;
  if (flash->written() != image || std::memcmp(flash->data(), body, image) != 0) std::abort();
  uint8_t want[32];
  sha256(body, image, want);
  uint8_t got[32];
  if (br_rsa_i31_pkcs1_vrfy(body + image, 256, BR_HASH_OID_SHA256, 32, &key.pk, got) != 1) std::abort();
  if (std::memcmp(want, got, 32) != 0) std::abort();
  return o;
}

/// SPORE_OTA_FUZZ_WRITE_SEEDS=<dir>: writes the seed corpus (signed and unsigned images for the
/// fuzz key) and exits. The committed corpus was made this way.
void write_seeds(const char* dir) {
  const FuzzKey& key = fuzz_key();
  auto put = [dir](const char* name, uint8_t flags, uint8_t seed, const uint8_t* body, size_t size) {
    char path[512];
    std::snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = std::fopen(path, "wb");
    if (f == nullptr) std::abort();
    std::fputc(flags, f);
    std::fputc(seed, f);
    std::fwrite(body, 1, size, f);
    std::fclose(f);
  };
  static uint8_t body[3000];
  for (size_t image : {size_t{1}, size_t{40}, size_t{700}, size_t{2000}}) {
    uint32_t x = 0x9E3779B9u;
    for (size_t i = 0; i < image; ++i) {
      x = x * 1664525u + 1013904223u;
      body[i] = static_cast<uint8_t>(x >> 24);
    }
    body[0] = 0xE9;
    uint8_t hash[32];
    sha256(body, image, hash);
    if (br_rsa_i31_pkcs1_sign(BR_HASH_OID_SHA256, hash, 32, &key.sk, body + image) != 1) std::abort();
    const uint8_t len[4] = {0x00, 0x01, 0x00, 0x00};
    std::memcpy(body + image + 256, len, 4);
    char name[64];
    std::snprintf(name, sizeof name, "signed-%zu", image);
    put(name, 0x01 | 0x02 | 0x04, 7, body, image + 260);  // keyed, declared, 4 KB
    std::snprintf(name, sizeof name, "signed-%zu-nokey", image);
    put(name, 0x04, 0, body, image + 260);
    std::snprintf(name, sizeof name, "unsigned-%zu", image);
    put(name, 0x02 | 0x04, 3, body, image);
  }
  const uint8_t elf[] = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
  put("elf-magic", 0x04, 0, elf, sizeof elf);
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SPORE_OTA_FUZZ_WRITE_SEEDS")) write_seeds(dir);
  fuzz_key();  // keygen once, before the clock starts
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 70 * 1024) return 0;
  const uint8_t flags = data[0];
  const uint8_t seed = data[1];
  const bool keyed = (flags & 1) != 0;
  const bool declare = (flags & 2) != 0;
  static constexpr size_t kCapacities[] = {1024, 4096, 64 * 1024, 300};
  const size_t capacity = kCapacities[(flags >> 2) & 3];
  const Outcome whole = run(data + 2, size - 2, keyed, declare, capacity, 0);
  const Outcome chunked = run(data + 2, size - 2, keyed, declare, capacity, seed + 1u);
  // Success must not depend on chunking (which error a bad body hits first may).
  if ((whole.error == OtaError::kOk) != (chunked.error == OtaError::kOk)) std::abort();
  if (whole.error == OtaError::kOk && std::memcmp(whole.sha, chunked.sha, 32) != 0) std::abort();
  return 0;
}
