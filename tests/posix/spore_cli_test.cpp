// Unit tests of the spore CLI's pure logic (apps/spore/cli_logic.cpp): node address parsing and
// resolution order, .env parsing, token resolution, tables and "N s ago".
//
// tests/posix/*_test.cpp link spore_posix only, not the apps, so the CLI logic is compiled into
// this test by including its source (it depends on nothing but the standard library and
// nlohmann_json, which spore_posix brings).
#include "../../apps/spore/cli_logic.cpp"

#include <gtest/gtest.h>

namespace spore {
namespace cli {
namespace {

using Json = nlohmann::ordered_json;

// ---- parse_node_address --------------------------------------------------------------------------

TEST(SporeCliAddress, HostAloneGetsDefaultPort) {
  auto a = parse_node_address("192.168.1.100");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "192.168.1.100");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->base_url(), "http://192.168.1.100:8080");
}

TEST(SporeCliAddress, HostAndPort) {
  auto a = parse_node_address("esp_123456.local:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "esp_123456.local");
  EXPECT_EQ(a->port, 80);
}

TEST(SporeCliAddress, UrlFormsAreAccepted) {
  auto a = parse_node_address("  http://127.0.0.2:9000/ \n");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.2");
  EXPECT_EQ(a->port, 9000);
}

TEST(SporeCliAddress, Ipv6) {
  auto a = parse_node_address("[::1]:8081");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 8081);
  EXPECT_EQ(a->to_string(), "[::1]:8081");
  auto b = parse_node_address("fe80::1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "fe80::1");
  EXPECT_EQ(b->port, 8080);
}

TEST(SporeCliAddress, RejectsBadInputWithReason) {
  for (const char* bad : {"", "   ", ":8080", "host:", "host:0", "host:65536", "host:80a", "host:123456",
                          "https://host", "http://host/api/node/status", "ho st", "[::1", "[::1]x", "http://"}) {
    std::string why;
    EXPECT_FALSE(parse_node_address(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(SporeCliAddress, PortBoundaries) {
  EXPECT_EQ(parse_node_address("h:1")->port, 1);
  EXPECT_EQ(parse_node_address("h:65535")->port, 65535);
}

// ---- parse_env_value -----------------------------------------------------------------------------

TEST(SporeCliDotEnv, SeedFormat) {
  const char* text =
      "# API node IP for cluster management\n"
      "export API_NODE=192.168.1.100\n"
      "# WiFi credentials (optional, can be configured in code)\n"
      "export WIFI_SSID=your_network\n"
      "export WIFI_PASSWORD=your_password\n";
  EXPECT_EQ(parse_env_value(text, "API_NODE"), "192.168.1.100");
  EXPECT_EQ(parse_env_value(text, "WIFI_SSID"), "your_network");
  EXPECT_FALSE(parse_env_value(text, "MISSING"));
}

TEST(SporeCliDotEnv, PlainQuotedCommentsAndLastWins) {
  EXPECT_EQ(parse_env_value("API_NODE=10.0.0.1", "API_NODE"), "10.0.0.1");
  EXPECT_EQ(parse_env_value("API_NODE=\"10.0.0.2:80\"\n", "API_NODE"), "10.0.0.2:80");
  EXPECT_EQ(parse_env_value("API_NODE='10.0.0.3' # the hall\n", "API_NODE"), "10.0.0.3");
  EXPECT_EQ(parse_env_value("API_NODE=10.0.0.4   # kitchen\r\n", "API_NODE"), "10.0.0.4");
  EXPECT_EQ(parse_env_value("  export   API_NODE = 10.0.0.5\n", "API_NODE"), "10.0.0.5");
  EXPECT_EQ(parse_env_value("API_NODE=1.1.1.1\nAPI_NODE=2.2.2.2\n", "API_NODE"), "2.2.2.2");
  EXPECT_EQ(parse_env_value("API_NODE=a#b", "API_NODE"), "a#b");  // '#' inside a word is not a comment
  EXPECT_EQ(parse_env_value("API_NODE=", "API_NODE"), "");
}

TEST(SporeCliDotEnv, NoShellEvaluation) {
  EXPECT_EQ(parse_env_value("API_NODE=$(rm -rf /)", "API_NODE"), "$(rm -rf /)");
  EXPECT_EQ(parse_env_value("API_NODE=${HOME}", "API_NODE"), "${HOME}");
}

TEST(SporeCliDotEnv, IgnoresOtherKeysAndNoise) {
  EXPECT_FALSE(parse_env_value("MY_API_NODE=1.2.3.4\nAPI_NODEX=5\n#API_NODE=6\nexportAPI_NODE=7\ngarbage\n",
                               "API_NODE"));
  EXPECT_FALSE(parse_env_value("", "API_NODE"));
}

// ---- resolve_node_address ------------------------------------------------------------------------

TEST(SporeCliResolve, Order) {
  const std::optional<std::string> dotenv = std::string("export API_NODE=10.0.0.4\n");
  auto r = resolve_node_address(std::string("10.0.0.1"), "10.0.0.2", "10.0.0.3", dotenv);
  EXPECT_EQ(r.source, AddressSource::kFlag);
  EXPECT_EQ(r.address->host, "10.0.0.1");
  r = resolve_node_address(std::nullopt, "10.0.0.2", "10.0.0.3", dotenv);
  EXPECT_EQ(r.source, AddressSource::kSporeNodeEnv);
  EXPECT_EQ(r.address->host, "10.0.0.2");
  r = resolve_node_address(std::nullopt, nullptr, "10.0.0.3", dotenv);
  EXPECT_EQ(r.source, AddressSource::kApiNodeEnv);
  EXPECT_EQ(r.address->host, "10.0.0.3");
  r = resolve_node_address(std::nullopt, "", "", dotenv);  // empty counts as not set
  EXPECT_EQ(r.source, AddressSource::kDotEnv);
  EXPECT_EQ(r.address->host, "10.0.0.4");
  EXPECT_EQ(r.address->port, 8080);
}

TEST(SporeCliResolve, NothingGivenExplains) {
  auto r = resolve_node_address(std::nullopt, nullptr, nullptr, std::nullopt);
  EXPECT_FALSE(r.address);
  EXPECT_EQ(r.source, AddressSource::kNone);
  EXPECT_NE(r.error.find("--node"), std::string::npos);
  EXPECT_NE(r.error.find(".env"), std::string::npos);
  r = resolve_node_address(std::nullopt, nullptr, nullptr, std::string("WIFI_SSID=x\n"));
  EXPECT_FALSE(r.address);
}

TEST(SporeCliResolve, InvalidFirstSourceIsAnErrorNotAFallthrough) {
  auto r = resolve_node_address(std::nullopt, "bad:port", "10.0.0.3", std::nullopt);
  EXPECT_FALSE(r.address);
  EXPECT_EQ(r.source, AddressSource::kSporeNodeEnv);
  EXPECT_NE(r.error.find("SPORE_NODE"), std::string::npos);
}

// ---- resolve_token -------------------------------------------------------------------------------

TEST(SporeCliToken, Order) {
  TokenSource src = TokenSource::kNone;
  EXPECT_EQ(resolve_token(std::string("a"), std::string("b\n"), "c", &src), "a");
  EXPECT_EQ(src, TokenSource::kFlag);
  EXPECT_EQ(resolve_token(std::nullopt, std::string("  b  \nsecond line\n"), "c", &src), "b");
  EXPECT_EQ(src, TokenSource::kFile);
  EXPECT_EQ(resolve_token(std::nullopt, std::nullopt, " c\n", &src), "c");
  EXPECT_EQ(src, TokenSource::kEnv);
  EXPECT_FALSE(resolve_token(std::string(""), std::string("\n"), "", &src));
  EXPECT_EQ(src, TokenSource::kNone);
}

// ---- format_ago, format_bytes ------------------------------------------------------------------------

TEST(SporeCliFormat, Ago) {
  EXPECT_EQ(format_ago(-1), "-");
  EXPECT_EQ(format_ago(0), "now");
  EXPECT_EQ(format_ago(999), "now");
  EXPECT_EQ(format_ago(1000), "1 s ago");
  EXPECT_EQ(format_ago(3400), "3 s ago");
  EXPECT_EQ(format_ago(119999), "119 s ago");
  EXPECT_EQ(format_ago(120000), "2 min ago");
  EXPECT_EQ(format_ago(2 * 3600 * 1000LL), "2 h ago");
  EXPECT_EQ(format_ago(3 * 86400 * 1000LL), "3 d ago");
}

TEST(SporeCliFormat, Bytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(40448), "39.5 KiB");
  EXPECT_EQ(format_bytes(1048576), "1.0 MiB");
  EXPECT_EQ(format_bytes(3ULL << 30), "3.0 GiB");
}

TEST(SporeCliFormat, NaturalOrder) {
  EXPECT_TRUE(natural_less("demo-2", "demo-10"));
  EXPECT_FALSE(natural_less("demo-10", "demo-2"));
  EXPECT_TRUE(natural_less("demo-1", "demo-2"));
  EXPECT_TRUE(natural_less("a", "b"));
  EXPECT_TRUE(natural_less("n", "n1"));
  EXPECT_FALSE(natural_less("n1", "n1"));
  EXPECT_TRUE(natural_less("n007", "n8"));
  EXPECT_TRUE(natural_less("esp_99", "esp_123456"));
}

// ---- members table -------------------------------------------------------------------------------

Json members_body() {
  return Json::parse(R"({"members":[
    {"hostname":"demo-1","ip":"127.0.0.2","lastSeen":1000,"latency":0,"status":"ACTIVE",
     "resources":{"freeHeap":40448,"chipId":1,"sdkVersion":"x","cpuFreqMHz":80,"flashChipSize":1048576},
     "api":[{"uri":"/api/node/status","method":"GET"},{"uri":"/api/cluster/members","method":"GET"}],
     "nodeId":1,"incarnation":7,"httpPort":8080,"lastSeenAgoMs":0,"left":false,"self":true},
    {"hostname":"demo-2","ip":"127.0.0.3","lastSeen":900,"latency":3,"status":"INACTIVE",
     "resources":{"freeHeap":1024},"api":[],"nodeId":2,"incarnation":2,"httpPort":9000,"lastSeenAgoMs":12345},
    {"hostname":"demo-3","ip":"127.0.0.4","lastSeen":1,"latency":-1,"status":"DEAD","nodeId":3,
     "incarnation":5,"httpPort":8080,"lastSeenAgoMs":70000,"left":true}
  ]})");
}

TEST(SporeCliMembersTable, RowsColumnsAndSummary) {
  std::string t = format_members_table(members_body(), false);
  EXPECT_EQ(t.find('\033'), std::string::npos) << "no colour when not asked";
  EXPECT_EQ(t.rfind("HOSTNAME", 0), 0u);
  EXPECT_NE(t.find("LAST SEEN"), std::string::npos);
  EXPECT_NE(t.find("demo-1*"), std::string::npos) << "self marked";
  EXPECT_NE(t.find("127.0.0.3:9000"), std::string::npos) << "non-default http port shown";
  EXPECT_EQ(t.find("127.0.0.2:8080"), std::string::npos);
  EXPECT_NE(t.find("12 s ago"), std::string::npos);
  EXPECT_NE(t.find("70 s ago"), std::string::npos);
  EXPECT_NE(t.find("DEAD (left)"), std::string::npos);
  EXPECT_NE(t.find("39.5 KiB"), std::string::npos);
  EXPECT_NE(t.find("3 ms"), std::string::npos);
  EXPECT_NE(t.find("3 members: 1 active, 1 inactive, 1 dead"), std::string::npos);
  // 1 header + 3 rows + summary
  EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 5);
}

TEST(SporeCliMembersTable, SelfFirstThenNaturalHostnameOrder) {
  Json body = Json::parse(R"({"members":[
    {"hostname":"demo-3","self":true},{"hostname":"demo-10"},{"hostname":"demo-2"},{"hostname":"demo-1"}]})");
  std::string t = format_members_table(body, false);
  EXPECT_LT(t.find("demo-3*"), t.find("demo-1 "));
  EXPECT_LT(t.find("demo-1 "), t.find("demo-2 "));
  EXPECT_LT(t.find("demo-2 "), t.find("demo-10 "));
}

