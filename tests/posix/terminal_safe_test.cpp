// Unit tests of terminal_safe() and json_for_terminal() (apps/spore/terminal_safe.cpp) and of the
// CLI's formatters that print a node's text through them (issue 18, finding 5: ESC]0;...BEL,
// ESC[2J, \r, C1 and bidi controls in hostname, ip, status, firmwareVersion and JSON keys reached
// the terminal of `spore cluster members`, `spore node status` and `spore events watch`).
//
// tests/posix/*_test.cpp link spore_posix only, not the apps: the sources are included.
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"

#include <gtest/gtest.h>

namespace spore {
namespace cli {
namespace {

using Json = nlohmann::ordered_json;

// Every byte a terminal acts on: C0 (except '\n' when kept), DEL, and the UTF-8 forms of C1
// controls and of the bidi/line-separator code points.
bool has_terminal_control(const std::string& s, bool newline_allowed) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == '\n' && newline_allowed) continue;
    if (b < 0x20 || b == 0x7F) return true;
    if (b == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) return true;  // U+0080..U+009F
    if (b == 0xE2 && i + 2 < s.size()) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
      if (b1 == 0x80 && ((b2 >= 0xAA && b2 <= 0xAE) || b2 == 0x8E || b2 == 0x8F || b2 == 0xA8 || b2 == 0xA9)) return true;
      if (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9) return true;  // U+2066..U+2069
    }
  }
  return false;
}

const std::string kTitle = "\x1b]0;pwned\x07";       // OSC 0: set the window title
const std::string kClear = "\x1b[2J\x1b[H";           // CSI: clear the screen, cursor home
const std::string kC1Csi = "\xC2\x9B" "31m";          // U+009B CSI as UTF-8
const std::string kRlo = "\xE2\x80\xAE";              // U+202E RIGHT-TO-LEFT OVERRIDE
const std::string kIsolate = "\xE2\x81\xA6";          // U+2066 LEFT-TO-RIGHT ISOLATE

TEST(TerminalSafe, EscapeSequencesBecomeVisibleEscapes) {
  EXPECT_EQ(terminal_safe(kTitle), "\\x1B]0;pwned\\x07");
  EXPECT_EQ(terminal_safe(kClear), "\\x1B[2J\\x1B[H");
  EXPECT_EQ(terminal_safe("node-1\rroot"), "node-1\\rroot");
  EXPECT_EQ(terminal_safe("ab\b\bxy"), "ab\\x08\\x08xy");
  EXPECT_EQ(terminal_safe(std::string("a\0b\x7f", 4)), "a\\x00b\\x7F");
  EXPECT_EQ(terminal_safe("t\tn\n"), "t\\tn\\n");
  EXPECT_EQ(terminal_safe("a\\x1B"), "a\\\\x1B");  // a node cannot fake an escape either
}

TEST(TerminalSafe, C1ControlsRawOrEncodedAreEscaped) {
  EXPECT_EQ(terminal_safe(kC1Csi), "\\u009B31m");
  EXPECT_EQ(terminal_safe("\xC2\x80\xC2\x9F"), "\\u0080\\u009F");
  // A raw C1 byte is not UTF-8: escaped as a byte.
  EXPECT_EQ(terminal_safe("\x9b" "2J"), "\\x9B2J");
  EXPECT_EQ(terminal_safe("\x9d" "0;x\x9c"), "\\x9D0;x\\x9C");
}

TEST(TerminalSafe, BidiAndLineSeparatorsAreEscaped) {
  EXPECT_EQ(terminal_safe("admin" + kRlo + "txt.exe"), "admin\\u202Etxt.exe");
  EXPECT_EQ(terminal_safe(kIsolate + "x" + "\xE2\x81\xA9"), "\\u2066x\\u2069");
  EXPECT_EQ(terminal_safe("\xE2\x80\xAA\xE2\x80\xAB\xE2\x80\xAC\xE2\x80\xAD"), "\\u202A\\u202B\\u202C\\u202D");
  EXPECT_EQ(terminal_safe("\xE2\x80\x8E\xE2\x80\x8F\xD8\x9C"), "\\u200E\\u200F\\u061C");
  EXPECT_EQ(terminal_safe("a\xE2\x80\xA8" "b\xE2\x80\xA9"), "a\\u2028b\\u2029");
}

