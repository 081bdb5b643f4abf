// libFuzzer target for cluster events over HTTP (core/spore/integrations/event_api.h): the request target and
// body of POST /api/cluster/events, and the target of GET /api/cluster/events/stream.
//
// Input: the request target, then optionally a NUL byte and the body.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset);
// - the POST answers one of 202, 400, 413 with one complete JSON object, and publishes
//   exactly one event when it says 202, none otherwise;
// - http_query_param() never reports more bytes than the buffer holds;
// - open_stream() admits only valid topic filters, never more than SPORE_MAX_EVENT_STREAMS
//   streams, and a refused request takes no slot;
// - the target read as a Last-Event-ID (SseRing::replay_from()) resumes within the replay ring or
//   after its end, counts as missed only what the ring lost, and the ring's own last id resumes
//   after it; deterministic.
//
// Seed corpus: tests/fuzz/corpus/event_request/.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "spore/events/cluster_events.h"
#include "spore/integrations/event_api.h"
#include "spore/auth/http_target.h"
#include "spore/cluster/membership.h"
#include "fuzz_ports.h"
#include "spore/node/node_context.h"

namespace {

using spore::fuzz::StringOutput;

struct Node {
  spore::fuzz::SettableClock clock;
  spore::fuzz::CountingRandom random;
  spore::fuzz::FixedSystem system;
  spore::fuzz::NullUdp udp;
  spore::NodeContext ctx{spore::Config::fast(), clock, random, system, nullptr};
  spore::RestApi api{ctx};
  spore::Membership membership{ctx, udp, random};
  spore::EventApi events{ctx, api};
  Node() {
    if (!ctx.begin({0x0A1B2C3D, 7, 0x7F000001, "fuzz"}) || !api.begin()) std::abort();
    membership.begin();
    if (!events.begin(spore::EventApi::Sink())) std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Node node;  // one node for the whole run, as a long-lived process sees requests
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view target = std::string_view(input).substr(0, nul);
  const std::string_view body = nul == std::string::npos ? std::string_view() : std::string_view(input).substr(nul + 1);

  char value[16];
  const int n = spore::http_query_param(target, "topic", value, sizeof value);
  if (n > static_cast<int>(sizeof value) || n < -2) std::abort();

  // POST: the input is the query of the route (a target of its own could name another route).
  const std::string routed = std::string(spore::EventApi::kPublishPath) + "?" + std::string(target);
  {
    const std::string_view t = routed;
    const uint32_t before = node.ctx.cluster_events()->stats().published;
    StringOutput out;
    const int status = node.api.handle(spore::HttpRequest{spore::HttpMethod::kPost, t, {}, body, {}, {}}, out, nullptr);
    const uint32_t published = node.ctx.cluster_events()->stats().published - before;
    if (status != 202 && status != 400 && status != 413) std::abort();
    if (published != (status == 202 ? 1u : 0u)) std::abort();
    if (out.text.empty() || out.text.front() != '{' || out.text.back() != '}') std::abort();
  }

  // GET stream: admission.
  const std::string stream = std::string(spore::EventApi::kStreamPath) + "?" + std::string(target);
  const size_t open_before = node.events.open_streams();
  StringOutput out;
  spore::JsonWriter w(out);
  spore::SseFilter filter;
  const int status = node.events.open_stream(spore::HttpRequest{spore::HttpMethod::kGet, stream, {}, {}, {}, {}}, &filter, w);
  if (status == 200) {
    if (node.events.open_streams() != open_before + 1 || node.events.open_streams() > SPORE_MAX_EVENT_STREAMS) std::abort();
    if (filter.topic_len != 0 && !spore::valid_event_topic(std::string_view(filter.topic, filter.topic_len))) std::abort();
    if (!out.text.empty()) std::abort();
    if (node.events.open_streams() == SPORE_MAX_EVENT_STREAMS) {
      while (node.events.open_streams() > 0) node.events.close_stream();
    }
  } else {
    if (status != 400 && status != 503) std::abort();
    if (node.events.open_streams() != open_before || !w.complete()) std::abort();
  }

  // The target read as a Last-Event-ID (SseRing::replay_from(), the messages published above are
  // in the ring): replay starts within what the ring holds or after its end; what it skips is
  // exactly the messages gone from it; an id of this boot replays only what came after it.
  const spore::SseRing& ring = node.events.ring();
  uint32_t missed = 0;
  const uint32_t from = ring.replay_from(target, &missed);
  if (from > ring.last() + 1 || (from <= ring.last() && from < ring.oldest())) std::abort();
  if (missed != 0 && from != ring.oldest()) std::abort();
  char id[spore::SseRing::kIdMaxBytes];
  const uint32_t last = ring.last();
  if (last > 0 && ring.replay_from(std::string_view(id, ring.format_id(last, id)), nullptr) != last + 1) std::abort();
  if (ring.replay_from(target, nullptr) != from) std::abort();
  return 0;
}
