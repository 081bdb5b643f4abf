#pragma once
/// @file metrics.h
/// GET /metrics: the node's counters in the Prometheus text exposition format 0.0.4, so a
/// Prometheus server (or anything that scrapes it: VictoriaMetrics, Grafana Agent, Telegraf)
/// can watch a fleet without a SPORE-specific exporter. Every metric, its type and meaning:
/// docs/metrics.md.
///
/// The text is written line by line (an answer route, chunked_answer.h: on the ESP8266 each line
/// is rendered when the HTTP library asks for bytes), in runs of a few dozen bytes; names and
/// help texts stay in flash on the ESP8266. Nothing is allocated and
/// the object holds about 100 bytes: the counters themselves live where the events happen
/// (MembershipStats, ClusterEventStats, UdpStats, RestApi::response_counts()); Metrics only
/// counts OTA outcomes (from the ota_* events, so the OTA code knows nothing of it) and widens the
/// 32-bit traffic and uptime counters to 64 bits, so they do not wrap after 4 GiB or 49.7 days.
///
/// Labelled counters list only the label values seen so far (as Prometheus client libraries
/// do); a scrape is therefore about 1.5 KB for a quiet node. Label values taken from data (the
/// firmware and SDK versions) are escaped as the format requires and reduced to printable ASCII.
///
/// Not thread-safe: call from the node loop, as RestApi.

#include <cstddef>
#include <cstdint>

#include "spore/http/chunked_answer.h"
#include "spore/base/event_bus.h"
#include "spore/base/json_writer.h"
#include "spore/http/rest_api.h"
#include "spore/base/scheduler.h"

namespace spore {

class Membership;
class NodeContext;
struct MqttBridgeStats;
struct UdpStats;

/// Content-Type of the Prometheus text exposition format, version 0.0.4.
constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A 32-bit counter that may wrap, followed into 64 bits: update() must see it at least once
/// per wrap (Metrics does so hourly and at every scrape).
struct WideCounter {
  uint64_t total = 0;
  uint32_t last = 0;
  void update(uint32_t now) {
    total += static_cast<uint32_t>(now - last);
    last = now;
  }
};

class Metrics {
 public:
  /// The route served (public, like GET /api/node/status).
  static constexpr std::string_view kPath = "/metrics";
  /// How often the 32-bit counters are folded into the 64-bit totals besides each scrape; far
  /// below the shortest wrap (4 GiB at 1 MB/s: 71 min; the uptime clock: 49.7 days).
  static constexpr uint32_t kRefreshIntervalMs = 10 * 60 * 1000;

  /// `ctx` and `api` must outlive the Metrics.
  Metrics(NodeContext& ctx, RestApi& api);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// Traffic, send failures and rejected datagrams come from here; without it those metrics are
  /// left out. Must outlive the Metrics.
  void set_membership(const Membership* membership) { membership_ = membership; }
  /// Datagrams a UdpIntake dropped before the protocol saw them (ESP8266), reported as
  /// spore_datagrams_rejected_total reasons "oversize", "low_heap" and "short_read".
  void set_udp_stats(const UdpStats* stats) { udp_ = stats; }
  /// MQTT commands the bridge refused, as spore_mqtt_commands_refused_total{reason=...}
  /// (retained, stale, auth, throttled); without it the family is left out. Must outlive the Metrics.
  void set_mqtt_stats(const MqttBridgeStats* stats) { mqtt_ = stats; }

  /// After ctx.begin() and api.begin(): registers GET /metrics (listed in the node's api list),
  /// subscribes to ota_started / ota_finished / ota_failed (3 EventBus slots) and adds the
  /// "metrics" refresh task. False (logged) when the route table, registry or event table is full.
  bool begin();

  /// Writes the whole exposition (every line ends with "\n"). Not const: it folds the 32-bit
  /// counters into the 64-bit totals first.
  void write(JsonOutput& out);

  /// Uploads accepted (ota_started), images installed (ota_finished), and uploads that ended
  /// without a new image (ota_failed: refused at start for a bad media type or size, or aborted).
  uint32_t ota_started() const { return ota_started_; }
  uint32_t ota_succeeded() const { return ota_succeeded_; }
  uint32_t ota_failed() const { return ota_failed_; }

 private:
  /// One unit of the exposition (an AnswerSource, chunked_answer.h): a family's head or one
  /// sample line.
  bool write_unit(AnswerCursor& c, JsonWriter& w);
  /// Sample slot `slot` of family `f` (possibly nothing: a zero labelled counter); false when the
  /// family has no such slot.
  bool write_sample(JsonOutput& out, uint8_t f, FlashStr name, size_t slot);
  void on_ota_event(const Event& event);
  void refresh(uint32_t now_ms);

  NodeContext& ctx_;
  RestApi& api_;
  const Membership* membership_ = nullptr;
  const UdpStats* udp_ = nullptr;
  const MqttBridgeStats* mqtt_ = nullptr;
  WideCounter datagrams_received_, datagrams_sent_, bytes_received_, bytes_sent_, uptime_ms_;
  uint32_t ota_started_ = 0, ota_succeeded_ = 0, ota_failed_ = 0;
  Task refresh_task_;
};

}  // namespace spore
