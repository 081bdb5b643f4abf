// Unit tests of the spore CLI's answers to a new user (issue 21, item 7 and 5): the command
// suggested for a mistyped word (apps/spore/cli_suggest.cpp), the incarnation as BOOT/SEQ, the
// port an address without one gets, the image check before any upload, the narrow `ota all`
// table and "this is not a SPORE node" (cli_format.cpp, cli_logic.cpp, ota_logic.cpp,
// rollout_logic.cpp). The sources are compiled in (tests/posix link spore_posix, not the apps).
#include "../../apps/spore/cli_suggest.cpp"
#include "../../apps/spore/cli_format.cpp"
#include "../../apps/spore/cli_logic.cpp"
#include "../../apps/spore/terminal_safe.cpp"
#include "../../apps/spore/ota_logic.cpp"
#include "../../apps/spore/rollout_logic.cpp"
#include "../../apps/spore/bounded_http.cpp"
#include "../../apps/spore/request_signer.cpp"

#include <gtest/gtest.h>

#include <sstream>

namespace spore {
namespace cli {
namespace {

// ---- unknown words ------------------------------------------------------------------------------

/// The shape of spore's command tree, with the options whose values the walk must skip.
struct Tree {
  CLI::App app{"test", "spore"};
  std::string node;
  double watch = 0;
  Tree() {
    app.add_option("-n,--node", node);
    app.require_subcommand(1);
    app.fallthrough();
    CLI::App* cluster = app.add_subcommand("cluster");
    cluster->require_subcommand(1);
    cluster->add_subcommand("members")->add_option("-w,--watch", watch)->expected(0, 1);
    CLI::App* n = app.add_subcommand("node");
    n->require_subcommand(1);
    n->add_subcommand("status");
    n->add_subcommand("restart");
    app.add_subcommand("discover");
    CLI::App* ota = app.add_subcommand("ota");
    ota->add_subcommand("update");
    ota->add_subcommand("all");
  }
  std::optional<std::string> message(std::vector<std::string> args) { return unknown_command_message(app, args); }
};

TEST(SporeCliSuggest, EditDistance) {
  EXPECT_EQ(edit_distance("restat", "restart"), 1u);
  EXPECT_EQ(edit_distance("memebrs", "members"), 1u);  // a swap of neighbours is one edit
  EXPECT_EQ(edit_distance("STATUS", "status"), 0u);
  EXPECT_EQ(edit_distance("", "all"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(SporeCliSuggest, WordsAnywhereInTheTree) {
  Tree t;
  EXPECT_EQ(t.message({"members"}), "unknown command 'members'; did you mean 'cluster members'?");
  EXPECT_EQ(t.message({"node", "restat"}), "unknown command 'restat'; did you mean 'node restart'?");
  EXPECT_EQ(t.message({"--node", "x:1", "node", "staus"}), "unknown command 'staus'; did you mean 'node status'?");
  EXPECT_EQ(t.message({"-n", "members", "cluster", "membrs"}),
            "unknown command 'membrs'; did you mean 'cluster members'?")
      << "the value of -n is not a command";
  EXPECT_EQ(t.message({"discovr"}), "unknown command 'discovr'; did you mean 'discover'?");
  EXPECT_EQ(t.message({"clust", "members"}), "unknown command 'clust'; did you mean 'cluster'?");
  EXPECT_EQ(t.message({"ota", "up"}),
            "unknown command 'up'; the commands of 'ota' are: update all (`spore ota --help` says more)")
      << "two letters are too few to guess from";
}

TEST(SporeCliSuggest, NoCloseWordListsTheCommands) {
  Tree t;
  const std::optional<std::string> m = t.message({"node", "xyzzy"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "unknown command 'xyzzy'; the commands of 'node' are: status restart (`spore node --help` says more)");
}

TEST(SporeCliSuggest, OtherUsageErrorsAreLeftToCli11) {
  Tree t;
  EXPECT_FALSE(t.message({"cluster", "members", "--watch", "5"})) << "a value of a leaf command";
  EXPECT_FALSE(t.message({"cluster", "members", "extra"})) << "a leaf's argument is not a command";
  EXPECT_FALSE(t.message({"cluster"}));
  EXPECT_FALSE(t.message({"--", "members"}));
}

TEST(SporeCliSuggest, PrefersTheCommandUnderTheWordsParent) {
  const std::vector<std::string> paths = {"a", "a status", "b", "b status"};
  EXPECT_EQ(suggest_command("statsu", "b", paths), "b status");
  EXPECT_EQ(suggest_command("statsu", "a", paths), "a status");
  EXPECT_FALSE(suggest_command("zz", "", paths));
}

TEST(SporeCliSuggest, HostileWordIsShownEscaped) {
  Tree t;
  const std::optional<std::string> m = t.message({"\x1b[2Jboom"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->find('\x1b'), std::string::npos) << *m;
}

// ---- the incarnation as BOOT/SEQ -----------------------------------------------------------------

TEST(SporeCliIncarnation, BootSlashSeq) {
  EXPECT_EQ(format_incarnation(131072), "2/0");
  EXPECT_EQ(format_incarnation(65536), "1/0");
  EXPECT_EQ(format_incarnation(65536 + 3), "1/3");
  EXPECT_EQ(format_incarnation(0), "0/0");
  EXPECT_EQ(format_incarnation(4294901760ll), "65535/0");
  EXPECT_EQ(format_incarnation(4294967295ll), "65535/65535");
  EXPECT_EQ(format_incarnation(-1), "-1");
  EXPECT_EQ(format_incarnation(4294967296ll), "4294967296");
}

TEST(SporeCliIncarnation, MembersTableShowsBootSeq) {
  const auto j = nlohmann::ordered_json::parse(
      R"({"members":[{"hostname":"n1","ip":"10.0.0.1","status":"ACTIVE","incarnation":131073,"self":true}]})");
  const std::string t = format_members_table(j, false);
  EXPECT_NE(t.find(" 2/1 "), std::string::npos) << t;
  EXPECT_EQ(t.find("131073"), std::string::npos) << t;
}

// ---- the port of an address without one ----------------------------------------------------------

TEST(SporeCliPortRule, ThisHostGets8080OthersGet80) {
  const std::vector<std::string> local = {"10.1.2.3", "fe80::1", "myhost", "myhost.local"};
  for (const char* host : {"localhost", "LOCALHOST", "localhost.", "node.localhost", "127.0.0.1", "127.1.94.2",
                           "::1", "10.1.2.3", "fe80::1", "myhost", "MyHost.local"}) {
    EXPECT_EQ(default_http_port(host, local), 8080) << host;
  }
  for (const char* host : {"192.168.1.100", "esp-1.local", "10.1.2.4", "127x.example", "otherhost"}) {
    EXPECT_EQ(default_http_port(host, local), 80) << host;
  }
}

TEST(SporeCliPortRule, ParseSaysWhetherThePortWasGiven) {
  auto a = parse_node_address("192.168.1.100");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->port_given);
  auto b = parse_node_address("192.168.1.100:8080");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->port_given);
  EXPECT_EQ(b->port, 8080);
  auto c = parse_node_address("[::1]:80");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->port_given);
}

// ---- the image check ------------------------------------------------------------------------------

TEST(SporeCliImageCheck, EspAndElfPassOthersFail) {
  const uint8_t esp[] = {0xE9, 0x03, 0x02, 0x20};
  const uint8_t elf[] = {0x7F, 'E', 'L', 'F', 2, 1, 1};
  const uint8_t text[] = {'h', 'e', 'l', 'l', 'o'};
  const uint8_t gzip[] = {0x1F, 0x8B, 0x08, 0x00};
  const uint8_t short_elf[] = {0x7F, 'E', 'L'};
  EXPECT_EQ(image_kind(esp, sizeof esp), ImageKind::kEsp8266);
  EXPECT_EQ(image_kind(elf, sizeof elf), ImageKind::kElf);
  EXPECT_EQ(image_kind(text, sizeof text), ImageKind::kUnknown);
  EXPECT_EQ(image_kind(short_elf, sizeof short_elf), ImageKind::kUnknown);
  EXPECT_EQ(image_kind(nullptr, 0), ImageKind::kUnknown);
  EXPECT_FALSE(image_format_problem("f", esp, sizeof esp));
  EXPECT_FALSE(image_format_problem("f", elf, sizeof elf));
  const std::optional<std::string> t = image_format_problem("notes.txt", text, sizeof text);
  ASSERT_TRUE(t);
  EXPECT_NE(t->find("notes.txt is not a firmware image: it starts with 68 65 6C 6C"), std::string::npos) << *t;
  const std::optional<std::string> g = image_format_problem("fw.bin.gz", gzip, sizeof gzip);
  ASSERT_TRUE(g);
  EXPECT_NE(g->find("gzip"), std::string::npos) << *g;
  const std::optional<std::string> e = image_format_problem("empty", nullptr, 0);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("it is empty"), std::string::npos) << *e;
}

// ---- the ota all table ----------------------------------------------------------------------------

TEST(SporeCliOtaTable, NarrowWithDetailsBelow) {
  std::vector<NodeResult> r(3);
  r[0] = {"n1", "127.0.9.2", NodeOutcome::kUpdated, "", 3.26, 0, "9.1.0"};
  r[1] = {std::string(200, 'h'), "127.0.9.3:9000", NodeOutcome::kFailed,
          "not back within 10 s: it did not answer", 10.4, 1, std::string(100, 'v')};
  r[2] = {"n3", "127.0.9.4", NodeOutcome::kNotReached, "", -1, 2, ""};
  const std::string t = format_rollout_table(r);
  std::istringstream lines(t);
  std::string line;
  size_t widest = 0;
  while (std::getline(lines, line) && !line.empty()) widest = std::max(widest, display_width(line));
  EXPECT_LE(widest, 80u) << t;
  EXPECT_EQ(t.substr(0, t.find('\n')).substr(0, 4), "NODE");
  EXPECT_NE(t.find("updated       3.3 s  9.1.0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("FAILED       10.4 s  vvvv"), std::string::npos) << t;
  EXPECT_NE(t.find("\n  n1: 127.0.9.2, canary\n"), std::string::npos) << t;
  EXPECT_NE(t.find(": 127.0.9.3:9000, wave 1: not back within 10 s: it did not answer\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\n  n3: 127.0.9.4, wave 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("3 nodes: 1 updated, 1 failed, 1 not reached\n"), std::string::npos) << t;
  EXPECT_EQ(rollout_to_json(r, "ab")["nodes"][0]["firmwareVersion"], "9.1.0");
}

// ---- not a SPORE node -----------------------------------------------------------------------------

TEST(SporeCliNotSpore, NamesTheAnswerNeverQuotesIt) {
  const std::string url = "http://127.0.0.1:8000/api/node/status";
  const std::optional<std::string> html =
      not_spore_answer(url, "text/html; charset=utf-8", "<html><body>secret</body></html>");
  ASSERT_TRUE(html);
  EXPECT_EQ(*html, "this is not a SPORE node (answered HTML from http://127.0.0.1:8000/api/node/status)");
  EXPECT_EQ(not_spore_answer(url, "", "  <!DOCTYPE html>"), std::make_optional(*html));
  const std::optional<std::string> plain = not_spore_answer(url, "text/plain", "404 page not found");
  ASSERT_TRUE(plain);
  EXPECT_NE(plain->find("answered text/plain from"), std::string::npos) << *plain;
  EXPECT_EQ(plain->find("404 page"), std::string::npos) << *plain;
  EXPECT_FALSE(not_spore_answer(url, "application/json", R"({"error":"not found"})"));
  EXPECT_FALSE(not_spore_answer(url, "text/html", "")) << "an empty body: the status says it";
  EXPECT_FALSE(not_spore_answer(url, "application/json", std::string(100, '[') + std::string(100, ']')))
      << "JSON nested too deep is JSON: refused as such by get_json()";
  EXPECT_NE(not_spore_answer(url, "", "garbage")->find("answered something else"), std::string::npos);
}

}  // namespace
}  // namespace cli
}  // namespace spore
