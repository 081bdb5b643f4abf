// libFuzzer target for the ESP8266 head screen (core/spore/device/http_head_screen.h): the streaming
// check in front of ESPAsyncWebServer that bounds the request line, its query parameters, the
// header lines and the whole head before the library parses any of it.
//
// Input: the bytes a client sends on one connection. The first byte, if any, seeds how they are
// cut into feed() calls (0 = one piece); the rest is the connection's bytes.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - chunking never changes the verdict, the refusal or the head size: whole, byte by byte and
//   seeded pieces agree;
// - a verdict never reverts: once kPassed or kRefused, every later feed() returns it again;
// - the verdict is an independent model's, written here over the whole input at once (split into
//   lines, trimmed as the library's String::trim() does): a head within all limits is passed, one
//   over a limit is refused with that limit, an unfinished head within them is still read.
//
// Seed corpus: tests/fuzz/corpus/http_head_screen/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_chunker.h"
#include "spore/device/http_head_screen.h"

namespace {

using spore::HeadRefusal;
using spore::HeadVerdict;
using spore::HttpHeadScreen;

struct Result {
  HeadVerdict verdict = HeadVerdict::kReading;
  HeadRefusal refusal = HeadRefusal::kNone;
  size_t head_bytes = 0;
};

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\v' && c != '\f' && c != '\r') return false;
  }
  return true;
}

// The first limit a prefix of the head breaks, checked line by line over the whole input.
Result model(std::string_view in) {
  Result r;
  size_t pos = 0;
  size_t headers = 0;
  bool first = true;
  while (true) {
    const size_t nl = in.find('\n', pos);
    const std::string_view line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    // Where this line (or the head) first breaks a limit, as an offset into `in`; npos if never.
    size_t over = std::string_view::npos;
    HeadRefusal why = HeadRefusal::kNone;
    auto note = [&](size_t at, HeadRefusal w) {
      if (at < over) over = at, why = w;
    };
    // The head size first: on the same byte it is the screen's first check.
    const size_t line_end = nl == std::string_view::npos ? in.size() : nl + 1;  // bytes through this line
    if (HttpHeadScreen::kMaxHeadBytes < line_end) note(HttpHeadScreen::kMaxHeadBytes, HeadRefusal::kHeadTooLarge);
    const size_t nul = line.find('\0');
    if (nul != std::string_view::npos) note(pos + nul, HeadRefusal::kBadByte);
    if (first && (line.empty() ? nl != std::string_view::npos : (line[0] < 'A' || line[0] > 'Z'))) {
      note(pos, HeadRefusal::kBadRequestLine);
    }
    if (first) {
      if (line.size() > HttpHeadScreen::kMaxRequestLineBytes) {
        note(pos + HttpHeadScreen::kMaxRequestLineBytes, HeadRefusal::kRequestLineTooLong);
      }
      const size_t q = line.find('?');
      if (q != std::string_view::npos) {
        size_t params = 1;
        for (size_t i = q + 1; i < line.size(); ++i) {
          if (line[i] == '&' && ++params > HttpHeadScreen::kMaxQueryParams) {
            note(pos + i, HeadRefusal::kTooManyQueryParams);
            break;
          }
        }
      }
    } else if (!is_blank(line)) {
      if (line.size() > HttpHeadScreen::kMaxHeaderLineBytes) {
        note(pos + HttpHeadScreen::kMaxHeaderLineBytes, HeadRefusal::kHeaderLineTooLong);
      }
      if (++headers > HttpHeadScreen::kMaxHeaders) {
        size_t i = 0;
        while (line[i] == ' ' || line[i] == '\t' || line[i] == '\v' || line[i] == '\f' || line[i] == '\r') ++i;
        note(pos + i, HeadRefusal::kTooManyHeaders);
      }
    }
    if (over != std::string_view::npos) {
      r.verdict = HeadVerdict::kRefused;
      r.refusal = why;
      r.head_bytes = why == HeadRefusal::kHeadTooLarge ? HttpHeadScreen::kMaxHeadBytes : over + 1;
      return r;
    }
    if (nl == std::string_view::npos) {
      r.head_bytes = in.size();
      return r;
    }
    if (!first && is_blank(line)) {
      r.verdict = HeadVerdict::kPassed;
      r.head_bytes = nl + 1;
      return r;
    }
    first = false;
    pos = nl + 1;
  }
}

Result run(const uint8_t* data, size_t size, uint32_t seed, size_t max_chunk) {
  HttpHeadScreen s;
  spore::fuzz::Chunker chunker(seed, max_chunk);
  HeadVerdict seen = HeadVerdict::kReading;
  for (size_t i = 0; i < size;) {
    const size_t n = chunker.next(size - i);
    const HeadVerdict v = s.feed(data + i, n);
    if (seen != HeadVerdict::kReading && v != seen) abort();  // a verdict reverted
    if (v != s.verdict()) abort();
    seen = v;
    i += n;
  }
  return {s.verdict(), s.refusal(), s.head_bytes()};
}

bool same(const Result& a, const Result& b) {
  return a.verdict == b.verdict && a.refusal == b.refusal && a.head_bytes == b.head_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint32_t seed = data[0];
  ++data, --size;
  const Result whole = run(data, size, 0, 1);
  if (!same(whole, run(data, size, 1, 1)) || !same(whole, run(data, size, seed, 1 + seed % 64))) abort();
  const Result expected = model(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!same(whole, expected)) abort();
  return 0;
}
