// Bare-metal lx106 program that bench/hmac_cost.sh runs under qemu-system-xtensa (-M sim -cpu
// lx106) to count the instructions one datagram's tag check executes: wire::decode() and
// hmac_sha256() of core, over BearSSL's sha2small/hmac compiled for the chip. Nothing here is
// linked into a node.
//
// Each measured call sits between spore_bench_begin() and spore_bench_end(); the script counts the
// instructions QEMU executed between the two markers' entries (one trace line per instruction) and
// subtracts case 0, which measures nothing, so the markers' own cost cancels. The cases run in the
// order of kCases, each twice (the script checks both counts agree). Output goes through QEMU's
// semihosting (simcall): one "case" line per case, then "ok" or a failure, and the exit code.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "spore/auth/hmac_sha256.h"
#include "spore/base/bytes.h"
#include "spore/wire/wire_codec.h"

namespace {

// QEMU's Xtensa semihosting: a2 = call number, a3.. = arguments (target/xtensa/xtensa-semi.c).
constexpr int kSysExit = 1;
constexpr int kSysWrite = 4;

int simcall(int nr, int arg1, int arg2, int arg3) {
  register int a2 asm("a2") = nr;
  register int a3 asm("a3") = arg1;
  register int a4 asm("a4") = arg2;
  register int a5 asm("a5") = arg3;
  asm volatile("simcall" : "+r"(a2) : "r"(a3), "r"(a4), "r"(a5) : "memory");
  return a2;
}

void out(const char* s) { simcall(kSysWrite, 1, reinterpret_cast<intptr_t>(s), static_cast<int>(std::strlen(s))); }

// By subtraction: Debian's libgcc for the lx106 has no __udivsi3 (the chip's ROM provides it).
void out_uint(unsigned v) {
  char buf[12];
  char* p = buf;
  bool started = false;
  static const unsigned kPowers[] = {1000000000, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
  for (unsigned power : kPowers) {
    char digit = '0';
    while (v >= power) {
      v -= power;
      ++digit;
    }
    if (digit != '0' || started || power == 1) {
      *p++ = digit;
      started = true;
    }
  }
  *p = '\0';
  out(buf);
}

[[noreturn]] void finish(int code) {
  simcall(kSysExit, code, 0, 0);
  for (;;) {
  }
}

[[noreturn]] void fail(const char* why) {
  out("FAIL ");
  out(why);
  out("\n");
  finish(1);
}

}  // namespace

// The markers: not inlined, not dropped, so the trace shows their entry addresses (nm).
extern "C" __attribute__((noinline, used)) void spore_bench_begin() { asm volatile("" ::: "memory"); }
extern "C" __attribute__((noinline, used)) void spore_bench_end() { asm volatile("" ::: "memory"); }

namespace {

using spore::HmacKey;
namespace wire = spore::wire;

enum class Kind : uint8_t { kNothing, kDecodeForged, kHmacOnly, kDecodeValid };

struct Case {
  Kind kind;
  uint16_t size_bytes;  ///< whole datagram, header + body + 16-byte tag
  const char* label;
};

// Sizes: 64, 128, 256 and 508 B (SPORE_MAX_DATAGRAM_BYTES, the largest) for forged datagrams (a
// GOSSIP header whose tag is wrong: decode() stops at kBadTag, which is what a flood costs); the
// valid ones are GOSSIPs with 0, 4, 12 and 27 entries (40, 108, 244, 499 B), tag right, so
// decode() also parses the body.
constexpr Case kCases[] = {
    {Kind::kNothing, 0, "baseline"},
    {Kind::kDecodeForged, 64, "decode_forged"},
    {Kind::kDecodeForged, 128, "decode_forged"},
    {Kind::kDecodeForged, 256, "decode_forged"},
    {Kind::kDecodeForged, 508, "decode_forged"},
    {Kind::kHmacOnly, 64, "hmac_sha256"},
    {Kind::kHmacOnly, 128, "hmac_sha256"},
    {Kind::kHmacOnly, 256, "hmac_sha256"},
    {Kind::kHmacOnly, 508, "hmac_sha256"},
    {Kind::kDecodeValid, 40, "decode_valid"},
    {Kind::kDecodeValid, 108, "decode_valid"},
    {Kind::kDecodeValid, 244, "decode_valid"},
    {Kind::kDecodeValid, 499, "decode_valid"},
};

/// A v2 GOSSIP datagram of `size_bytes` (header, body, tag): with a correct tag and valid entries
/// when `valid`, else a body of filler and a zero tag.
void build_datagram(const HmacKey& key, size_t size_bytes, bool valid, uint8_t* d) {
  std::memset(d, 0, size_bytes);
  const size_t body_bytes = size_bytes - wire::kHeaderBytes - wire::kTagBytes;
  d[0] = wire::kMagic0;
  d[1] = wire::kMagic1;
  d[2] = wire::kProtocolVersion;
  d[3] = static_cast<uint8_t>(wire::MessageType::kGossip);
  d[4] = wire::kFlagAuthenticated;
  spore::store_be32(0x0a000002, d + 5);   // sender id
  spore::store_be32(7, d + 9);            // incarnation
  spore::store_be32(1234, d + 13);        // seq
  spore::store_be32(0x0a000001, d + 17);  // destination
  d[21] = static_cast<uint8_t>(body_bytes >> 8);
  d[22] = static_cast<uint8_t>(body_bytes);
  uint8_t* body = d + wire::kHeaderBytes;
  if (!valid) {
    for (size_t i = 0; i < body_bytes; ++i) body[i] = static_cast<uint8_t>(i * 7 + 1);
    return;
  }
  size_t entries = 0;  // (body_bytes - 1) / 17, without __udivsi3
  while (1 + (entries + 1) * wire::GossipList::kEntryBytes <= body_bytes) ++entries;
  if (1 + entries * wire::GossipList::kEntryBytes != body_bytes) fail("valid size is not 1 + 17k body bytes");
  body[0] = static_cast<uint8_t>(entries);
  for (size_t i = 0; i < entries; ++i) {
    uint8_t* e = body + 1 + i * wire::GossipList::kEntryBytes;
    spore::store_be32(0x0a000010 + i, e);  // node id
    spore::store_be32(3, e + 4);           // incarnation
    spore::store_be32(0xc0a80010 + i, e + 8);
    e[12] = 0x1f;  // udp port 8080
    e[13] = 0x90;
    e[14] = 0x00;  // http port 80
    e[15] = 0x50;
    e[16] = static_cast<uint8_t>(wire::MemberState::kAlive);
  }
  spore::hmac_sha256(key, d, wire::kHeaderBytes + body_bytes, d + wire::kHeaderBytes + body_bytes, wire::kTagBytes);
}

/// RFC 4231 test case 2 ("Jefe"), so a wrong emulation or build fails loudly instead of counting.
void check_rfc4231() {
  static const uint8_t kExpected[spore::kHmacSha256Bytes] = {
      0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
      0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  static const char kKey[] = "Jefe";
  static const char kData[] = "what do ya want for nothing?";
  uint8_t mac[spore::kHmacSha256Bytes];
  spore::hmac_sha256_oneshot(reinterpret_cast<const uint8_t*>(kKey), 4, reinterpret_cast<const uint8_t*>(kData),
                             sizeof kData - 1, mac);
  if (std::memcmp(mac, kExpected, sizeof mac) != 0) fail("HMAC-SHA256 differs from RFC 4231 test case 2");
}

uint8_t g_datagram[SPORE_MAX_DATAGRAM_BYTES];

void run_case(const HmacKey& key, const Case& c) {
  const bool valid = c.kind == Kind::kDecodeValid;
  if (c.kind != Kind::kNothing) build_datagram(key, c.size_bytes, valid, g_datagram);
  wire::Message msg;
  uint8_t tag[wire::kTagBytes];
  wire::DecodeError err = wire::DecodeError::kOk;
  spore_bench_begin();
  switch (c.kind) {
    case Kind::kNothing: break;
    case Kind::kDecodeForged:
    case Kind::kDecodeValid: err = wire::decode(g_datagram, c.size_bytes, key, msg); break;
    case Kind::kHmacOnly:
      spore::hmac_sha256(key, g_datagram, c.size_bytes - wire::kTagBytes, tag, wire::kTagBytes);
      break;
  }
  spore_bench_end();
  if (c.kind == Kind::kDecodeForged && err != wire::DecodeError::kBadTag)
    fail("a forged datagram was not refused as bad_tag");
  if (valid && err != wire::DecodeError::kOk) fail("a valid datagram did not decode");
}

}  // namespace

extern "C" [[noreturn]] void spore_bench_main() {
  check_rfc4231();
  HmacKey key;
  static const uint8_t kKey[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  if (!key.set(kKey, sizeof kKey)) fail("HmacKey::set refused a 32-byte key");
  unsigned n = 0;
  for (const Case& c : kCases) {
    out("case ");
    out_uint(n++);
    out(" ");
    out(c.label);
    out(" ");
    out_uint(c.size_bytes);
    out("\n");
    for (int round = 0; round < 2; ++round) run_case(key, c);
  }
  out("ok\n");
  finish(0);
}

// Reset entry: a stack at the top of the emulated data RAM, then main. No .data copy or .bss
// clearing is needed: QEMU loads .data from the ELF and starts with zeroed RAM.
asm(R"(
  .section .text.start, "ax"
  .literal_position
  .global _start
  .align 4
_start:
  movi a1, __stack_top
  movi a0, 0
  call0 spore_bench_main
1:
  j 1b
)");
