// Unit tests of the spore CLI's pure logic (apps/spore/cli_logic.cpp, cli_format.cpp, ota_logic.cpp,
// rollout_logic.cpp):
// node address parsing and resolution order, .env parsing, token resolution, tables and "N s ago";
// for OTA: signed-trailer detection and layout, multipart frame, progress formatting and throttling,
// rollout targets and wave planning (canary, parallelism, observer last), result table and JSON,
// member confirmation, token maps and update error hints.
//
// tests/posix/*_test.cpp link spore_posix only, not the apps, so the CLI logic is compiled into
// this test by including its source (it depends on nothing but the standard library and
// nlohmann_json, which spore_posix brings).
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"
#include "../../apps/spore/ota_logic.cpp"
#include "../../apps/spore/rollout_logic.cpp"
#include "../../apps/spore/bounded_http.cpp"
#include "../../apps/spore/request_signer.cpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "loopback_listener.h"

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

TEST(CliFormat, BytesFollowTheOneUnitRule) {
  // The largest unit whose value is >= 1, one decimal rounded half up (as the dashboard's
  // formatBytes(): printf's "%.1f" would give 1.2 KiB for 1280 B, JavaScript's toFixed 1.3).
  EXPECT_EQ(format_bytes(1280), "1.3 KiB");
  EXPECT_EQ(format_bytes(30208), "29.5 KiB");
  EXPECT_EQ(format_bytes(1048575), "1024.0 KiB");  // 0.99999 MiB is below 1 MiB
  EXPECT_EQ(format_bytes(4294967295ULL), "4.0 GiB");
  EXPECT_EQ(format_bytes(25125558682ULL), "23.4 GiB");  // above the old 32-bit cap
  EXPECT_EQ(format_bytes(5ULL << 40), "5.0 TiB");
  EXPECT_EQ(format_bytes(3ULL << 50), "3072.0 TiB");  // TiB is the largest unit
  EXPECT_EQ(format_bytes(UINT64_MAX), "16777216.0 TiB");
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

// ---- OTA: signed images (ESP8266 core's tools/signing.py format) ---------------------------------

TEST(SporeCliOtaSigned, SignatureTrailerByteLayout) {
  // image ‖ signature ‖ uint32 LE length: signing.py writes the length of a 2048-bit signature as
  // the bytes 00 01 00 00.
  std::string sig(256, '\xAB');
  std::string t = signature_trailer(sig);
  ASSERT_EQ(t.size(), 260u);
  EXPECT_EQ(t.substr(0, 256), sig);
  EXPECT_EQ(static_cast<uint8_t>(t[256]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>(t[257]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(t[258]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>(t[259]), 0x00);
  EXPECT_EQ(load_le32(reinterpret_cast<const uint8_t*>(t.data()) + 256), 256u);
  std::string t4096 = signature_trailer(std::string(512, 'x'));
  EXPECT_EQ(load_le32(reinterpret_cast<const uint8_t*>(t4096.data()) + 512), 512u);
}

TEST(SporeCliOtaSigned, DetectsTheTrailerOfASignedImage) {
  std::string image(1000, '\xE9');
  std::string file = image + signature_trailer(std::string(256, 's'));
  const auto* end = reinterpret_cast<const uint8_t*>(file.data()) + file.size() - 4;
  ImageLayout l = detect_image_layout(file.size(), end);
  EXPECT_TRUE(l.is_signed);
  EXPECT_EQ(l.signature_bytes, 256u);
  EXPECT_EQ(l.image_bytes, 1000u);
}

// Issue 18 (ota-fix): spore sign --allow-downgrade finds the slot a node's scanner finds and adds
// the build-metadata identifier `downgrade` into its NUL padding; no room, no slot: an error.
TEST(SporeCliOtaSigned, DowngradeMarkerPatch) {
  auto slot = [](const std::string& version) {
    std::string s = "SPORE-VERSION-SLOT:" + version;
    s.resize(48, '\0');
    return s;
  };
  const std::string image = "\x7f" "ELF" + std::string(100, 'x') + "SPORE-VERSION-SLOT:dev" + std::string(5, '\0') +
                            slot("0.0.9") + "tail";
  VersionSlotAt at;
  size_t resume = 0;
  ASSERT_TRUE(find_version_slot(image, 1000, true, &at, &resume));  // the stray "dev" marker is skipped
  EXPECT_EQ(at.text_offset, 1000 + image.find("0.0.9"));
  // Cut inside the slot, the window waits for more bytes rather than judge half a slot.
  const std::string half = image.substr(0, image.find("0.0.9") + 3);
  EXPECT_FALSE(find_version_slot(half, 0, false, &at, &resume));
  EXPECT_EQ(resume, half.rfind("SPORE-VERSION-SLOT:"));
  EXPECT_FALSE(find_version_slot(std::string(5000, 'S'), 0, false, &at, &resume));
  EXPECT_EQ(resume, 5000u - 18u);  // a marker may start in the last 18 bytes
  EXPECT_FALSE(find_version_slot("no slot here", 0, true, &at, &resume));

  auto mark = [&](const std::string& version, std::string* marked) {
    const std::string s = slot(version);
    std::string patch, error;
    size_t offset = 0;
    const bool ok = downgrade_slot_patch(std::string_view(s).substr(19), marked, &patch, &offset, &error);
    if (!ok) *marked = "error: " + error;
    return ok ? version.substr(0, offset) + patch : std::string();
  };
  std::string marked;
  EXPECT_EQ(mark("0.0.9", &marked), "0.0.9+downgrade");
  EXPECT_EQ(marked, "0.0.9+downgrade");
  EXPECT_EQ(mark("0.0.9+g12ab", &marked), "0.0.9+g12ab.downgrade");
  EXPECT_EQ(mark("0.0.9-rc1", &marked), "0.0.9-rc1+downgrade");
  EXPECT_EQ(mark("0.0.9+downgrade", &marked), "0.0.9+downgrade");  // marked already: unchanged
  EXPECT_EQ(mark("spore-esp8266-0.1.0-rc", &marked), "");  // 22 + 10 > 28 characters
  EXPECT_NE(marked.find("no room"), std::string::npos);
  EXPECT_EQ(mark("spore-esp8266-0.1.0", &marked), "");  // 19 + 10 = 29 > 28
  EXPECT_EQ(mark("spore-e-0.1.0+abcd", &marked), "spore-e-0.1.0+abcd.downgrade");  // exactly 28
  // The padding must be NUL: a slot whose text is followed by other bytes is left alone.
  std::string dirty = slot("0.0.9");
  dirty[19 + 8] = 'Z';
  std::string patch, error;
  size_t offset = 0;
  EXPECT_FALSE(downgrade_slot_patch(std::string_view(dirty).substr(19), &marked, &patch, &offset, &error));
}

TEST(SporeCliOtaSigned, UnsignedEndingsAreNotMistakenForSignatures) {
  const uint8_t zeros[4] = {0, 0, 0, 0};
  const uint8_t small[4] = {0x18, 0, 0, 0};         // an ELF section header's sh_entsize
  const uint8_t odd[4] = {0x00, 0x02, 0x00, 0x00};  // 512 is plausible: tested below
  const uint8_t big[4] = {0x00, 0x01, 0x00, 0x01};  // 0x01000100: not a signature length
  const uint8_t len300[4] = {0x2C, 0x01, 0, 0};     // 300: not an RSA size
  for (const uint8_t* e : {zeros, small, big, len300}) {
    ImageLayout l = detect_image_layout(100000, e);
    EXPECT_FALSE(l.is_signed);
    EXPECT_EQ(l.image_bytes, 100000u);
    EXPECT_EQ(l.signature_bytes, 0u);
  }
  EXPECT_TRUE(detect_image_layout(100000, odd).is_signed);
  // A file too short to hold the signature plus one image byte is not signed.
  const uint8_t l256[4] = {0x00, 0x01, 0x00, 0x00};
  EXPECT_FALSE(detect_image_layout(260, l256).is_signed);
  EXPECT_TRUE(detect_image_layout(261, l256).is_signed);
  EXPECT_EQ(detect_image_layout(261, l256).image_bytes, 1u);
  EXPECT_FALSE(detect_image_layout(3, nullptr).is_signed);
  EXPECT_EQ(detect_image_layout(3, nullptr).image_bytes, 3u);
  for (uint32_t n : {128u, 256u, 384u, 512u}) EXPECT_TRUE(plausible_signature_length(n));
  for (uint32_t n : {0u, 4u, 255u, 257u, 1024u, 0x100u << 8}) EXPECT_FALSE(plausible_signature_length(n));
}

// ---- OTA: hashes -----------------------------------------------------------------------------------

TEST(SporeCliOtaHash, EitherHashMatchesCaseAndSpaceInsensitive) {
  ImageHashes h{"aaaa" + std::string(60, '1'), "bbbb" + std::string(60, '2')};
  EXPECT_TRUE(image_hash_matches("AAAA" + std::string(60, '1'), h));
  EXPECT_TRUE(image_hash_matches(" bbbb" + std::string(60, '2') + "\n", h));
  EXPECT_FALSE(image_hash_matches("", h));
  EXPECT_FALSE(image_hash_matches("cccc" + std::string(60, '1'), h));
  EXPECT_EQ(image_digest_of(h.image_sha256), "aaaa1111");
  EXPECT_TRUE(image_digest_matches("AAAA1111", h));
  EXPECT_TRUE(image_digest_matches("bbbb2222", h));
  EXPECT_FALSE(image_digest_matches("aaaa111", h));
  EXPECT_FALSE(image_digest_matches("", h));
  const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(to_hex(bytes, 4), "000fa5ff");
}

// ---- OTA: upload body ---------------------------------------------------------------------------------

TEST(SporeCliOtaMultipart, FrameIsWhatCurlFormSends) {
  MultipartFrame f = multipart_frame(multipart_boundary(0x0123456789abcdefULL), "firmware", "spore.bin");
  const std::string b = "------------------------0123456789abcdef";
  EXPECT_EQ(f.content_type, "multipart/form-data; boundary=" + b);
  EXPECT_EQ(f.head, "--" + b +
                        "\r\nContent-Disposition: form-data; name=\"firmware\"; filename=\"spore.bin\"\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n");
  EXPECT_EQ(f.tail, "\r\n--" + b + "--\r\n");
  // Quotes and line breaks in a file name cannot break the header.
  MultipartFrame g = multipart_frame("b", "firmware", "a\"b\r\nc.bin");
  EXPECT_NE(g.head.find("filename=\"a_b__c.bin\""), std::string::npos);
  // Characters a boundary may not hold are dropped; an empty one gets a default.
  EXPECT_EQ(multipart_frame("a b;c", "f", "x").content_type, "multipart/form-data; boundary=abc");
  EXPECT_EQ(multipart_frame("", "f", "x").content_type, "multipart/form-data; boundary=spore-boundary");
}

// ---- OTA: progress ---------------------------------------------------------------------------------------

TEST(SporeCliOtaProgress, DurationAndRate) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(724), "12:04");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
  EXPECT_EQ(format_duration(std::nan("")), "--:--");
  EXPECT_EQ(format_duration(1e9), "--:--");
  EXPECT_EQ(format_rate(0), "-");
  EXPECT_EQ(format_rate(5.5 * 1024 * 1024), "5.5 MiB/s");
  EXPECT_EQ(percent_of(0, 0), 100);
  EXPECT_EQ(percent_of(1, 3), 33);
  EXPECT_EQ(percent_of(5, 3), 100);
}

TEST(SporeCliOtaProgress, PlainLineAndBar) {
  const uint64_t mib = 1024 * 1024;
  EXPECT_EQ(format_progress_line(5 * mib, 10 * mib, 1.0), "upload  50%  5.0 MiB / 10.0 MiB  5.0 MiB/s  ETA 0:01");
  EXPECT_EQ(format_progress_line(10 * mib, 10 * mib, 2.0), "upload 100%  10.0 MiB / 10.0 MiB  5.0 MiB/s  in 0:02");
  EXPECT_EQ(format_progress_line(0, 10 * mib, 0), "upload   0%  0 B / 10.0 MiB  -  ETA --:--");
  std::string bar = format_progress_bar(5 * mib, 10 * mib, 1.0, 100);
  EXPECT_LE(bar.size(), 100u);
  EXPECT_EQ(bar.front(), '[');
  const size_t close = bar.find(']');
  ASSERT_NE(close, std::string::npos);
  const std::string cells = bar.substr(1, close - 1);
  EXPECT_EQ(std::count(cells.begin(), cells.end(), '#'), static_cast<long>(cells.size() / 2));
  EXPECT_NE(bar.find(" 50%  5.0 MiB / 10.0 MiB  5.0 MiB/s  ETA 0:01"), std::string::npos);
  std::string full = format_progress_bar(10 * mib, 10 * mib, 2.0, 100);
  EXPECT_EQ(full.find('.'), full.find("10.0") + 2) << "no empty cell in a full bar: " << full;
  // The bar does not change width as the numbers do.
  const std::string early = format_progress_bar(1, 10 * mib, 1.0, 100);
  const std::string late = format_progress_bar(9 * mib, 10 * mib, 3.0, 100);
  EXPECT_EQ(early.find(']'), late.find(']'));
  EXPECT_EQ(close, late.find(']'));
  // Narrow terminals: no bar, never wider than the terminal.
  EXPECT_EQ(format_progress_bar(5 * mib, 10 * mib, 1.0, 30).size(), 30u);
  EXPECT_EQ(format_progress_bar(5 * mib, 10 * mib, 1.0, 30).front(), ' ');
  EXPECT_EQ(format_progress_bar(5 * mib, 10 * mib, 1.0, 60).front(), ' ');
}

TEST(SporeCliOtaProgress, ThrottleEveryTenPercentOrSecondAndOnceAtTheEnd) {
  ProgressThrottle t;
  const uint64_t total = 1000;
  EXPECT_TRUE(t.due(0, total, 0.0));      // first sample
  EXPECT_FALSE(t.due(50, total, 0.1));    // same 10 % step, under a second
  EXPECT_TRUE(t.due(100, total, 0.2));    // 10 %
  EXPECT_FALSE(t.due(150, total, 0.3));
  EXPECT_TRUE(t.due(160, total, 1.3));    // a second later, same step: a line while bytes move
  EXPECT_FALSE(t.due(170, total, 1.4));
  EXPECT_TRUE(t.due(350, total, 1.5));    // jumped two steps: one line
  EXPECT_TRUE(t.due(1000, total, 1.6));   // 100 %
  EXPECT_FALSE(t.due(1000, total, 5.0));  // never again
  // A fast upload prints at most 12 lines: the first, ten steps, the end.
  ProgressThrottle fast;
  int lines = 0;
  for (uint64_t sent = 0; sent <= total; sent += 7) lines += fast.due(sent, total, 0.0) ? 1 : 0;
  lines += fast.due(total, total, 0.0) ? 1 : 0;
  EXPECT_GE(lines, 11);
  EXPECT_LE(lines, 12);
}

// ---- OTA: rollout ------------------------------------------------------------------------------------

Json rollout_members() {
  return Json::parse(R"({"members": [
    {"hostname": "n1", "ip": "127.0.9.2", "status": "ACTIVE", "self": true, "httpPort": 8080},
    {"hostname": "n10", "ip": "127.0.9.11", "status": "ACTIVE", "httpPort": 8080},
    {"hostname": "n2", "ip": "127.0.9.3", "status": "INACTIVE", "httpPort": 9000},
    {"hostname": "n3", "ip": "127.0.9.4", "status": "DEAD"},
    {"hostname": "n4", "ip": "", "status": "ACTIVE"},
    {"hostname": "n5", "ip": "127.0.9.6", "status": "ACTIVE", "imageDigest": "abcd0123"}
  ]})");
}

