// libFuzzer target for the streaming multipart/form-data parser (core/spore/ota/multipart.h).
//
// Input layout: byte 0 = chunking seed, byte 1 = mode (bit 0: the first line is only the boundary,
// the parser gets "multipart/form-data; boundary=<line>"; else the line is the whole Content-Type),
// then the Content-Type line up to the first '\n', then the body.
//
// Properties checked on every input, abort() on violation:
// - begin/feed/finish never crash or read out of bounds (ASan/UBSan in the fuzz preset);
// - the outcome does not depend on chunking: fed whole and fed in pseudo-random chunks (1..64
//   bytes, seeded by byte 0) give the same feed/finish results, the same error and exactly the same
//   part bytes (compared by length and SHA-256);
// - the part is never longer than the body, and finish() true implies closed() and found_part().
//
// Seed corpus: tests/fuzz/corpus/multipart/ (curl-style bodies, near-miss boundaries, broken ones).

#include <bearssl/bearssl_hash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_chunker.h"
#include "spore/ota/multipart.h"

namespace {

using spore::MultipartParser;

struct Digest {
  br_sha256_context sha;
  size_t bytes = 0;
  bool sink(const uint8_t* data, size_t size) {
    if (size == 0) std::abort();  // the parser never emits empty slices
    br_sha256_update(&sha, data, size);
    bytes += size;
    return true;
  }
};

struct Outcome {
  bool begun = false;
  bool fed = false;
  bool finished = false;
  char error[160] = {};  // p.error(), copied out of its FlashStr
  size_t part_bytes = 0;
  uint8_t sha[32] = {};
};

Outcome run(std::string_view content_type, const uint8_t* body, size_t size, uint32_t seed) {
  Digest d;
  br_sha256_init(&d.sha);
  MultipartParser p(MultipartParser::Sink::bind<Digest, &Digest::sink>(&d));
  Outcome o;
  o.begun = p.begin(content_type);
  o.fed = o.begun;
  size_t off = 0;
  spore::fuzz::Chunker chunks(seed, 64);
  while (o.fed && off < size) {
    const size_t n = chunks.next(size - off);
    o.fed = p.feed(body + off, n);
    off += n;
  }
  o.finished = o.fed && p.finish();
  p.error().copy_to(o.error, sizeof o.error);
  o.part_bytes = p.part_bytes();
  if (o.part_bytes != d.bytes) std::abort();
  if (o.part_bytes > size) std::abort();
  if (o.finished && (!p.closed() || !p.found_part())) std::abort();
  if (!o.finished && o.error[0] == '\0') std::abort();  // every failure says why
  br_sha256_out(&d.sha, o.sha);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0];
  const bool boundary_only = (data[1] & 1) != 0;
  data += 2;
  size -= 2;
  size_t line = 0;
  while (line < size && line < 200 && data[line] != '\n') ++line;
  char content_type[256];
  size_t ct_len = 0;
  if (boundary_only) {
    static constexpr char kPrefix[] = "multipart/form-data; boundary=";
    std::memcpy(content_type, kPrefix, sizeof kPrefix - 1);
    ct_len = sizeof kPrefix - 1;
  }
  std::memcpy(content_type + ct_len, data, line);
  ct_len += line;
  const uint8_t* body = data + line + (line < size ? 1 : 0);
  const size_t body_size = size - line - (line < size ? 1 : 0);

  const std::string_view ct(content_type, ct_len);
  const Outcome whole = run(ct, body, body_size, 0);
  const Outcome chunked = run(ct, body, body_size, seed + 1);
  if (whole.begun != chunked.begun || whole.fed != chunked.fed || whole.finished != chunked.finished ||
      std::strcmp(whole.error, chunked.error) != 0 || whole.part_bytes != chunked.part_bytes ||
      std::memcmp(whole.sha, chunked.sha, sizeof whole.sha) != 0) {
    std::abort();
  }
  return 0;
}
