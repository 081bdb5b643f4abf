#include "scenario.h"

#include <algorithm>
#include <cstdio>

namespace spore_sim {

const char* action_name(ActionKind kind) {
  switch (kind) {
    case ActionKind::kCrash: return "crash";
    case ActionKind::kRestart: return "restart";
    case ActionKind::kLeave: return "leave";
    case ActionKind::kStart: return "start";
    case ActionKind::kPartition: return "partition";
    case ActionKind::kHeal: return "heal";
    case ActionKind::kLoss: return "loss";
    case ActionKind::kDelay: return "delay";
    case ActionKind::kJitter: return "jitter";
    case ActionKind::kDuplicate: return "duplicate";
    case ActionKind::kReorder: return "reorder";
    case ActionKind::kDrift: return "drift";
  }
  return "?";
}

spore::Config config_for(const Scenario& scenario) {
  const spore::Profile profile = scenario.profile == "fast"      ? spore::Profile::kFast
                                 : scenario.profile == "esp8266" ? spore::Profile::kEsp8266
                                                                 : spore::Profile::kLan;
  // Each mode brings its own period and suspicion timer (Config::derive); derive(p) is p's table.
  return scenario.liveness ? spore::Config::derive(profile, *scenario.liveness) : spore::Config::derive(profile);
}

const char* liveness_name(spore::Liveness liveness) {
  return liveness == spore::Liveness::kDigest ? "digest" : "broadcast";
}

std::string format_ms(uint64_t ms) {
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%llu ms", static_cast<unsigned long long>(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ms) / 1000.0);
    if (ms >= 100000) std::snprintf(buf, sizeof buf, "%.0f s", static_cast<double>(ms) / 1000.0);
  }
  return buf;
}

namespace {

// Splits on spaces and tabs.
std::vector<std::string_view> tokenize(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string quoted(std::string_view s) {
  // Printable ASCII as is; anything else as \xNN, so a message never carries control bytes.
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out + "'";
}

// "12", "1.5", "0.25": value x 1000 (milli-units). At most 3 decimals, at most 10^12 whole units,
// so no unit conversion below can overflow.
bool parse_milli(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t whole = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] != '.'; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    if (whole > 1000000000000ull) return false;
  }
  if (i == 0) return false;  // ".5": write 0.5
  uint64_t frac = 0;
  if (i < s.size()) {
    ++i;  // '.'
    const size_t digits = s.size() - i;
    if (digits == 0 || digits > 3) return false;
    for (size_t d = 0; d < 3; ++d) {
      frac *= 10;
      if (i + d < s.size()) {
        const char c = s[i + d];
        if (c < '0' || c > '9') return false;
        frac += static_cast<uint64_t>(c - '0');
      }
    }
  }
  *out = whole * 1000 + frac;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "250ms", "30s", "1.5s", "2m". A unit is required: a bare number is ambiguous to a reader.
bool parse_time(std::string_view s, uint64_t* out_ms) {
  uint64_t milli = 0;
  if (ends_with(s, "ms")) {
    if (!parse_milli(s.substr(0, s.size() - 2), &milli) || milli % 1000 != 0) return false;
    *out_ms = milli / 1000;
  } else if (ends_with(s, "s")) {
    if (!parse_milli(s.substr(0, s.size() - 1), &milli)) return false;
    *out_ms = milli;
  } else if (ends_with(s, "m")) {
    if (!parse_milli(s.substr(0, s.size() - 1), &milli)) return false;
    *out_ms = milli * 60;
  } else {
    return false;
  }
  return true;
}

// "10%", "0.5%": 0..100, as a fraction 0..1.
bool parse_percent(std::string_view s, double* out) {
  uint64_t milli = 0;
  if (!ends_with(s, "%") || !parse_milli(s.substr(0, s.size() - 1), &milli) || milli > 100000) return false;
  *out = static_cast<double>(milli) / 100000.0;
  return true;
}

bool parse_uint(std::string_view s, uint64_t max, uint64_t* out);

// "+200ppm", "-50ppm", "0ppm": a signed whole number of parts per million.
bool parse_ppm(std::string_view s, int32_t* out) {
  if (!ends_with(s, "ppm")) return false;
  s.remove_suffix(3);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t v = 0;
  if (!parse_uint(s, static_cast<uint64_t>(kMaxDriftPpm), &v)) return false;
  *out = negative ? -static_cast<int32_t>(v) : static_cast<int32_t>(v);
  return true;
}

bool parse_uint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

class Parser {
 public:
  explicit Parser(Scenario* s) : s_(*s) {}

