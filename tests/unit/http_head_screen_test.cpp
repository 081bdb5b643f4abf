#include "spore/device/http_head_screen.h"

#include <gtest/gtest.h>

#include <string>

namespace spore {
namespace {

using Screen = HttpHeadScreen;

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// The verdict of `head` fed whole, checked against feeding it byte by byte and in 3-byte pieces.
HeadVerdict screen(const std::string& head, HeadRefusal* why = nullptr) {
  Screen whole;
  const HeadVerdict v = whole.feed(bytes(head), head.size());
  for (size_t piece : {size_t{1}, size_t{3}}) {
    Screen split;
    for (size_t i = 0; i < head.size(); i += piece) {
      split.feed(bytes(head) + i, std::min(piece, head.size() - i));
    }
    EXPECT_EQ(split.verdict(), v) << "piece " << piece;
    EXPECT_EQ(split.refusal(), whole.refusal()) << "piece " << piece;
    EXPECT_EQ(split.head_bytes(), whole.head_bytes()) << "piece " << piece;
  }
  if (why != nullptr) *why = whole.refusal();
  return v;
}

// A request line of exactly `size` bytes (CR included, LF not): "GET /xxx...x HTTP/1.1\r".
std::string request_line(size_t size) {
  const std::string fixed = "GET / HTTP/1.1\r";
  return "GET /" + std::string(size - fixed.size(), 'x') + " HTTP/1.1\r\n";
}

// A query of `n` parameters: "?p=1&p=1...".
std::string query(size_t n) {
  std::string q = "?";
  for (size_t i = 0; i < n; ++i) q += (i == 0 ? "p=1" : "&p=1");
  return q;
}

// A header line of exactly `size` bytes (CR included, LF not).
std::string header_line(size_t size) { return "X: " + std::string(size - 4, 'v') + "\r\n"; }

std::string headers(size_t n) {
  std::string h;
  for (size_t i = 0; i < n; ++i) h += "H: v\r\n";
  return h;
}

// A head built with `n` of something passes at limit - 1 and at limit, and is refused for `why`
// at limit + 1.
template <typename Build>
void expect_edge(Build build, size_t limit, HeadRefusal why) {
  HeadRefusal got = HeadRefusal::kNone;
  EXPECT_EQ(screen(build(limit - 1)), HeadVerdict::kPassed) << limit - 1;
  EXPECT_EQ(screen(build(limit)), HeadVerdict::kPassed) << limit;
  EXPECT_EQ(screen(build(limit + 1), &got), HeadVerdict::kRefused) << limit + 1;
  EXPECT_EQ(got, why);
}

TEST(HttpHeadScreenTest, PassesOrdinaryHeadsWithCrlfAndBareLf) {
  EXPECT_EQ(screen("GET /api/node/status HTTP/1.1\r\nHost: n\r\nAccept: */*\r\n\r\n"), HeadVerdict::kPassed);
  EXPECT_EQ(screen("GET /api/node/status HTTP/1.1\nHost: n\nAccept: */*\n\n"), HeadVerdict::kPassed);
  EXPECT_EQ(screen("GET / HTTP/1.0\r\n\r\n"), HeadVerdict::kPassed);
  EXPECT_EQ(screen("GET / HTTP/1.0\n\n"), HeadVerdict::kPassed);
}

TEST(HttpHeadScreenTest, WaitsForTheBlankLine) {
  EXPECT_EQ(screen("GET / HTTP/1.1\r\nHost: n\r\n"), HeadVerdict::kReading);
  EXPECT_EQ(screen("GET / HTTP/1.1\r\nHost: n\r\n\r"), HeadVerdict::kReading);
  EXPECT_EQ(screen("GET / HTTP/1.1"), HeadVerdict::kReading);
}

TEST(HttpHeadScreenTest, AWhiteSpaceLineEndsTheHeadAsTheLibraryTrimsIt) {
  // ESPAsyncWebServer trims each line (String::trim()): a line of blanks is the end of the head.
  EXPECT_EQ(screen("GET / HTTP/1.1\r\nHost: n\r\n \t\v\f\r\n"), HeadVerdict::kPassed);
  // A first line of blanks is the request line, not the end; the library would abort on it
  // inside its callback, so the screen refuses it first (BytesTheLibraryAbortsOnAreRefusedFirst).
  EXPECT_EQ(screen("\r\nHost: n\r\n"), HeadVerdict::kRefused);
}

TEST(HttpHeadScreenTest, RequestLineAtItsLimit) {
  expect_edge([](size_t n) { return request_line(n) + "\r\n"; }, Screen::kMaxRequestLineBytes,
              HeadRefusal::kRequestLineTooLong);
  // Refused as soon as it is too long, without waiting for its end.
  EXPECT_EQ(screen("GET /" + std::string(Screen::kMaxRequestLineBytes, 'x')), HeadVerdict::kRefused);
}

TEST(HttpHeadScreenTest, QueryParametersAtTheirLimit) {
  expect_edge([](size_t n) { return "GET /a" + query(n) + " HTTP/1.1\r\n\r\n"; }, Screen::kMaxQueryParams,
              HeadRefusal::kTooManyQueryParams);
  // The finding: a ~1.3 KB "a&a&a..." request. Refused within the first few parameters.
  std::string flood = "GET /?";
  for (int i = 0; i < 650; ++i) flood += "a&";
  Screen s;
  EXPECT_EQ(s.feed(bytes(flood), flood.size()), HeadVerdict::kRefused);
  EXPECT_EQ(s.refusal(), HeadRefusal::kTooManyQueryParams);
  EXPECT_EQ(s.head_bytes(), 6 + 2 * Screen::kMaxQueryParams);  // at the '&' that starts one too many
}

TEST(HttpHeadScreenTest, AmpersandsBeforeTheQueryAreNotParameters) {
  // The library makes no parameter of a path without '?'.
  EXPECT_EQ(screen("GET /a&b&c&d&e&f HTTP/1.1\r\n\r\n"), HeadVerdict::kPassed);
}

TEST(HttpHeadScreenTest, HeaderLinesAtTheirLimit) {
  expect_edge([](size_t n) { return "GET / HTTP/1.1\r\n" + headers(n) + "\r\n"; }, Screen::kMaxHeaders,
              HeadRefusal::kTooManyHeaders);
}

TEST(HttpHeadScreenTest, HeaderLineLengthAtItsLimit) {
  expect_edge([](size_t n) { return "GET / HTTP/1.1\r\n" + header_line(n) + "\r\n"; }, Screen::kMaxHeaderLineBytes,
              HeadRefusal::kHeaderLineTooLong);
  // One endless line (the library's _temp would grow until reserve() fails): refused at its limit.
  const std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(4000, 'v');
  Screen s;
  EXPECT_EQ(s.feed(bytes(endless), endless.size()), HeadVerdict::kRefused);
  EXPECT_EQ(s.head_bytes(), 16 + Screen::kMaxHeaderLineBytes + 1);
}

TEST(HttpHeadScreenTest, WholeHeadAtItsLimit) {
  // Lines of 500 bytes: under the line limit, three of them over the head limit.
  static_assert(Screen::kMaxHeaderLineBytes >= 500, "the filler lines must stay under the line limit");
  const std::string start = "GET / HTTP/1.1\r\n";
  std::string head = start;
  while (head.size() + 502 + 2 < Screen::kMaxHeadBytes) head += header_line(500);
  const size_t room = Screen::kMaxHeadBytes - head.size() - 2;  // bytes left for one more line + CRLF
  HeadRefusal why;
  EXPECT_EQ(screen(head + header_line(room - 1) + "\r\n"), HeadVerdict::kPassed);  // exactly at it
  EXPECT_EQ(screen(head + header_line(room - 2) + "\r\n"), HeadVerdict::kPassed);  // one byte under
  EXPECT_EQ(screen(head + header_line(room) + "\r\n", &why), HeadVerdict::kRefused);  // one byte over
  EXPECT_EQ(why, HeadRefusal::kHeadTooLarge);
  Screen exact;
  const std::string at_limit = head + header_line(room - 1) + "\r\n";
  ASSERT_EQ(at_limit.size(), Screen::kMaxHeadBytes);
  EXPECT_EQ(exact.feed(bytes(at_limit), at_limit.size()), HeadVerdict::kPassed);
}

TEST(HttpHeadScreenTest, TheBodyIsNeverCounted) {
  const std::string head = "POST /api/node/update HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
  Screen s;
  EXPECT_EQ(s.feed(bytes(head), head.size()), HeadVerdict::kPassed);
  // A body of '&', '\n' and endless lines changes nothing.
  const std::string body = std::string(5000, '&') + std::string(3000, '\n') + std::string(4000, 'x');
  EXPECT_EQ(s.feed(bytes(body), body.size()), HeadVerdict::kPassed);
  EXPECT_EQ(s.head_bytes(), head.size());
  // Also when the head and the body arrive in one piece.
  EXPECT_EQ(screen(head + body), HeadVerdict::kPassed);
}

// Review finding (issue 16, third review): the library aborts the connection inside its receive
// callback on a NUL, an empty request line or one without a method (WebRequest.cpp:127-131,
// 141-146, 986-995), and ESPAsyncTCP then tells lwIP ERR_OK for a freed pcb. The screen refuses
// those bytes first, so the library never sees them.
TEST(HttpHeadScreenTest, BytesTheLibraryAbortsOnAreRefusedFirst) {
  HeadRefusal why = HeadRefusal::kNone;
  EXPECT_EQ(screen(std::string("GET /\0x HTTP/1.1\r\n\r\n", 20), &why), HeadVerdict::kRefused);
  EXPECT_EQ(why, HeadRefusal::kBadByte);
  EXPECT_EQ(screen(std::string("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24), &why), HeadVerdict::kRefused);
  EXPECT_EQ(why, HeadRefusal::kBadByte);
  EXPECT_EQ(screen("\x16\x03\x01\x02\x00", &why), HeadVerdict::kRefused);  // a TLS ClientHello
  EXPECT_EQ(why, HeadRefusal::kBadRequestLine);
  EXPECT_EQ(screen("\r\nGET / HTTP/1.1\r\n\r\n", &why), HeadVerdict::kRefused);
  EXPECT_EQ(why, HeadRefusal::kBadRequestLine);
  EXPECT_EQ(screen("\nGET / HTTP/1.1\r\n\r\n", &why), HeadVerdict::kRefused);
  EXPECT_EQ(why, HeadRefusal::kBadRequestLine);
  EXPECT_EQ(screen("get / HTTP/1.1\r\n\r\n", &why), HeadVerdict::kRefused);
  EXPECT_EQ(why, HeadRefusal::kBadRequestLine);
  // Every method SPORE serves starts with a capital letter.
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"}) {
    EXPECT_EQ(screen(std::string(m) + " / HTTP/1.1\r\n\r\n"), HeadVerdict::kPassed) << m;
  }
}

TEST(HttpHeadScreenTest, AVerdictNeverRevertsUntilReset) {
  Screen s;
  const std::string bad = "GET /" + std::string(Screen::kMaxRequestLineBytes + 1, 'x');
  EXPECT_EQ(s.feed(bytes(bad), bad.size()), HeadVerdict::kRefused);
  const std::string good = "\r\n\r\n";
  EXPECT_EQ(s.feed(bytes(good), good.size()), HeadVerdict::kRefused);
  s.reset();
  EXPECT_EQ(s.verdict(), HeadVerdict::kReading);
  EXPECT_EQ(s.refusal(), HeadRefusal::kNone);
  const std::string ok = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(s.feed(bytes(ok), ok.size()), HeadVerdict::kPassed);
}

}  // namespace
}  // namespace spore
