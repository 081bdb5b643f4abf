// libFuzzer target for spored's command line and config file (apps/spored/options.cpp,
// parse_options(): CLI11 flags, the INI/TOML `--config FILE`, then SPORE's own checks).
//
// Input layout: byte 0 bit 0 = mode. 0: the rest is argv after "spored", split on NUL (at most
// 64 arguments). 1: the rest is the content of a config file, passed as `spored --config FILE`
// (FILE = a memfd, /proc/self/fd/N, rewritten per input; no file in the tree is touched).
// The SPORED_* environment and XDG_STATE_HOME are cleared once, so runs do not depend on the
// caller's environment.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes, reads out of bounds (ASan/UBSan) or lets an exception escape
//   parse_options(); it never exits the process (exit() would end the fuzzer: libFuzzer reports
//   it as a crash);
// - the result is 0 (--help / --version), 2 (usage error) or -1; `*out` is written only on -1;
// - on -1 the Options are fully valid: HTTP and UDP ports 1..65535 and mirrored in the Config;
//   Config::validate() passes; the profile is lan, fast or esp8266; the hostname is empty or
//   valid_hostname(); bind parses as IPv4 and equals bind_ip; every join target has an address
//   port 1..65535; the MQTT cluster name is 1..31 of [A-Za-z0-9_-]; an MQTT host is non-empty with
//   a port 1..65535; a password file comes with a username; state interval 1..86400 s, keepalive
//   5..3600 s; the state directory is non-empty;
// - parsing is deterministic: a second parse of the same input gives the same code and Options
//   (every timer of the Config included: derived or given, Config::derive(); and its liveness).
//
// Seed corpus: tests/fuzz/corpus/spored_options/.
//
// options.cpp and the posix helpers it calls (parse_ipv4, parse_log_level, parse_mqtt_url,
// firmware_version) are host-side code, not core: they are compiled in here, as the fuzz build
// has no apps and no platform/posix library (CMakeLists.txt adds the include directory and
// libmosquitto for this target).
#include "../../apps/spored/options.cpp"
#include "../../platform/posix/log_sink.cpp"
#include "../../platform/posix/mqtt_client.cpp"
#include "../../platform/posix/udp_socket.cpp"
#include "../../platform/posix/version.cpp"