TEST(TerminalSafe, WellFormedTextPassesAndInvalidUtf8IsReplaced) {
  EXPECT_EQ(terminal_safe("demo-1 192.168.1.10 ACTIVE"), "demo-1 192.168.1.10 ACTIVE");
  EXPECT_EQ(terminal_safe("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xA1 \xC2\xA0"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xA1 \xC2\xA0");
  EXPECT_EQ(terminal_safe("\xC3"), "\\xC3");                         // truncated
  EXPECT_EQ(terminal_safe("\xC0\xAF"), "\\xC0\\xAF");                // overlong '/'
  EXPECT_EQ(terminal_safe("\xED\xA0\x80"), "\\xED\\xA0\\x80");       // surrogate
  EXPECT_EQ(terminal_safe("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(terminal_safe("\xE2\x80"), "\\xE2\\x80");                // bidi override cut short
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, NewlinesKeptOnlyWhenAsked) {
  EXPECT_EQ(terminal_safe("line 1\nline 2\x1b[K", Newlines::kKeep), "line 1\nline 2\\x1B[K");
  EXPECT_EQ(terminal_safe("a\r\nb", Newlines::kKeep), "a\\r\nb");
}

TEST(TerminalSafe, NoByteValueLeavesAControl) {
  // Every single byte and every byte pair: nothing a terminal acts on survives.
  for (int a = 0; a < 256; ++a) {
    const std::string one(1, static_cast<char>(a));
    EXPECT_FALSE(has_terminal_control(terminal_safe(one), false)) << a;
    for (int b = 0x80; b < 0xC0; ++b) {
      const std::string two = one + static_cast<char>(b);
      EXPECT_FALSE(has_terminal_control(terminal_safe(two), false)) << a << " " << b;
    }
  }
}

TEST(JsonForTerminal, ControlsAreEscapedAndTheJsonIsTheSame) {
  Json j;
  j["hostname"] = kTitle + kClear + "\r" + kC1Csi + kRlo + "\x7f";
  j[kTitle] = "key with escapes";
  const std::string out = json_for_terminal(j);
  EXPECT_FALSE(has_terminal_control(out, false)) << out;
  EXPECT_NE(out.find("\\u001b]0;pwned\\u0007"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u009b"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u202e"), std::string::npos) << out;
  EXPECT_NE(out.find("\\u007f"), std::string::npos) << out;
  EXPECT_EQ(Json::parse(out), j);
  const std::string indented = json_for_terminal(j, 2);
  EXPECT_FALSE(has_terminal_control(indented, true));
  EXPECT_EQ(Json::parse(indented), j);
  // Invalid UTF-8 (a node's string built by hand) is replaced, not thrown.
  Json bad;
  bad["x"] = std::string("\xff\x9b");
  EXPECT_NO_THROW(json_for_terminal(bad));
}

// ---- the formatters that print a node's text -------------------------------------------------

Json hostile_members() {
  Json m1;
  m1["hostname"] = "evil" + kTitle;
  m1["ip"] = "10.0.0.1" + kClear;
  m1["status"] = "ACTIVE\rDEAD";
  m1["self"] = true;
  Json m2;
  m2["hostname"] = kRlo + "node-2" + kC1Csi;
  m2["ip"] = std::string("\x9b" "2J");  // raw C1 byte: not valid UTF-8, so nlohmann would refuse it;
  m2["status"] = "INACTIVE";            // set directly to test the table on its own
  Json body;
  body["members"] = Json::array({m1, m2});
  return body;
}

TEST(TerminalSafeFormatters, MembersTableShowsEscapesNotControls) {
  for (const bool color : {false, true}) {
    const std::string table = format_members_table(hostile_members(), color);
    // Colour codes are the CLI's own; strip them, then nothing else may remain.
    std::string plain;
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i] == '\x1b' && table.compare(i, 2, "\x1b[") == 0 && table.find('m', i) != std::string::npos &&
          table.find('m', i) - i <= 4) {
        i = table.find('m', i);
        continue;
      }
      plain.push_back(table[i]);
    }
    EXPECT_FALSE(has_terminal_control(plain, true)) << table;
    EXPECT_NE(plain.find("evil\\x1B]0;pwned\\x07*"), std::string::npos) << plain;
    EXPECT_NE(plain.find("10.0.0.1\\x1B[2J\\x1B[H"), std::string::npos) << plain;
    EXPECT_NE(plain.find("ACTIVE\\rDEAD"), std::string::npos) << plain;
    EXPECT_NE(plain.find("\\u202Enode-2\\u009B31m"), std::string::npos) << plain;
    EXPECT_NE(plain.find("\\x9B2J"), std::string::npos) << plain;
  }
}

TEST(TerminalSafeFormatters, StatusLinesEscapeKeysAndValues) {
  Json body;
  body["hostname"] = "n1" + kTitle;
  body["firmwareVersion"] = "0.1" + kClear + "\r";
  body["x\x1b[31m"] = "key";
  body["resources"] = {{"free\rHeap", kRlo}};
  body["list"] = Json::array({kC1Csi});
  body["api"] = Json::array({{{"method", "GET\x1b"}, {"uri", "/a\r"}}});
  const std::string lines = format_status_lines(body);
  EXPECT_FALSE(has_terminal_control(lines, true)) << lines;
  EXPECT_NE(lines.find("n1\\x1B]0;pwned\\x07"), std::string::npos) << lines;
  EXPECT_NE(lines.find("0.1\\x1B[2J\\x1B[H\\r"), std::string::npos) << lines;
  EXPECT_NE(lines.find("x\\x1B[31m:"), std::string::npos) << lines;
  EXPECT_NE(lines.find("resources.free\\rHeap:"), std::string::npos) << lines;
  EXPECT_NE(lines.find("\\u202E"), std::string::npos) << lines;
  EXPECT_NE(lines.find("\\u009b31m"), std::string::npos) << lines;  // inside a JSON array: JSON's escape
  EXPECT_NE(lines.find("GET\\x1B /a\\r"), std::string::npos) << lines;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 6) << lines;  // one line per field
}

