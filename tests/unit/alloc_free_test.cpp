// Proves the DESIGN.md §2 rule "no heap allocation after begin()": every allocation in this
// process goes through the counters below, and a long simulated run of a busy node must leave
// them at zero. Built only without sanitizers, whose runtimes own malloc.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>

#include "fakes.h"
#include "ota_test_support.h"
#include "spore/device/http_request_table.h"
#include "spore/node/loop_pass_monitor.h"
#include "spore/cluster/membership.h"
#include "spore/ota/ota_upload.h"
#include "spore/http/rest_api.h"
#include "spore/node/node_context.h"
#include "spore/node/udp_intake.h"
#include "spore/wire/wire_codec.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t size) {
  count();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  count();
  return __libc_realloc(p, size);
}
void free(void* p) { __libc_free(p); }
}

void* operator new(size_t size) {
  count();
  void* p = __libc_malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  count();
  return __libc_malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& t) noexcept { return operator new(size, t); }
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }

namespace spore {
namespace {

bool members_unit(NodeContext* ctx, AnswerCursor& c, JsonWriter& w) { return ctx->write_members_unit(c, w); }

/// Counts allocations made while it is alive.
class AllocationWindow {
 public:
  AllocationWindow() {
    g_allocations = 0;
    g_counting = true;
  }
  ~AllocationWindow() { g_counting = false; }
  long count() const { return g_allocations.load(); }
};

/// A log sink that keeps only the last line, in a fixed buffer.
class LastLineLog : public LogSink {
 public:
  void write(LogLevel, const char* message) override {
    std::strncpy(last, message, sizeof last - 1);
    ++lines;
  }
  char last[200] = {};
  long lines = 0;
};

struct EventCounter {
  long events = 0;
  long typed = 0;
  void on(const Event& e) {
    ++events;
    typed += e.get<NodeInfo>() != nullptr ? 1 : 0;
  }
};

TEST(AllocFree, TheCounterSeesAllocations) {
  // Guards the guard: without this a broken counter would make the real test pass vacuously.
  long seen;
  {
    AllocationWindow w;
    int* volatile p = new int(3);
    delete p;
    void* volatile q = std::malloc(16);
    std::free(q);
    seen = w.count();
  }
  EXPECT_GE(seen, 2);
}

TEST(AllocFree, BusyNodeAllocatesNothingAfterBegin) {
  testing::FakeClock clock(0);
  testing::FakeRandom rnd(42);
  testing::FakeSystemInfo sys;
  LastLineLog log;
  Config cfg = Config::default_esp8266();
  cfg.long_task_warn_ms = 1;  // exercise the warning path too
  NodeContext ctx(cfg, clock, rnd, sys, &log);
  ASSERT_TRUE(ctx.begin({0xC0FFEE, 1, 0x0A000001, "esp_c0ffee"}));
  ctx.api().add("/api/node/status", HttpMethod::kGet);
  ctx.api().add("/api/cluster/members", HttpMethod::kGet);
  EventCounter counter;
  ASSERT_GE(ctx.on(EventBus::kAnyTopic, EventHandler::bind<EventCounter, &EventCounter::on>(&counter)), 0);

  // Peers' announcements travel the real wire path: encoded with the cluster key, decoded through
  // the replay window, and only then observed.
  HmacKey key;
  const uint8_t key_bytes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  ASSERT_TRUE(key.set(key_bytes, sizeof key_bytes));
  static ReplayWindow replay[SPORE_MAX_MEMBERS + 9];  // indexed by peer id, as a channel's slots
  uint32_t seq[SPORE_MAX_MEMBERS + 9] = {};  // indexed by peer id 1..kPeers
  long datagrams_accepted = 0;
  long replays_rejected = 0;

  static char json[16384];
  const uint32_t kPeers = SPORE_MAX_MEMBERS + 8;  // more peers than slots: evictions happen
  const uint32_t kRunMs = 6u * 3600u * 1000u;     // six simulated hours
  const uint32_t kStepMs = 10;
  long allocations;
  long documents = 0;
  {
    AllocationWindow window;
    for (uint32_t t = 0; t < kRunMs; t += kStepMs) {
      ctx.loop();
      if (t % 100 == 0) {
        const uint32_t peer = 1 + (t / 100) % kPeers;
        // Peers in the upper third fall silent for long stretches, so they go INACTIVE and DEAD.
        const bool silent = peer > (2 * kPeers) / 3 && (t / 600000) % 2 == 1;
        const uint32_t incarnation = 1 + t / 3600000;  // everyone restarts once an hour
        if (!silent) {
          char name[24];
          std::snprintf(name, sizeof name, "esp_%06lx", static_cast<unsigned long>(peer));
          wire::Message out;
          out.header.type = wire::MessageType::kAnnounce;
          out.header.sender_id = peer;
          out.header.incarnation = incarnation;
          out.header.seq = ++seq[peer];
          out.announce.ip = 0x0A000000u + peer;
          out.announce.udp_port = 4210;
          out.announce.http_port = 80;
          out.announce.hostname = name;
          uint8_t datagram[SPORE_MAX_DATAGRAM_BYTES];
          const wire::EncodeResult enc = wire::encode(out, key, datagram, sizeof datagram);
          wire::Message in;
          if (enc.ok() && wire::decode(datagram, enc.size_bytes, key, in) == wire::DecodeError::kOk &&
              replay[peer].check(in.header.incarnation, in.header.seq) == ReplayVerdict::kFresh) {
            replay[peer].commit(in.header.incarnation, in.header.seq);
            ++datagrams_accepted;
            ctx.members().observe({in.header.sender_id, in.header.incarnation, in.announce.ip, in.announce.http_port,
                                   in.announce.hostname},
                                  clock.now_ms());
            ctx.members().set_latency(peer, t % 37);
          }
          if (wire::decode(datagram, enc.size_bytes, key, in) == wire::DecodeError::kOk &&
              replay[peer].check(in.header.incarnation, in.header.seq) == ReplayVerdict::kReplayed) {
            ++replays_rejected;
          }
        }
        if (t % 1000 == 0) {
          ApiEndpoint eps[3]{};
          for (size_t i = 0; i < 3; ++i) {
            eps[i].method = HttpMethod::kGet;
            std::snprintf(eps[i].uri, sizeof eps[i].uri, "/api/peer/%lu/%zu", static_cast<unsigned long>(peer), i);
          }
          ctx.members().set_api(peer, t, eps, 1 + (t / 1000) % 3);
          ctx.members().set_resources(peer, MemberResources{40000 - t % 1000, peer, 1048576, 80}, "3.1.2");
        }
      }
      if (t % 5000 == 0) {
        BufferJsonOutput out(json, sizeof json);
        JsonWriter w(out);
        ctx.write_members_json(w);
        out.clear();
        JsonWriter w2(out);
        ctx.write_status_json(w2);
        // And in pieces, as the ESP8266 adapter sends it (chunked_answer.h).
        ChunkedAnswer chunked;
        chunked.start(AnswerSource::with_context<NodeContext, &members_unit>(&ctx), true);
        char piece[300];
        size_t chunked_bytes = 0;
        for (size_t n; (n = chunked.fill(piece, sizeof piece)) != 0;) chunked_bytes += n;
        documents += w.complete() && w2.complete() && chunked.finished() && chunked_bytes > 0 ? 1 : 0;
      }
      clock.advance(kStepMs);
    }
    allocations = window.count();
  }
  EXPECT_EQ(allocations, 0);
  EXPECT_GT(datagrams_accepted, 100000);
  EXPECT_EQ(replays_rejected, datagrams_accepted);
  // The run must actually have exercised the node, or zero allocations proves nothing.
  EXPECT_GT(ctx.scheduler().tick_count(), 2000000u);
  EXPECT_GT(counter.events, 300);
  EXPECT_EQ(counter.events, counter.typed);
  EXPECT_GT(ctx.members().evictions() + ctx.members().refused_full(), 0u);
  EXPECT_EQ(documents, static_cast<long>(kRunMs / 5000));
  EXPECT_GT(log.lines, 0);
}

/// A loopback network in fixed buffers: what the nodes send is queued and handed to the
/// addressee's Membership on the next step, so the whole protocol runs without a platform.
class RingNetwork {
 public:
  static constexpr size_t kNodes = 4;
  static constexpr size_t kSlots = 512;

