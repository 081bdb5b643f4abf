// Tests for spore::JsonWriter / BufferJsonOutput: every output is parsed back with nlohmann::json,
// which rejects invalid JSON and ill-formed UTF-8, so "it parses" is a real validity check.

#include "spore/base/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace spore {
namespace {

using nlohmann::json;

/// Collects output in a std::string (test side only) and counts write calls.
class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override {
    text.append(data, size_bytes);
    ++writes;
  }
  std::string text;
  int writes = 0;
};

json parse(const std::string& text) { return json::parse(text, nullptr, /*allow_exceptions=*/false); }

/// The JSON text of one string value.
std::string string_json(std::string_view s) {
  StringOutput out;
  JsonWriter w(out);
  w.value(s);
  EXPECT_TRUE(w.complete());
  return out.text;
}

/// Encodes a code point as UTF-8 (test-side reference encoder).
std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

const std::string kFffd = "\xEF\xBF\xBD";

// ---- structure ----------------------------------------------------------------------------------

TEST(JsonWriterTest, EmptyContainers) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object().key("a").begin_array().end_array().key("o").begin_object().end_object().end_object();
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(out.text, R"({"a":[],"o":{}})");
}

TEST(JsonWriterTest, SeparatorsAndNesting) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object();
  w.field("hostname", "esp_123456").field("freeHeap", 12345).field("ok", true);
  w.key("list")
      .begin_array()
      .value(1)
      .value("two")
      .null_value()
      .begin_object()
      .field("x", false)
      .end_object();
  w.begin_array().end_array().end_array();
  w.end_object();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text,
            R"({"hostname":"esp_123456","freeHeap":12345,"ok":true,"list":[1,"two",null,{"x":false},[]]})");
  json j = parse(out.text);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["list"][3]["x"], false);
}

TEST(JsonWriterTest, TopLevelScalarIsAComplete) {
  StringOutput out;
  JsonWriter w(out);
  EXPECT_FALSE(w.complete());  // nothing written yet
  w.value(7);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(out.text, "7");
}

TEST(JsonWriterTest, NestingUpToMaxDepthIsAccepted) {
  StringOutput out;
  JsonWriter w(out);
  for (int i = 0; i < SPORE_JSON_MAX_DEPTH; ++i) {
    if (i % 2 == 0) {
      w.begin_array();
    } else {
      w.begin_object().key("k");
    }
  }
  w.value(1);
  for (int i = SPORE_JSON_MAX_DEPTH - 1; i >= 0; --i) {
    if (i % 2 == 0) {
      w.end_array();
    } else {
      w.end_object();
    }
  }
  EXPECT_TRUE(w.complete());
  EXPECT_FALSE(parse(out.text).is_discarded());
}

TEST(JsonWriterTest, NestingBeyondMaxDepthFailsAndStopsWriting) {
  StringOutput out;
  JsonWriter w(out);
  for (int i = 0; i < SPORE_JSON_MAX_DEPTH; ++i) w.begin_array();
  EXPECT_TRUE(w.ok());
  w.value(1);  // element, so a deeper container would need a comma first
  std::string before = out.text;
  w.begin_array();
  EXPECT_FALSE(w.ok());
  EXPECT_FALSE(w.complete());
  EXPECT_EQ(out.text, before);  // no stray comma or bracket
  for (int i = 0; i < SPORE_JSON_MAX_DEPTH; ++i) w.end_array();
  EXPECT_EQ(out.text, before);
}

// ---- misuse -------------------------------------------------------------------------------------

/// Each case misuses the writer once; afterwards ok() is false and nothing more is written.
struct MisuseCase {
  const char* name;
  void (*misuse)(JsonWriter&);
};

