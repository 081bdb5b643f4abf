// MultipartParser: boundary extraction, the firmware part streamed out under any chunking,
// delimiter near-misses across chunk edges, and every malformed body.

#include "spore/ota/multipart.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "flash_string_util.h"
#include "ota_test_support.h"

namespace spore {
namespace {

struct Part {
  std::string name;
  std::string filename;  // empty = no filename parameter
  std::string content;
};

/// A body as curl -F builds it.
std::string make_body(const std::string& boundary, const std::vector<Part>& parts, const std::string& preamble = "",
                      const std::string& epilogue = "") {
  std::string b = preamble;
  for (const Part& p : parts) {
    b += "--" + boundary + "\r\n";
    b += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) b += "; filename=\"" + p.filename + "\"";
    b += "\r\n";
    if (!p.filename.empty()) b += "Content-Type: application/octet-stream\r\n";
    b += "\r\n" + p.content + "\r\n";
  }
  b += "--" + boundary + "--\r\n" + epilogue;
  return b;
}

class Collector {
 public:
  bool sink(const uint8_t* data, size_t size) {
    ++calls;
    out.append(reinterpret_cast<const char*>(data), size);
    return refuse_after == 0 || out.size() < refuse_after;
  }
  MultipartParser::Sink delegate() { return MultipartParser::Sink::bind<Collector, &Collector::sink>(this); }
  std::string out;
  size_t calls = 0;
  size_t refuse_after = 0;
};

struct Parsed {
  bool begun = false;
  bool fed = false;
  bool finished = false;
  std::string part;
  std::string error;
};

Parsed parse(const std::string& content_type, const std::string& body, const std::vector<size_t>& plan) {
  Collector c;
  MultipartParser p(c.delegate());
  Parsed r;
  r.begun = p.begin(content_type);
  if (!r.begun) {
    r.error = to_std_string(p.error());
    return r;
  }
  size_t off = 0;
  r.fed = true;
  for (size_t n : plan) {
    if (!p.feed(reinterpret_cast<const uint8_t*>(body.data()) + off, n)) {
      r.fed = false;
      break;
    }
    off += n;
  }
  r.finished = r.fed && p.finish();
  r.part = c.out;
  EXPECT_EQ(p.part_bytes(), c.out.size());
  r.error = to_std_string(p.error());
  return r;
}
Parsed parse(const std::string& content_type, const std::string& body, size_t chunk = 0) {
  return parse(content_type, body,
               testing::chunk_plan(body.size(), chunk == 0 ? std::max<size_t>(body.size(), 1) : chunk));
}

const std::string kBoundary = "------------------------d74496d66958873e";
const std::string kType = "multipart/form-data; boundary=" + kBoundary;

std::string binary(size_t size, uint32_t seed) {
  const auto b = testing::make_image(size, seed);
  return std::string(b.begin(), b.end());
}

// ---- begin() -------------------------------------------------------------------------------------

TEST(MultipartBeginTest, AcceptsBoundaryForms) {
  MultipartParser p;
  EXPECT_TRUE(p.begin("multipart/form-data; boundary=abc"));
  EXPECT_TRUE(p.begin("Multipart/Form-Data;boundary=abc"));
  EXPECT_TRUE(p.begin("multipart/form-data; charset=utf-8; boundary=\"a b:c?=d\""));
  EXPECT_TRUE(p.begin("multipart/form-data; BOUNDARY=----WebKitFormBoundary7MA4YWxkTrZu0gW"));
  EXPECT_TRUE(p.begin("multipart/form-data; boundary=" + std::string(70, 'x')));
  EXPECT_TRUE(p.begin("  multipart/form-data ; boundary=abc ; foo=bar"));
  EXPECT_TRUE(p.error().is_null());
  EXPECT_FALSE(p.failed());
}

TEST(MultipartBeginTest, RefusesBadContentTypes) {
  const std::vector<std::string> bad = {
      "",
      "application/octet-stream",
      "multipart/mixed; boundary=abc",
      "multipart/form-data",
      "multipart/form-data; boundary=",
      "multipart/form-data; boundary=\"\"",
      "multipart/form-data; boundary=\"abc",
      "multipart/form-data; boundary=" + std::string(71, 'x'),
      "multipart/form-data; boundary=ab\x01"
      "c",
      "multipart/form-data; boundary=a\\bc",
      "multipart/form-data; boundary=\"abc \"",
      "multipart/form-data; boundary=ab\"c",
  };
  for (const std::string& ct : bad) {
    SCOPED_TRACE(ct);
    MultipartParser p;
    EXPECT_FALSE(p.begin(ct));
    EXPECT_TRUE(p.failed());
    EXPECT_NE(to_std_string(p.error()), "");
    const uint8_t x = 'x';
    EXPECT_FALSE(p.feed(&x, 1));
    EXPECT_FALSE(p.finish());
  }
}

TEST(MultipartBeginTest, FeedWithoutBeginFails) {
  MultipartParser p;
  const uint8_t x = 'x';
  EXPECT_FALSE(p.feed(&x, 1));
  EXPECT_TRUE(p.failed());
}

// ---- good bodies -------------------------------------------------------------------------------

TEST(MultipartTest, CurlStyleFirmwareInEveryChunking) {
  const std::string image = binary(20000, 3);
  const std::string body = make_body(kBoundary, {{"firmware", "spore.bin", image}});
  for (const auto& [name, plan] : testing::all_plans(body.size())) {
    SCOPED_TRACE(name);
    const Parsed r = parse(kType, body, plan);
    ASSERT_TRUE(r.finished) << r.error;
    EXPECT_EQ(r.part, image);
  }
}

TEST(MultipartTest, OtherPartsPreambleAndEpilogueAreIgnored) {
  const std::string image = binary(5000, 4);
  const std::string body =
      make_body(kBoundary,
                {{"note", "", "hello\r\n--not-the-boundary"},
                 {"filesystem", "fs.bin", binary(3000, 9)},
                 {"firmware", "spore.bin", image},
                 {"after", "x.txt", "tail"}},
                "This is the preamble.\r\n", "This is the epilogue, even with --" + kBoundary + " in it.");
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}, size_t{0}}) {
    SCOPED_TRACE(chunk);
    const Parsed r = parse(kType, body, chunk);
    ASSERT_TRUE(r.finished) << r.error;
    EXPECT_EQ(r.part, image);
  }
}

