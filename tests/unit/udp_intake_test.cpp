// UdpIntake: the one receive path (esp8266/Arduino#6831's policy) against a scripted UdpPort: at
// most datagrams_per_pass() per poll, oversize and low-heap datagrams dropped unread and counted.

#include "spore/node/udp_intake.h"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace spore {
namespace {

struct Queued {
  std::vector<uint8_t> data;
  uint32_t ip = 0;
  uint16_t port = 0;
  size_t short_by = 0;  // read() returns this many bytes fewer than announced
};

class FakeSource : public UdpPort {
 public:
  bool send_to(uint32_t, uint16_t, const uint8_t*, size_t) override { return true; }
  bool broadcast(uint16_t, const uint8_t*, size_t) override { return true; }
  size_t next_datagram() override {
    ++next_calls;
    if (has_current_) queue.pop_front();
    has_current_ = !queue.empty();
    return has_current_ ? queue.front().data.size() : 0;
  }
  size_t read(uint8_t* buffer, size_t size_bytes) override {
    ++reads;
    const Queued& q = queue.front();
    size_t n = std::min(size_bytes, q.data.size());
    n -= std::min(n, q.short_by);
    std::copy(q.data.begin(), q.data.begin() + static_cast<std::ptrdiff_t>(n), buffer);
    return n;
  }
  uint32_t remote_ip() override { return queue.front().ip; }
  uint16_t remote_port() override { return queue.front().port; }
  uint32_t largest_free_block_bytes() const override { return free_block; }

  void push(size_t size, uint8_t fill = 0xAB, uint32_t ip = 0x0A000001u, uint16_t port = 4210) {
    queue.push_back({std::vector<uint8_t>(size, fill), ip, port, 0});
  }

  std::deque<Queued> queue;
  uint32_t free_block = 20000;
  int next_calls = 0;
  int reads = 0;

 private:
  bool has_current_ = false;
};

struct Received {
  uint32_t ip;
  uint16_t port;
  std::vector<uint8_t> data;
};

struct Sink {
  void on(uint32_t ip, uint16_t port, const uint8_t* data, size_t size) {
    got.push_back({ip, port, std::vector<uint8_t>(data, data + size)});
  }
  DatagramHandler handler() { return DatagramHandler::bind<Sink, &Sink::on>(this); }
  std::vector<Received> got;
};

TEST(UdpIntakeTest, DeliversQueuedDatagramsWithTheirSender) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  src.push(10, 1, 0xC0A80105u, 1234);
  src.push(SPORE_MAX_DATAGRAM_BYTES, 2);
  EXPECT_EQ(in.poll(src, sink.handler()), 2u);
  ASSERT_EQ(sink.got.size(), 2u);
  EXPECT_EQ(sink.got[0].ip, 0xC0A80105u);
  EXPECT_EQ(sink.got[0].port, 1234);
  EXPECT_EQ(sink.got[0].data, std::vector<uint8_t>(10, 1));
  EXPECT_EQ(sink.got[1].data.size(), static_cast<size_t>(SPORE_MAX_DATAGRAM_BYTES));
  EXPECT_EQ(in.stats().received, 2u);
  EXPECT_EQ(in.poll(src, sink.handler()), 0u);  // empty queue
}

TEST(UdpIntakeTest, AtMostEightPerPollTheRestStaysQueued) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  for (int i = 0; i < 20; ++i) src.push(20, static_cast<uint8_t>(i));
  EXPECT_EQ(in.poll(src, sink.handler()), UdpIntake::kMaxDatagramsPerPoll);
  EXPECT_EQ(src.next_calls, UdpIntake::kMaxDatagramsPerPoll);
  EXPECT_EQ(in.poll(src, sink.handler()), UdpIntake::kMaxDatagramsPerPoll);
  EXPECT_EQ(in.poll(src, sink.handler()), 4u);
  EXPECT_EQ(in.last_poll_taken(), 4u);
  ASSERT_EQ(sink.got.size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(sink.got[i].data[0], i) << "in order";
}