const MisuseCase kMisuses[] = {
    {"value without key in object", [](JsonWriter& w) { w.begin_object().value(1); }},
    {"container without key in object", [](JsonWriter& w) { w.begin_object().begin_array(); }},
    {"key in array", [](JsonWriter& w) { w.begin_array().key("k"); }},
    {"key at top level", [](JsonWriter& w) { w.key("k"); }},
    {"two keys in a row", [](JsonWriter& w) { w.begin_object().key("a").key("b"); }},
    {"end_object after dangling key", [](JsonWriter& w) { w.begin_object().key("a").end_object(); }},
    {"end_object closing an array", [](JsonWriter& w) { w.begin_array().end_object(); }},
    {"end_array closing an object", [](JsonWriter& w) { w.begin_object().end_array(); }},
    {"end_object without begin", [](JsonWriter& w) { w.end_object(); }},
    {"end_array without begin", [](JsonWriter& w) { w.end_array(); }},
    {"extra end after complete document", [](JsonWriter& w) { w.begin_array().end_array().end_array(); }},
    {"second top-level value", [](JsonWriter& w) { w.value(1).value(2); }},
    {"second top-level container", [](JsonWriter& w) { w.begin_object().end_object().begin_object(); }},
    {"field at top level", [](JsonWriter& w) { w.field("a", 1); }},
};

TEST(JsonWriterTest, MisuseSetsNotOkAndWritesNothingMore) {
  for (const MisuseCase& c : kMisuses) {
    SCOPED_TRACE(c.name);
    StringOutput out;
    JsonWriter w(out);
    c.misuse(w);
    EXPECT_FALSE(w.ok());
    EXPECT_FALSE(w.complete());
    std::string frozen = out.text;
    // Whatever follows, including calls that would otherwise be valid, writes nothing.
    w.begin_object().key("x").value("y").value(1).value(2.5).value(true).null_value().end_object();
    w.begin_array().end_array().end_object().end_array();
    EXPECT_EQ(out.text, frozen);
    EXPECT_FALSE(w.ok());
  }
}

TEST(JsonWriterTest, UnclosedContainerIsOkButNotComplete) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object().field("a", 1);
  EXPECT_TRUE(w.ok());
  EXPECT_FALSE(w.complete());
  w.end_object();
  EXPECT_TRUE(w.complete());
}

// ---- integers -----------------------------------------------------------------------------------

TEST(JsonWriterTest, IntegerLimits) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_array()
      .value(int64_t{0})
      .value(std::numeric_limits<int32_t>::min())
      .value(std::numeric_limits<int32_t>::max())
      .value(std::numeric_limits<uint32_t>::max())
      .value(std::numeric_limits<int64_t>::min())
      .value(std::numeric_limits<int64_t>::max())
      .value(std::numeric_limits<uint64_t>::max())
      .value(int64_t{-1})
      .value(uint64_t{4294967296ull})
      .end_array();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text,
            "[0,-2147483648,2147483647,4294967295,-9223372036854775808,9223372036854775807,"
            "18446744073709551615,-1,4294967296]");
  json j = parse(out.text);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j[4].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j[6].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
}

TEST(JsonWriterTest, EveryIntegerTypeIsUnambiguous) {
  StringOutput out;
  JsonWriter w(out);
  size_t sz = 123;
  uint16_t u16 = 65535;
  int16_t i16 = -32768;
  uint8_t u8 = 255;
  int8_t i8 = -128;
  long l = -5;
  unsigned long ul = 6;
  long long ll = -7;
  unsigned long long ull = 8;
  unsigned u = 9;
  w.begin_array().value(42).value(sz).value(u16).value(i16).value(u8).value(i8).value(l).value(ul);
  w.value(ll).value(ull).value(u).end_array();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text, "[42,123,65535,-32768,255,-128,-5,6,-7,8,9]");
}

TEST(JsonWriterTest, FieldAcceptsEveryValueType) {
  StringOutput out;
  JsonWriter w(out);
  std::string_view sv("sv");
  const char* null_str = nullptr;
  w.begin_object()
      .field("a", 1)
      .field("b", sv)
      .field("c", "lit")
      .field("d", null_str)
      .field("e", 2.5)
      .field("f", false)
      .field("g", size_t{3})
      .field("h", uint16_t{4})
      .end_object();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text, R"({"a":1,"b":"sv","c":"lit","d":null,"e":2.5,"f":false,"g":3,"h":4})");
}