TEST(SporeCliOtaRollout, TargetsSkipDeadAndPutTheObserverLast) {
  std::vector<RolloutTarget> skipped;
  auto t = rollout_targets(rollout_members(), "localhost", 8081, &skipped);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].hostname, "n2");  // INACTIVE is attempted (and fails loudly if it is down)
  EXPECT_EQ(t[0].http_port, 9000);
  EXPECT_EQ(t[1].hostname, "n5");
  EXPECT_EQ(t[1].image_digest, "abcd0123");
  EXPECT_EQ(t[2].hostname, "n10");  // natural order
  EXPECT_EQ(t[3].hostname, "n1");   // the observer last, reached where the CLI reached it
  EXPECT_TRUE(t[3].self);
  EXPECT_EQ(t[3].ip, "localhost");
  EXPECT_EQ(t[3].http_port, 8081);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].hostname, "n3");
  EXPECT_EQ(skipped[0].status, "DEAD");
  EXPECT_EQ(skipped[1].hostname, "n4");  // no address to reach it
  EXPECT_TRUE(rollout_targets(Json::parse(R"({"x": 1})"), "h", 1, nullptr).empty());
}

TEST(SporeCliOtaRollout, WavesCanaryThenBoundedParallelism) {
  using W = std::vector<std::vector<size_t>>;
  // 10 nodes, canary 1, parallel 3: [0] [1 2 3] [4 5 6] [7 8 9] (the observer, last in the
  // target order, in the last wave).
  EXPECT_EQ(plan_waves(10, 1, 3), (W{{0}, {1, 2, 3}, {4, 5, 6}, {7, 8, 9}}));
  // No canary: waves from the start. A canary of 2 goes together, whatever the parallelism.
  EXPECT_EQ(plan_waves(5, 0, 2), (W{{0, 1}, {2, 3}, {4}}));
  EXPECT_EQ(plan_waves(5, 2, 4), (W{{0, 1}, {2, 3, 4}}));
  EXPECT_EQ(plan_waves(5, 3, 1), (W{{0, 1, 2}, {3}, {4}}));
  // One by one (the seed's ota all).
  EXPECT_EQ(plan_waves(3, 1, 1), (W{{0}, {1}, {2}}));
  // The whole fleet behind one canary: two waves.
  EXPECT_EQ(plan_waves(4, 1, 100), (W{{0}, {1, 2, 3}}));
  // A canary larger than the fleet is the whole fleet; parallel 0 counts as 1.
  EXPECT_EQ(plan_waves(2, 5, 4), (W{{0, 1}}));
  EXPECT_EQ(plan_waves(3, 0, 0), (W{{0}, {1}, {2}}));
  EXPECT_EQ(plan_waves(1, 1, 4), (W{{0}}));
  EXPECT_TRUE(plan_waves(0, 1, 4).empty());
  // Every index exactly once, in order, no wave beyond the canary larger than parallel.
  for (size_t n = 0; n < 25; ++n) {
    for (size_t canary : {0u, 1u, 3u}) {
      for (size_t k : {1u, 2u, 4u, 7u}) {
        W waves = plan_waves(n, canary, k);
        std::vector<size_t> flat;
        for (size_t w = 0; w < waves.size(); ++w) {
          EXPECT_FALSE(waves[w].empty());
          if (w > 0 || canary == 0) {
            EXPECT_LE(waves[w].size(), k);
          }
          flat.insert(flat.end(), waves[w].begin(), waves[w].end());
        }
        ASSERT_EQ(flat.size(), n);
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(flat[i], i);
        // Waves: the canary, then ceil(rest / k).
        const size_t c = std::min(canary, n);
        EXPECT_EQ(waves.size(), (c > 0 ? 1 : 0) + (n - c + k - 1) / k);
      }
    }
  }
}