TEST(MultipartTest, EmptyFirmwarePartIsAPart) {
  const Parsed r = parse(kType, make_body(kBoundary, {{"firmware", "spore.bin", ""}}));
  EXPECT_TRUE(r.finished) << r.error;
  EXPECT_EQ(r.part, "");
}

TEST(MultipartTest, ToleratedVariations) {
  // Transport padding after boundaries, LF-only header lines, token (unquoted) name, header case.
  const std::string body =
      "--b1 \t\r\ncontent-disposition: FORM-DATA; filename=\"a;name=x\"; NAME=firmware\n\nDATA"
      "\r\n--b1\t\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nzz\r\n--b1--";
  const Parsed r = parse("multipart/form-data; boundary=b1", body, 1);
  EXPECT_TRUE(r.finished) << r.error;
  EXPECT_EQ(r.part, "DATA");
}

TEST(MultipartTest, NameMustMatchExactly) {
  for (const std::string& disposition :
       {std::string("form-data; name=\"Firmware\""), std::string("form-data; name=\"firmware2\""),
        std::string("form-data; filename=\"firmware\""), std::string("form-data; name=\"firm\\\"ware\""),
        std::string("attachment; name=\"firmware\""), std::string("form-data; name=\"firmware")}) {
    SCOPED_TRACE(disposition);
    const std::string body = "--b\r\nContent-Disposition: " + disposition + "\r\n\r\nDATA\r\n--b--\r\n";
    const Parsed r = parse("multipart/form-data; boundary=b", body);
    EXPECT_FALSE(r.finished);
    EXPECT_EQ(r.part, "");
    EXPECT_NE(r.error.find("firmware"), std::string::npos) << r.error;
  }
  // Escaped quotes inside a quoted name are unescaped before comparing.
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"fi\\rmware\"\r\n\r\nDATA\r\n--b--\r\n";
  EXPECT_TRUE(parse("multipart/form-data; boundary=b", body).finished);
}