// ---- doubles ------------------------------------------------------------------------------------

std::string double_json(double d) {
  StringOutput out;
  JsonWriter w(out);
  w.value(d);
  EXPECT_TRUE(w.complete());
  return out.text;
}

TEST(JsonWriterTest, DoublesUseShortestRoundTrip) {
  EXPECT_EQ(double_json(0.1), "0.1");
  EXPECT_EQ(double_json(1.5), "1.5");
  EXPECT_EQ(double_json(0.0), "0");
  EXPECT_EQ(double_json(1e300), "1e+300");
  EXPECT_EQ(double_json(-2.25), "-2.25");
  EXPECT_EQ(double_json(0.1 + 0.2), "0.30000000000000004");  // needs all 17 digits
  EXPECT_EQ(json::parse(double_json(0.1 + 0.2)).get<double>(), 0.1 + 0.2);
}

TEST(JsonWriterTest, NegativeZeroKeepsItsSign) {
  std::string text = double_json(-0.0);
  EXPECT_EQ(text, "-0.0");
  json j = parse(text);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(std::signbit(j.get<double>()));
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_array()
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(-std::numeric_limits<double>::infinity())
      .end_array();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text, "[null,null,null]");
}

TEST(JsonWriterTest, RandomFiniteDoublesRoundTripExactly) {
  std::mt19937_64 rng(20240607);
  for (int i = 0; i < 5000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (!std::isfinite(d)) continue;
    std::string text = double_json(d);
    json j = parse(text);
    ASSERT_FALSE(j.is_discarded()) << text;
    double back = j.get<double>();
    ASSERT_EQ(std::memcmp(&back, &d, sizeof(d)), 0) << text;
  }
}

// ---- strings ------------------------------------------------------------------------------------

