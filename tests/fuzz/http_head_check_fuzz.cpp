// libFuzzer target for the request-head rules of core's one HTTP admission policy
// (core/spore/device/http_admission.h, used by spored and the ESP8266): the header-field count, the
// head size, the field names and the body framing of a request head (admit_head() rules 1-3).
//
// Input: header fields, one per line ("name: value", split at the first ':'; a line without one
// is a name with an empty value), as libmicrohttpd or ESPAsyncWebServer hands them over. The first
// byte, if any, is the field-count limit (0..255), the second the head-size limit in units of 64
// bytes (0: unchecked, as on the ESP8266); the head size is the input's length.
//
// Properties checked on every input, abort() on violation, against an independent reference
// model written here:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - the verdict is the model's: too many fields or a head too large, then a bad field name,
//   then bad framing; otherwise accepted;
// - an accepted head has at most one framing: chunked (exactly one Transfer-Encoding, value
//   "chunked" in any case) or one Content-Length of decimal digits whose value, read as a 64-bit
//   number, is content_length(); never both; no X-Expected-Entity-Length; framing_problem() is
//   null exactly when the framing is sound;
// - the check is deterministic: a second pass over the same fields gives the same result;
// - every value read as Accept-Encoding (http_accepts_gzip()): deterministic, case-blind, blind to
//   OWS around it, and accepting once an accepting ",gzip" item is appended.
//
// Seed corpus: tests/fuzz/corpus/http_head_check/.
#include "spore/device/http_admission.h"
#include "spore/http/http_text.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using spore::HttpHeadFields;
using spore::HttpRefusal;
using HeadVerdict = spore::HttpRefusal;

std::string upper_of(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower_of(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Model {
  HeadVerdict verdict = HeadVerdict::kNone;
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
};

Model model_of(const std::vector<std::pair<std::string_view, std::string_view>>& fields, size_t max_count,
               size_t head_bytes, size_t max_head_bytes) {
  Model m;
  int lengths = 0, encodings = 0;
  bool bad_name = false, bad_length = false, bad_encoding = false, expected_length = false;
  uint64_t length = 0;
  for (const auto& f : fields) {
    if (f.first.empty()) bad_name = true;
    for (unsigned char c : f.first) {
      if (c <= ' ' || c == 0x7F) bad_name = true;
    }
    const std::string name = lower_of(f.first);
    if (name == "x-expected-entity-length") {
      expected_length = true;  // refused whatever its value, as a framing problem
    } else if (name == "content-length") {
      ++lengths;
      const std::string_view v = trimmed(f.second);
      // Decimal digits, value within 64 bits: compare digit strings without leading zeros.
      std::string digits(v);
      bool all_digits = !digits.empty();
      for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
      if (!all_digits) {
        bad_length = true;
      } else {
        const size_t first = digits.find_first_not_of('0');
        const std::string significant = first == std::string::npos ? "0" : digits.substr(first);
        const std::string max = "18446744073709551615";
        if (significant.size() > max.size() || (significant.size() == max.size() && significant > max)) {
          bad_length = true;
        } else {
          length = std::strtoull(significant.c_str(), nullptr, 10);
        }
      }
    } else if (name == "transfer-encoding") {
      ++encodings;
      if (lower_of(trimmed(f.second)) != "chunked") bad_encoding = true;
    }
  }
  if (fields.size() > max_count || (max_head_bytes != 0 && head_bytes > max_head_bytes)) {
    m.verdict = HeadVerdict::kHeadersTooLarge;
  } else if (bad_name) {
    m.verdict = HeadVerdict::kBadHeaderName;
  } else if (lengths > 1 || encodings > 1 || (lengths == 1 && encodings == 1) || bad_length || bad_encoding ||
             expected_length) {
    m.verdict = HeadVerdict::kBadFraming;
  }
  m.chunked = encodings == 1 && !bad_encoding;
  m.has_length = lengths == 1;
  m.length = length;
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t max_count = size > 0 ? data[0] : 100;
  const size_t max_head_bytes = size > 1 ? static_cast<size_t>(data[1]) * 64 : 16384;
  const std::string_view text = input.substr(std::min<size_t>(size, 2));
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const size_t colon = line.find(':');
    fields.emplace_back(line.substr(0, colon), colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1));
    start = end + 1;
  }

  HttpHeadFields check, again;
  for (const auto& f : fields) {
    check.add(f.first, f.second);
    again.add(f.first, f.second);
  }
  // Rules 4-6 out of the way: no target, no body limit that applies (an upload).
  spore::HttpAdmissionLimits limits;
  limits.max_header_count = max_count;
  limits.max_head_bytes = max_head_bytes;
  limits.max_target_bytes = 1;
  limits.max_query_params = 0;
  spore::HttpHeadFacts facts;
  facts.head_bytes = size;
  facts.upload = true;
  facts.fields = &check;
  const HeadVerdict v = spore::admit_head(facts, limits);
  facts.fields = &again;
  const Model m = model_of(fields, max_count, size, max_head_bytes);
  if (v != m.verdict) std::abort();
  if (spore::admit_head(facts, limits) != v || again.content_length() != check.content_length()) std::abort();
  if (check.count() != fields.size()) std::abort();
  const bool sound_framing = check.framing_problem().is_null();
  if (v == HeadVerdict::kBadFraming && sound_framing) std::abort();
  if (v == HeadVerdict::kNone) {
    if (!sound_framing) std::abort();
    if (check.chunked() && check.has_content_length()) std::abort();
    if (check.chunked() != m.chunked || check.has_content_length() != m.has_length) std::abort();
    if (check.has_content_length() && check.content_length() != m.length) std::abort();
  }
  // Every field's value read as an Accept-Encoding (core/spore/http/http_text.h): deterministic,
  // blind to letter case and to OWS around the list, and an appended ",gzip" item always accepts.
  for (const auto& f : fields) {
    const bool accepts = spore::http_accepts_gzip(f.second);
    if (spore::http_accepts_gzip(f.second) != accepts) std::abort();
    if (spore::http_accepts_gzip(upper_of(f.second)) != accepts) std::abort();
    if (spore::http_accepts_gzip(" \t" + std::string(f.second) + "\t ") != accepts) std::abort();
    if (!spore::http_accepts_gzip(std::string(f.second) + ",gzip")) std::abort();
  }
  return 0;
}