  class Port : public UdpPort {
   public:
    bool send_to(uint32_t ip, uint16_t, const uint8_t* data, size_t size) override {
      return net->push(index, ip, data, size);
    }
    bool broadcast(uint16_t, const uint8_t* data, size_t size) override { return net->push(index, 0, data, size); }
    RingNetwork* net = nullptr;
    size_t index = 0;
  };

  static uint32_t ip_of(size_t i) { return 0x0A000001u + static_cast<uint32_t>(i); }

  bool push(size_t from, uint32_t to_ip, const uint8_t* data, size_t size) {
    if (count_ == kSlots || size > SPORE_MAX_DATAGRAM_BYTES) return false;
    Slot& s = slots_[(head_ + count_) % kSlots];
    s.from = from;
    s.to_ip = to_ip;
    s.size = size;
    std::memcpy(s.data, data, size);
    ++count_;
    return true;
  }

  /// Delivers what was queued before this call; `down` nodes neither send nor receive.
  void deliver(Membership* const* nodes, const bool* down) {
    for (size_t n = count_; n > 0; --n) {
      const Slot& s = slots_[head_];
      for (size_t i = 0; i < kNodes; ++i) {
        if (i == s.from || down[i] || down[s.from]) continue;
        if (s.to_ip != 0 && s.to_ip != ip_of(i)) continue;
        nodes[i]->on_datagram(ip_of(s.from), 4210, s.data, s.size);
      }
      head_ = (head_ + 1) % kSlots;
      --count_;
    }
  }

