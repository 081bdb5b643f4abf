#include "spore/cluster/member_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace spore {
namespace {

struct ChangeLog {
  std::vector<std::pair<uint32_t, MemberChange>> changes;
  void on(const Member& m, MemberChange c) { changes.emplace_back(m.node_id, c); }
  MemberTable::Listener listener() { return MemberTable::Listener::bind<ChangeLog, &ChangeLog::on>(this); }
  std::vector<MemberChange> of(uint32_t id) const {
    std::vector<MemberChange> out;
    for (auto& [n, c] : changes)
      if (n == id) out.push_back(c);
    return out;
  }
};

MemberHello hello(uint32_t id, uint32_t incarnation = 1, const char* name = nullptr) {
  static std::string names[64];
  std::string& n = names[id % 64];
  n = name != nullptr ? name : "node" + std::to_string(id);
  return MemberHello{id, incarnation, 0xC0A80100u + id, 8080, n};
}

ApiEndpoint endpoint(HttpMethod m, const char* uri) {
  ApiEndpoint e{};
  e.method = m;
  std::strncpy(e.uri, uri, sizeof e.uri - 1);
  return e;
}

class MemberTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table.set_thresholds({10000, 60000, 300000});
    table.set_listener(log.listener());
  }
  MemberTable table;
  ChangeLog log;
};

TEST_F(MemberTableTest, FollowsTheSeedsStatusModel) {
  ASSERT_NE(table.observe(hello(1), 0), nullptr);
  table.update(9999);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  table.update(10000);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kInactive);
  table.update(59999);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kInactive);
  table.update(60000);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kDead);
  EXPECT_EQ(log.of(1), (std::vector<MemberChange>{MemberChange::kDiscovered, MemberChange::kInactive,
                                                  MemberChange::kDead}));
}

TEST_F(MemberTableTest, ThresholdsAreConfigurable) {
  table.set_thresholds({1500, 6000, 30000});
  table.observe(hello(1), 0);
  table.update(1500);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kInactive);
  table.update(6000);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kDead);
}

TEST_F(MemberTableTest, SkippedUpdatesStillReportInactiveBeforeDead) {
  table.observe(hello(1), 0);
  table.update(70000);
  EXPECT_EQ(log.of(1), (std::vector<MemberChange>{MemberChange::kDiscovered, MemberChange::kInactive,
                                                  MemberChange::kDead}));
}

TEST_F(MemberTableTest, HearingAgainRecovers) {
  table.observe(hello(1), 0);
  table.update(20000);
  table.observe(hello(1), 20001);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  EXPECT_EQ(log.of(1).back(), MemberChange::kRecovered);
}

TEST_F(MemberTableTest, VouchedEvidenceMovesLastSeenForwardOnlyAndNeverAdmits) {
  table.observe(hello(1), 1000);
  EXPECT_EQ(table.vouch(2, 1500, 2000), nullptr) << "a DIGEST never puts a node in the table";
  EXPECT_EQ(table.find(2), nullptr);
  EXPECT_EQ(table.vouch(1, 900, 2000), nullptr) << "older than what the table has";
  EXPECT_EQ(table.find(1)->last_seen_ms, 1000u);
  ASSERT_NE(table.vouch(1, 1800, 2000), nullptr);
  EXPECT_EQ(table.find(1)->last_seen_ms, 1800u) << "the evidence's time, not the DIGEST's";
  ASSERT_NE(table.vouch(1, 5000, 2000), nullptr);
  EXPECT_EQ(table.find(1)->last_seen_ms, 2000u) << "never fresher than now";
}