TEST(SporeCliOtaRollout, ResultTableAndSummary) {
  std::vector<NodeResult> r(4);
  r[0] = {"n1", "127.0.9.2", NodeOutcome::kUpdated, "", 3.26, 0, "9.1.0"};
  r[1] = {"n2", "127.0.9.3:9000", NodeOutcome::kFailed, "not back within 10 s: it did not answer", 10.4, 1, ""};
  r[2] = {"n10", "127.0.9.11", NodeOutcome::kNotReached, "", -1, 2, ""};
  r[3] = {"n3", "127.0.9.4", NodeOutcome::kSkipped, "DEAD", -1, -1, ""};
  const std::string t = format_rollout_table(r);
  EXPECT_EQ(t.substr(0, t.find('\n')), "NODE  RESULT         TIME  VERSION");
  EXPECT_NE(t.find("\nn1    updated       3.3 s  9.1.0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nn2    FAILED       10.4 s  -\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nn10   not reached       -  -\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\n  n2: 127.0.9.3:9000, wave 1: not back within 10 s: it did not answer\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\n  n3: 127.0.9.4: DEAD\n"), std::string::npos) << t;
  EXPECT_NE(t.find("4 nodes: 1 updated, 1 failed, 1 not reached, 1 skipped\n"), std::string::npos) << t;
  EXPECT_TRUE(rollout_failed(r));
  Json j = rollout_to_json(r, "ab12");
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["sha256"], "ab12");
  ASSERT_EQ(j["nodes"].size(), 4u);
  EXPECT_EQ(j["nodes"][0]["result"], "updated");
  EXPECT_DOUBLE_EQ(j["nodes"][0]["seconds"].get<double>(), 3.26);
  EXPECT_EQ(j["nodes"][1]["result"], "failed");
  EXPECT_EQ(j["nodes"][2]["result"], "not_reached");
  EXPECT_TRUE(j["nodes"][2]["seconds"].is_null());
  EXPECT_EQ(j["nodes"][3]["result"], "skipped");
  std::vector<NodeResult> ok = {r[0], {"n5", "x", NodeOutcome::kUpToDate, "", 0.1, 1, ""}};
  EXPECT_FALSE(rollout_failed(ok));
  EXPECT_NE(format_rollout_table(ok).find("2 nodes: 1 updated, 1 up to date\n"), std::string::npos);
  EXPECT_NE(format_rollout_table({}).find("0 nodes: none"), std::string::npos);
}