  bool line(uint32_t number, std::string_view text) {
    line_ = number;
    if (const size_t hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    const std::vector<std::string_view> t = tokenize(text);
    if (t.empty()) return true;
    if (t[0] == "at") return action(t);
    if (t[0] == "expect") return expect(t);
    return setting(t);
  }

  bool finish() {
    line_ = 0;
    if (s_.nodes == 0) return fail("'nodes N' is required");
    if (s_.duration_ms == 0) return fail("'duration T' is required");
    if (liveness_line_ != 0 && s_.protocol == "seed") {
      line_ = liveness_line_;
      return fail("liveness: protocol seed has none (the seed's design broadcasts every heartbeat)");
    }
    for (const Action& a : s_.actions) {
      if (a.at_ms > s_.duration_ms) {
        line_ = a.line;
        return fail("this action at " + format_ms(a.at_ms) + " is after the end of the run (duration " +
                    format_ms(s_.duration_ms) + ")");
      }
    }
    return true;
  }

  const ScenarioError& error() const { return error_; }

 private:
  bool fail(const std::string& message) {
    error_.line = line_;
    error_.message = message;
    return false;
  }

  bool once(std::string_view key) {
    const std::string k(key);
    if (std::find(seen_.begin(), seen_.end(), k) != seen_.end()) return fail("'" + k + "' is set twice");
    seen_.push_back(k);
    return true;
  }

  bool need_args(const std::vector<std::string_view>& t, size_t n, const char* usage) {
    if (t.size() != n) return fail(std::string("expected '") + usage + "'");
    return true;
  }

  bool setting(const std::vector<std::string_view>& t) {
    const std::string_view key = t[0];
    if (in_body_) {
      return fail("setting " + quoted(key) + " after the first 'at' or 'expect' line: settings come first");
    }
    if (key == "name") {
      if (!need_args(t, 2, "name NAME") || !once(key)) return false;
      for (char c : t[1]) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return fail("name " + quoted(t[1]) + ": use A-Z a-z 0-9 - _ .");
      }
      if (t[1].size() > 64) return fail("name: at most 64 characters");
      s_.name = std::string(t[1]);
      return true;
    }
    if (key == "nodes") {
      uint64_t n = 0;
      if (!need_args(t, 2, "nodes N") || !once(key)) return false;
      if (!parse_uint(t[1], kMaxNodes, &n) || n == 0) {
        return fail("nodes " + quoted(t[1]) + ": expected a whole number 1.." + std::to_string(kMaxNodes));
      }
      s_.nodes = static_cast<uint32_t>(n);
      up_.assign(s_.nodes, true);
      return true;
    }
    if (key == "profile") {
      if (!need_args(t, 2, "profile esp8266|lan|fast") || !once(key)) return false;
      if (t[1] == "fast") {
        s_.profile = "fast";
      } else if (t[1] == "lan" || t[1] == "default_lan") {
        s_.profile = "lan";
      } else if (t[1] == "esp8266" || t[1] == "default_esp8266") {
        s_.profile = "esp8266";
      } else {
        return fail("profile " + quoted(t[1]) + ": expected esp8266, lan or fast");
      }
      return true;
    }
    if (key == "protocol") {
      if (!need_args(t, 2, "protocol spore|seed") || !once(key)) return false;
      if (t[1] != "spore" && t[1] != "seed") return fail("protocol " + quoted(t[1]) + ": expected spore or seed");
      s_.protocol = std::string(t[1]);
      return true;
    }
    if (key == "liveness") return liveness(t);
    if (key == "seed") {
      if (!need_args(t, 2, "seed N") || !once(key)) return false;
      if (!parse_uint(t[1], UINT64_MAX, &s_.seed)) return fail("seed " + quoted(t[1]) + ": expected a whole number");
      return true;
    }
    if (key == "key") {
      if (!need_args(t, 2, "key on|off") || !once(key)) return false;
      if (t[1] != "on" && t[1] != "off") return fail("key " + quoted(t[1]) + ": expected on or off");
      s_.keyed = t[1] == "on";
      return true;
    }
    if (key == "duration") {
      if (!need_args(t, 2, "duration TIME") || !once(key)) return false;
      if (!parse_time(t[1], &s_.duration_ms) || s_.duration_ms == 0 || s_.duration_ms > kMaxDurationMs) {
        return fail("duration " + quoted(t[1]) + ": expected a time like 90s or 10m, at most 24 h");
      }
      return true;
    }
    if (key == "check-every") {
      if (!need_args(t, 2, "check-every TIME") || !once(key)) return false;
      if (!parse_time(t[1], &s_.check_every_ms) || s_.check_every_ms == 0 || s_.check_every_ms > 10000) {
        return fail("check-every " + quoted(t[1]) + ": expected 1ms..10s");
      }
      return true;
    }
    if (key == "idle") {
      if (t.size() < 2) return fail("expected 'idle NODES'");
      if (!once(key) || !node_list(t, 1, &s_.idle)) return false;
      for (uint32_t n : s_.idle) up_[n] = false;
      idle_ = s_.idle;
      return true;
    }
    if (key == "drift") {
      DriftSetting d;
      if (t.size() < 3) return fail("expected 'drift NODES PPM' (like drift 2 +200ppm)");
      if (!drift_args(t, 1, &d.nodes, &d.ppm)) return false;
      s_.drift.push_back(std::move(d));
      return true;
    }
    if (key == "loss" || key == "delay" || key == "jitter" || key == "duplicate" || key == "reorder" ||
        key == "reorder-window") {
      if (!need_args(t, 2, (std::string(key) + " VALUE").c_str()) || !once(key)) return false;
      return link_value(key, t[1], &s_.link);
    }
    return fail("unknown setting " + quoted(key) +
                " (settings: name nodes profile protocol liveness seed key duration check-every idle drift loss delay "
                "jitter duplicate reorder reorder-window; then 'at' and 'expect' lines)");
  }

