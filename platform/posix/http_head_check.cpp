#include "posix/http_head_check.h"

namespace spore::posix {

namespace {

constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// 1*DIGIT within 64 bits.
bool parse_length(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

}  // namespace

bool header_name_is(std::string_view name, std::string_view lower_name) {
  if (name.size() != lower_name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (lower(name[i]) != lower_name[i]) return false;
  }
  return true;
}

void HeadCheck::add(std::string_view name, std::string_view value) {
  ++header_count_;
  if (name.empty()) bad_name_ = true;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) bad_name_ = true;
  }
  if (header_name_is(name, "content-length")) {
    ++content_lengths_;
    uint64_t v = 0;
    if (!parse_length(trim_ows(value), &v)) bad_content_length_ = true;
    content_length_ = v;
  } else if (header_name_is(name, "transfer-encoding")) {
    ++transfer_encodings_;
    if (!header_name_is(trim_ows(value), "chunked")) bad_transfer_encoding_ = true;
  }
}

HeadVerdict HeadCheck::verdict(size_t head_bytes, size_t max_head_bytes) const {
  if (header_count_ > max_header_count_) return HeadVerdict::kTooManyHeaders;
  if (head_bytes > max_head_bytes) return HeadVerdict::kTooLarge;
  if (bad_name_) return HeadVerdict::kBadHeader;
  if (*framing_problem() != '\0') return HeadVerdict::kBadFraming;
  return HeadVerdict::kOk;
}

const char* HeadCheck::framing_problem() const {
  if (content_lengths_ > 1) return "The request has more than one Content-Length header.";
  if (transfer_encodings_ > 1) return "The request has more than one Transfer-Encoding header.";
  if (content_lengths_ == 1 && transfer_encodings_ == 1) {
    return "The request has both Content-Length and Transfer-Encoding; send one of them.";
  }
  if (bad_content_length_) return "Content-Length must be a decimal number of bytes.";
  if (bad_transfer_encoding_) return "The only Transfer-Encoding accepted is chunked.";
  return "";
}

}  // namespace spore::posix