TEST(SporeCliOtaRollout, MemberConfirmation) {
  ImageHashes h{"abcd0123" + std::string(56, '0'), "ffff0000" + std::string(56, '0')};
  std::string why;
  Json m = rollout_members();
  EXPECT_EQ(check_member(m, "n5", h, &why), MemberCheck::kConfirmed);
  EXPECT_EQ(check_member(m, "n10", h, &why), MemberCheck::kConfirmed) << "no imageDigest listed: ACTIVE is enough";
  EXPECT_EQ(check_member(m, "n2", h, &why), MemberCheck::kNotActive);
  EXPECT_EQ(why, "listed INACTIVE");
  EXPECT_EQ(check_member(m, "n9", h, &why), MemberCheck::kNotListed);
  ImageHashes other{"12345678" + std::string(56, '0'), "12345678" + std::string(56, '0')};
  EXPECT_EQ(check_member(m, "n5", other, &why), MemberCheck::kOldImage);
  EXPECT_EQ(why, "listed with image abcd0123, expected 12345678");
  EXPECT_EQ(check_member(Json::parse("[]"), "n5", h, &why), MemberCheck::kNotListed);
  // By node id, a hostname reused by another member (a fake) does not decide.
  const Json dup = Json::parse(R"({"members":[{"hostname":"n5","nodeId":7,"status":"ACTIVE","imageDigest":"00000000"},
                                              {"hostname":"n5","nodeId":8,"status":"ACTIVE","imageDigest":")" +
                               image_digest_of(h.image_sha256) + R"("}]})");
  EXPECT_EQ(check_member(dup, "n5", h, &why), MemberCheck::kOldImage) << "by hostname the first one decides";
  EXPECT_EQ(check_member(dup, "n5", h, &why, 8u), MemberCheck::kConfirmed);
  EXPECT_EQ(check_member(dup, "n5", h, &why, 7u), MemberCheck::kOldImage);
  EXPECT_EQ(check_member(dup, "n5", h, &why, 9u), MemberCheck::kNotListed);
}