TEST(SporeCliMembersTable, ColumnsAlignWithAndWithoutColour) {
  auto column_of = [](const std::string& table, const std::string& needle) {
    size_t pos = table.find(needle);
    size_t line_start = table.rfind('\n', pos);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    return pos - line_start;
  };
  std::string plain = format_members_table(members_body(), false);
  std::string colored = format_members_table(members_body(), true);
  EXPECT_NE(colored.find("\033[32mACTIVE\033[0m"), std::string::npos);
  EXPECT_NE(colored.find("\033[33mINACTIVE\033[0m"), std::string::npos);
  EXPECT_NE(colored.find("\033[31mDEAD (left)\033[0m"), std::string::npos);
  // The LAST SEEN header and the "12 s ago" cell start in the same column.
  EXPECT_EQ(column_of(plain, "LAST SEEN"), column_of(plain, "12 s ago"));
  // Stripping the escape codes from the coloured table gives the plain one.
  std::string stripped;
  for (size_t i = 0; i < colored.size(); ++i) {
    if (colored[i] == '\033') {
      i = colored.find('m', i);
      continue;
    }
    stripped += colored[i];
  }
  EXPECT_EQ(stripped, plain);
}

TEST(SporeCliMembersTable, ToleratesMissingAndWrongFields) {
  Json body = Json::parse(R"({"members":[{"hostname":5,"status":null,"resources":"x","api":{}}, 17, {}]})");
  std::string t = format_members_table(body, true);
  EXPECT_NE(t.find("3 members: 0 active, 0 inactive, 0 dead, 3 unknown"), std::string::npos);
  EXPECT_EQ(format_members_table(Json::parse("[1,2]"), false).find("not a members list"), 1u);
  EXPECT_TRUE(looks_like_members(Json::parse(R"({"members":[]})")));
  EXPECT_FALSE(looks_like_members(Json::parse(R"({"members":{}})")));
  EXPECT_NE(format_members_table(Json::parse(R"({"members":[]})"), false).find("0 members"), std::string::npos);
}

