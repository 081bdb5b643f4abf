#pragma once
// Test support for the OTA pipeline: a FlashTarget fake that records every call and checks the
// OtaSession's promises as they happen (magic checked before the first write, never beyond
// capacity, commit only with the SHA-256 of what was written), deterministic RSA keys made with
// BearSSL (no key files in the repository), and images in the ESP8266 core's signed format.

#include <bearssl/bearssl_hash.h>
#include <bearssl/bearssl_hmac.h>
#include <bearssl/bearssl_rand.h>
#include <bearssl/bearssl_rsa.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "spore/ota/ota.h"

namespace spore::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes sha256_of(const Bytes& data) {
  br_sha256_context c;
  br_sha256_init(&c);
  br_sha256_update(&c, data.data(), data.size());
  Bytes out(32);
  br_sha256_out(&c, out.data());
  return out;
}

class FakeFlashTarget : public FlashTarget {
 public:
  size_t capacity = 64 * 1024;
  Bytes magic = {0xE9};  // ESP8266 image magic
  bool fail_begin = false;
  bool fail_commit = false;
  OtaError commit_error = OtaError::kOk;  ///< what commit() returns instead of kOk (bad image, ...)
  size_t fail_write_at = 0;  // write() fails once this many bytes were written (0 = never)

  // Recorded.
  int begin_calls = 0;
  int abort_calls = 0;
  int commit_calls = 0;
  int write_calls = 0;
  mutable int magic_checks = 0;
  mutable size_t magic_head_size = 0;
  size_t max_image_arg = 0;
  bool active = false;
  Bytes written;    // of the running (or last aborted) session
  Bytes committed;  // of the last commit

  size_t capacity_bytes() const override { return capacity; }
  bool check_magic(const uint8_t* head, size_t size) const override {
    ++magic_checks;
    magic_head_size = size;
    EXPECT_TRUE(written.empty()) << "check_magic after a write";
    return size >= magic.size() && std::memcmp(head, magic.data(), magic.size()) == 0;
  }
  bool begin(size_t max_image_bytes) override {
    ++begin_calls;
    max_image_arg = max_image_bytes;
    EXPECT_FALSE(active) << "begin while a session is open";
    active = true;
    written.clear();
    return !fail_begin;
  }
  bool write(const uint8_t* data, size_t size_bytes) override {
    ++write_calls;
    EXPECT_TRUE(active) << "write outside begin/commit";
    EXPECT_GT(magic_checks, 0) << "write before check_magic";
    EXPECT_GT(size_bytes, 0u) << "empty write";
    written.insert(written.end(), data, data + size_bytes);
    EXPECT_LE(written.size(), capacity) << "write beyond capacity";
    return !(fail_write_at != 0 && written.size() >= fail_write_at);
  }
  OtaError commit(const uint8_t (&sha256)[32]) override {
    ++commit_calls;
    EXPECT_TRUE(active);
    EXPECT_EQ(Bytes(sha256, sha256 + 32), sha256_of(written)) << "commit with a hash of other bytes";
    active = false;
    if (fail_commit) return OtaError::kFlashCommit;
    if (commit_error != OtaError::kOk) return commit_error;
    committed = written;
    return OtaError::kOk;
  }
  void abort() override {
    ++abort_calls;
    active = false;
  }

  /// The promise of every failure: nothing committed, and if the target was begun it was aborted.
  void expect_untouched() const {
    EXPECT_TRUE(committed.empty());
    EXPECT_TRUE(begin_calls == 0 || abort_calls >= 1) << "begun but not aborted";
    EXPECT_FALSE(active);
  }
  void reset_counters() {
    begin_calls = abort_calls = commit_calls = write_calls = magic_checks = 0;
    written.clear();
    committed.clear();
    active = false;
  }
};

/// An image of `size` bytes that starts with the ESP8266 magic, deterministic from `seed`.
inline Bytes make_image(size_t size, uint32_t seed = 1, uint8_t magic = 0xE9) {
  Bytes b(size);
  std::mt19937 rng(seed);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  if (size > 0) b[0] = magic;
  return b;
}

/// An RSA key pair generated deterministically (HMAC-DRBG with a fixed seed), held in BearSSL's
/// buffers.
struct TestKey {
  static constexpr unsigned kBits = 2048;
  uint8_t priv_buf[BR_RSA_KBUF_PRIV_SIZE(kBits)] = {};
  uint8_t pub_buf[BR_RSA_KBUF_PUB_SIZE(kBits)] = {};
  br_rsa_private_key sk{};
  br_rsa_public_key pk{};

  explicit TestKey(const char* seed) {
    br_hmac_drbg_context rng;
    br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, std::strlen(seed));
    const uint32_t ok = br_rsa_i31_keygen(&rng.vtable, &sk, priv_buf, &pk, pub_buf, kBits, 65537);
    EXPECT_EQ(ok, 1u);
  }
  size_t size_bytes() const { return pk.nlen; }
  bool install(OtaSession& s) const { return s.set_public_key(pk.n, pk.nlen, pk.e, pk.elen); }

  Bytes sign(const Bytes& image) const {
    const Bytes hash = sha256_of(image);
    Bytes sig(pk.nlen);
    const uint32_t ok = br_rsa_i31_pkcs1_sign(BR_HASH_OID_SHA256, hash.data(), hash.size(), &sk, sig.data());
    EXPECT_EQ(ok, 1u);
    return sig;
  }
};

/// The first and second test keys, made once per process (2048-bit keygen takes a moment).
inline const TestKey& key_a() {
  static const TestKey k("spore-ota-test-key-A");
  return k;
}
inline const TestKey& key_b() {
  static const TestKey k("spore-ota-test-key-B");
  return k;
}

/// image || signature || uint32 LE length: the ESP8266 core's signed-update layout.
inline Bytes with_trailer(const Bytes& image, const Bytes& sig, uint32_t length_field) {
  Bytes out = image;
  out.insert(out.end(), sig.begin(), sig.end());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(length_field >> (8 * i)));
  return out;
}
inline Bytes signed_image(const Bytes& image, const TestKey& key) {
  const Bytes sig = key.sign(image);
  return with_trailer(image, sig, static_cast<uint32_t>(sig.size()));
}

/// Chunk plans: every upload is fed in these and must give the same result.
inline std::vector<size_t> chunk_plan(size_t total, size_t chunk) {
  std::vector<size_t> plan;
  for (size_t done = 0; done < total; done += chunk) plan.push_back(std::min(chunk, total - done));
  return plan;
}
inline std::vector<size_t> random_plan(size_t total, uint32_t seed, size_t max_chunk = 3000) {
  std::mt19937 rng(seed);
  std::vector<size_t> plan;
  for (size_t done = 0; done < total;) {
    size_t n = 1 + rng() % max_chunk;
    if (rng() % 8 == 0) n = 1 + rng() % 3;  // tiny chunks now and then
    n = std::min(n, total - done);
    plan.push_back(n);
    done += n;
  }
  return plan;
}
/// Names and plans for the chunking sweep: 1, 7, 64, 1000, whole, and three random splits.
inline std::vector<std::pair<std::string, std::vector<size_t>>> all_plans(size_t total) {
  std::vector<std::pair<std::string, std::vector<size_t>>> plans;
  for (size_t c : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
    plans.emplace_back("chunk" + std::to_string(c), chunk_plan(total, c));
  }
  plans.emplace_back("whole", chunk_plan(total, total == 0 ? 1 : total));
  for (uint32_t seed : {1u, 2u, 3u}) plans.emplace_back("random" + std::to_string(seed), random_plan(total, seed));
  return plans;
}

}  // namespace spore::testing