TEST(JsonWriterTest, EscapesUseShortFormsWhereDefined) {
  EXPECT_EQ(string_json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(string_json("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(string_json("\x01\x1f\x7f"), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(string_json("/path"), R"("/path")");  // '/' needs no escape
  EXPECT_EQ(string_json(""), R"("")");
}

TEST(JsonWriterTest, EmbeddedNulsSurvive) {
  std::string s("a\0b\0", 4);
  std::string text = string_json(s);
  EXPECT_EQ(text, R"("a\u0000b\u0000")");
  EXPECT_EQ(json::parse(text).get<std::string>(), s);
}

TEST(JsonWriterTest, KeysAreEscapedToo) {
  StringOutput out;
  JsonWriter w(out);
  std::string k("q\"\n\xff", 4);
  w.begin_object().field(k, 1).end_object();
  ASSERT_TRUE(w.complete());
  json j = parse(out.text);
  ASSERT_FALSE(j.is_discarded()) << out.text;
  EXPECT_EQ(j.begin().key(), "q\"\n" + kFffd);
}

TEST(JsonWriterTest, EverySingleByteIsValidJson) {
  for (int b = 0; b < 256; ++b) {
    SCOPED_TRACE(b);
    std::string s(1, static_cast<char>(b));
    json j = parse(string_json(s));
    ASSERT_FALSE(j.is_discarded());
    if (b < 0x80) {
      EXPECT_EQ(j.get<std::string>(), s);
    } else {
      EXPECT_EQ(j.get<std::string>(), kFffd);  // a lone byte >= 0x80 is never valid UTF-8
    }
  }
}

TEST(JsonWriterTest, ValidMultibyteUtf8PassesThroughUnescaped) {
  std::string s =
      "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBF \xED\x9F\xBF \xEE\x80\x80";
  EXPECT_EQ(string_json(s), "\"" + s + "\"");
  // Boundaries of every range: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
  for (uint32_t cp : {0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string c = utf8(cp);
    EXPECT_EQ(string_json(c), "\"" + c + "\"") << cp;
  }
}

TEST(JsonWriterTest, InvalidUtf8IsReplacedByMaximalSubparts) {
  struct Case {
    std::string in;
    std::string want;
  };
  const std::string r = kFffd;
  const Case cases[] = {
      {"\x80", r},                          // stray continuation
      {"\xBF\x80", r + r},                  // two stray continuations
      {"\xC0\xAF", r + r},                  // overlong '/' (C0 is never valid)
      {"\xC1\xBF", r + r},                  // overlong
      {"\xE0\x80\xAF", r + r + r},          // overlong 3-byte: E0 needs A0..BF next
      {"\xF0\x80\x80\xAF", r + r + r + r},  // overlong 4-byte
      {"\xED\xA0\x80", r + r + r},          // UTF-8-encoded surrogate U+D800
      {"\xED\xBF\xBF", r + r + r},          // surrogate U+DFFF
      {"\xF4\x90\x80\x80", r + r + r + r},  // U+110000
      {"\xF5\x80\x80\x80", r + r + r + r},  // lead byte past U+10FFFF
      {"\xFF", r},
      {"\xFE", r},
      {"\xC3", r},          // truncated at end of string
      {"\xE2\x82", r},      // truncated 3-byte: one replacement
      {"\xF0\x9F\x98", r},  // truncated 4-byte: one replacement
      {"\xE2\x82"
       "A",
       r + "A"},                         // interrupted by ASCII, which survives
      {"\xC3\xC3\xA9", r + "\xC3\xA9"},  // the second lead byte starts a valid char
      {"\xF0\x9F\x98\"", r + "\""},      // interrupted by a quote, which is escaped
      {"a\xE2\x82\xAC\xE2\x82z", "a\xE2\x82\xAC" + r + "z"},
  };
  for (const Case& c : cases) {
    std::string text = string_json(c.in);
    json j = parse(text);
    ASSERT_FALSE(j.is_discarded()) << text;
    EXPECT_EQ(j.get<std::string>(), c.want) << text;
  }
}

TEST(JsonWriterTest, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(4210);
  std::uniform_int_distribution<int> len_dist(0, 40);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  for (int i = 0; i < 10000; ++i) {
    std::string s(static_cast<size_t>(len_dist(rng)), '\0');
    for (char& c : s) {
      c = static_cast<char>(byte_dist(rng));
    }
    // As a key and as a value, inside a document.
    StringOutput out;
    JsonWriter w(out);
    w.begin_object().field(s, s).end_object();
    ASSERT_TRUE(w.complete());
    json j = parse(out.text);
    ASSERT_FALSE(j.is_discarded()) << "case " << i;
    ASSERT_EQ(j.size(), 1u);
    const std::string& back = j.begin().value().get_ref<const std::string&>();
    ASSERT_EQ(j.begin().key(), back);
    // Sanitising is idempotent: the output is valid UTF-8, so writing it again changes nothing.
    ASSERT_EQ(json::parse(string_json(back)).get<std::string>(), back) << "case " << i;
  }
}

TEST(JsonWriterTest, RandomValidUtf8RoundTripsExactly) {
  std::mt19937 rng(8266);
  std::uniform_int_distribution<uint32_t> plane_dist(0, 3);
  for (int i = 0; i < 10000; ++i) {
    std::string s;
    int n = static_cast<int>(rng() % 20);
    for (int k = 0; k < n; ++k) {
      uint32_t cp = 0;
      auto r32 = static_cast<uint32_t>(rng());
      switch (plane_dist(rng)) {
        case 0: cp = r32 % 0x80; break;
        case 1: cp = 0x80 + r32 % (0x800 - 0x80); break;
        case 2: cp = 0x800 + r32 % (0x10000 - 0x800); break;
        default: cp = 0x10000 + r32 % (0x110000 - 0x10000); break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      s += utf8(cp);
    }
    json j = parse(string_json(s));
    ASSERT_FALSE(j.is_discarded()) << "case " << i;
    ASSERT_EQ(j.get<std::string>(), s) << "case " << i;
  }
}

TEST(JsonWriterTest, SafeRunsAreWrittenInOneCall) {
  StringOutput out;
  JsonWriter w(out);
  std::string s(1000, 'x');
  s += "\xE2\x82\xAC";  // valid multibyte stays in the run
  s += std::string(1000, 'y');
  w.value(s);
  EXPECT_EQ(out.writes, 3);  // quote, run, quote
  out.writes = 0;
  out.text.clear();
  JsonWriter w2(out);
  w2.value(std::string(500, 'a') + "\n" + std::string(500, 'b'));
  EXPECT_EQ(out.writes, 5);  // quote, run, escape, run, quote
}

// ---- BufferJsonOutput ---------------------------------------------------------------------------

TEST(BufferJsonOutputTest, FitsExactlyWithNul) {
  char buf[8];
  BufferJsonOutput out(buf, sizeof(buf));
  JsonWriter w(out);
  w.begin_array().value(12345).end_array();  // "[12345]" = 7 bytes + NUL
  EXPECT_TRUE(w.complete());
  EXPECT_FALSE(out.overflowed());
  EXPECT_EQ(out.size(), 7u);
  EXPECT_STREQ(out.c_str(), "[12345]");
}

TEST(BufferJsonOutputTest, OverflowIsFlaggedAndNeverWritesPastTheEnd) {
  char buf[16 + 4];
  std::memset(buf, '#', sizeof(buf));
  BufferJsonOutput out(buf, 16);
  JsonWriter w(out);
  w.begin_object().field("hostname", "esp_123456").end_object();
  EXPECT_TRUE(out.overflowed());
  EXPECT_EQ(out.size(), 15u);
  EXPECT_EQ(buf[15], '\0');
  EXPECT_EQ(std::string(out.c_str()), std::string(R"({"hostname":"esp_123456"})").substr(0, 15));
  for (size_t i = 16; i < sizeof(buf); ++i) EXPECT_EQ(buf[i], '#');
  // Later small writes that would fit are dropped: the content stays an exact prefix.
  out.write("}", 1);
  EXPECT_EQ(out.size(), 15u);

  out.clear();
  EXPECT_FALSE(out.overflowed());
  EXPECT_EQ(out.size(), 0u);
  EXPECT_STREQ(out.c_str(), "");
  out.write("ok", 2);
  EXPECT_STREQ(out.c_str(), "ok");
}

TEST(BufferJsonOutputTest, ZeroCapacity) {
  BufferJsonOutput out(nullptr, 0);
  EXPECT_STREQ(out.c_str(), "");
  out.write("", 0);
  EXPECT_FALSE(out.overflowed());
  out.write("x", 1);
  EXPECT_TRUE(out.overflowed());
  EXPECT_EQ(out.size(), 0u);
  EXPECT_STREQ(out.c_str(), "");
}

TEST(BufferJsonOutputTest, CapacityOneHoldsOnlyTheNul) {
  char buf[1] = {'z'};
  BufferJsonOutput out(buf, 1);
  EXPECT_EQ(buf[0], '\0');
  out.write("x", 1);
  EXPECT_TRUE(out.overflowed());
  EXPECT_STREQ(out.c_str(), "");
}

}  // namespace
}  // namespace spore

namespace spore {
namespace {

// value_joined(): one string of three parts, each escaped as value(std::string_view) of the whole
// (the 401 sentence around a node's token location).
TEST(JsonWriterTest, ValueJoinedIsOneEscapedString) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object()
      .key("error")
      .value_joined(SPORE_FSTR("in \""), std::string_view("a\\b\n\x01", 5), SPORE_FSTR("\". Send it."))
      .key("n")
      .value_joined(SPORE_FSTR("x"), {}, SPORE_FSTR("y"))
      .end_object();
  ASSERT_TRUE(w.complete());
  EXPECT_EQ(out.text, R"({"error":"in \"a\\b\n\u0001\". Send it.","n":"xy"})");
  EXPECT_EQ(nlohmann::json::parse(out.text)["error"], "in \"a\\b\n\x01\". Send it.");
}

}  // namespace
}  // namespace spore