TEST(UdpIntakeTest, ThePerPassLimitIsThePlatforms) {
  UdpIntake in(64);  // spored's
  FakeSource src;
  Sink sink;
  for (int i = 0; i < 70; ++i) src.push(20);
  EXPECT_EQ(in.poll(src, sink.handler()), 64u);
  EXPECT_EQ(in.last_poll_taken(), 64u);
  EXPECT_EQ(in.poll(src, sink.handler()), 6u);
  EXPECT_EQ(UdpIntake(0).datagrams_per_pass(), 1u) << "never zero: the socket would never be read";
}

TEST(UdpIntakeTest, ASendOnlyPortHasNothingQueued) {
  struct SendOnly : UdpPort {
    bool send_to(uint32_t, uint16_t, const uint8_t*, size_t) override { return true; }
    bool broadcast(uint16_t, const uint8_t*, size_t) override { return true; }
  } port;
  UdpIntake in;
  Sink sink;
  EXPECT_EQ(in.poll(port, sink.handler()), 0u);
  EXPECT_EQ(in.last_poll_taken(), 0u);
}

TEST(UdpIntakeTest, DropsCountAgainstThePerPollLimit) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  for (int i = 0; i < 10; ++i) src.push(SPORE_MAX_DATAGRAM_BYTES + 1);
  EXPECT_EQ(in.poll(src, sink.handler()), 0u);
  EXPECT_EQ(in.stats().dropped_oversize, UdpIntake::kMaxDatagramsPerPoll);
}

TEST(UdpIntakeTest, OversizeIsDroppedUnread) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  src.push(SPORE_MAX_DATAGRAM_BYTES + 1);
  src.push(5);
  EXPECT_EQ(in.poll(src, sink.handler()), 1u);
  EXPECT_EQ(in.stats().dropped_oversize, 1u);
  EXPECT_EQ(src.reads, 1);  // only the small one was read
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(sink.got[0].data.size(), 5u);
}

TEST(UdpIntakeTest, LowHeapDropsUnreadUntilTheHeapRecovers) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  src.free_block = UdpIntake::kDefaultMinFreeBlockBytes - 1;
  src.push(50);
  src.push(50);
  EXPECT_EQ(in.poll(src, sink.handler()), 0u);
  EXPECT_EQ(in.stats().dropped_low_heap, 2u);
  EXPECT_EQ(src.reads, 0);
  EXPECT_TRUE(src.queue.empty());  // consumed, not left to pile up
  src.free_block = UdpIntake::kDefaultMinFreeBlockBytes;
  src.push(50);
  EXPECT_EQ(in.poll(src, sink.handler()), 1u);
  EXPECT_EQ(in.stats().received, 1u);
}

TEST(UdpIntakeTest, ThresholdIsConfigurable) {
  UdpIntake in;
  in.set_min_free_block_bytes(10000);
  FakeSource src;
  Sink sink;
  src.free_block = 9999;
  src.push(50);
  EXPECT_EQ(in.poll(src, sink.handler()), 0u);
  EXPECT_EQ(in.stats().dropped_low_heap, 1u);
}

TEST(UdpIntakeTest, ShortReadIsDroppedAndCounted) {
  UdpIntake in;
  FakeSource src;
  Sink sink;
  src.push(40);
  src.queue.back().short_by = 1;
  src.push(40);
  EXPECT_EQ(in.poll(src, sink.handler()), 1u);
  EXPECT_EQ(in.stats().dropped_short_read, 1u);
  EXPECT_EQ(in.stats().received, 1u);
}

TEST(UdpIntakeTest, WithoutAHandlerDatagramsAreStillConsumed) {
  UdpIntake in;
  FakeSource src;
  src.push(40);
  EXPECT_EQ(in.poll(src, DatagramHandler()), 1u);
  EXPECT_EQ(in.stats().received, 1u);
}

TEST(UdpIntakeTest, SendSizes) {
  EXPECT_FALSE(datagram_size_ok(0));
  EXPECT_TRUE(datagram_size_ok(1));
  EXPECT_TRUE(datagram_size_ok(SPORE_MAX_DATAGRAM_BYTES));
  EXPECT_FALSE(datagram_size_ok(SPORE_MAX_DATAGRAM_BYTES + 1));
}

}  // namespace
}  // namespace spore