TEST_F(MemberTableTest, VouchedEvidenceRecoversOnlyWithinTheWindowAndNeverALeaver) {
  table.observe(hello(1), 0);
  table.observe(hello(2), 0);
  table.update(70000);  // both DEAD
  EXPECT_NE(table.vouch(1, 59000, 70000), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kDead) << "11 s old: not alive within inactive_after_ms";
  EXPECT_NE(table.vouch(1, 65000, 70000), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  EXPECT_EQ(log.of(1).back(), MemberChange::kRecovered);
  table.mark_left(2, 1, 70000);
  EXPECT_EQ(table.vouch(2, 69000, 70000), nullptr) << "only its own datagrams say a leaver is back";
  EXPECT_TRUE(table.find(2)->left);
}

TEST_F(MemberTableTest, DeadMembersAreForgottenAfterRetention) {
  table.observe(hello(1), 0);
  table.update(60000);
  table.update(60000 + 299999);
  EXPECT_NE(table.find(1), nullptr);
  table.update(60000 + 300000);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(log.of(1).back(), MemberChange::kForgotten);
}

TEST_F(MemberTableTest, RestartIsOneEntryWithNewIncarnationAndFreshDetails) {
  table.observe(hello(1, 5), 0);
  table.set_latency(1, 12);
  ApiEndpoint e = endpoint(HttpMethod::kGet, "/api/x");
  table.set_api(1, 0xAA, &e, 1);
  table.set_resources(1, MemberResources{1000, 1, 2, 80}, "sdk-1");
  table.observe(hello(1, 6), 100);
  EXPECT_EQ(table.size(), 1u);
  const Member* m = table.find(1);
  EXPECT_EQ(m->incarnation, 6u);
  EXPECT_EQ(m->latency_ms, Member::kUnknownLatency);
  EXPECT_EQ(table.api_count(*m), 0u);
  EXPECT_EQ(table.sdk_version(*m), "");
  EXPECT_EQ(table.arena_used_bytes(), 0u);
  EXPECT_EQ(log.of(1).back(), MemberChange::kRestarted);
}

TEST_F(MemberTableTest, ARefutationKeepsDetailsAndIsNoRestart) {
  table.observe(hello(1, 5), 0);
  table.set_latency(1, 12);
  table.set_resources(1, MemberResources{1000, 1, 2, 80}, "sdk-1");
  MemberHello h = hello(1, 6);
  h.refutation = true;
  ASSERT_NE(table.observe(h, 100), nullptr);
  const Member* m = table.find(1);
  EXPECT_EQ(m->incarnation, 6u);
  EXPECT_EQ(m->latency_ms, 12);
  EXPECT_EQ(table.sdk_version(*m), "sdk-1");
  EXPECT_EQ(log.of(1), std::vector<MemberChange>{MemberChange::kDiscovered});
}

TEST_F(MemberTableTest, TouchRefreshesRecoversAndRespectsIncarnationAndLeave) {
  EXPECT_EQ(table.touch(1, 1, 0), nullptr);  // unknown: only a hello admits
  table.observe(hello(1, 3), 0);
  table.update(15000);
  ASSERT_EQ(table.find(1)->status, MemberStatus::kInactive);
  ASSERT_NE(table.touch(1, 3, 15001), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  EXPECT_EQ(table.find(1)->last_seen_ms, 15001u);
  EXPECT_EQ(log.of(1).back(), MemberChange::kRecovered);
  EXPECT_EQ(table.touch(1, 2, 15002), nullptr);  // stale
  ASSERT_NE(table.touch(1, 4, 15003), nullptr);  // refutation: adopted, no restart
  EXPECT_EQ(table.find(1)->incarnation, 4u);
  EXPECT_NE(log.of(1).back(), MemberChange::kRestarted);
  table.mark_left(1, 4, 15004);
  EXPECT_EQ(table.touch(1, 4, 15005), nullptr);  // late datagram from before the goodbye
  EXPECT_EQ(table.find(1)->status, MemberStatus::kDead);
}

TEST_F(MemberTableTest, ApiListsArriveInPages) {
  table.observe(hello(1), 0);
  table.observe(hello(2), 0);
  ASSERT_TRUE(table.set_api(1, 0, nullptr, 0));
  ASSERT_TRUE(table.append_api(1, HttpMethod::kGet, "/a"));
  // Another member's block lands after it: appending must move member 1's block, not clobber.
  table.set_resources(2, MemberResources{}, "sdk-2");
  ASSERT_TRUE(table.append_api(1, HttpMethod::kPost, "/b"));
  const Member* m = table.find(1);
  ASSERT_EQ(table.api_count(*m), 2u);
  HttpMethod method;
  std::string_view uri;
  ASSERT_TRUE(table.api_at(*m, 1, &method, &uri));
  EXPECT_EQ(uri, "/b");
  EXPECT_EQ(method, HttpMethod::kPost);
  EXPECT_EQ(table.sdk_version(*table.find(2)), "sdk-2");
  EXPECT_EQ(table.arena_used_bytes(), 4u + 4u + 5u);  // [method][len]"/a", [method][len]"/b", "sdk-2"
  EXPECT_FALSE(table.append_api(1, HttpMethod::kGet, std::string(SPORE_MAX_URI_LEN + 1, 'x')));
  EXPECT_TRUE(table.find(1)->details_truncated);
}

TEST_F(MemberTableTest, StaleIncarnationIsIgnored) {
  table.observe(hello(1, 6), 0);
  table.update(20000);
  EXPECT_EQ(table.observe(hello(1, 5), 20001), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kInactive);
}

TEST_F(MemberTableTest, GracefulLeaveIsDeadAtOnceAndLateDatagramsDoNotRevive) {
  table.observe(hello(1, 3), 0);
  table.mark_left(1, 3, 10);
  const Member* m = table.find(1);
  EXPECT_EQ(m->status, MemberStatus::kDead);
  EXPECT_TRUE(m->left);
  EXPECT_EQ(log.of(1).back(), MemberChange::kLeft);
  EXPECT_EQ(table.observe(hello(1, 3), 20), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kDead);
  // ...but the same node restarting (new incarnation) comes back.
  ASSERT_NE(table.observe(hello(1, 4), 30), nullptr);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  EXPECT_FALSE(table.find(1)->left);
}

TEST_F(MemberTableTest, RefreshesAddressAndTruncatesLongHostnames) {
  table.observe(hello(1), 0);
  std::string long_name(100, 'h');
  MemberHello h = hello(1);
  h.hostname = long_name;
  h.ip = 0x0A000001;
  table.observe(h, 5);
  const Member* m = table.find(1);
  EXPECT_EQ(std::string(m->hostname), long_name.substr(0, SPORE_MAX_HOSTNAME_LEN));
  EXPECT_EQ(m->ip, 0x0A000001u);
  EXPECT_EQ(m->last_seen_ms, 5u);
}

TEST_F(MemberTableTest, ZeroIdIsInvalid) { EXPECT_EQ(table.observe(hello(0), 0), nullptr); }

TEST_F(MemberTableTest, FullTableEvictsDeadThenInactiveButNeverActive) {
  for (uint32_t id = 1; id <= SPORE_MAX_MEMBERS; ++id) ASSERT_NE(table.observe(hello(id), 0), nullptr);
  // All ACTIVE: a newcomer is refused, nobody is displaced.
  EXPECT_EQ(table.observe(hello(1000), 1), nullptr);
  EXPECT_EQ(table.refused_full(), 1u);
  EXPECT_EQ(table.size(), static_cast<size_t>(SPORE_MAX_MEMBERS));

  // Members 1 and 2 go silent; 2 longer. Others keep talking.
  for (uint32_t id = 3; id <= SPORE_MAX_MEMBERS; ++id) table.observe(hello(id), 15000);
  table.observe(hello(1), 5000);
  table.update(15000);  // 1 silent 10 s, 2 silent 15 s -> both INACTIVE
  ASSERT_EQ(table.find(2)->status, MemberStatus::kInactive);
  ASSERT_NE(table.observe(hello(1000), 15001), nullptr);
  EXPECT_EQ(table.find(2), nullptr) << "the longest-silent INACTIVE member is evicted";
  EXPECT_NE(table.find(1), nullptr);

  // A DEAD member is preferred over an INACTIVE one even if the INACTIVE one is older.
  for (uint32_t id = 3; id <= SPORE_MAX_MEMBERS; ++id) table.observe(hello(id), 60000);
  table.observe(hello(1000), 60000);
  table.update(65000);  // 1 silent 60 s -> DEAD
  ASSERT_EQ(table.find(1)->status, MemberStatus::kDead);
  ASSERT_NE(table.observe(hello(2000), 65001), nullptr);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.evictions(), 2u);
}

TEST_F(MemberTableTest, StoresApiListsAndSdkVersionsInTheSharedArena) {
  table.observe(hello(1), 0);
  table.observe(hello(2), 0);
  ApiEndpoint a[] = {endpoint(HttpMethod::kGet, "/api/node/status"), endpoint(HttpMethod::kPost, "/api/led")};
  ApiEndpoint b[] = {endpoint(HttpMethod::kGet, "/b")};
  ASSERT_TRUE(table.set_api(1, 0x11, a, 2));
  ASSERT_TRUE(table.set_resources(1, MemberResources{1, 2, 3, 4}, "v1.2.3"));
  ASSERT_TRUE(table.set_api(2, 0x22, b, 1));
  // Replace member 1's list: blocks behind it must slide and stay correct.
  ApiEndpoint a2[] = {endpoint(HttpMethod::kDelete, "/api/only")};
  ASSERT_TRUE(table.set_api(1, 0x12, a2, 1));

  const Member* m1 = table.find(1);
  const Member* m2 = table.find(2);
  HttpMethod method;
  std::string_view uri;
  ASSERT_EQ(table.api_count(*m1), 1u);
  ASSERT_TRUE(table.api_at(*m1, 0, &method, &uri));
  EXPECT_EQ(method, HttpMethod::kDelete);
  EXPECT_EQ(uri, "/api/only");
  EXPECT_FALSE(table.api_at(*m1, 1, &method, &uri));
  EXPECT_EQ(table.sdk_version(*m1), "v1.2.3");
  EXPECT_EQ(m1->api_digest, 0x12u);
  ASSERT_EQ(table.api_count(*m2), 1u);
  ASSERT_TRUE(table.api_at(*m2, 0, &method, &uri));
  EXPECT_EQ(uri, "/b");
  EXPECT_EQ(table.arena_used_bytes(), (2 + 9) + 6 + (2 + 2));
}

TEST_F(MemberTableTest, ArenaFullTruncatesDetailsButKeepsTheMember) {
  ApiEndpoint big[SPORE_MAX_APIS];
  for (int i = 0; i < SPORE_MAX_APIS; ++i) {
    std::string uri = "/" + std::string(SPORE_MAX_URI_LEN - 4, 'a') + std::to_string(100 + i);
    big[i] = endpoint(HttpMethod::kGet, uri.c_str());
  }
  bool truncated = false;
  for (uint32_t id = 1; id <= SPORE_MAX_MEMBERS; ++id) {
    table.observe(hello(id), 0);
    table.set_api(id, id, big, SPORE_MAX_APIS);
    truncated = truncated || table.find(id)->details_truncated;
  }
  EXPECT_TRUE(truncated);
  EXPECT_LE(table.arena_used_bytes(), static_cast<size_t>(SPORE_MEMBER_ARENA_BYTES));
  EXPECT_EQ(table.size(), static_cast<size_t>(SPORE_MAX_MEMBERS));
  // Forgetting members gives the space back.
  table.update(60000);
  table.update(60000 + 300000);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.arena_used_bytes(), 0u);
}