  bool liveness(const std::vector<std::string_view>& t) {
    if (!need_args(t, 2, "liveness broadcast|digest") || !once(t[0])) return false;
    if (t[1] != "broadcast" && t[1] != "digest") {
      return fail("liveness " + quoted(t[1]) + ": expected broadcast or digest");
    }
    s_.liveness = t[1] == "digest" ? spore::Liveness::kDigest : spore::Liveness::kBroadcast;
    liveness_line_ = line_;
    return true;
  }

  // t[first..] = NODES... PPM: the last token is the rate.
  bool drift_args(const std::vector<std::string_view>& t, size_t first, std::vector<uint32_t>* nodes, int32_t* ppm) {
    if (!parse_ppm(t.back(), ppm)) {
      return fail("drift " + quoted(t.back()) + ": expected a rate like +200ppm or -50ppm, at most " +
                  std::to_string(kMaxDriftPpm) + "ppm");
    }
    std::vector<std::string_view> head(t.begin(), t.end() - 1);
    return node_list(head, first, nodes);
  }

  bool link_value(std::string_view key, std::string_view value, LinkSettings* link) {
    if (key == "loss" || key == "duplicate" || key == "reorder") {
      double f = 0;
      if (!parse_percent(value, &f)) return fail(std::string(key) + " " + quoted(value) + ": expected 0%..100%");
      (key == "loss" ? link->loss : key == "duplicate" ? link->duplicate : link->reorder) = f;
      return true;
    }
    uint64_t ms = 0;
    if (!parse_time(value, &ms) || ms > kMaxDelayMs) {
      return fail(std::string(key) + " " + quoted(value) + ": expected a time like 5ms, at most 60s");
    }
    (key == "delay" ? link->delay_ms : key == "jitter" ? link->jitter_ms : link->reorder_ms) = static_cast<uint32_t>(ms);
    return true;
  }

  // Nodes from t[first..]: "3", "0-9", "0-4,7" (spaces around ',' allowed). Sorted, distinct.
  bool node_list(const std::vector<std::string_view>& t, size_t first, std::vector<uint32_t>* out) {
    if (s_.nodes == 0) return fail("'nodes N' must come before any line naming nodes");
    std::string joined;
    for (size_t i = first; i < t.size(); ++i) joined += t[i];
    return node_set(joined, out);
  }

