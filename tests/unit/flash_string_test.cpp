// Tests for spore/base/flash_string.h (strings kept in ESP8266 flash) and JsonWriter's FlashStr
// overloads. On the host SPORE_FLASH only aligns; the word-load reader the target uses is tested
// directly on aligned buffers.

#include "spore/base/flash_string.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "spore/base/json_writer.h"

namespace spore {
namespace {

constexpr char kList[] SPORE_FLASH = "zero\0one\0\0three\0";
static_assert(flash_list_count(kList, sizeof kList) == 4, "four strings, one of them empty");
static_assert(flash_list_count("", 1) == 0, "an empty list");

TEST(FlashStringTest, ByteViaWordReadsEveryOffsetOfAnAlignedWord) {
  alignas(4) const char buf[12] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '\x80', '\xff', '\0', 'z'};
  for (size_t i = 0; i < sizeof buf; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(flash_detail::byte_via_word(buf + i), buf[i]);
  }
}

TEST(FlashStringTest, FlashArraysAreWordAligned) {
  static const char a[] SPORE_FLASH = "x";
  static const char b[] SPORE_FLASH = "yz";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 4, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 4, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kList) % 4, 0u);
}

TEST(FlashStringTest, NullIsAnEmptyNonString) {
  const FlashStr s;
  EXPECT_TRUE(s.is_null());
  EXPECT_EQ(s.length(), 0u);
  EXPECT_TRUE(s.equals(""));
  EXPECT_FALSE(s.equals("a"));
  char buf[4] = {'x', 'x', 'x', 'x'};
  EXPECT_EQ(s.copy_to(buf, sizeof buf), 0u);
  EXPECT_STREQ(buf, "");
}

TEST(FlashStringTest, LengthEqualsAndAt) {
  const FlashStr s = SPORE_FSTR("hello, flash");
  EXPECT_FALSE(s.is_null());
  EXPECT_EQ(s.length(), 12u);
  EXPECT_EQ(s.at(0), 'h');
  EXPECT_EQ(s.at(12), '\0');
  EXPECT_TRUE(s.equals("hello, flash"));
  EXPECT_FALSE(s.equals("hello, flas"));
  EXPECT_FALSE(s.equals("hello, flash!"));
  EXPECT_FALSE(s.equals(std::string_view("hello, flash\0", 13)));
  EXPECT_FALSE(s.equals(""));
  EXPECT_TRUE(SPORE_FSTR("").equals(""));
}

TEST(FlashStringTest, CopyToTruncatesAndTerminates) {
  const FlashStr s = SPORE_FSTR("abcdefgh");
  char buf[16];
  EXPECT_EQ(s.copy_to(buf, sizeof buf), 8u);
  EXPECT_STREQ(buf, "abcdefgh");
  EXPECT_EQ(s.copy_to(buf, 4), 3u);
  EXPECT_STREQ(buf, "abc");
  EXPECT_EQ(s.copy_to(buf, 1), 0u);
  EXPECT_STREQ(buf, "");
  buf[0] = 'q';
  EXPECT_EQ(s.copy_to(buf, 0), 0u);  // capacity 0: nothing written
  EXPECT_EQ(buf[0], 'q');
}

TEST(FlashStringTest, NthStringOfAList) {
  EXPECT_TRUE(flash_nth(kList, 4, 0).equals("zero"));
  EXPECT_TRUE(flash_nth(kList, 4, 1).equals("one"));
  EXPECT_TRUE(flash_nth(kList, 4, 2).equals(""));
  EXPECT_FALSE(flash_nth(kList, 4, 2).is_null());
  EXPECT_TRUE(flash_nth(kList, 4, 3).equals("three"));
  EXPECT_TRUE(flash_nth(kList, 4, 4).is_null());
  EXPECT_TRUE(flash_nth(nullptr, 4, 0).is_null());
}

// ---- JsonWriter ---------------------------------------------------------------------------------

class StringOutput : public JsonOutput {
 public:
  void write(const char* data, size_t size_bytes) override { text.append(data, size_bytes); }
  std::string text;
};

std::string json_of(std::string_view s) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object().field("k", s).end_object();
  EXPECT_TRUE(w.complete());
  return out.text;
}

std::string json_of(FlashStr s) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_object().field("k", s).end_object();
  EXPECT_TRUE(w.complete());
  return out.text;
}

TEST(FlashStringJsonTest, ValueAndKey) {
  EXPECT_EQ(json_of(SPORE_FSTR("The upload is malformed.")), R"({"k":"The upload is malformed."})");
  EXPECT_EQ(json_of(SPORE_FSTR("say \"firmware\"\n")), R"({"k":"say \"firmware\"\n"})");
  EXPECT_EQ(json_of(SPORE_FSTR("")), R"({"k":""})");
  EXPECT_EQ(json_of(FlashStr()), R"({"k":null})");

  StringOutput out;
  JsonWriter w(out);
  w.begin_object().key(SPORE_FSTR("hostname")).value("n1").key(SPORE_FSTR("api")).begin_array();
  w.value(SPORE_FSTR("a")).value(SPORE_FSTR("b")).end_array().end_object();
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(out.text, R"({"hostname":"n1","api":["a","b"]})");
}

TEST(FlashStringJsonTest, KeyMisuseFailsLikeTheStringViewKey) {
  StringOutput out;
  JsonWriter w(out);
  w.begin_array().key(SPORE_FSTR("x"));
  EXPECT_FALSE(w.ok());
}

// Strings longer than the writer's 32-byte chunk, with multi-byte UTF-8 (valid and invalid) at
// every position around the chunk boundaries: the chunked flash path must write exactly what the
// string_view path writes.
TEST(FlashStringJsonTest, ChunkedOutputEqualsStringViewOutput) {
  const std::string pieces[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x8D\x84", "\xE2\x82", "\x80\x80",
                                "\xC0\xAF", "\xED\xA0\x80", "\x01", "\"", "\\", "x"};
  std::mt19937 rng(4210);
  for (int round = 0; round < 3000; ++round) {
    std::string s(rng() % 40, 'a');
    const size_t inserts = 1 + rng() % 4;
    for (size_t k = 0; k < inserts; ++k) {
      s.insert(rng() % (s.size() + 1), pieces[rng() % (sizeof pieces / sizeof pieces[0])]);
    }
    if (s.find('\0') != std::string::npos) continue;
    SCOPED_TRACE(round);
    EXPECT_EQ(json_of(FlashStr(s.c_str())), json_of(std::string_view(s)));
  }
  for (size_t prefix = 28; prefix <= 36; ++prefix) {
    for (const std::string& p : pieces) {
      const std::string s = std::string(prefix, 'b') + p + std::string(prefix, 'c') + p;
      SCOPED_TRACE(prefix);
      EXPECT_EQ(json_of(FlashStr(s.c_str())), json_of(std::string_view(s)));
    }
  }
}

}  // namespace
}  // namespace spore