// ---- one copy per distinct detail (member_table.h) -------------------------------------------

std::vector<std::string> api_of(const MemberTable& t, uint32_t id) {
  std::vector<std::string> out;
  HttpMethod method;
  std::string_view uri;
  const Member* m = t.find(id);
  for (size_t i = 0; m != nullptr && t.api_at(*m, i, &method, &uri); ++i) {
    out.push_back(std::to_string(static_cast<int>(method)) + " " + std::string(uri));
  }
  return out;
}

TEST_F(MemberTableTest, MembersOnTheSameBuildShareOneCopyOfTheirDetails) {
  const ApiEndpoint list[] = {endpoint(HttpMethod::kGet, "/api/node/status"),
                              endpoint(HttpMethod::kPost, "/api/node/update")};
  const size_t list_bytes = (2 + 16) + (2 + 16);
  for (uint32_t id = 1; id <= 5; ++id) {
    table.observe(hello(id), 0);
    ASSERT_TRUE(table.set_resources(id, MemberResources{}, "3.1.2"));
    ASSERT_TRUE(table.set_api(id, 0xABCD, list, 2));
  }
  EXPECT_EQ(table.arena_used_bytes(), 5 + list_bytes);
  EXPECT_EQ(table.shared_bytes_saved(), 4 * (5 + list_bytes));
  for (uint32_t id = 1; id <= 5; ++id) {
    EXPECT_EQ(table.sdk_version(*table.find(id)), "3.1.2");
    EXPECT_EQ(api_of(table, id), (std::vector<std::string>{"1 /api/node/status", "2 /api/node/update"}));
  }
  // A different build: its own copies.
  const ApiEndpoint other[] = {endpoint(HttpMethod::kGet, "/x")};
  table.observe(hello(6), 0);
  table.set_resources(6, MemberResources{}, "2.7.4");
  table.set_api(6, 0x1111, other, 1);
  EXPECT_EQ(table.arena_used_bytes(), 5 + list_bytes + 5 + 4);
  EXPECT_EQ(api_of(table, 6), (std::vector<std::string>{"1 /x"}));

  // Letting go of a shared copy keeps it for the others; the last one frees it.
  table.set_api(1, 0x1111, other, 1);  // member 1 now on member 6's build
  EXPECT_EQ(table.arena_used_bytes(), 5 + list_bytes + 5 + 4);
  EXPECT_EQ(api_of(table, 1), (std::vector<std::string>{"1 /x"}));
  EXPECT_EQ(api_of(table, 2).size(), 2u);
  for (uint32_t id = 2; id <= 5; ++id) table.set_api(id, 0x1111, other, 1);
  EXPECT_EQ(table.arena_used_bytes(), 5 + 5 + 4);
  EXPECT_EQ(table.sdk_version(*table.find(6)), "2.7.4");
  EXPECT_EQ(table.sdk_version(*table.find(3)), "3.1.2");
  for (uint32_t id = 1; id <= 6; ++id) EXPECT_EQ(api_of(table, id), (std::vector<std::string>{"1 /x"}));
}