TEST(TerminalSafeFormatters, ErrorAnswersAndDiscoveredHostnames) {
  const std::string d = describe_error_response(500, R"({"error":"bad\u001b]0;x\u0007","code":"c\r\u009b"})");
  EXPECT_FALSE(has_terminal_control(d, false)) << d;
  EXPECT_EQ(d, "bad\\x1B]0;x\\x07 (HTTP 500) [c\\r\\u009B]");
  EXPECT_FALSE(has_terminal_control(describe_error_response(502, kClear + kRlo), false));
  DiscoveredNode n;
  n.hostname = "esp" + kTitle;
  n.ip = "10.0.0.9";
  const std::string table = format_discovered_table({n});
  EXPECT_FALSE(has_terminal_control(table, true)) << table;
  EXPECT_NE(table.find("esp\\x1B]0;pwned\\x07"), std::string::npos) << table;
}

TEST(NodeJson, NestingDeeperThanTheLimitIsRefusedBeforeParsing) {
  // Issue 18 attack, finding D: 60,000 levels (120 KB) overflowed the stack in dump().
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  bool too_deep = true;
  EXPECT_TRUE(parse_node_json(nested(kMaxJsonDepth), &too_deep).is_array());
  EXPECT_FALSE(too_deep);
  EXPECT_TRUE(parse_node_json(nested(kMaxJsonDepth + 1), &too_deep).is_discarded());
  EXPECT_TRUE(too_deep);
  EXPECT_TRUE(parse_node_json("{\"x\":" + nested(60000) + "}", &too_deep).is_discarded());
  EXPECT_TRUE(too_deep);
  // Brackets inside strings, escaped quotes included, are not nesting.
  const std::string in_string = "{\"a\":\"\\\"" + nested(1000) + "\"}";
  EXPECT_TRUE(parse_node_json(in_string, &too_deep).is_object()) << in_string;
  EXPECT_FALSE(too_deep);
  EXPECT_EQ(json_nesting_depth("{\"a\":[{\"b\":\"[[[\"}]}"), 3u);
  EXPECT_EQ(json_nesting_depth(std::string(100000, '{'), 10), 11u);  // stops early
  // Not JSON at all: discarded, not "too deep".
  EXPECT_TRUE(parse_node_json("nope", &too_deep).is_discarded());
  EXPECT_FALSE(too_deep);
}