#include <sanitizer/common_interface_defs.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct Setup {
  int memfd = -1;
  std::string path;
  int null_fd = -1;
  int saved_out = -1;
  int saved_err = -1;
  bool quiet = true;
  Setup() {
    std::vector<std::string> names;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv(*e);
      const std::string name = kv.substr(0, kv.find('='));
      if (name.rfind("SPORED_", 0) == 0 || name == "XDG_STATE_HOME") names.push_back(name);
    }
    for (const std::string& n : names) unsetenv(n.c_str());
    memfd = memfd_create("spored-options-fuzz", 0);
    check(memfd >= 0);
    path = "/proc/self/fd/" + std::to_string(memfd);
    // Help and usage messages would flood the log: parse with stdout/stderr on /dev/null, but
    // keep sanitizer reports on the real stderr. SPORE_FUZZ_VERBOSE=1 shows the messages.
    quiet = std::getenv("SPORE_FUZZ_VERBOSE") == nullptr;
    null_fd = open("/dev/null", O_WRONLY);
    saved_out = dup(1);
    saved_err = dup(2);
    check(null_fd >= 0 && saved_out >= 0 && saved_err >= 0);
    __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<intptr_t>(saved_err)));
  }
  void silence() {
    if (!quiet) return;
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
  }
  void restore() {
    if (!quiet) return;
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

bool same_timers(const spore::Config& a, const spore::Config& b) {
  return a.inactive_after_ms == b.inactive_after_ms && a.dead_after_ms == b.dead_after_ms &&
         a.heartbeat_interval_ms == b.heartbeat_interval_ms && a.suspect_after_ms == b.suspect_after_ms &&
         a.probe_timeout_ms == b.probe_timeout_ms && a.listen_interval_ms == b.listen_interval_ms &&
         a.status_interval_ms == b.status_interval_ms && a.discovery_interval_ms == b.discovery_interval_ms &&
         a.member_info_interval_ms == b.member_info_interval_ms && a.dead_retention_ms == b.dead_retention_ms;
}

bool same(const spored::Options& a, const spored::Options& b) {
  if (a.join.size() != b.join.size()) return false;
  for (size_t i = 0; i < a.join.size(); ++i) {
    if (a.join[i].ip != b.join[i].ip || a.join[i].port != b.join[i].port) return false;
  }
  return a.hostname == b.hostname && a.bind == b.bind && a.bind_ip == b.bind_ip && a.http_port == b.http_port &&
         a.udp_port == b.udp_port && a.state_dir == b.state_dir && a.profile == b.profile &&
         same_timers(a.config, b.config) && a.config.liveness == b.config.liveness &&
         a.cluster_key_file == b.cluster_key_file && a.cluster_key_accept_file == b.cluster_key_accept_file &&
         a.api_token_file == b.api_token_file && a.no_api_token == b.no_api_token &&
         a.ota_public_key_file == b.ota_public_key_file && a.ota_max_image_bytes == b.ota_max_image_bytes &&
         a.log_level == b.log_level && a.mqtt_host == b.mqtt_host && a.mqtt_port == b.mqtt_port &&
         a.mqtt_cluster == b.mqtt_cluster && a.mqtt_username == b.mqtt_username &&
         a.mqtt_password_file == b.mqtt_password_file && a.mqtt_discovery_prefix == b.mqtt_discovery_prefix &&
         a.mqtt_state_interval_s == b.mqtt_state_interval_s && a.mqtt_keepalive_s == b.mqtt_keepalive_s;
}

void check_valid(const spored::Options& o) {
  check(o.http_port >= 1 && o.udp_port >= 1);
  check(o.config.http_port == o.http_port && o.config.udp_port == o.udp_port);
  check(o.config.validate() == nullptr);
  check(o.profile == "lan" || o.profile == "fast" || o.profile == "esp8266");
  check(o.hostname.empty() || spored::valid_hostname(o.hostname));
  uint32_t ip = 0;
  check(spore::posix::parse_ipv4(o.bind, &ip) && ip == o.bind_ip);
  for (const spored::JoinTarget& j : o.join) check(j.port >= 1);
  check(!o.mqtt_cluster.empty() && o.mqtt_cluster.size() <= 31 &&
        o.mqtt_cluster.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
            std::string::npos);
  check(o.mqtt_port >= 1);
  check(o.mqtt_password_file.empty() || !o.mqtt_username.empty());
  check(o.mqtt_state_interval_s >= 1 && o.mqtt_state_interval_s <= 86400);
  check(o.mqtt_keepalive_s >= 5 && o.mqtt_keepalive_s <= 3600);
  check(!o.state_dir.empty());
  const auto level = static_cast<int>(o.log_level);
  check(level >= static_cast<int>(spore::LogLevel::kError) && level <= static_cast<int>(spore::LogLevel::kDebug));
}

int parse(const std::vector<std::string>& args, spored::Options* out) {
  std::vector<std::string> copy = args;  // argv strings must be writable
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int code = 0;
  setup().silence();
  try {
    code = spored::parse_options(static_cast<int>(args.size()), argv.data(), out);
  } catch (...) {
    setup().restore();
    std::fprintf(stderr, "parse_options() let an exception escape\n");
    std::abort();
  }
  setup().restore();
  return code;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  Setup& s = setup();
  const bool config_mode = (data[0] & 1u) != 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> args{"spored"};
  if (config_mode) {
    check(ftruncate(s.memfd, 0) == 0);
    check(pwrite(s.memfd, rest.data(), rest.size(), 0) == static_cast<ssize_t>(rest.size()));
    args.push_back("--config");
    args.push_back(s.path);
  } else if (!rest.empty()) {
    size_t start = 0;
    while (args.size() <= 64) {
      const size_t nul = rest.find('\0', start);
      args.push_back(rest.substr(start, nul - start));
      if (nul == std::string::npos) break;
      start = nul + 1;
    }
  }

  spored::Options first;
  first.hostname = "untouched";
  const int code = parse(args, &first);
  check(code == -1 || code == 0 || code == 2);
  if (code != -1) {
    check(first.hostname == "untouched");
  } else {
    check_valid(first);
  }
  spored::Options second;
  check(parse(args, &second) == code);
  if (code == -1) check(same(first, second));
  return 0;
}
