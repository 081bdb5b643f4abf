#include "spore/integrations/metrics.h"

#include <string_view>

#include "spore/base/flash_string.h"
#include "spore/cluster/membership.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/node/node_context.h"
#include "spore/ota/ota_upload.h"
#include "spore/node/udp_intake.h"
#include "spore/wire/wire_codec.h"

namespace spore {

namespace {

/// The exposition format's pieces, written in short runs to a JsonOutput. Every constant piece
/// is a flash string: on the ESP8266 literals would sit in DRAM.
class Exposition {
 public:
  explicit Exposition(JsonOutput& out) : out_(out) {}

  /// A flash string, through a small stack buffer (flash reads must be word-aligned).
  __attribute__((noinline)) void flash(FlashStr s) {
    char buf[32] = {};  // zeroed: GCC -O3 cannot see that write() only reads the n bytes set
    size_t n = 0;
    for (size_t i = 0;; ++i) {
      const char c = s.is_null() ? '\0' : s.at(i);
      if (c == '\0' || n == sizeof buf) {
        out_.write(buf, n);
        n = 0;
      }
      if (c == '\0') return;
      buf[n++] = c;
    }
  }

  void number(uint64_t v) {
    char buf[20];
    char* end = buf + sizeof buf;
    const char* first = format_decimal(v, end);
    out_.write(first, static_cast<size_t>(end - first));
  }

  /// "# HELP name help\n# TYPE name type\n"; help texts hold no '\' or newline (no escaping).
  __attribute__((noinline)) void family(FlashStr name, bool counter, FlashStr help) {
    flash(SPORE_FSTR("# HELP "));
    flash(name);
    flash(SPORE_FSTR(" "));
    flash(help);
    flash(SPORE_FSTR("\n# TYPE "));
    flash(name);
    flash(counter ? SPORE_FSTR(" counter\n") : SPORE_FSTR(" gauge\n"));
  }

  /// `name v` and the end of the line.
  __attribute__((noinline)) void sample(FlashStr name, uint64_t v) {
    flash(name);
    flash(SPORE_FSTR(" "));
    number(v);
    flash(SPORE_FSTR("\n"));
  }

  /// `name{label="`: the caller writes the value (label_value(), flash() or number()), then
  /// close().
  __attribute__((noinline)) void open(FlashStr name, FlashStr label) {
    flash(name);
    flash(SPORE_FSTR("{"));
    flash(label);
    flash(SPORE_FSTR("=\""));
  }
  /// `"} v` and the end of the line.
  __attribute__((noinline)) void close(uint64_t v) {
    flash(SPORE_FSTR("\"} "));
    number(v);
    flash(SPORE_FSTR("\n"));
  }
  /// name{label="value"} v, for a value that needs no escaping (a constant name).
  __attribute__((noinline)) void sample(FlashStr name, FlashStr label, FlashStr value, uint64_t v) {
    open(name, label);
    flash(value);
    close(v);
  }

  /// A label value as the format wants it: `\`, `"` and newline escaped. Other control bytes and
  /// bytes >= 0x80 become '?', so the output is ASCII (valid UTF-8) whatever the data held.
  void label_value(std::string_view s) {
    char buf[32];
    size_t n = 0;
    for (char c : s) {
      if (n + 2 > sizeof buf) {
        out_.write(buf, n);
        n = 0;
      }
      const auto b = static_cast<uint8_t>(c);
      if (c == '\\' || c == '"') {
        buf[n++] = '\\';
        buf[n++] = c;
      } else if (c == '\n') {
        buf[n++] = '\\';
        buf[n++] = 'n';
      } else {
        buf[n++] = (b < 0x20 || b >= 0x7F) ? '?' : c;
      }
    }
    out_.write(buf, n);
  }