TEST_F(MemberTableTest, SameDigestButDifferentListIsNotShared) {
  // A digest collision (or a lying peer) must not hand one member another's list.
  const ApiEndpoint a[] = {endpoint(HttpMethod::kGet, "/a")};
  const ApiEndpoint b[] = {endpoint(HttpMethod::kGet, "/b")};
  table.observe(hello(1), 0);
  table.observe(hello(2), 0);
  table.set_api(1, 0x42, a, 1);
  table.set_api(2, 0x42, b, 1);
  EXPECT_EQ(api_of(table, 1), (std::vector<std::string>{"1 /a"}));
  EXPECT_EQ(api_of(table, 2), (std::vector<std::string>{"1 /b"}));
  EXPECT_EQ(table.arena_used_bytes(), 2u * (2 + 2));
  // Digest 0 (list incomplete) is never shared either.
  table.observe(hello(3), 0);
  table.set_api(3, 0, a, 1);
  EXPECT_EQ(table.arena_used_bytes(), 3u * (2 + 2));
}

TEST_F(MemberTableTest, PagedListIsSharedOnceCompleteAndCopiedBeforeItChanges) {
  const ApiEndpoint list[] = {endpoint(HttpMethod::kGet, "/s"), endpoint(HttpMethod::kPost, "/u")};
  table.observe(hello(1), 0);
  table.observe(hello(2), 0);
  table.observe(hello(3), 0);
  table.set_api(1, 0x77, list, 2);
  // Member 2's list arrives in pages, as the membership protocol fetches it.
  table.set_api(2, 0, nullptr, 0);
  table.append_api(2, HttpMethod::kGet, "/s");
  table.set_resources(3, MemberResources{}, "v9");  // a block after member 2's, which must slide
  table.append_api(2, HttpMethod::kPost, "/u");
  EXPECT_EQ(table.arena_used_bytes(), 8u + 2 + 8);
  ASSERT_TRUE(table.complete_api(2, 0x77));
  EXPECT_EQ(table.find(2)->api_digest, 0x77u);
  EXPECT_EQ(table.arena_used_bytes(), 8u + 2);
  EXPECT_EQ(api_of(table, 2), (std::vector<std::string>{"1 /s", "2 /u"}));
  EXPECT_EQ(table.sdk_version(*table.find(3)), "v9");
  EXPECT_FALSE(table.complete_api(99, 0x77));

  // Appending to a shared list copies it first: the other member's list does not change.
  ASSERT_TRUE(table.append_api(1, HttpMethod::kDelete, "/d"));
  EXPECT_EQ(api_of(table, 1), (std::vector<std::string>{"1 /s", "2 /u", "4 /d"}));
  EXPECT_EQ(api_of(table, 2), (std::vector<std::string>{"1 /s", "2 /u"}));
  EXPECT_EQ(table.arena_used_bytes(), 8u + 2 + 12);

  // Forgetting every member frees every block.
  table.update(60000);
  table.update(60000 + 300000);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.arena_used_bytes(), 0u);
}