  bool node_set(std::string_view text, std::vector<uint32_t>* out) {
    out->clear();
    if (text.empty()) return fail("expected node numbers (like 3, 0-9 or 0-4,7)");
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = text.find(',', pos);
      if (comma == std::string_view::npos) comma = text.size();
      const std::string_view item = text.substr(pos, comma - pos);
      const size_t dash = item.find('-');
      uint64_t lo = 0, hi = 0;
      const bool ok = dash == std::string_view::npos
                          ? parse_uint(item, UINT32_MAX, &lo) && (hi = lo, true)
                          : parse_uint(item.substr(0, dash), UINT32_MAX, &lo) &&
                                parse_uint(item.substr(dash + 1), UINT32_MAX, &hi);
      if (!ok) return fail("node list " + quoted(text) + ": " + quoted(item) + " is not N or N-M");
      if (lo > hi) return fail("node range " + quoted(item) + " runs backwards");
      if (hi >= s_.nodes) {
        return fail("node " + std::to_string(hi) + " does not exist (nodes are 0.." + std::to_string(s_.nodes - 1) +
                    ")");
      }
      for (uint64_t n = lo; n <= hi; ++n) out->push_back(static_cast<uint32_t>(n));
      pos = comma + 1;
    }
    std::sort(out->begin(), out->end());
    if (std::adjacent_find(out->begin(), out->end()) != out->end()) {
      return fail("node list " + quoted(text) + " names a node twice");
    }
    return true;
  }

  bool action(const std::vector<std::string_view>& t) {
    in_body_ = true;
    if (s_.nodes == 0) return fail("'nodes N' must come before the first 'at' line");
    if (t.size() < 3) return fail("expected 'at TIME ACTION ...'");
    Action a;
    a.line = line_;
    if (!parse_time(t[1], &a.at_ms) || a.at_ms > kMaxDurationMs) {
      return fail("at " + quoted(t[1]) + ": expected a time like 30s, 1500ms or 2m");
    }
    if (a.at_ms < last_at_ms_) {
      return fail("at " + format_ms(a.at_ms) + " comes before the previous action (" + format_ms(last_at_ms_) +
                  "): keep actions in time order");
    }
    const std::string_view verb = t[2];
    if (verb == "crash" || verb == "restart" || verb == "leave" || verb == "start") {
      a.kind = verb == "crash"     ? ActionKind::kCrash
               : verb == "restart" ? ActionKind::kRestart
               : verb == "leave"   ? ActionKind::kLeave
                                   : ActionKind::kStart;
      if (t.size() < 4) return fail(std::string("expected 'at TIME ") + std::string(verb) + " NODES'");
      if (!node_list(t, 3, &a.nodes)) return false;
      for (uint32_t n : a.nodes) {
        const bool idle = std::find(idle_.begin(), idle_.end(), n) != idle_.end();
        if (a.kind == ActionKind::kStart && !idle) {
          return fail("start " + std::to_string(n) + ": only an idle node can start (use restart for a crashed one)");
        }
        if (a.kind != ActionKind::kStart && idle) {
          return fail(std::string(verb) + " " + std::to_string(n) + ": node is idle (never started); 'start' it first");
        }
        if ((a.kind == ActionKind::kCrash || a.kind == ActionKind::kLeave) && !up_[n]) {
          return fail(std::string(verb) + " " + std::to_string(n) + ": node is already down then");
        }
      }
      for (uint32_t n : a.nodes) {
        up_[n] = a.kind == ActionKind::kRestart || a.kind == ActionKind::kStart;
        if (a.kind == ActionKind::kStart) idle_.erase(std::find(idle_.begin(), idle_.end(), n));
      }
    } else if (verb == "partition") {
      a.kind = ActionKind::kPartition;
      std::string joined;
      for (size_t i = 3; i < t.size(); ++i) joined += t[i];
      std::vector<uint32_t> all;
      size_t pos = 0;
      while (pos <= joined.size()) {
        size_t bar = joined.find('|', pos);
        if (bar == std::string::npos) bar = joined.size();
        std::vector<uint32_t> group;
        if (!node_set(std::string_view(joined).substr(pos, bar - pos), &group)) return false;
        all.insert(all.end(), group.begin(), group.end());
        a.groups.push_back(std::move(group));
        pos = bar + 1;
      }
      if (a.groups.size() < 2) return fail("expected 'at TIME partition NODES | NODES [| ...]' (two groups or more)");
      std::sort(all.begin(), all.end());
      if (std::adjacent_find(all.begin(), all.end()) != all.end()) return fail("partition names a node in two groups");
    } else if (verb == "heal") {
      a.kind = ActionKind::kHeal;
      if (t.size() != 3) return fail("expected 'at TIME heal'");
    } else if (verb == "loss" || verb == "delay" || verb == "jitter" || verb == "duplicate" || verb == "reorder") {
      a.kind = verb == "loss"        ? ActionKind::kLoss
               : verb == "delay"     ? ActionKind::kDelay
               : verb == "jitter"    ? ActionKind::kJitter
               : verb == "duplicate" ? ActionKind::kDuplicate
                                     : ActionKind::kReorder;
      if (t.size() != 4) return fail(std::string("expected 'at TIME ") + std::string(verb) + " VALUE'");
      LinkSettings l;
      if (!link_value(verb, t[3], &l)) return false;
      a.fraction = verb == "loss" ? l.loss : verb == "duplicate" ? l.duplicate : l.reorder;
      a.ms = verb == "delay" ? l.delay_ms : l.jitter_ms;
    } else if (verb == "drift") {
      a.kind = ActionKind::kDrift;
      if (t.size() < 5) return fail("expected 'at TIME drift NODES PPM' (like at 10s drift 2 +200ppm)");
      if (!drift_args(t, 3, &a.nodes, &a.ppm)) return false;
    } else {
      return fail("unknown action " + quoted(verb) +
                  " (actions: crash restart leave start partition heal loss delay jitter duplicate reorder drift)");
    }
    last_at_ms_ = a.at_ms;
    s_.actions.push_back(std::move(a));
    return true;
  }