 private:
  JsonOutput& out_;
};

std::string_view view_or_empty(const char* s) { return s != nullptr ? std::string_view(s) : std::string_view(); }

// Every family in output order, as one flash list (no pointer table in RAM): a type letter ('c'
// counter, 'g' gauge) glued to the name, then the help text. Indexed by Family.
constexpr char kFamilies[] SPORE_FLASH =
    "gspore_members\0Members by status, this node included.\0"
    "cspore_members_refused_total\0Newcomers refused because every member is ACTIVE.\0"
    "cspore_members_evicted_total\0Members forgotten early to make room for a newcomer.\0"
    "cspore_datagrams_received_total\0Cluster datagrams received.\0"
    "cspore_datagrams_sent_total\0Cluster datagrams sent.\0"
    "cspore_bytes_received_total\0UDP payload bytes received.\0"
    "cspore_bytes_sent_total\0UDP payload bytes sent.\0"
    "cspore_datagram_send_failures_total\0Sends the network refused.\0"
    "cspore_datagrams_rejected_total\0Datagrams dropped, by reason.\0"
    "cspore_amplification_refused_datagrams_total\0Datagrams not sent to an unverified address short of credit.\0"
    "cspore_amplification_refused_bytes_total\0UDP payload bytes of the datagrams not sent to an unverified address.\0"
    "cspore_datagrams_accept_key_total\0Datagrams accepted with the key rotation's second key.\0"
    "cspore_http_requests_total\0HTTP responses by status code.\0"
    "cspore_ota_updates_started_total\0Firmware uploads accepted.\0"
    "cspore_ota_updates_succeeded_total\0Firmware images installed.\0"
    "cspore_ota_updates_failed_total\0Uploads ended without a new image.\0"
    "gspore_free_heap_bytes\0Free heap.\0"
    "gspore_uptime_seconds\0Time since the node started.\0"
    "gspore_build_info\0Firmware and SDK version.\0"
    "cspore_cluster_events_published_total\0Cluster events this node published.\0"
    "cspore_cluster_events_delivered_total\0Cluster events from other nodes delivered here.\0"
    "cspore_cluster_events_lost_total\0Cluster events never delivered here, by reason.\0"
    "cspore_cluster_events_dropped_total\0Cluster event copies dropped without loss, by reason.\0"
    "cspore_mqtt_commands_refused_total\0MQTT commands refused, by reason.\0";

enum Family : uint8_t {
  kMembers,
  kMembersRefused,
  kMembersEvicted,
  kDatagramsReceived,
  kDatagramsSent,
  kBytesReceived,
  kBytesSent,
  kSendFailures,
  kRejected,
  kAmplificationRefused,
  kAmplificationRefusedBytes,
  kAcceptKey,  // the last one that needs Membership
  kHttpRequests,
  kOtaStarted,
  kOtaSucceeded,
  kOtaFailed,
  kFreeHeap,
  kUptime,
  kBuildInfo,
  kEventsPublished,  // from here to kEventsDropped Membership is needed again
  kEventsDelivered,
  kEventsLost,
  kEventsDropped,
  kMqttRefused,  // only with set_mqtt_stats()
  kFamilyCount
};
static_assert(flash_list_count(kFamilies, sizeof kFamilies) == 2 * kFamilyCount, "one name and help per Family");

// Families read from Membership: left out until set_membership() gave one.
bool needs_membership(uint8_t f) { return (f >= kDatagramsReceived && f <= kAcceptKey) || (f >= kEventsPublished && f <= kEventsDropped); }

/// spore_datagrams_rejected_total{reason=...}: the decoder's reasons, then those counted outside
/// it; a zero count is left out, and the UDP intake's reasons are 0 without UdpStats.
bool write_rejected(Exposition& e, FlashStr name, size_t slot, const MembershipStats& s, const UdpStats* udp) {
  const FlashStr reason = SPORE_FSTR("reason");
  constexpr size_t kDecoderSlots = wire::kDecodeErrorCount - 1;  // DecodeError 0 is "no error"
  if (slot < kDecoderSlots) {
    const uint32_t n = s.rejected[slot + 1];
    if (n != 0) e.sample(name, reason, wire::decode_error_name(static_cast<wire::DecodeError>(slot + 1)), n);
    return true;
  }
  // forged_incarnation: a gossip claim about this node's future incarnation, ignored (the rest of
  // the datagram is applied).
  static constexpr char kOtherReasons[] SPORE_FLASH =
      "rate_limited_member\0rate_limited_unverified\0oversize\0low_heap\0short_read\0forged_incarnation\0";
  constexpr size_t kOthers = 6;
  const size_t other = slot - kDecoderSlots;
  if (other >= kOthers) return false;
  const uint32_t others[] = {s.rate_limited_member,
                             s.rate_limited_unverified,
                             udp != nullptr ? udp->dropped_oversize : 0,
                             udp != nullptr ? udp->dropped_low_heap : 0,
                             udp != nullptr ? udp->dropped_short_read : 0,
                             s.forged_incarnation};
  if (others[other] != 0) e.sample(name, reason, flash_nth(kOtherReasons, kOthers, other), others[other]);
  return true;
}

/// spore_http_requests_total{code=...}: a zero count is left out; code="other" for the statuses
/// not counted one by one.
bool write_http_requests(Exposition& e, FlashStr name, size_t slot, const HttpStatusCounts& counts) {
  if (slot >= HttpStatusCounts::kSlots) return false;
  const uint32_t n = counts.at(slot);
  if (n == 0) return true;
  const int status = HttpStatusCounts::status_at(slot);
  e.open(name, SPORE_FSTR("code"));
  if (status != 0) {
    e.number(static_cast<uint64_t>(status));
  } else {
    e.flash(SPORE_FSTR("other"));
  }
  e.close(n);
  return true;
}

/// spore_cluster_events_lost_total (`lost`) or _dropped_total{reason=...}; a zero count is left out.
bool write_event_reasons(Exposition& e, bool lost, FlashStr name, size_t slot, const ClusterEventStats& s) {
  // Lost: the sender's ring no longer held them (ring overflow; events the per-source limit
  // dropped end here when the sender published on meanwhile), repair unanswered, no stream
  // slot. Dropped copies: network duplicates, out of order (re-requested), a previous life's.
  static constexpr char kLostReasons[] SPORE_FLASH = "overwritten\0unanswered\0untracked\0";
  static constexpr char kDroppedReasons[] SPORE_FLASH = "duplicate\0out_of_order\0stale\0";
  if (slot >= 3) return false;
  const uint32_t lost_counts[] = {s.lost_overwritten, s.lost - s.lost_overwritten, s.untracked};
  const uint32_t dropped_counts[] = {s.duplicates, s.out_of_order, s.stale};
  const uint32_t n = lost ? lost_counts[slot] : dropped_counts[slot];
  const char* reasons = lost ? kLostReasons : kDroppedReasons;
  if (n != 0) e.sample(name, SPORE_FSTR("reason"), flash_nth(reasons, 3, slot), n);
  return true;
}

/// spore_mqtt_commands_refused_total{reason=...}; a zero count is left out.
bool write_mqtt_refused(Exposition& e, FlashStr name, size_t slot, const MqttBridgeStats& mqtt) {
  // "auth": missing, wrong or malformed proofs (and plain tokens) other than stale ones.
  static constexpr char kReasons[] SPORE_FLASH = "retained\0stale\0auth\0throttled\0";
  if (slot >= 4) return false;
  const uint32_t counts[] = {mqtt.retained_commands, mqtt.stale_commands,
                             mqtt.rejected_commands - mqtt.stale_commands, mqtt.throttled};
  if (counts[slot] != 0) e.sample(name, SPORE_FSTR("reason"), flash_nth(kReasons, 4, slot), counts[slot]);
  return true;
}

}  // namespace

Metrics::Metrics(NodeContext& ctx, RestApi& api)
    : ctx_(ctx),
      api_(api),
      refresh_task_("metrics", kRefreshIntervalMs, Task::Callback::bind<Metrics, &Metrics::refresh>(this)) {}

bool Metrics::begin() {
  // One subscription to every topic instead of three topic slots; on_ota_event() filters.
  const bool subscribed = ctx_.on(EventBus::kAnyTopic, EventHandler::bind<Metrics, &Metrics::on_ota_event>(this)) >= 0;
  const bool routed = api_.add_answer_route(kPath, HttpMethod::kGet, RouteAuth::kPublic, kPrometheusContentType,
                                            AnswerSource::bind<Metrics, &Metrics::write_unit>(this));
  ctx_.scheduler().add(refresh_task_);
  return subscribed && routed;
}

void Metrics::on_ota_event(const Event& event) {
  if (event.get<OtaEvent>() == nullptr) return;
  const std::string_view topic = event.topic();
  if (topic == topics::kOtaStarted) ++ota_started_;
  if (topic == topics::kOtaFinished) ++ota_succeeded_;
  if (topic == topics::kOtaFailed) ++ota_failed_;
}

void Metrics::refresh(uint32_t) {
  uptime_ms_.update(ctx_.uptime_ms());
  if (membership_ == nullptr) return;
  const MembershipStats& s = membership_->stats();
  datagrams_received_.update(s.datagrams_received);
  datagrams_sent_.update(s.datagrams_sent);
  bytes_received_.update(s.bytes_received);
  bytes_sent_.update(s.bytes_sent);
}

void Metrics::write(JsonOutput& out) {
  write_whole_answer(AnswerSource::bind<Metrics, &Metrics::write_unit>(this), out, false);
}

bool Metrics::write_unit(AnswerCursor& c, JsonWriter& w) {
  // Units: a family's HELP and TYPE lines, then one sample line per slot (c.part = family,
  // c.index = 0 for the head, slot + 1 after). Each line is rendered whole (~180 B at most: the
  // build info with both versions fully escaped), so a counter that moves between two units
  // never shows half old, half new.
  if (c.key == 0) {
    c.key = 1;
    refresh(0);
  }
  Exposition e(w.output());
  while (c.part < kFamilyCount) {
    const auto f = static_cast<uint8_t>(c.part);
    const char* entry = kFamilies;
    for (uint8_t i = 0; i < f; ++i) {
      const FlashStr skipped_name(entry + 1);
      const FlashStr skipped_help(entry + 1 + skipped_name.length() + 1);
      entry = skipped_help.address() + skipped_help.length() + 1;
    }
    const bool counter = flash_read_byte(entry) == 'c';
    const FlashStr name(entry + 1);
    const FlashStr help(entry + 1 + name.length() + 1);
    if ((membership_ != nullptr || !needs_membership(f)) && (f != kMqttRefused || mqtt_ != nullptr)) {
      if (c.index == 0) {
        e.family(name, counter, help);
        c.index = 1;
        return true;
      }
      const size_t slot = c.index - 1;
      ++c.index;
      if (write_sample(w.output(), f, name, slot)) return true;
    }
    ++c.part;
    c.index = 0;
  }
  return false;
}

bool Metrics::write_sample(JsonOutput& out, uint8_t f, FlashStr name, size_t slot) {
  // Labelled families: one slot per label value, written only when not zero. Plain: slot 0.
  Exposition e(out);
  uint64_t value = 0;
  switch (f) {
    case kMembers: {
      if (slot >= 3) return false;
      // Lower case, as Prometheus label values usually are (the REST documents say "ACTIVE").
      static constexpr char kStatuses[] SPORE_FLASH = "active\0inactive\0dead\0";
      static constexpr MemberStatus kOrder[] = {MemberStatus::kActive, MemberStatus::kInactive, MemberStatus::kDead};
      const size_t count = ctx_.members().count(kOrder[slot]) + (slot == 0 ? 1 : 0);  // this node is active
      e.sample(name, SPORE_FSTR("status"), flash_nth(kStatuses, 3, slot), count);
      return true;
    }
    case kRejected:
      return write_rejected(e, name, slot, membership_->stats(), udp_);
    case kHttpRequests: {
      // A scrape written whole is counted once answered: it shows in the next one. One sent in
      // chunks (the ESP8266) is counted before its lines are written, so it shows in itself.
      return write_http_requests(e, name, slot, api_.response_counts());
    }
    case kEventsLost:
    case kEventsDropped:
      return write_event_reasons(e, f == kEventsLost, name, slot, membership_->events().stats());
    case kMqttRefused:
      return write_mqtt_refused(e, name, slot, *mqtt_);
    case kBuildInfo:
      if (slot != 0) return false;
      e.open(name, SPORE_FSTR("version"));
      e.label_value(ctx_.firmware_version());
      e.flash(SPORE_FSTR("\",sdk=\""));
      e.label_value(view_or_empty(ctx_.system().sdk_version()));
      e.close(1);
      return true;
    default:
      break;
  }
  if (slot != 0) return false;
  switch (f) {
    case kDatagramsReceived: value = datagrams_received_.total; break;
    case kDatagramsSent: value = datagrams_sent_.total; break;
    case kBytesReceived: value = bytes_received_.total; break;
    case kBytesSent: value = bytes_sent_.total; break;
    case kMembersRefused: value = ctx_.members().refused_full(); break;
    case kMembersEvicted: value = ctx_.members().evictions(); break;
    case kSendFailures: value = membership_->stats().send_failures; break;
    case kAmplificationRefused: value = membership_->stats().amplification_refused; break;
    case kAmplificationRefusedBytes: value = membership_->stats().amplification_refused_bytes; break;
    case kAcceptKey: value = membership_->stats().accepted_with_accept_key; break;
    case kOtaStarted: value = ota_started_; break;
    case kOtaSucceeded: value = ota_succeeded_; break;
    case kOtaFailed: value = ota_failed_; break;
    case kFreeHeap: value = ctx_.system().free_heap_bytes(); break;
    case kEventsPublished: value = membership_->events().stats().published; break;
    case kEventsDelivered: value = membership_->events().stats().delivered; break;
    default: value = uptime_ms_.total / 1000; break;  // kUptime
  }
  e.sample(name, value);
  return true;
}

}  // namespace spore