// ---- status lines, error bodies ------------------------------------------------------------------------

TEST(SporeCliStatus, KeyValueLinesInNodeOrder) {
  Json body = Json::parse(R"J({"freeHeap":12345,"chipId":12345678,"sdkVersion":"2.2.2-dev(38a443e)",
    "cpuFreqMHz":80,"flashChipSize":1048576,"api":[{"uri":"/api/node/status","method":"GET"},
    {"uri":"/api/node/restart","method":"POST"}],"extra":{"a":1}})J");
  std::string s = format_status_lines(body);
  EXPECT_NE(s.find("freeHeap:      12345\n"), std::string::npos) << s;
  EXPECT_NE(s.find("sdkVersion:    2.2.2-dev(38a443e)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("api:           GET    /api/node/status\n"), std::string::npos) << s;
  EXPECT_NE(s.find("api:           POST   /api/node/restart\n"), std::string::npos) << s;
  EXPECT_NE(s.find("extra.a:"), std::string::npos) << s;
  EXPECT_LT(s.find("freeHeap"), s.find("chipId"));
}

TEST(SporeCliErrors, ContractErrorBody) {
  EXPECT_EQ(describe_error_response(401, R"({"error":"API token required","code":"auth_required"})"),
            "API token required (HTTP 401) [auth_required]");
  EXPECT_EQ(describe_error_response(404, R"({"error":"no such path"})"), "no such path (HTTP 404)");
}

TEST(SporeCliErrors, NonJsonBody) {
  EXPECT_EQ(describe_error_response(500, "<html>oops</html>\n"), "HTTP 500: <html>oops</html>");
  EXPECT_EQ(describe_error_response(502, ""), "HTTP 502");
  std::string long_body(500, 'x');
  EXPECT_EQ(describe_error_response(500, long_body).size(), std::string("HTTP 500: ").size() + 203);
}

// ---- discovered nodes ------------------------------------------------------------------------------

TEST(SporeCliDiscover, MergeKeepsOneEntryPerNodeId) {
  std::vector<DiscoveredNode> nodes;
  DiscoveredNode a;
  a.node_id = 7;
  a.incarnation = 1;
  a.hostname = "b-node";
  a.ip = "127.0.0.3";
  a.http_port = 8080;
  a.udp_port = 4210;
  EXPECT_TRUE(merge_discovered(nodes, a));
  a.incarnation = 2;
  a.ip = "127.0.0.9";
  EXPECT_FALSE(merge_discovered(nodes, a));
  DiscoveredNode old = a;
  old.incarnation = 1;
  old.ip = "1.1.1.1";
  EXPECT_FALSE(merge_discovered(nodes, old));  // an older incarnation does not overwrite
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].ip, "127.0.0.9");
  EXPECT_EQ(nodes[0].incarnation, 2u);
  EXPECT_EQ(nodes[0].announces, 3u);
  DiscoveredNode b = a;
  b.node_id = 3;
  b.hostname = "a-node";
  EXPECT_TRUE(merge_discovered(nodes, b));

  std::string t = format_discovered_table(nodes);
  EXPECT_LT(t.find("a-node"), t.find("b-node")) << "sorted by hostname";
  Json j = discovered_to_json(nodes);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["hostname"], "a-node");
  EXPECT_TRUE(j["nodes"][0]["nodeId"].is_number());
  EXPECT_EQ(j["nodes"][1]["url"], "http://127.0.0.9:8080");
}

TEST(SporeCliDiscover, Ipv4ToString) {
  EXPECT_EQ(ipv4_to_string(0xC0A80102u), "192.168.1.2");
  EXPECT_EQ(ipv4_to_string(0x7FFFFFFFu), "127.255.255.255");
  EXPECT_EQ(ipv4_to_string(0), "0.0.0.0");
}

}  // namespace
}  // namespace cli
}  // namespace spore
