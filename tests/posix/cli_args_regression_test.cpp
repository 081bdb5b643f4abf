// Regression tests from tests/fuzz/cli_args_fuzz.cpp (issue 9): inputs the fuzzer found that
// apps/spore/cli_logic.cpp's parse_node_address() gets wrong. Each test names the fuzz finding.
//
// Fixed in apps/spore/cli_logic.cpp: parse_node_address() accepted a host holding '[' or ']'
// outside the bracket form, which silently dropped the port the user typed ("e[fe8::0]:8081"
// talked to host "e[fe8::0]:8081" on port 8080), and a host holding DEL (0x7F), the only control
// character its "spaces" check let through. And number() (the members table's numeric cells)
// cast a JSON float outside the int64 range to int64_t: undefined behaviour (UBSan: "1.234e+36
// is outside the range of representable values of type 'long'"); on x86 the INC column showed
// -9223372036854775808.

#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"

#include <gtest/gtest.h>

#include <string>

namespace spore::cli {
namespace {

// Fuzz finding: "e[fe8\xb0::0]:8081" parsed as the bare IPv6 host "e[fe8\xb0::0]:8081" with the
// default port; NodeAddress::to_string() then gives "[e[fe8\xb0::0]:8081]:8080", which does not
// parse back. A bracket is never part of a hostname or an IPv6 address.
TEST(CliArgsRegressionTest, BracketOutsideTheIpv6FormIsRefused) {
  std::string error;
  EXPECT_FALSE(parse_node_address("e[fe8::0]:8081", &error).has_value()) << "the :8081 would be ignored";
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(parse_node_address("x]:80", &error).has_value());
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_FALSE(parse_node_address("[a[b]:80", &error).has_value());
  EXPECT_FALSE(error.empty());
}

// The promise the fuzzer checks: whatever parse_node_address() accepts, to_string() parses back
// to the same host and port.
TEST(CliArgsRegressionTest, AcceptedAddressesRoundTrip) {
  for (const char* text : {"e[fe8\xb0::0]:8081", "x]:80", "[fe80::1]:8081", "host:1", "http://a.b:65535/"}) {
    std::string error;
    const auto a = parse_node_address(text, &error);
    if (!a) continue;
    const auto again = parse_node_address(a->to_string(), &error);
    ASSERT_TRUE(again.has_value()) << text << " -> " << a->to_string() << ": " << error;
    EXPECT_EQ(again->host, a->host) << text;
    EXPECT_EQ(again->port, a->port) << text;
  }
}

// Fuzz finding: '{"ken0rGehoiero\x7f' was accepted as a host; every other control character
// (and space) is refused with "spaces in the node address".
TEST(CliArgsRegressionTest, DelIsRefusedLikeOtherControlCharacters) {
  std::string error;
  EXPECT_FALSE(parse_node_address("node\x7f", &error).has_value());
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(parse_node_address("node\x01", &error).has_value());  // already refused today
}

// Fuzz finding (UBSan in cli_args_fuzz): a members answer with a number beyond int64, as a
// foreign or broken node may send. Such a cell must show "-" like any other unusable field.
TEST(CliArgsRegressionTest, HugeNumbersInAMembersAnswerShowAsDash) {
  const auto body = nlohmann::ordered_json::parse(
      R"({"members": [{"hostname": "a", "status": "ACTIVE", "incarnation": 1.234e36, "latency": -1e300,
                       "lastSeenAgoMs": 1e30, "resources": {"freeHeap": 9.3e18}}]})");
  const std::string table = format_members_table(body, false);
  EXPECT_EQ(table.find("-9223372036854775808"), std::string::npos) << table;
  EXPECT_EQ(table.find("9223372036854775807"), std::string::npos) << table;
}

TEST(CliArgsRegression, AnErrorSentenceWithANewlineStaysOneLine) {
  // cli_args_fuzz: {"error": "tok\n rev..."} printed a line of the node's choosing.
  const std::string d = describe_error_response(400, "{\"error\": \"tok\\n second line\", \"code\": \"a\\rb\"}");
  EXPECT_EQ(d, "tok\\n second line (HTTP 400) [a\\rb]");  // shown, not obeyed (terminal_safe)
  EXPECT_EQ(describe_error_response(502, "bad\ngateway"), "HTTP 502: bad\\ngateway");
}

// Fuzz finding (CI, cli_args_fuzz, input {"membena": {}}): a field holding an empty object gave
// no line in `spore node status`, so a non-empty answer could print nothing at all.
TEST(CliArgsRegressionTest, AnEmptyObjectFieldStillGetsItsStatusLine) {
  const auto body = nlohmann::ordered_json::parse(R"({"membena": {}, "b": {"c": 1}})");
  EXPECT_EQ(format_status_lines(body), "membena: {}\nb.c:     1\n");
}

}  // namespace
}  // namespace spore::cli