TEST(TerminalSafeFormatters, AWideCellDoesNotWidenEveryRow) {
  // Issue 18 attack, finding C: one 1 MB hostname padded every row of the table to 1 MB.
  Json body;
  body["members"] = Json::array();
  Json wide;
  wide["hostname"] = std::string(1u << 20, 'a');
  body["members"].push_back(wide);
  for (int i = 0; i < 100; ++i) {
    Json m;
    m["hostname"] = "b";
    body["members"].push_back(m);
  }
  const std::string table = format_members_table(body, false);
  EXPECT_LT(table.size(), 100u * 1024u);
  EXPECT_NE(table.find(std::string(kMaxCellColumns - 1, 'a') + "\u2026 "), std::string::npos);
  // A cell just at the limit is shown whole.
  body["members"][0]["hostname"] = std::string(kMaxCellColumns, 'c');
  EXPECT_NE(format_members_table(body, false).find(std::string(kMaxCellColumns, 'c') + " "), std::string::npos);
}

TEST(DotenvTrust, OnlyTheUsersOwnUnsharedFileMayNameTheNode) {
  EXPECT_FALSE(dotenv_trust_problem("./.env", 1000, "me", 0100644, 1000));
  EXPECT_FALSE(dotenv_trust_problem("./.env", 1000, "me", 0100600, 1000));
  const std::optional<std::string> other = dotenv_trust_problem("./.env", 65534, "nobody", 0100644, 1000);
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("./.env"), std::string::npos) << *other;
  EXPECT_NE(other->find("nobody (uid 65534)"), std::string::npos) << *other;
  EXPECT_NE(other->find("mode 0644"), std::string::npos) << *other;
  EXPECT_NE(other->find("chown 1000"), std::string::npos) << *other;
  EXPECT_NE(other->find("--node"), std::string::npos) << *other;
  const std::optional<std::string> shared = dotenv_trust_problem("/p/.env", 1000, "", 0100666, 1000);
  ASSERT_TRUE(shared);
  EXPECT_NE(shared->find("mode 0666"), std::string::npos) << *shared;
  EXPECT_NE(shared->find("writable by group or others"), std::string::npos) << *shared;
  EXPECT_NE(shared->find("chmod go-w '/p/.env'"), std::string::npos) << *shared;
  EXPECT_EQ(shared->find("chown"), std::string::npos) << *shared;
  EXPECT_TRUE(dotenv_trust_problem("./.env", 1000, "me", 0100620, 1000));  // group-writable
  // Also when the group looks like the user's private one (umask 002): another user may have it
  // as primary group without being listed as a member (finding H).
  const std::optional<std::string> group = dotenv_trust_problem("./.env", 1000, "me", 0100664, 1000);
  ASSERT_TRUE(group);
  EXPECT_NE(group->find("chmod go-w"), std::string::npos) << *group;
  EXPECT_TRUE(dotenv_trust_problem("./.env", 0, "root", 0100644, 1000));     // root's, not mine
  // A name with escapes is shown escaped.
  const std::optional<std::string> odd = dotenv_trust_problem("./\x1b[2J.env", 1, "x\r", 0100666, 0);
  ASSERT_TRUE(odd);
  EXPECT_FALSE(has_terminal_control(*odd, true)) << *odd;
}

}  // namespace
}  // namespace cli
}  // namespace spore
