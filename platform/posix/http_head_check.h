#pragma once
/// @file http_head_check.h
/// The checks spored makes on a request head before it reads any body byte: the header-field
/// count, the head's size, and the body framing (RFC 9112 §6). libmicrohttpd parses the head;
/// this decides whether SPORE accepts what it parsed.
///
/// Framing is accepted only when it is unambiguous: at most one Content-Length field, its value
/// 1*DIGIT that fits 64 bits; at most one Transfer-Encoding field, its value exactly `chunked`
/// (case-insensitive, surrounding spaces and tabs ignored); never both. Everything else is
/// kBadFraming: two Content-Length fields (equal or not), a list or sign in Content-Length,
/// Content-Length together with Transfer-Encoding (the request-smuggling pair), any other transfer
/// coding (libmicrohttpd 0.9.75 would read such a body until the connection closes). A field name
/// holding a space, a tab or a control character is kBadHeader (a `Content-Length :` field that
/// a parser ignores and a proxy may not is how such names are abused).
///
/// Pure and allocation-free: add() each field as received, then verdict(). Fuzzed by
/// tests/fuzz/http_head_check_fuzz.cpp against a reference model.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spore::posix {

enum class HeadVerdict : uint8_t {
  kOk = 0,
  kTooManyHeaders,  ///< more fields than the limit: 431
  kTooLarge,        ///< the head (request line + fields) is over its byte limit: 431
  kBadHeader,       ///< a field name with a space, tab or control character: 400
  kBadFraming,      ///< ambiguous or unsupported body framing: 400
};

class HeadCheck {
 public:
  explicit HeadCheck(size_t max_header_count) : max_header_count_(max_header_count) {}

  /// One header field of the request, name and value as received (libmicrohttpd has removed the
  /// spaces after the colon).
  void add(std::string_view name, std::string_view value);

  /// The verdict for the fields added so far and a head of `head_bytes` bytes; the first failing
  /// check in this order: count, size, names, framing.
  HeadVerdict verdict(size_t head_bytes, size_t max_head_bytes) const;

  /// After kOk: the body is chunked (then has_content_length() is false).
  bool chunked() const { return transfer_encodings_ == 1 && !bad_transfer_encoding_; }
  /// After kOk: a Content-Length was sent; content_length() is its value.
  bool has_content_length() const { return content_lengths_ == 1; }
  uint64_t content_length() const { return content_length_; }
  /// Why the framing was refused (a sentence for the JSON error); "" when it was not.
  const char* framing_problem() const;
  size_t header_count() const { return header_count_; }

 private:
  size_t max_header_count_;
  size_t header_count_ = 0;
  size_t content_lengths_ = 0;
  size_t transfer_encodings_ = 0;
  uint64_t content_length_ = 0;
  bool bad_content_length_ = false;
  bool bad_transfer_encoding_ = false;
  bool bad_name_ = false;
};

/// True for `name` equal to `lower` ignoring ASCII case (`lower` is lower-case).
bool header_name_is(std::string_view name, std::string_view lower);

}  // namespace spore::posix