TEST_F(MemberTableTest, RestartOfOneSharingMemberKeepsTheOthersDetails) {
  const ApiEndpoint list[] = {endpoint(HttpMethod::kGet, "/s")};
  for (uint32_t id = 1; id <= 3; ++id) {
    table.observe(hello(id), 0);
    table.set_resources(id, MemberResources{}, "same");
    table.set_api(id, 5, list, 1);
  }
  table.observe(hello(2, 2), 100);  // restart: fresh details for member 2 only
  EXPECT_EQ(table.sdk_version(*table.find(2)), "");
  EXPECT_TRUE(api_of(table, 2).empty());
  EXPECT_EQ(table.sdk_version(*table.find(1)), "same");
  EXPECT_EQ(api_of(table, 3), (std::vector<std::string>{"1 /s"}));
  EXPECT_EQ(table.arena_used_bytes(), 4u + 4);
}

TEST_F(MemberTableTest, StatusSurvivesClockWrap) {
  table.observe(hello(1), 0xFFFFF000u);
  table.update(0x00000100u);  // 0x1100 ms later, across the wrap
  EXPECT_EQ(table.find(1)->status, MemberStatus::kActive);
  table.update(0xFFFFF000u + 10000u);
  EXPECT_EQ(table.find(1)->status, MemberStatus::kInactive);
}

TEST(MemberTableNames, StatusNamesMatchTheSeed) {
  EXPECT_STREQ(member_status_name(MemberStatus::kActive), "ACTIVE");
  EXPECT_STREQ(member_status_name(MemberStatus::kInactive), "INACTIVE");
  EXPECT_STREQ(member_status_name(MemberStatus::kDead), "DEAD");
  char ip[16];
  format_ipv4(0xC0A80164u, ip, sizeof ip);
  EXPECT_STREQ(ip, "192.168.1.100");
}

}  // namespace
}  // namespace spore
