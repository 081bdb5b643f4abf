// How much stack BearSSL's RSA-2048 PKCS#1 verification takes, measured on the host
// (bench/rsa_verify_stack.sh builds and runs this; docs/ota.md §9 quotes it). The upload goes
// through OtaSession exactly as on a node, with OtaSession::set_rsa_verifier() pointing at a
// wrapper that runs the engine on a painted 64 KB stack of its own (ucontext), as the ESP8266
// runs it on the core's stack thunk, then counts the bytes no longer painted.
//
// Host figures only: x86-64 frames and Debian's libbearssl, not the lx106 and the core's
// bearssl-esp8266 (whose i15 engine the ESP8266 uses); they show the order of magnitude and how
// the engines compare.

#include <bearssl/bearssl_rsa.h>
#include <ucontext.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "ota_test_vector.h"
#include "spore/ota/ota.h"

namespace {

constexpr size_t kStackBytes = 64 * 1024;
constexpr uint8_t kPaint = 0xA5;

struct Call {
  br_rsa_pkcs1_vrfy engine;
  const unsigned char* x;
  size_t xlen;
  const unsigned char* oid;
  size_t hash_len;
  const br_rsa_public_key* pk;
  unsigned char* out;
  uint32_t result;
};

Call g_call;
ucontext_t g_main, g_side;
alignas(16) uint8_t g_stack[kStackBytes];
size_t g_used = 0;

void run_call() {
  g_call.result = g_call.engine(g_call.x, g_call.xlen, g_call.oid, g_call.hash_len, g_call.pk, g_call.out);
}

uint32_t on_painted_stack(const unsigned char* x, size_t xlen, const unsigned char* oid, size_t hash_len,
                          const br_rsa_public_key* pk, unsigned char* out) {
  g_call.x = x;
  g_call.xlen = xlen;
  g_call.oid = oid;
  g_call.hash_len = hash_len;
  g_call.pk = pk;
  g_call.out = out;
  std::memset(g_stack, kPaint, sizeof g_stack);
  getcontext(&g_side);
  g_side.uc_stack.ss_sp = g_stack;
  g_side.uc_stack.ss_size = sizeof g_stack;
  g_side.uc_link = &g_main;
  makecontext(&g_side, run_call, 0);
  swapcontext(&g_main, &g_side);
  size_t untouched = 0;  // the stack grows down: paint left at the bottom was never reached
  while (untouched < sizeof g_stack && g_stack[untouched] == kPaint) ++untouched;
  g_used = sizeof g_stack - untouched;
  return g_call.result;
}

class NullTarget final : public spore::FlashTarget {
 public:
  size_t capacity_bytes() const override { return 1 << 20; }
  bool check_magic(const uint8_t*, size_t) const override { return true; }
  bool begin(size_t) override { return true; }
  bool write(const uint8_t*, size_t) override { return true; }
  spore::OtaError commit(const uint8_t (&)[32]) override { return spore::OtaError::kOk; }
  void abort() override {}
};

}  // namespace

int main() {
  namespace v = spore::testing::vector;
  std::vector<uint8_t> body(v::kImage, v::kImage + sizeof v::kImage);
  body.insert(body.end(), v::kSignature, v::kSignature + sizeof v::kSignature);
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<uint8_t>(sizeof v::kSignature >> (8 * i)));
  const struct {
    const char* name;
    br_rsa_pkcs1_vrfy engine;
  } engines[] = {
      {"i15", &br_rsa_i15_pkcs1_vrfy},
      {"i31", &br_rsa_i31_pkcs1_vrfy},
      {"i32", &br_rsa_i32_pkcs1_vrfy},
      {"default", br_rsa_pkcs1_vrfy_get_default()},
  };
  int failures = 0;
  for (const auto& e : engines) {
    NullTarget target;
    spore::OtaSession session(target);
    if (!session.set_public_key_pem(v::kPublicKeyPem)) return 2;
    g_call.engine = e.engine;
    g_used = 0;
    session.set_rsa_verifier(&on_painted_stack);
    const bool ok = session.begin(body.size(), 0) == spore::OtaError::kOk &&
                    session.write(body.data(), body.size(), 0) == spore::OtaError::kOk &&
                    session.finish(0) == spore::OtaError::kOk && session.result().signature_verified;
    if (!ok) ++failures;
    std::printf("RSA-2048 PKCS#1 verify, BearSSL %-7s engine: %5zu B of stack%s\n", e.name, g_used,
                ok ? "" : " (VERIFY FAILED)");
  }
  return failures == 0 ? 0 : 1;
}