  bool expect(const std::vector<std::string_view>& t) {
    in_body_ = true;
    static const char* kForms =
        "expected 'expect converged within TIME', 'expect detect crash within TIME' or 'expect false-alarms at most N'";
    if (t.size() == 4 && t[1] == "converged" && t[2] == "within") {
      if (!once("expect converged")) return false;
      uint64_t ms = 0;
      if (!parse_time(t[3], &ms) || ms == 0 || ms > kMaxDurationMs) return fail("converged within " + quoted(t[3]) + ": expected a time like 2s");
      s_.converge_within_ms = ms;
      return true;
    }
    if (t.size() == 5 && t[1] == "detect" && t[2] == "crash" && t[3] == "within") {
      if (!once("expect detect")) return false;
      uint64_t ms = 0;
      if (!parse_time(t[4], &ms) || ms == 0 || ms > kMaxDurationMs) return fail("detect crash within " + quoted(t[4]) + ": expected a time like 3s");
      s_.detect_within_ms = ms;
      return true;
    }
    if (t.size() == 5 && t[1] == "false-alarms" && t[2] == "at" && t[3] == "most") {
      if (!once("expect false-alarms")) return false;
      uint64_t n = 0;
      if (!parse_uint(t[4], 1000000, &n)) return fail("false-alarms at most " + quoted(t[4]) + ": expected a whole number");
      s_.max_false_alarms = static_cast<uint32_t>(n);
      return true;
    }
    return fail(kForms);
  }

  Scenario& s_;
  ScenarioError error_;
  uint32_t line_ = 0;
  bool in_body_ = false;
  uint64_t last_at_ms_ = 0;
  uint32_t liveness_line_ = 0;  // where `liveness` was set (0: not), refused in finish() with protocol seed
  std::vector<std::string> seen_;
  std::vector<bool> up_;         // per node, as the actions so far leave it
  std::vector<uint32_t> idle_;   // nodes not yet started
};

}  // namespace

bool parse_scenario(std::string_view text, Scenario* out, ScenarioError* error) {
  Scenario s;
  Parser p(&s);
  uint32_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++number;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      *error = ScenarioError{number, "line longer than " + std::to_string(kMaxLineBytes) + " bytes"};
      return false;
    }
    // Comments may hold any UTF-8 (a reader's language); everything else is plain ASCII, and no
    // line holds control bytes.
    const size_t hash = line.find('#');
    for (size_t k = 0; k < line.size(); ++k) {
      const auto u = static_cast<unsigned char>(line[k]);
      if ((u < 0x20 && u != '\t') || u == 0x7f || (u >= 0x80 && k < hash)) {
        char buf[80];
        std::snprintf(buf, sizeof buf, "byte 0x%02x: scenario files are plain ASCII text (UTF-8 only in comments)", u);
        *error = ScenarioError{number, buf};
        return false;
      }
    }
    if (!p.line(number, line)) {
      *error = p.error();
      return false;
    }
  }
  if (!p.finish()) {
    *error = p.error();
    return false;
  }
  *out = std::move(s);
  return true;
}

}  // namespace spore_sim