 private:
  struct Slot {
    size_t from;
    uint32_t to_ip;
    size_t size;
    uint8_t data[SPORE_MAX_DATAGRAM_BYTES];
  };
  Slot slots_[kSlots];
  size_t head_ = 0;
  size_t count_ = 0;
};

TEST(AllocFree, MembershipProtocolAllocatesNothingAfterBegin) {
  constexpr size_t kN = RingNetwork::kNodes;
  static RingNetwork net;
  testing::FakeClock clock(0);
  testing::FakeSystemInfo sys;
  Config cfg = Config::fast();
  HmacKey key;
  const uint8_t key_bytes[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(key.set(key_bytes, sizeof key_bytes));

  testing::FakeRandom rnd[kN] = {testing::FakeRandom(1), testing::FakeRandom(2), testing::FakeRandom(3),
                                 testing::FakeRandom(4)};
  RingNetwork::Port ports[kN];
  static std::optional<NodeContext> ctx[kN];
  static std::optional<Membership> members[kN];
  Membership* nodes[kN];
  const char* names[kN] = {"n0", "n1", "n2", "n3"};
  for (size_t i = 0; i < kN; ++i) {
    ports[i].net = &net;
    ports[i].index = i;
    ctx[i].emplace(cfg, clock, rnd[i], sys, nullptr);
    members[i].emplace(*ctx[i], ports[i], rnd[i]);
    members[i]->set_cluster_key(key);
    ctx[i]->api().add("/api/node/status", HttpMethod::kGet);
    ASSERT_TRUE(ctx[i]->begin({100 + static_cast<uint32_t>(i), 1, RingNetwork::ip_of(i), names[i]}));
    members[i]->begin();
    nodes[i] = &*members[i];
  }

  bool down[kN] = {};
  long allocations;
  size_t max_active_seen = 0;
  {
    AllocationWindow window;
    const uint32_t kRunMs = 3600u * 1000u;  // one simulated hour, fast profile
    for (uint32_t t = 0; t < kRunMs; t += 5) {
      // Node 3 is down for two minutes in every ten: peers suspect, then mark it INACTIVE and DEAD.
      down[3] = (t / 60000) % 10 >= 8;
      for (size_t i = 0; i < kN; ++i)
        if (!down[i]) ctx[i]->loop();
      net.deliver(nodes, down);
      if (t == 1800000) ctx[1]->api().add("/api/led", HttpMethod::kPost);  // triggers an INFO sync
      // Cluster events: publish, broadcast, digests, gap repair (node 3's downtime) and re-sends.
      if (t % 10000 == 5000) ctx[t / 10000 % kN]->publish("alloc/test", "payload");
      max_active_seen = std::max(max_active_seen, ctx[0]->members().count(MemberStatus::kActive));
      clock.advance(5);
    }
    members[2]->leave();
    net.deliver(nodes, down);
    allocations = window.count();
  }
  EXPECT_EQ(allocations, 0);
  // The protocol really ran: convergence, failure detection, INFO sync and leave all happened.
  EXPECT_EQ(max_active_seen, kN - 1);
  EXPECT_GT(members[0]->stats().datagrams_received, 10000u);
  EXPECT_GT(members[0]->stats().info_syncs, 0u);
  EXPECT_GT(members[0]->stats().suspicions + members[1]->stats().suspicions, 0u);
  EXPECT_TRUE(ctx[0]->members().find(102)->left);
  EXPECT_GT(members[0]->events().stats().delivered, 100u);
  EXPECT_GT(members[3]->events().stats().requests_sent, 0u);
}

}  // namespace
}  // namespace spore

namespace spore {
namespace {

/// A FlashTarget that keeps nothing but counts: the test's own fakes use std::vector.
class CountingFlash : public FlashTarget {
 public:
  size_t capacity_bytes() const override { return 64 * 1024; }
  bool check_magic(const uint8_t* head, size_t size) const override { return size > 0 && head[0] == 0xE9; }
  bool begin(size_t) override { return true; }
  bool write(const uint8_t*, size_t size_bytes) override {
    written += size_bytes;
    return true;
  }
  OtaError commit(const uint8_t (&)[32]) override {
    ++commits;
    return OtaError::kOk;
  }
  void abort() override { ++aborts; }
  size_t written = 0;
  int commits = 0;
  int aborts = 0;
};

class NullOutput : public JsonOutput {
 public:
  void write(const char*, size_t size_bytes) override { bytes += size_bytes; }
  size_t bytes = 0;
};

/// A node with REST and the OTA upload route, set up (allocations allowed) before a window.
/// begin() is called by the test after it installed a token or a key, as a platform would.
struct UploadNode {
  testing::FakeClock clock{0};
  testing::FakeRandom rnd{42};
  testing::FakeSystemInfo sys;
  LastLineLog log;
  NodeContext ctx{Config::default_esp8266(), clock, rnd, sys, &log};
  RestApi rest{ctx};
  CountingFlash flash;
  OtaSession session{flash};
  OtaUploadHandler ota{ctx, rest, session};
  bool begin_context() { return ctx.begin({0xC0FFEE, 1, 0x0A000001, "esp_c0ffee"}) && rest.begin(); }
};

TEST(AllocFree, OtaUploadsAllocateNothing) {
  UploadNode n;
  ASSERT_TRUE(n.begin_context());
  ASSERT_TRUE(n.rest.set_api_token("tok"));
  ASSERT_TRUE(testing::key_a().install(n.session));
  ASSERT_TRUE(n.ota.begin());
  NodeContext& ctx = n.ctx;
  RestApi& rest = n.rest;
  CountingFlash& flash = n.flash;
  OtaUploadHandler& ota = n.ota;
  // Bodies are built before the window (test code allocates; core must not).
  const testing::Bytes image = testing::make_image(40000, 5);
  const testing::Bytes signed_body = testing::signed_image(image, testing::key_a());
  const std::string boundary = "------------------------d74496d66958873e";
  const std::string content_type = "multipart/form-data; boundary=" + boundary;
  std::string multipart = "--" + boundary +
                          "\r\nContent-Disposition: form-data; name=\"firmware\"; filename=\"spore.bin\"\r\n\r\n";
  multipart.append(signed_body.begin(), signed_body.end());
  multipart += "\r\n--" + boundary + "--\r\n";
  const auto* body = reinterpret_cast<const uint8_t*>(multipart.data());

  long allocations;
  int statuses[4] = {};
  {
    AllocationWindow window;
    NullOutput out;
    HttpResponseHeaders headers;
    // A good signed multipart upload in 1460-byte chunks.
    if (ota.start(content_type, multipart.size(), "Bearer tok", 0, out, &headers) == 0) {
      for (size_t off = 0; off < multipart.size(); off += 1460) {
        if (!ota.body(body + off, std::min<size_t>(1460, multipart.size() - off), 1)) break;
      }
      statuses[0] = ota.finish(true, 2, out);
    }
    // Refused before the body: a wrong token, then busy (the restart is pending).
    statuses[1] = ota.start(content_type, multipart.size(), "Bearer bad", 3, out, &headers);
    statuses[2] = ota.start("text/plain", 10, "Bearer tok", 3, out, &headers);
    // A raw upload through a second session object, dropped mid-way.
    OtaSession raw_session(flash);
    OtaUploadHandler raw(ctx, rest, raw_session);
    if (raw.start("application/octet-stream", 5000, "Bearer tok", 4, out, &headers) == 0) {
      raw.body(signed_body.data(), 100, 5);
      statuses[3] = raw.finish(false, 6, out);
    }
    raw.poll(100000);
    allocations = window.count();
  }
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(statuses[0], 200);
  EXPECT_EQ(statuses[1], 401);
  EXPECT_EQ(statuses[2], 409);  // the restart is pending after the first upload
  EXPECT_EQ(statuses[3], 400);
  EXPECT_EQ(flash.commits, 1);
  EXPECT_EQ(flash.written, image.size() + 100);  // the signed image without its trailer, then 100 dropped bytes
  EXPECT_EQ(flash.aborts, 1);
}

/// A socket with `left` queued datagrams of 100 bytes (every 5th oversize).
class ScriptedSource : public UdpPort {
 public:
  bool send_to(uint32_t, uint16_t, const uint8_t*, size_t) override { return true; }
  bool broadcast(uint16_t, const uint8_t*, size_t) override { return true; }
  size_t next_datagram() override {
    if (left == 0) return 0;
    --left;
    return left % 5 == 0 ? SPORE_MAX_DATAGRAM_BYTES + 1 : 100;
  }
  size_t read(uint8_t* buffer, size_t size_bytes) override {
    std::memset(buffer, 0x5A, size_bytes);
    return size_bytes;
  }
  uint32_t remote_ip() override { return 0x0A000002; }
  uint16_t remote_port() override { return 4210; }
  uint32_t largest_free_block_bytes() const override { return left % 7 == 0 ? 1000 : 20000; }
  int left = 0;
};

void count_datagram(uint32_t, uint16_t, const uint8_t*, size_t) {}

TEST(AllocFree, EspAdapterLogicAllocatesNothing) {
  UploadNode n;
  ASSERT_TRUE(n.begin_context());
  ASSERT_TRUE(n.ota.begin());
  testing::FakeClock& clock = n.clock;
  LastLineLog& log = n.log;
  RestApi& rest = n.rest;
  CountingFlash& flash = n.flash;
  OtaUploadHandler& ota = n.ota;
  HttpRequestTable table(rest, clock);
  table.set_ota(&ota);
  table.begin();
  UdpIntake intake;
  ScriptedSource source;
  LoopPassMonitor monitor(&log);
  const testing::Bytes image = testing::make_image(20000, 5);
  const testing::Bytes big_body(SPORE_ESP_MAX_BODY_BYTES + 10, 'x');
  int handles[4];

  long allocations;
  int statuses[6] = {};
  const void* expired = nullptr;
  size_t delivered = 0;
  {
    AllocationWindow window;
    NullOutput out;
    HttpResponseHeaders headers;
    bool close = false;
    HttpRequestHead status_head;
    status_head.method = http_method_from_name("GET");
    status_head.path = "/api/node/status";
    HttpRequestHead big_head;
    big_head.method = HttpMethod::kPost;
    big_head.path = "/api/node/restart";
    big_head.content_length = big_body.size();
    HttpRequestHead upload_head;
    upload_head.method = HttpMethod::kPost;
    upload_head.path = OtaUploadHandler::kPath;
    upload_head.content_type = "application/octet-stream";
    upload_head.content_length = image.size();
    // A plain GET, a body declared too large (413 at admission), a chunked one that outgrows the
    // buffer (413 at once), an upload dropped mid-way, a second upload refused (409) while a third
    // streams and installs; a request beyond the slots; a plain request that expires.
    const HttpHeapState heap{30000, 30000};
    table.admit(&handles[0], status_head, heap, out);
    statuses[0] = table.respond(&handles[0], status_head, out, &headers, &close);
    statuses[1] = table.admit(&handles[1], big_head, heap, out);
    HttpRequestHead chunked_head = big_head;
    chunked_head.content_length = 0;
    table.admit(&handles[1], chunked_head, heap, out);
    if (table.on_body(&handles[1], big_body.data(), big_body.size())) {
      statuses[5] = table.refuse_too_large(&handles[1], out);
    }
    table.admit(&handles[2], upload_head, heap, out);
    table.on_body(&handles[2], image.data(), 1000);
    table.disconnected(&handles[2]);
    table.admit(&handles[2], upload_head, heap, out);
    statuses[3] = table.admit(&handles[3], upload_head, heap, out);  // refused at admission
    table.on_body(&handles[3], image.data(), image.size());
    table.admit(&handles[0], status_head, heap, out);
    table.admit(&handles[1], status_head, heap, out);
    statuses[2] = table.admit(&handles[3], status_head, heap, out);  // slots full
    for (size_t off = 0; off < image.size(); off += 1460) {
      table.on_body(&handles[2], image.data() + off, std::min<size_t>(1460, image.size() - off));
    }
    statuses[4] = table.respond(&handles[2], upload_head, out, &headers, &close);
    table.fail(&handles[0]);
    clock.advance(1000);
    (void)table.poll();
    table.admit(&handles[0], chunked_head, heap, out);
    clock.advance(table.options().max_plain_request_ms);
    expired = table.take_expired();
    // Datagrams and loop passes.
    source.left = 40;
    for (int i = 0; i < 6; ++i) delivered += intake.poll(source, DatagramHandler(&count_datagram));
    monitor.begin(0);
    for (uint32_t t = 100; t < 30000; t += 700) monitor.tick(t);
    allocations = window.count();
  }
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(statuses[0], 200);
  EXPECT_EQ(statuses[1], 413);
  EXPECT_EQ(statuses[2], 503);
  EXPECT_EQ(statuses[3], 409);
  EXPECT_EQ(statuses[4], 200);
  EXPECT_EQ(statuses[5], 413);
  EXPECT_EQ(expired, &handles[0]);
  EXPECT_EQ(flash.commits, 1);
  EXPECT_TRUE(table.restart_scheduled());
  EXPECT_GT(delivered, 0u);
  EXPECT_GT(monitor.stats().long_passes, 0u);
  EXPECT_GT(log.lines, 0);
}

}  // namespace
}  // namespace spore
