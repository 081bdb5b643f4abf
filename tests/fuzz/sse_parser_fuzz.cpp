// libFuzzer target for the CLI's Server-Sent Events parser (apps/spore/sse_parser.h), which reads
// a node's GET /api/cluster/events/stream for `spore events watch`.
//
// Input layout: byte 0 = chunking seed, byte 1 = limits (0: the defaults; else max_line_bytes =
// 1 + (b & 0x3F) and max_event_bytes = 1 + 2 * b, small so the overflow paths run), then the stream.
//
// Properties checked on every input, abort() on violation:
// - feed() never crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - the outcome does not depend on chunking: fed whole and fed in pseudo-random chunks (1..16
//   bytes, seeded by byte 0) give the same messages, counters, last event id and retry;
// - memory stays bounded: after every chunk buffered_bytes() <= 3 * max_line_bytes +
//   max_event_bytes; no message has more than max_event_bytes of data, nor an event name (other
//   than the default "message") or id longer than max_line_bytes;
// - stats().messages counts exactly the messages handed out.
//
// Seed corpus: tests/fuzz/corpus/sse_parser/ (a node's stream, CR / CRLF / LF line ends, BOM,
// comments, retry, overlong lines).
//
// The parser is host-side code of the CLI (apps/spore), not core: it is compiled in here, as the
// fuzz build has no apps.
#include "../../apps/spore/sse_parser.cpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_chunker.h"

namespace {

using spore::cli::SseLimits;
using spore::cli::SseMessage;
using spore::cli::SseParser;

struct Outcome {
  std::vector<SseMessage> messages;
  spore::cli::SseStats stats;
  std::string last_id;
  std::optional<uint64_t> retry;
};

void check(bool ok) {
  if (!ok) std::abort();
}

Outcome run(const SseLimits& limits, const uint8_t* data, size_t size, uint32_t seed) {
  SseParser p(limits);
  const SseLimits& l = p.limits();
  Outcome o;
  spore::fuzz::Chunker chunks(seed, 16);
  size_t off = 0;
  while (off < size) {
    const size_t n = chunks.next(size - off);
    p.feed(std::string_view(reinterpret_cast<const char*>(data) + off, n), o.messages);
    off += n;
    check(p.buffered_bytes() <= 3 * l.max_line_bytes + l.max_event_bytes);
  }
  for (const SseMessage& m : o.messages) {
    check(m.data.size() <= l.max_event_bytes);
    check(m.event == "message" || m.event.size() <= l.max_line_bytes);  // the default may be longer
    check(!m.id || m.id->size() <= l.max_line_bytes);
  }
  o.stats = p.stats();
  check(o.stats.messages == o.messages.size());
  o.last_id = p.last_event_id();
  o.retry = p.retry_ms();
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.messages.size() != b.messages.size()) return false;
  for (size_t i = 0; i < a.messages.size(); ++i) {
    const SseMessage& x = a.messages[i];
    const SseMessage& y = b.messages[i];
    if (x.event != y.event || x.data != y.data || x.id != y.id) return false;
  }
  return a.stats.comments == b.stats.comments && a.stats.unknown_fields == b.stats.unknown_fields &&
         a.stats.bad_retry == b.stats.bad_retry && a.stats.long_lines == b.stats.long_lines &&
         a.stats.dropped_events == b.stats.dropped_events && a.last_id == b.last_id && a.retry == b.retry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0];
  SseLimits limits;
  if (data[1] != 0) {
    limits.max_line_bytes = 1 + (data[1] & 0x3Fu);
    limits.max_event_bytes = 1 + 2u * data[1];
  }
  data += 2;
  size -= 2;
  const Outcome whole = run(limits, data, size, 0);
  const Outcome chunked = run(limits, data, size, seed + 1);
  check(same(whole, chunked));
  return 0;
}
