// Unit tests of `spore events` (apps/spore/events_logic.cpp) and its SSE parser
// (apps/spore/sse_parser.cpp): line ends (\n, \r\n, \r), multi-line data, comments, id / event /
// retry, unknown fields, the BOM, bounded memory (long lines and events dropped and counted), the
// same messages for every split of the stream; then the topic rule, URL encoding, the publish
// line and error hints, payload unescaping and escaping, the watch line and JSON, backoff and
// the exit status of a watch.
//
// tests/posix/*_test.cpp link spore_posix only, not the apps, so the sources are included (they
// need the standard library, nlohmann_json and cpp-httplib, which spore_posix brings; CLI11 is
// header-only).
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"
#include "../../apps/spore/events_logic.cpp"
#include "../../apps/spore/bounded_http.cpp"
#include "../../apps/spore/request_signer.cpp"
#include "../../apps/spore/sse_parser.cpp"

#include <gtest/gtest.h>

namespace spore {
namespace cli {
namespace {

using Json = nlohmann::ordered_json;

std::vector<SseMessage> parse_all(std::string_view stream, SseParser* parser = nullptr) {
  SseParser local;
  SseParser& p = parser != nullptr ? *parser : local;
  std::vector<SseMessage> out;
  p.feed(stream, out);
  return out;
}

std::string describe(const std::vector<SseMessage>& messages) {
  std::string s;
  for (const SseMessage& m : messages) {
    s += "[" + m.event + "|" + m.data + "|" + (m.id ? *m.id : std::string("<none>")) + "]";
  }
  return s;
}

// ---- SSE parser ----------------------------------------------------------------------------

const char kNodeStream[] =
    ": spore events 0a1b2c3d\n"
    "retry: 2000\n"
    "\n"
    "id: 0a1b2c3d-7-3\n"
    "event: light\n"
    "data: {\"topic\":\"light\",\"node_id\":\"0a1b2c3d\",\"hostname\":\"node-1\",\"epoch\":7,\"seq\":3,\"data\":\"on\"}\n"
    "\n"
    ": keep-alive\n"
    "event: node_inactive\n"
    "data: {\"topic\":\"node_inactive\",\"node_id\":\"0c0c0c0c\",\"hostname\":\"node-3\",\"ip\":\"127.0.0.3\","
    "\"status\":\"INACTIVE\"}\n"
    "\n";

TEST(SseParser, ParsesTheNodeStream) {
  SseParser p;
  auto out = parse_all(kNodeStream, &p);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event, "light");
  ASSERT_TRUE(out[0].id);
  EXPECT_EQ(*out[0].id, "0a1b2c3d-7-3");
  EXPECT_EQ(Json::parse(out[0].data)["hostname"], "node-1");
  EXPECT_EQ(out[1].event, "node_inactive");
  EXPECT_FALSE(out[1].id);  // membership events have no id line; the last event id stays
  EXPECT_EQ(p.last_event_id(), "0a1b2c3d-7-3");
  ASSERT_TRUE(p.retry_ms());
  EXPECT_EQ(*p.retry_ms(), 2000u);
  EXPECT_EQ(p.stats().comments, 2u);
  EXPECT_EQ(p.last_comment(), "keep-alive");
  EXPECT_EQ(p.stats().messages, 2u);
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(SseParser, AllThreeLineEnds) {
  for (const char* eol : {"\n", "\r\n", "\r"}) {
    std::string e = eol;
    std::string stream = "event: a" + e + "data: x" + e + e + "data: y" + e + "data: z" + e + e;
    EXPECT_EQ(describe(parse_all(stream)), "[a|x|<none>][message|y\nz|<none>]") << "line end " << Json(e).dump();
  }
  // Mixed within one stream.
  EXPECT_EQ(describe(parse_all("data: 1\r\ndata: 2\rdata: 3\n\r\n")), "[message|1\n2\n3|<none>]");
}

TEST(SseParser, CrThenLfInTheNextChunkIsOneLineEnd) {
  SseParser p;
  std::vector<SseMessage> out;
  p.feed("data: a\r", out);
  p.feed("\ndata: b\r", out);
  EXPECT_TRUE(out.empty());
  p.feed("\n", out);
  EXPECT_TRUE(out.empty());  // the \r\n ended "data: b"; no blank line yet
  p.feed("\r", out);
  EXPECT_EQ(describe(out), "[message|a\nb|<none>]");
}

TEST(SseParser, FieldSyntax) {
  // No space after the colon, two spaces (one kept), no colon at all, empty data lines.
  EXPECT_EQ(describe(parse_all("data:x\n\n")), "[message|x|<none>]");
  EXPECT_EQ(describe(parse_all("data:  x\n\n")), "[message| x|<none>]");
  EXPECT_EQ(describe(parse_all("data\n\n")), "[message||<none>]");
  EXPECT_EQ(describe(parse_all("data\ndata\n\n")), "[message|\n|<none>]");
  EXPECT_EQ(describe(parse_all("data: a:b: c\n\n")), "[message|a:b: c|<none>]");
  // A message without data is not dispatched, and its event type does not leak into the next.
  EXPECT_EQ(describe(parse_all("event: x\n\ndata: y\n\n")), "[message|y|<none>]");
  // Field names are case-sensitive; unknown ones are ignored and counted.
  SseParser p;
  EXPECT_EQ(describe(parse_all("Data: no\nfoo: bar\ndata: yes\n\n", &p)), "[message|yes|<none>]");
  EXPECT_EQ(p.stats().unknown_fields, 2u);
  // An empty event name means "message".
  EXPECT_EQ(describe(parse_all("event:\ndata: d\n\n")), "[message|d|<none>]");
}

TEST(SseParser, IdAndRetryRules) {
  SseParser p;
  static const char kStream[] = "id: 1\ndata: a\n\nid: bad\0id\ndata: b\n\nid\ndata: c\n\n";
  auto out = parse_all(std::string(kStream, sizeof kStream - 1), &p);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(*out[0].id, "1");
  EXPECT_FALSE(out[1].id);  // an id with NUL is ignored
  ASSERT_TRUE(out[2].id);
  EXPECT_EQ(*out[2].id, "");  // "id" alone resets the last event id
  EXPECT_EQ(p.last_event_id(), "");
  // An id line counts even when its message is not dispatched.
  SseParser q;
  parse_all("id: 42\n\n", &q);
  EXPECT_EQ(q.last_event_id(), "42");

  SseParser r;
  parse_all("retry: 1500\nretry: 1x\nretry:\nretry: 99999999999999999999\n", &r);
  ASSERT_TRUE(r.retry_ms());
  EXPECT_EQ(*r.retry_ms(), 1500u);
  EXPECT_EQ(r.stats().bad_retry, 3u);
}

TEST(SseParser, CommentsAreNotMessages) {
  SseParser p;
  EXPECT_TRUE(parse_all(":\n: keep-alive\n\n:x\n\n", &p).empty());
  EXPECT_EQ(p.stats().comments, 3u);
  EXPECT_EQ(p.last_comment(), "x");
}

TEST(SseParser, LeadingBomIsSkippedOnceAndMaySplit) {
  EXPECT_EQ(describe(parse_all("\xEF\xBB\xBF" "data: a\n\n")), "[message|a|<none>]");
  SseParser p;
  std::vector<SseMessage> out;
  p.feed("\xEF", out);
  p.feed("\xBB", out);
  p.feed("\xBF" "data: b\n\n", out);
  EXPECT_EQ(describe(out), "[message|b|<none>]");
  // A broken BOM is text: here the start of an unknown field name.
  SseParser q;
  EXPECT_EQ(describe(parse_all("\xEF\xBB" "data: c\n\ndata: d\n\n", &q)), "[message|d|<none>]");
  EXPECT_EQ(q.stats().unknown_fields, 1u);
  // Only at the start of the stream.
  SseParser r;
  EXPECT_EQ(describe(parse_all("data: e\n\n\xEF\xBB\xBF" "data: f\n\n", &r)), "[message|e|<none>]");
}

TEST(SseParser, UnterminatedMessageIsDroppedByReset) {
  SseParser p;
  std::vector<SseMessage> out;
  p.feed("id: 5\ndata: half", out);
  p.reset();  // reconnect
  p.feed("data: whole\n\n", out);
  EXPECT_EQ(describe(out), "[message|whole|<none>]");
  EXPECT_EQ(p.last_event_id(), "5");
}

TEST(SseParser, LongLineIsDroppedWithItsMessageAndCounted) {
  SseLimits limits;
  limits.max_line_bytes = 32;
  SseParser p(limits);
  std::string big(100, 'x');
  std::vector<SseMessage> out;
  // The long data line arrives in pieces: never more than the limit is held.
  p.feed("event: a\ndata: ", out);
  for (char c : big) {
    p.feed(std::string_view(&c, 1), out);
    EXPECT_LE(p.buffered_bytes(), 32u + 8u);
  }
  p.feed("\ndata: tail\n\ndata: next\n\n", out);
  EXPECT_EQ(describe(out), "[message|next|<none>]");
  EXPECT_EQ(p.stats().long_lines, 1u);
  EXPECT_EQ(p.stats().dropped_events, 1u);
  // A long comment costs no message.
  SseParser q(limits);
  EXPECT_EQ(describe(parse_all(": " + big + "\ndata: ok\n\n", &q)), "[message|ok|<none>]");
  EXPECT_EQ(q.stats().long_lines, 1u);
  EXPECT_EQ(q.stats().dropped_events, 0u);
  // Exactly the limit is fine.
  SseParser r(limits);
  std::string exact = "data: " + std::string(26, 'y');
  ASSERT_EQ(exact.size(), 32u);
  EXPECT_EQ(parse_all(exact + "\n\n", &r).size(), 1u);
  EXPECT_EQ(r.stats().long_lines, 0u);
}

TEST(SseParser, LongEventIsDroppedAndCounted) {
  SseLimits limits;
  limits.max_line_bytes = 64;
  limits.max_event_bytes = 100;
  SseParser p(limits);
  std::string stream;
  for (int i = 0; i < 20; ++i) stream += "data: " + std::string(40, 'z') + "\n";
  stream += "\ndata: after\n\n";
  std::vector<SseMessage> out;
  for (char c : stream) {
    p.feed(std::string_view(&c, 1), out);
    EXPECT_LE(p.buffered_bytes(), 100u + 64u);
  }
  EXPECT_EQ(describe(out), "[message|after|<none>]");
  EXPECT_EQ(p.stats().dropped_events, 1u);
  EXPECT_EQ(p.stats().long_lines, 0u);
}

// Every split of the stream into two chunks, and byte by byte, gives the same messages and counters.
TEST(SseParser, EverySplitGivesTheSameResult) {
  const std::string streams[] = {
      kNodeStream,
      "\xEF\xBB\xBF" "data: a\r\n\r\nid: 9\revent: e\rdata: b\rdata: c\r\r: c\r\n\n",
      "retry: 10\r\nfoo\r\ndata\r\n\r\ndata:x\n\r\n",
  };
  for (const std::string& s : streams) {
    SseParser whole;
    const std::string want = describe(parse_all(s, &whole));
    for (size_t cut = 0; cut <= s.size(); ++cut) {
      SseParser p;
      std::vector<SseMessage> out;
      p.feed(std::string_view(s).substr(0, cut), out);
      p.feed(std::string_view(s).substr(cut), out);
      ASSERT_EQ(describe(out), want) << "cut at " << cut;
      EXPECT_EQ(p.stats().comments, whole.stats().comments);
      EXPECT_EQ(p.stats().unknown_fields, whole.stats().unknown_fields);
      EXPECT_EQ(p.last_event_id(), whole.last_event_id());
    }
    SseParser bytewise;
    std::vector<SseMessage> out;
    for (char c : s) bytewise.feed(std::string_view(&c, 1), out);
    EXPECT_EQ(describe(out), want);
    EXPECT_EQ(bytewise.retry_ms(), whole.retry_ms());
  }
}

// ---- topic, paths ----------------------------------------------------------------------------

TEST(SporeEventsTopic, Rule) {
  EXPECT_FALSE(topic_error("light"));
  EXPECT_FALSE(topic_error("led/state"));
  EXPECT_FALSE(topic_error(std::string(31, 'a')));
  EXPECT_FALSE(topic_error("!~"));
  EXPECT_FALSE(topic_error("nodes"));  // only the node_ prefix is reserved
  EXPECT_TRUE(topic_error(""));
  EXPECT_TRUE(topic_error(std::string(32, 'a')));
  EXPECT_TRUE(topic_error("a b"));
  EXPECT_TRUE(topic_error("caf\xC3\xA9"));
  EXPECT_TRUE(topic_error(std::string("a\0b", 3)));
  EXPECT_TRUE(topic_error("*"));
  EXPECT_TRUE(topic_error("node_inactive"));
  EXPECT_TRUE(topic_error("ota_started"));
  EXPECT_NE(topic_error("node_x")->find("reserved"), std::string::npos);
  EXPECT_NE(topic_error("a b")->find("0x21..0x7E"), std::string::npos);
  // Watching a reserved topic is fine, "*" and bad characters are not.
  EXPECT_FALSE(topic_error("node_inactive", true));
  EXPECT_FALSE(topic_error("ota_failed", true));
  EXPECT_TRUE(topic_error("*", true));
  EXPECT_TRUE(topic_error("a b", true));
}

TEST(SporeEventsTopic, PercentEncodingAndPaths) {
  EXPECT_EQ(percent_encode("light"), "light");
  EXPECT_EQ(percent_encode("a/b?c&d=e#f%g+h"), "a%2Fb%3Fc%26d%3De%23f%25g%2Bh");
  EXPECT_EQ(percent_encode("A-z_0.9~"), "A-z_0.9~");
  EXPECT_EQ(percent_encode(std::string("\x01\xff", 2)), "%01%FF");
  EXPECT_EQ(publish_path("led/state"), "/api/cluster/events?topic=led%2Fstate");
  EXPECT_EQ(stream_path(std::nullopt), "/api/cluster/events/stream");
  EXPECT_EQ(stream_path(std::string("a&b")), "/api/cluster/events/stream?topic=a%26b");
}

// ---- publish ---------------------------------------------------------------------------------

TEST(SporeEventsPublish, PublishedLine) {
  Json a = Json::parse(R"({"status":"published","topic":"light","nodeId":169552957,"epoch":7,"seq":3,"sizeBytes":2})");
  EXPECT_EQ(format_published(a, "node-1"), "published light seq 3 on node-1 (node 169552957, epoch 7)");
  a["hostname"] = "n1";
  EXPECT_EQ(format_published(a, "127.0.0.2:8080"), "published light seq 3 on n1 (node 169552957, epoch 7)");
  EXPECT_EQ(format_published(Json::object(), "x"), "published ? seq ? on x (node ?, epoch ?)");
}

TEST(SporeEventsPublish, ErrorHints) {
  std::string m = describe_publish_error(401, R"({"error":"wrong API token","code":"auth_invalid"})", true);
  EXPECT_NE(m.find("wrong API token (HTTP 401) [auth_invalid]"), std::string::npos) << m;
  EXPECT_NE(m.find("refused"), std::string::npos);
  m = describe_publish_error(401, R"({"error":"token required","code":"auth_required"})", false);
  EXPECT_NE(m.find("--token-file"), std::string::npos);
  m = describe_publish_error(413, R"({"error":"payload too large","code":"too_large","maxBytes":64})", false);
  EXPECT_NE(m.find("[too_large]"), std::string::npos);
  EXPECT_NE(m.find("at most 64 bytes"), std::string::npos);
  m = describe_publish_error(404, "Not Found", false);
  EXPECT_NE(m.find("older than the events API"), std::string::npos);
  m = describe_publish_error(400, R"({"error":"reserved topic","code":"reserved_topic"})", false);
  EXPECT_EQ(m, "reserved topic (HTTP 400) [reserved_topic]");
}

TEST(SporeEventsWatch, StreamErrors) {
  std::string m = describe_stream_error(404, "text/plain", "");
  EXPECT_NE(m.find("HTTP 404"), std::string::npos);
  EXPECT_NE(m.find("does not serve the event stream"), std::string::npos);
  m = describe_stream_error(503, "application/json", R"({"error":"all stream slots are taken","code":"too_many_streams"})");
  EXPECT_NE(m.find("[too_many_streams]"), std::string::npos);
  EXPECT_NE(m.find("slot"), std::string::npos);
  m = describe_stream_error(200, "application/json", "{}");
  EXPECT_NE(m.find("not an event stream"), std::string::npos);
}

// ---- payloads ------------------------------------------------------------------------------

TEST(SporeEventsPayload, EscapedForTheTerminal) {
  EXPECT_EQ(escape_payload("on"), "on");
  EXPECT_EQ(escape_payload(""), "\"\"");
  EXPECT_EQ(escape_payload("a b"), "a b");
  EXPECT_EQ(escape_payload(std::string("\x00\x1b[31m\xff\\\n\t\r", 11)), "\\x00\\x1B[31m\\xFF\\\\\\n\\t\\r");
  // Nodes send payloads as UTF-8 text: well-formed sequences pass, U+FFFD included.
  EXPECT_EQ(escape_payload("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xA1 \xEF\xBF\xBD"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xA1 \xEF\xBF\xBD");
  // C1 controls, DEL, broken, overlong and surrogate sequences are escaped byte by byte.
  EXPECT_EQ(escape_payload("\xC2\x9B" "1m\x7F"), "\\u009B1m\\x7F");
  EXPECT_EQ(escape_payload("\xC3"), "\\xC3");
  EXPECT_EQ(escape_payload("\xC3(x"), "\\xC3(x");
  EXPECT_EQ(escape_payload("\xC0\xAF"), "\\xC0\\xAF");
  EXPECT_EQ(escape_payload("\xED\xA0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(escape_payload("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
}

// ---- watch output --------------------------------------------------------------------------

SseMessage message(std::string event, std::string data, std::optional<std::string> id) {
  SseMessage m;
  m.event = std::move(event);
  m.data = std::move(data);
  m.id = std::move(id);
  return m;
}

std::time_t noon() {
  std::tm t{};
  t.tm_year = 124;
  t.tm_mon = 0;
  t.tm_mday = 2;
  t.tm_hour = 12;
  t.tm_min = 3;
  t.tm_sec = 4;
  t.tm_isdst = -1;
  return std::mktime(&t);
}

TEST(SporeEventsWatch, TextLines) {
  EventFormatter f(false);
  const std::time_t when = noon();
  EXPECT_EQ(f.text(message("light", R"({"topic":"light","node_id":"0a1b2c3d","hostname":"node-1","epoch":7,"seq":3,"data":"on"})",
                           "0a1b2c3d-7-3"),
                   when),
            "12:03:04  node-1    light     on\n");
  // No hostname: the node id; a payload with a control character and UTF-8 text.
  EXPECT_EQ(f.text(message("x", R"({"topic":"x","node_id":"0a1b2c3d","data":"\u00e9\u001b[2J\n"})", "i"), when),
            "12:03:04  0a1b2c3d  x         \xC3\xA9\\x1B[2J\\n\n");
  // The stream's decimal nodeId (docs/api.md, one id form) is the sender as well.
  EXPECT_EQ(EventFormatter(false).text(message("x", R"({"topic":"x","nodeId":169552957,"data":"on"})", "i"), when),
            "12:03:04  169552957  x         on\n");
  // Membership event: the member, its IP and status.
  EXPECT_EQ(f.text(message("node_inactive",
                           R"({"topic":"node_inactive","node_id":"0c","hostname":"node-3","ip":"127.0.0.3","status":"INACTIVE"})",
                           std::nullopt),
                   when),
            "12:03:04  node-3    node_inactive  127.0.0.3 INACTIVE\n");
  // Columns widened by the longer topic stay wide.
  EXPECT_EQ(f.text(message("a", R"({"topic":"a","hostname":"h","data":""})", "i"), when), "12:03:04  h         a              \"\"\n");
  // Not JSON: shown escaped.
  EXPECT_EQ(f.text(message("message", "plain\x01", std::nullopt), when), "12:03:04  ?         message        plain\\x01\n");
}

TEST(SporeEventsWatch, TextColour) {
  EventFormatter f(true);
  std::string line = f.text(message("node_dead", R"({"topic":"node_dead","hostname":"n3","ip":"1.2.3.4","status":"DEAD"})", std::nullopt), noon());
  EXPECT_NE(line.find("\033[31m1.2.3.4 DEAD\033[0m"), std::string::npos) << line;
}

TEST(SporeEventsWatch, JsonLines) {
  EventFormatter f(false);
  EXPECT_EQ(f.json(message("light", R"({"topic":"light","node_id":"0a1b2c3d","hostname":"node-1","epoch":7,"seq":3,"data":"on"})",
                           "0a1b2c3d-7-3")),
            R"({"event":"light","id":"0a1b2c3d-7-3","topic":"light","node_id":"0a1b2c3d","hostname":"node-1","epoch":7,"seq":3,"data":"on"})"
            "\n");
  EXPECT_EQ(f.json(message("node_left", R"({"topic":"node_left","node_id":"0c"})", std::nullopt)),
            R"({"event":"node_left","id":null,"topic":"node_left","node_id":"0c"})"
            "\n");
  EXPECT_EQ(f.json(message("message", "not json\nline 2", std::nullopt)),
            R"({"event":"message","id":null,"data":"not json\nline 2"})"
            "\n");
  // Invalid UTF-8 does not throw.
  EXPECT_NO_THROW(f.json(message("message", "\xff", std::nullopt)));
}

// Issue 18, finding 5: a node_* event's member fields (ip, status) went to the terminal raw, so a
// member announcing itself with ESC]0;...BEL or ESC[2J or \r in them retitled, cleared or
// overwrote the watcher's terminal. "\u202e" (RIGHT-TO-LEFT OVERRIDE) as JSON text is spelt
// kRloJson, so that the compiler's bidi check does not take it for one in this source.
const std::string kRloJson = std::string("\\u") + "202e";

TEST(SporeEventsWatch, NodeEventFieldsWithTerminalControlsAreShownEscaped) {
  for (const bool color : {false, true}) {
    EventFormatter f(color);
    const std::string line = f.text(
        message("node_updated",
                R"({"topic":"node_updated","hostname":"h\u001b]0;t\u0007","ip":"1.2.3.4\u001b[2J","status":"ACTIVE\r\u009b1m)" +
                    kRloJson + "\"}",
                std::nullopt),
        noon());
    EXPECT_NE(line.find("h\\x1B]0;t\\x07"), std::string::npos) << line;
    EXPECT_NE(line.find("1.2.3.4\\x1B[2J ACTIVE\\r\\u009B1m\\u202E"), std::string::npos) << line;
    std::string rest = line;
    if (color) {
      // The CLI's own colour codes are the only escape sequences left.
      for (const char* own : {"\033[31m", "\033[32m", "\033[33m", "\033[0m"}) {
        for (size_t at; (at = rest.find(own)) != std::string::npos;) rest.erase(at, std::string(own).size());
      }
    }
    for (const char c : rest.substr(0, rest.size() - 1)) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << line;
    EXPECT_EQ(rest.find("\xC2\x9B"), std::string::npos) << line;
    EXPECT_EQ(rest.find("\xE2\x80\xAE"), std::string::npos) << line;
  }
  // Non-string data, and the JSON lines: escaped by JSON, ASCII only.
  EventFormatter f(false);
  const std::string text =
      f.text(message("x", R"({"topic":"x","hostname":"h","data":{"k\u001b":"\u009b)" + kRloJson + "\"}}", "i"), noon());
  EXPECT_NE(text.find(R"({"k\u001b":"\u009b)" + kRloJson + "\"}"), std::string::npos) << text;
  const std::string json =
      f.json(message("node_dead", R"({"topic":"node_dead","ip":"\u001b[2J\u009b)" + kRloJson + R"(\u007f"})", std::nullopt));
  EXPECT_NE(json.find(R"("ip":"\u001b[2J\u009b)" + kRloJson + R"(\u007f")"), std::string::npos) << json;
  for (const char c : json.substr(0, json.size() - 1)) {
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F) << json;
  }
}

TEST(SporeEventsPublish, ThePublishedLineIsTerminalSafe) {
  const Json answer =
      Json::parse(R"({"topic":"t\u001b[2J","seq":1,"hostname":"h\r)" + kRloJson + R"(","nodeId":"0a\u001b","epoch":2})");
  EXPECT_EQ(format_published(answer, "x"), "published t\\x1B[2J seq 1 on h\\r\\u202E (node 0a\\x1B, epoch 2)");
  EXPECT_EQ(describe_stream_error(200, "text/html\x1b]0;x\x07", ""),
            "the answer is not an event stream (Content-Type 'text/html\\x1B]0;x\\x07', expected text/event-stream)");
}

TEST(SporeEventsWatch, BackoffDoublesToTheCapAndResets) {
  Backoff b(30000);
  b.set_base(2000);
  EXPECT_EQ(b.next_ms(), 2000u);
  EXPECT_EQ(b.next_ms(), 4000u);
  EXPECT_EQ(b.next_ms(), 8000u);
  EXPECT_EQ(b.next_ms(), 16000u);
  EXPECT_EQ(b.next_ms(), 30000u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.next_ms(), 30000u);
  b.reset();
  EXPECT_EQ(b.next_ms(), 2000u);
  Backoff zero;
  zero.set_base(0);
  EXPECT_GE(zero.next_ms(), 1u);
}

TEST(SporeEventsWatch, ExitCodes) {
  EXPECT_EQ(watch_exit_code(false, 0, 0), kExitOk);   // Ctrl-C
  EXPECT_EQ(watch_exit_code(false, 3, 3), kExitOk);   // --count reached
  EXPECT_EQ(watch_exit_code(true, 0, 0), kExitOk);    // --timeout alone: watched for S seconds
  EXPECT_EQ(watch_exit_code(true, 3, 2), kExitFailure);  // --count 3 --timeout S: only 2 came
}

}  // namespace
}  // namespace cli
}  // namespace spore
