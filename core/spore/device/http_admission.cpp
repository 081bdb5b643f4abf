#include "spore/device/http_admission.h"

#include "spore/base/decimal.h"
#include "spore/http/http_text.h"

namespace spore {

namespace {

/// 1*DIGIT within 64 bits.
bool parse_length(std::string_view s, uint64_t* out) { return parse_decimal(s, UINT64_MAX, out); }

// Views built from pointers, not substr(): its range check drags libstdc++'s exception message
// into the ESP8266's DRAM (as in http_target.cpp).
bool has_prefix_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii_iequals(std::string_view(s.data(), prefix.size()), prefix);
}

/// Bodies ESPAsyncWebServer treats as form fields (WebRequest.cpp:199-212: urlencoded always,
/// text/plain when it starts like "name="): with trivial handlers it drops them unseen.
bool is_form_body(std::string_view content_type) {
  const std::string_view media = http_media_type(content_type);
  return ascii_iequals(media, "application/x-www-form-urlencoded") || ascii_iequals(media, "text/plain");
}

bool head_too_large(const HttpHeadFacts& head, const HttpAdmissionLimits& limits) {
  const size_t fields = head.fields != nullptr ? head.fields->count() : 0;
  return fields > limits.max_header_count || (limits.max_head_bytes != 0 && head.head_bytes > limits.max_head_bytes);
}

}  // namespace

bool header_name_is(std::string_view name, std::string_view lower) { return ascii_iequals(name, lower); }

void HttpHeadFields::add(std::string_view name, std::string_view value) {
  ++count_;
  if (name.empty()) bad_name_ = true;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) bad_name_ = true;
  }
  if (header_name_is(name, "x-expected-entity-length")) {
    expected_length_ = true;  // ESPAsyncWebServer takes it as the body's length, libmicrohttpd ignores it
  } else if (header_name_is(name, "content-length")) {
    if (content_lengths_ < 2) ++content_lengths_;
    uint64_t v = 0;
    if (!parse_length(trim_ows(value), &v)) bad_content_length_ = true;
    content_length_ = v;
  } else if (header_name_is(name, "transfer-encoding")) {
    if (transfer_encodings_ < 2) ++transfer_encodings_;
    if (!header_name_is(trim_ows(value), "chunked")) bad_transfer_encoding_ = true;
  }
}

FlashStr HttpHeadFields::framing_problem() const {
  // One flash array (DRAM is the ESP8266's scarcest memory), indexed by the first rule broken.
  static constexpr char kProblems[] SPORE_FLASH =
      "The request has more than one Content-Length header.\0"
      "The request has more than one Transfer-Encoding header.\0"
      "The request has both Content-Length and Transfer-Encoding; send one of them.\0"
      "Content-Length must be a decimal number of bytes.\0"
      "The only Transfer-Encoding accepted is chunked.\0"
      "X-Expected-Entity-Length is not accepted; send Content-Length.\0";
  constexpr size_t kCount = flash_list_count(kProblems, sizeof kProblems);
  static_assert(kCount == 6, "one sentence per framing rule");
  const bool broken[kCount] = {
      content_lengths_ > 1, transfer_encodings_ > 1, content_lengths_ == 1 && transfer_encodings_ == 1,
      bad_content_length_,  bad_transfer_encoding_,  expected_length_};
  for (size_t i = 0; i < kCount; ++i) {
    if (broken[i]) return flash_nth(kProblems, kCount, i);
  }
  return FlashStr();
}

std::string_view http_media_type(std::string_view content_type) {
  size_t end = 0;
  while (end < content_type.size() && content_type[end] != ';') ++end;
  return trim_ows(std::string_view(content_type.data(), end));
}

bool is_multipart(std::string_view content_type) { return has_prefix_ci(content_type, "multipart/"); }