// ---- OTA: tokens and errors -------------------------------------------------------------------------

TEST(SporeCliOtaTokens, MapIsKeyedByNodeIdOnly) {
  std::string error;
  auto map = parse_token_map("# demo tokens\n 0a1b2c3d aaaa \n\n0A1B2C3E\tbbbb\n00000001=cccc\nffffffff = dddd\n", &error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(map->size(), 4u);
  EXPECT_EQ(token_for_node(*map, 0x0a1b2c3d, std::nullopt), "aaaa");
  EXPECT_EQ(token_for_node(*map, 0x0a1b2c3e, std::nullopt), "bbbb");
  EXPECT_EQ(token_for_node(*map, 1, std::nullopt), "cccc");
  EXPECT_EQ(token_for_node(*map, 0xffffffff, std::nullopt), "dddd");
  EXPECT_EQ(token_for_node(*map, 2, std::string("all")), "all");
  EXPECT_EQ(token_for_node(*map, 2, std::nullopt), std::nullopt);

  // Hostnames and addresses are claims any LAN peer can make: refused, with the reason.
  for (const char* name : {"n1", "127.0.9.2", "127.0.9.4:9000", "0a1b2c3", "0a1b2c3d0", "0x0a1b2c"}) {
    EXPECT_FALSE(parse_token_map(std::string(name) + " aaaa\n", &error)) << name;
    EXPECT_NE(error.find("is not a node id"), std::string::npos) << error;
  }
  EXPECT_FALSE(parse_token_map("0a1b2c3d aaaa\n0a1b2c3e\n", &error));
  EXPECT_EQ(error, "line 2: expected 'NODE_ID TOKEN', got only '0a1b2c3e'");
  EXPECT_FALSE(parse_token_map("0a1b2c3d aaaa\n0A1B2C3D bbbb\n", &error));
  EXPECT_EQ(error, "line 2: node 0A1B2C3D is given twice");
  EXPECT_FALSE(parse_token_map("0a1b2c3d aa bb\n", &error));
  EXPECT_EQ(error, "line 1: the token for node 0a1b2c3d has spaces");
  EXPECT_FALSE(parse_token_map("0a1b2c3d =\n", &error));
  EXPECT_EQ(error, "line 1: no token for node 0a1b2c3d");
  auto empty = parse_token_map("", &error);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(SporeCliOtaErrors, UpdateErrorsExplainWhatToDo) {
  const std::string e401 = describe_update_error(401, R"({"error":"token required","code":"auth_required"})", false);
  EXPECT_EQ(e401.substr(0, e401.find('\n')), "token required (HTTP 401) [auth_required]");
  EXPECT_NE(e401.find("--token-file"), std::string::npos);
  EXPECT_NE(describe_update_error(401, "{}", true).find("token was refused"), std::string::npos);
  EXPECT_NE(describe_update_error(409, R"({"error":"busy","code":"busy"})", true).find("another upload"),
            std::string::npos);
  // The reason code picks the hint: the node answers 422 for a wrong image type and for signatures.
  EXPECT_NE(describe_update_error(422, R"({"error":"x","code":"bad_magic"})", true).find("ELF"), std::string::npos);
  EXPECT_NE(describe_update_error(422, R"({"error":"x","code":"unsigned"})", true).find("spore sign"),
            std::string::npos);
  EXPECT_NE(describe_update_error(422, R"({"error":"x","code":"bad_signature"})", true).find("matching private key"),
            std::string::npos);
  EXPECT_EQ(describe_update_error(422, "{}", true), "HTTP 422: {}");
  // Without a code, the status.
  EXPECT_NE(describe_update_error(415, "{}", true).find("--raw"), std::string::npos);
  EXPECT_NE(describe_update_error(413, "{}", true).find("larger"), std::string::npos);
  EXPECT_NE(describe_update_error(500, R"({"error":"x","code":"flash_commit"})", true).find("its log"),
            std::string::npos);
  EXPECT_EQ(describe_update_error(500, R"({"error":"disk full","code":"io"})", true), "disk full (HTTP 500) [io]");
}


// ---- request proofs: the CLI's check of a node's challenge answer ------------------------------------

std::string challenge_answer(const std::string& token, uint32_t id, const std::string& client, const std::string& addr) {
  uint8_t nonce[kAuthNonceBytes], proof[32];
  for (size_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<uint8_t>(i + 1);
  compute_node_proof(token, id, nonce, client, addr, proof);
  char nonce_hex[2 * kAuthNonceBytes + 1], proof_hex[65];
  hex_encode(nonce, sizeof nonce, nonce_hex);
  hex_encode(proof, sizeof proof, proof_hex);
  return Json{{"nodeId", id}, {"auth", "proof"}, {"bearer", true}, {"address", addr}, {"nonce", nonce_hex},
              {"proof", proof_hex}}
      .dump();
}

TEST(SporeCliChallenge, TheNodeMustProveTheTokenTheIdAndTheAddressWeReached) {
  const std::string client = "00112233445566778899aabbccddeeff";
  const std::vector<std::string> here = {"10.0.0.5:8080"};
  const TokenLookup token = [](uint32_t) { return std::optional<std::string>("fleet-token"); };
  std::string error;
  const auto ok = check_challenge(challenge_answer("fleet-token", 42, client, "10.0.0.5:8080"), client, token, 42u,
                                  here, &error);
  ASSERT_TRUE(ok) << error;
  EXPECT_TRUE(ok->node_proven);
  EXPECT_EQ(ok->node_id, 42u);

  // A relay: the real node answered for its own address, not the one this CLI reached.
  EXPECT_FALSE(check_challenge(challenge_answer("fleet-token", 42, client, "10.0.0.6:8080"), client, token, 42u, here,
                               &error));
  EXPECT_NE(error.find("answered for address 10.0.0.6:8080, not 10.0.0.5:8080"), std::string::npos) << error;
  // Another node's id, a wrong token, another client nonce, no address at all.
  EXPECT_FALSE(check_challenge(challenge_answer("fleet-token", 43, client, "10.0.0.5:8080"), client, token, 42u, here,
                               &error));
  EXPECT_FALSE(check_challenge(challenge_answer("other-token", 42, client, "10.0.0.5:8080"), client, token, 42u, here,
                               &error));
  EXPECT_FALSE(check_challenge(challenge_answer("fleet-token", 42, client, "10.0.0.5:8080"),
                               "ffeeddccbbaa99887766554433221100", token, 42u, here, &error));
  EXPECT_FALSE(check_challenge(challenge_answer("fleet-token", 42, client, ""), client, token, 42u, here, &error));
  // Malformed answers are errors, never "open node".
  for (const char* bad : {"", "[]", R"({"nodeId":42})", R"({"nodeId":-1,"auth":"proof"})",
                          R"({"nodeId":42,"auth":"proof","nonce":"zz"})", R"({"nodeId":42,"auth":"maybe"})"}) {
    EXPECT_FALSE(check_challenge(bad, client, token, 42u, here, &error)) << bad;
  }
  // An open node is reported as such (the caller decides: ota all refuses it).
  const auto open = check_challenge(R"({"nodeId":42,"auth":"none","bearer":false})", client, token, 42u, here, &error);
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->open);
}

TEST(SporeCliChallenge, ConnectedAddressesOfALiteralAndOfAName) {
  EXPECT_EQ(connected_addresses(NodeAddress{"10.0.0.5", 80}), std::vector<std::string>{"10.0.0.5:80"});
  const std::vector<std::string> local = connected_addresses(NodeAddress{"localhost", 8080});
  EXPECT_NE(std::find(local.begin(), local.end(), "127.0.0.1:8080"), local.end());
}


// A "node" (a fake member) that answers the challenge one byte at a time, or without end: the CLI
// gives up at its deadline or size cap instead of waiting as long as the bytes keep coming (found
// by the red-team review: `spore ota all` hung behind such a member, or grew to 2.5 GB).
class TrickleServer {
 public:
  explicit TrickleServer(bool endless) : endless_(endless) {
    fd_ = posix::listen_on_loopback(&port_);
    EXPECT_GE(fd_, 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~TrickleServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
    if (endless_) {
      const std::string start = head + "Content-Length: 100000000\r\n\r\n";
      ::send(c, start.data(), start.size(), MSG_NOSIGNAL);
      const std::string chunk(8192, ' ');
      while (!stop_ && ::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
      }
    } else {
      for (size_t i = 0; !stop_ && i < head.size(); ++i) {
        if (::send(c, &head[i], 1, MSG_NOSIGNAL) <= 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    ::close(c);
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  bool endless_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(SporeCliChallenge, AFakeThatTricklesOrFloodsItsAnswerIsGivenUpOn) {
  uint8_t sha[32] = {};
  const SignPolicy policy = single_token_policy(std::string("t"), false);
  for (const bool endless : {false, true}) {
    TrickleServer fake(endless);
    std::string why;
    EXPECT_FALSE(sign_request(NodeAddress{"127.0.0.1", fake.port()}, 1.0, policy, HttpMethod::kPost, "/x", sha, &why));
    EXPECT_NE(why.find(endless ? "larger than 4096 bytes" : "no complete answer within 1 s"), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace cli
}  // namespace spore
