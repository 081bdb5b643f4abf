#include "spore/device/http_head_screen.h"

namespace spore {
namespace {

static_assert(SPORE_ESP_MAX_HEAD_BYTES < 65535, "head_bytes_ is 16 bits");
static_assert(SPORE_ESP_MAX_REQUEST_LINE_BYTES < 65535 && SPORE_ESP_MAX_HEADER_LINE_BYTES < 65535,
              "line_bytes_ is 16 bits");
static_assert(SPORE_ESP_MAX_HEADERS < 255 && SPORE_ESP_MAX_QUERY_PARAMS < 255, "counters are 8 bits");
static_assert(SPORE_ESP_MAX_QUERY_PARAMS >= 1, "a '?' starts one parameter");

// What newlib's isspace() is true for in the C locale, without the '\n' that ends a line: the
// bytes the library's String::trim() drops (esp8266 core WString.cpp:888-902).
bool is_trimmed(uint8_t c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

}  // namespace

HeadVerdict HttpHeadScreen::refuse(HeadRefusal why) {
  verdict_ = HeadVerdict::kRefused;
  refusal_ = why;
  return verdict_;
}

HeadVerdict HttpHeadScreen::feed(const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes && verdict_ == HeadVerdict::kReading; ++i) {
    const uint8_t c = data[i];
    if (head_bytes_ >= kMaxHeadBytes) return refuse(HeadRefusal::kHeadTooLarge);
    ++head_bytes_;
    // Bytes on which the library itself aborts the connection from inside its receive callback
    // (a NUL, a request line that is empty or no method): refused here first, so the library
    // never aborts in that callback (ESPAsyncTCP then answers lwIP ERR_OK for a freed pcb:
    // platform/esp8266/http_listener.cpp).
    if (c == 0) return refuse(HeadRefusal::kBadByte);
    if (c == '\n') {
      if (in_request_line_) {
        if (line_bytes_ == 0) return refuse(HeadRefusal::kBadRequestLine);
        in_request_line_ = false;
      } else if (!line_has_text_) {
        verdict_ = HeadVerdict::kPassed;  // the blank line: the library attaches a handler here
      }
      line_bytes_ = 0;
      line_has_text_ = false;
      continue;
    }
    ++line_bytes_;
    if (in_request_line_) {
      if (line_bytes_ == 1 && (c < 'A' || c > 'Z')) return refuse(HeadRefusal::kBadRequestLine);
      if (line_bytes_ > kMaxRequestLineBytes) return refuse(HeadRefusal::kRequestLineTooLong);
      // The library takes the query after a '?' in the target and splits it at every '&'
      // (WebRequest.cpp:296-312); counting from the line's first '?' can only count more.
      if (c == '?' && params_ == 0) {
        params_ = 1;
      } else if (c == '&' && params_ != 0) {
        if (++params_ > kMaxQueryParams) return refuse(HeadRefusal::kTooManyQueryParams);
      }
      continue;
    }
    if (line_bytes_ > kMaxHeaderLineBytes) return refuse(HeadRefusal::kHeaderLineTooLong);
    if (!line_has_text_ && !is_trimmed(c)) {
      line_has_text_ = true;  // a header line (the library makes an AsyncWebHeader of it)
      if (++headers_ > kMaxHeaders) return refuse(HeadRefusal::kTooManyHeaders);
    }
  }
  return verdict_;
}

}  // namespace spore