HttpRefusal admit_head(const HttpHeadFacts& head, const HttpAdmissionLimits& limits) {
  if (head_too_large(head, limits)) return HttpRefusal::kHeadersTooLarge;
  if (head.fields != nullptr && head.fields->bad_name()) return HttpRefusal::kBadHeaderName;
  if (head.fields != nullptr && !head.fields->framing_problem().is_null()) return HttpRefusal::kBadFraming;
  if (head.target_bytes >= limits.max_target_bytes || head.query_params > limits.max_query_params) {
    return HttpRefusal::kUriTooLong;
  }
  if (limits.refuse_form_bodies && head.has_body &&
      (is_form_body(head.content_type) || (is_multipart(head.content_type) && !head.upload))) {
    return HttpRefusal::kUnsupportedMediaType;
  }
  if (!head.upload && head.content_length > limits.max_body_bytes) return HttpRefusal::kPayloadTooLarge;
  return HttpRefusal::kNone;
}

int http_refusal_status(HttpRefusal refusal) {
  switch (refusal) {
    case HttpRefusal::kNone: return 0;
    case HttpRefusal::kHeadersTooLarge: return 431;
    case HttpRefusal::kBadHeaderName:
    case HttpRefusal::kBadFraming: return 400;
    case HttpRefusal::kUriTooLong: return 414;
    case HttpRefusal::kUnsupportedMediaType: return 415;
    case HttpRefusal::kPayloadTooLarge: return 413;
  }
  return 0;
}

FlashStr http_refusal_code(HttpRefusal refusal) {
  static constexpr char kCodes[] SPORE_FLASH =
      "\0headers_too_large\0bad_request\0bad_framing\0uri_too_long\0unsupported_media_type\0payload_too_large\0";
  constexpr size_t kCount = flash_list_count(kCodes, sizeof kCodes);
  static_assert(kCount == static_cast<size_t>(HttpRefusal::kPayloadTooLarge) + 1, "one code per refusal");
  return flash_nth(kCodes, kCount, static_cast<size_t>(refusal));
}

namespace {

/// Lexicographic: address connections, aged, state, age; the greatest is closed first.
bool closes_after(const EvictionCandidate& a, const EvictionCandidate& b, uint32_t min_age_ms) {
  if (a.address_connections != b.address_connections) return a.address_connections < b.address_connections;
  const bool a_aged = a.age_ms >= min_age_ms;
  const bool b_aged = b.age_ms >= min_age_ms;
  if (a_aged != b_aged) return b_aged;
  if (a.state != b.state) return a.state < b.state;
  return a.age_ms < b.age_ms;
}

size_t heads_from(const HeadScreenSlot* screens, size_t count, uint32_t address) {
  size_t n = 0;
  for (size_t i = 0; i < count; ++i) n += screens[i].used && screens[i].address == address ? 1 : 0;
  return n;
}

}  // namespace

size_t choose_eviction(const EvictionCandidate* candidates, size_t count, uint32_t min_age_ms) {
  size_t best = count;
  for (size_t i = 0; i < count; ++i) {
    if (best == count || closes_after(candidates[best], candidates[i], min_age_ms)) best = i;
  }
  return best;
}

size_t place_head(const HeadScreenSlot* screens, size_t count, uint32_t address, uint32_t now_ms, uint32_t min_age_ms,
                  const HttpAdmissionLimits& limits, bool* evict) {
  *evict = false;
  size_t in_use = 0;
  size_t free = count;
  for (size_t i = 0; i < count; ++i) {
    if (screens[i].used) {
      ++in_use;
    } else if (free == count) {
      free = i;
    }
  }
  const ConnectionAdmission admission = admit_connection(heads_from(screens, count, address), in_use, limits);
  if (admission == ConnectionAdmission::kAddressFull) return count;
  if (free != count && admission == ConnectionAdmission::kAccept) return free;
  // Full (by the screens or by the limit): choose_eviction() over the used ones, built in turn.
  size_t best = count;
  EvictionCandidate best_candidate{};
  for (size_t i = 0; i < count; ++i) {
    if (!screens[i].used) continue;
    const EvictionCandidate c{EvictionCandidate::State::kHead, now_ms - screens[i].accepted_ms,
                              heads_from(screens, count, screens[i].address)};
    if (best == count || closes_after(best_candidate, c, min_age_ms)) {
      best = i;
      best_candidate = c;
    }
  }
  *evict = best != count;
  return best;
}

}  // namespace spore