TEST(MultipartTest, ContentFullOfDelimiterNearMisses) {
  // Every prefix of the delimiter, and the boundary without its CRLF, inside the data.
  const std::string b = "xyz";
  std::string content;
  const std::string delim = "\r\n--" + b;
  for (size_t i = 1; i < delim.size(); ++i) content += delim.substr(0, i) + "Q";
  content += "--xyz\r\n--xy\r\r\n\r\n-\r\n--x" + delim.substr(0, delim.size() - 1);
  const std::string body = make_body(b, {{"firmware", "f.bin", content}});
  for (const auto& [name, plan] : testing::all_plans(body.size())) {
    SCOPED_TRACE(name);
    const Parsed r = parse("multipart/form-data; boundary=" + b, body, plan);
    ASSERT_TRUE(r.finished) << r.error;
    EXPECT_EQ(r.part, content);
  }
}

TEST(MultipartTest, RandomContentSelfOverlappingBoundaries) {
  // Small alphabets make partial delimiter matches (and their release as data) frequent.
  std::mt19937 rng(42);
  const char alphabet[] = {'\r', '\n', '-', 'a', 'b'};
  int checked = 0;
  for (int round = 0; round < 400; ++round) {
    std::string boundary;
    const size_t blen = 1 + rng() % 4;
    for (size_t i = 0; i < blen; ++i) boundary += "-ab"[rng() % 3];
    std::string content;
    const size_t clen = rng() % 200;
    for (size_t i = 0; i < clen; ++i) content += alphabet[rng() % sizeof alphabet];
    if (content.find("\r\n--" + boundary) != std::string::npos) continue;  // not a legal body
    const std::string body = make_body(boundary, {{"x", "", "a\r\n-"}, {"firmware", "f", content}, {"y", "", "-"}});
    ++checked;
    for (uint32_t seed = 0; seed < 4; ++seed) {
      const Parsed r = parse("multipart/form-data; boundary=\"" + boundary + "\"", body,
                             testing::random_plan(body.size(), seed + 1000u * round, 9));
      ASSERT_TRUE(r.finished) << "boundary '" << boundary << "' " << r.error;
      ASSERT_EQ(r.part, content) << "boundary '" << boundary << "'";
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(MultipartTest, DataIsNotCopiedByteByByte) {
  // Slices of the caller's chunk go to the sink: a 20 KB part in one chunk is one call or a few
  // (one more per CR in the data).
  const std::string image(20000, 'A');
  const std::string body = make_body(kBoundary, {{"firmware", "spore.bin", image}});
  Collector c;
  MultipartParser p(c.delegate());
  ASSERT_TRUE(p.begin(kType));
  ASSERT_TRUE(p.feed(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(p.finish());
  EXPECT_EQ(c.out, image);
  EXPECT_LE(c.calls, 2u);
}

// ---- broken bodies -------------------------------------------------------------------------------

TEST(MultipartTest, NoClosingBoundary) {
  std::string body = make_body(kBoundary, {{"firmware", "spore.bin", binary(3000, 5)}});
  body.resize(body.size() - (kBoundary.size() + 6));  // cut "\r\n--" + boundary + "--\r\n" partly
  for (size_t chunk : {size_t{1}, size_t{0}}) {
    const Parsed r = parse(kType, body, chunk);
    EXPECT_TRUE(r.fed);
    EXPECT_FALSE(r.finished);
    EXPECT_NE(r.error.find("closing boundary"), std::string::npos) << r.error;
  }
}

TEST(MultipartTest, MissingFirmwarePart) {
  const Parsed r = parse(kType, make_body(kBoundary, {{"image", "spore.bin", "DATA"}}));
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.part, "");
  EXPECT_NE(r.error.find("no part named \"firmware\""), std::string::npos) << r.error;
}

TEST(MultipartTest, TwoFirmwarePartsAreRefused) {
  const Parsed r = parse(kType, make_body(kBoundary, {{"firmware", "a", "ONE"}, {"firmware", "b", "TWO"}}));
  EXPECT_FALSE(r.fed);
  EXPECT_EQ(r.part, "ONE");
  EXPECT_NE(r.error.find("more than one"), std::string::npos);
}

TEST(MultipartTest, WrongBoundaryInBody) {
  const Parsed r = parse(kType, make_body("other-boundary", {{"firmware", "a", "DATA"}}));
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.part, "");
  EXPECT_NE(r.error.find("no multipart boundary"), std::string::npos) << r.error;
}

TEST(MultipartTest, BoundaryFollowedByGarbage) {
  for (const std::string& after :
       {std::string("X\r\n"), std::string("-X"), std::string(" x\r\n"), std::string("\rX")}) {
    SCOPED_TRACE(after);
    const std::string body = "--b" + after + "Content-Disposition: form-data; name=\"firmware\"\r\n\r\nD\r\n--b--";
    const Parsed r = parse("multipart/form-data; boundary=b", body, 1);
    EXPECT_FALSE(r.fed);
    EXPECT_FALSE(r.finished);
  }
}

TEST(MultipartTest, OversizedPartHeaders) {
  const std::string big(SPORE_MULTIPART_MAX_HEADER_BYTES, 'h');
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"firmware\"\r\nX-Big: " + big + "\r\n\r\nDATA\r\n--b--\r\n";
  for (size_t chunk : {size_t{1}, size_t{100}, size_t{0}}) {
    const Parsed r = parse("multipart/form-data; boundary=b", body, chunk);
    EXPECT_FALSE(r.fed);
    EXPECT_EQ(r.part, "");
    EXPECT_NE(r.error.find("headers are longer"), std::string::npos) << r.error;
  }
  // Headers just within the limit, with one line longer than the kept line buffer, are fine.
  const std::string fits = "--b\r\nContent-Disposition: form-data; name=\"firmware\"; filename=\"" +
                           std::string(500, 'f') + "\"\r\n\r\nDATA\r\n--b--\r\n";
  const Parsed ok = parse("multipart/form-data; boundary=b", fits, 3);
  EXPECT_TRUE(ok.finished) << ok.error;
  EXPECT_EQ(ok.part, "DATA");
}

TEST(MultipartTest, HeadersNeverEnd) {
  const Parsed r =
      parse("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"firmware\"\r\n");
  EXPECT_TRUE(r.fed);
  EXPECT_FALSE(r.finished);
}

TEST(MultipartTest, SinkRefusalStopsTheParse) {
  const std::string body = make_body(kBoundary, {{"firmware", "spore.bin", binary(5000, 8)}});
  Collector c;
  c.refuse_after = 1000;
  MultipartParser p(c.delegate());
  ASSERT_TRUE(p.begin(kType));
  bool fed = true;
  for (size_t off = 0; off < body.size() && fed; off += 100) {
    fed = p.feed(reinterpret_cast<const uint8_t*>(body.data()) + off, std::min<size_t>(100, body.size() - off));
  }
  EXPECT_FALSE(fed);
  EXPECT_TRUE(p.failed());
  EXPECT_NE(to_std_string(p.error()).find("refused"), std::string::npos);
  EXPECT_FALSE(p.feed(reinterpret_cast<const uint8_t*>("x"), 1));
  EXPECT_FALSE(p.finish());
}

TEST(MultipartTest, OtherPartName) {
  MultipartParser p;
  ASSERT_TRUE(p.begin("multipart/form-data; boundary=b", "filesystem"));
  const std::string body = make_body("b", {{"firmware", "", "A"}, {"filesystem", "", "B"}});
  ASSERT_TRUE(p.feed(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  EXPECT_TRUE(p.finish());
  EXPECT_EQ(p.part_bytes(), 1u);
}

}  // namespace
}  // namespace spore
