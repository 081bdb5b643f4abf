// spore: the command-line tool for a SPORE cluster (seed verbs: cluster members, node status,
// node restart, ota update, ota all; plus discover, keygen, sign, verify). Talks to one node's REST
// API; discover listens for the wire protocol's ANNOUNCE broadcasts and needs no address at all.
//
// Exit codes: 0 ok, 1 the operation failed (unreachable, error answer, nothing heard),
// 2 bad command line. The pure logic lives in cli_logic.{h,cpp} and is unit-tested.

#include <httplib.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bounded_http.h"
#include "cli_logic.h"
#include "events_cmd.h"
#include "mqtt_cmd.h"
#include "ota_cmd.h"
#include "request_signer.h"
#include "terminal_safe.h"
#include "transport_error.h"
#include "posix/udp_socket.h"
#include "posix/version.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/base/incarnation.h"
#include "spore/wire/wire_codec.h"

namespace {

using spore::cli::kExitFailure;
using spore::cli::kExitOk;
using spore::cli::kExitUsage;
using spore::cli::describe_transport_error;
using Json = nlohmann::ordered_json;

struct Globals {
  std::optional<std::string> node;
  double http_timeout_s = 5.0;
  size_t max_answer_bytes = spore::cli::kDefaultMaxAnswerBytes;
  std::string color = "auto";
  bool quiet = false;
};

/// A failure that ends the command: message for stderr and exit code.
struct Failure {
  int code;
  std::string message;
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool use_color(const Globals& g) {
  if (g.color == "always") return true;
  if (g.color == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string(term) == "dumb") return false;
  return isatty(STDOUT_FILENO) == 1;
}

/// A `.env` as read: its text, and who owns it with which mode (of the file opened, not of a
/// name looked up again).
struct DotEnvFile {
  std::string text;
  uid_t owner = 0;
  gid_t group = 0;
  mode_t mode = 0;
};

std::optional<DotEnvFile> read_dotenv(const std::string& path) {
  // O_NONBLOCK: opening a FIFO named .env would otherwise wait for a writer (issue 18 attack, F);
  // only a regular file is read below, and reads of one never block.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<DotEnvFile> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    DotEnvFile f;
    f.owner = st.st_uid;
    f.group = st.st_gid;
    f.mode = st.st_mode;
    char buf[4096];
    ssize_t n = 0;
    // A .env is a few lines; 1 MiB is plenty and keeps a hostile one from filling memory.
    while (f.text.size() < (1u << 20) && (n = ::read(fd, buf, sizeof buf)) > 0) {
      f.text.append(buf, static_cast<size_t>(n));
    }
    if (n >= 0) out = std::move(f);
  }
  ::close(fd);
  return out;
}

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) return found->pw_name;
  return "";
}

spore::cli::NodeAddress node_address(const Globals& g) {
  const char* spore_node = std::getenv("SPORE_NODE");
  const char* api_node = std::getenv("API_NODE");
  spore::cli::ResolvedAddress r = spore::cli::resolve_node_address(g.node, spore_node, api_node, std::nullopt);
  // The .env is opened only when nothing the user gave names the node: a hostile one (a FIFO, a
  // huge file) in the working directory then cannot touch a command that does not need it.
  if (r.source == spore::cli::AddressSource::kNone) {
    // SPORE_ENV_FILE lets a wrapper (ctl.sh) point at the project's .env from another directory.
    const char* env_file = std::getenv("SPORE_ENV_FILE");
    const std::string env_path = env_file != nullptr && *env_file != '\0' ? env_file : "./.env";
    const std::optional<DotEnvFile> dotenv = read_dotenv(env_path);
    if (dotenv) r = spore::cli::resolve_node_address(std::nullopt, nullptr, nullptr, dotenv->text);
    if (r.source == spore::cli::AddressSource::kDotEnv) {
      // Whoever can write the .env chooses where requests (and the token) go: only the user's own
      // file, writable by nobody else (its group included), may name the node (docs/security.md,
      // "The CLI facing a hostile node or a planted .env").
      if (std::optional<std::string> why = spore::cli::dotenv_trust_problem(
              env_path, dotenv->owner, user_name(dotenv->owner), dotenv->mode, ::geteuid())) {
        throw Failure{kExitUsage, *why};
      }
      if (r.address && !g.quiet) {
        static bool said = false;  // once per run, also when --watch asks again
        if (!said) {
          std::cerr << "spore: node " << r.address->to_string() << " from API_NODE in "
                    << spore::cli::terminal_safe(env_path) << "\n";
        }
        said = true;
      }
    }
  }
  if (!r.address) throw Failure{kExitUsage, r.error};
  return *r.address;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

/// One request bounded in time (--http-timeout, for the whole request) and size
/// (--max-answer-bytes): bounded_http.h.
HttpAnswer http_call(const spore::cli::NodeAddress& addr, const Globals& g, const std::string& method,
                     const std::string& path, const httplib::Headers& headers = {}) {
  const spore::cli::BoundedAnswer a = spore::cli::bounded_request(addr, g.http_timeout_s, method, path, headers, "",
                                                                  method == "POST" ? "application/json" : "");
  if (a.failure == spore::cli::BoundedAnswer::Failure::kTransport) {
    throw Failure{kExitFailure, "cannot reach the node at " + addr.base_url() + ": " + a.why(g.http_timeout_s) +
                                    ". Is spored running there? (`spore discover` lists the nodes on the LAN)"};
  }
  if (!a.ok()) throw Failure{kExitFailure, addr.to_string() + " " + method + " " + path + ": " + a.why(g.http_timeout_s)};
  return HttpAnswer{a.status, a.body};
}

/// GET `path` and parse the JSON body; any error answer or non-JSON body is a Failure.
Json get_json(const spore::cli::NodeAddress& addr, const Globals& g, const std::string& path, std::string* raw) {
  HttpAnswer a = http_call(addr, g, "GET", path);
  if (a.status < 200 || a.status > 299) {
    throw Failure{kExitFailure, addr.to_string() + " GET " + path + ": " +
                                    spore::cli::describe_error_response(a.status, a.body)};
  }
  bool too_deep = false;
  Json j = spore::cli::parse_node_json(a.body, &too_deep);
  if (too_deep) {
    throw Failure{kExitFailure, addr.to_string() + " GET " + path + ": the answer nests arrays/objects deeper than " +
                                    std::to_string(spore::cli::kMaxJsonDepth) + " levels; refused"};
  }
  if (j.is_discarded()) {
    throw Failure{kExitFailure, addr.to_string() + " GET " + path + ": the answer is not JSON: " +
                                    spore::cli::terminal_safe(a.body.substr(0, 200))};
  }
  // --json prints it re-encoded: a node's JSON may hold raw C1/bidi characters in its strings and
  // CRs between its tokens, which a terminal would act on.
  if (raw != nullptr) *raw = spore::cli::json_for_terminal(j);
  return j;
}

void print_raw(const std::string& body) {
  std::cout << body;
  if (body.empty() || body.back() != '\n') std::cout << '\n';
  std::cout.flush();
}

// ---- cluster members ----------------------------------------------------------------------------

struct MembersOptions {
  bool json = false;
  double watch_s = 0;
};

std::string members_once(const spore::cli::NodeAddress& addr, const Globals& g, const MembersOptions& o,
                         bool color) {
  std::string raw;
  Json j = get_json(addr, g, "/api/cluster/members", &raw);
  if (o.json) return raw.empty() || raw.back() != '\n' ? raw + "\n" : raw;
  if (!spore::cli::looks_like_members(j)) {
    throw Failure{kExitFailure, addr.to_string() + ": the answer has no \"members\" list: " +
                                    spore::cli::terminal_safe(raw.substr(0, 200))};
  }
  return spore::cli::format_members_table(j, color);
}

int cmd_members(const Globals& g, const MembersOptions& o) {
  const spore::cli::NodeAddress addr = node_address(g);
  const bool color = use_color(g);
  if (o.watch_s <= 0) {
    std::cout << members_once(addr, g, o, color);
    return kExitOk;
  }
  const bool tty = isatty(STDOUT_FILENO) == 1;
  for (;;) {
    std::string text;
    try {
      text = members_once(addr, g, o, color);
    } catch (const Failure& f) {
      text = "spore: " + f.message + "\n";  // keep watching: the node may come back
    }
    if (o.json) {
      std::cout << text;
    } else {
      if (tty) std::cout << "\033[H\033[2J";
      std::time_t now = std::time(nullptr);
      char clock[16];
      std::strftime(clock, sizeof(clock), "%H:%M:%S", std::localtime(&now));
      std::cout << "cluster members at " << addr.to_string() << ", every " << o.watch_s << " s, " << clock
                << "   (Ctrl-C to stop)\n\n"
                << text;
    }
    std::cout.flush();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.watch_s));
  }
}

// ---- node status ----------------------------------------------------------------------------------

int cmd_status(const Globals& g, bool json) {
  const spore::cli::NodeAddress addr = node_address(g);
  std::string raw;
  Json j = get_json(addr, g, "/api/node/status", &raw);
  if (json) {
    print_raw(raw);
  } else {
    std::cout << "node:  " << addr.base_url() << "\n" << spore::cli::format_status_lines(j);
  }
  return kExitOk;
}

// ---- node restart ---------------------------------------------------------------------------------

struct RestartOptions {
  std::optional<std::string> token;
  std::optional<std::string> token_file;
  bool bearer = false;
  double wait_s = 0;
};

/// Incarnation of the answering node (the `self` member), or nullopt if it does not say.
std::optional<int64_t> self_incarnation(const spore::cli::NodeAddress& addr, const Globals& g) {
  Json j = get_json(addr, g, "/api/cluster/members", nullptr);
  if (!spore::cli::looks_like_members(j)) return std::nullopt;
  for (const Json& m : j["members"]) {
    if (m.is_object() && m.value("self", false) && m.contains("incarnation") && m["incarnation"].is_number()) {
      return m["incarnation"].get<int64_t>();
    }
  }
  return std::nullopt;
}

int cmd_restart(const Globals& g, const RestartOptions& o) {
  const spore::cli::NodeAddress addr = node_address(g);
  std::optional<std::string> file_text;
  if (o.token_file) {
    file_text = read_file(*o.token_file);
    if (!file_text) throw Failure{kExitUsage, "cannot read the token file '" + *o.token_file + "'"};
    if (spore::cli::trim(*file_text).empty()) throw Failure{kExitUsage, "the token file '" + *o.token_file + "' is empty"};
  }
  const std::optional<std::string> token = spore::cli::resolve_token(o.token, file_text, std::getenv("SPORE_TOKEN"));
  std::optional<int64_t> before;
  if (o.wait_s > 0) before = self_incarnation(addr, g);
  // A one-use request proof for this POST (empty body), after the node proved it holds the token.
  uint8_t empty_sha[32];
  spore::cli::sha256_of("", empty_sha);
  std::string why;
  const std::optional<spore::cli::Signed> sig =
      spore::cli::sign_request(addr, g.http_timeout_s, spore::cli::single_token_policy(token, o.bearer),
                               spore::HttpMethod::kPost, "/api/node/restart", empty_sha, &why);
  if (!sig) throw Failure{kExitFailure, addr.to_string() + " POST /api/node/restart: not sent: " + why};
  httplib::Headers headers;
  if (!sig->authorization.empty()) headers.emplace("Authorization", sig->authorization);
  HttpAnswer a = http_call(addr, g, "POST", "/api/node/restart", headers);
  if (a.status == 401) {
    throw Failure{kExitFailure, addr.to_string() + " POST /api/node/restart: " +
                                    spore::cli::describe_error_response(a.status, a.body) + "\n  " +
                                    spore::cli::auth_refusal_hint(a.body, token.has_value())};
  }
  if (a.status < 200 || a.status > 299) {
    throw Failure{kExitFailure, addr.to_string() + " POST /api/node/restart: " +
                                    spore::cli::describe_error_response(a.status, a.body)};
  }
  std::cout << "restart accepted by " << addr.to_string() << " (HTTP " << a.status << ")\n";
  if (o.wait_s <= 0) return kExitOk;
  std::cout << "waiting up to " << o.wait_s << " s for it to come back..." << std::endl;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.wait_s);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    try {
      std::optional<int64_t> now = self_incarnation(addr, g);
      // Serial arithmetic (core/spore/base/incarnation.h): boot 65,536 comes back as incarnation 0.
      if (now && (!before || spore::incarnation_newer(static_cast<uint32_t>(*now), static_cast<uint32_t>(*before)))) {
        std::cout << "back with incarnation " << *now;
        if (before) std::cout << " (was " << *before << ")";
        std::cout << "\n";
        return kExitOk;
      }
    } catch (const Failure&) {
      // Down while it restarts: keep polling until the deadline.
    }
  }
  throw Failure{kExitFailure, addr.to_string() + " did not come back with a new incarnation within " +
                                  std::to_string(o.wait_s) + " s"};
}

// ---- discover -------------------------------------------------------------------------------------

struct DiscoverOptions {
  double timeout_s = 5.0;
  uint16_t udp_port = spore::cli::kDefaultUdpPort;
  std::optional<std::string> key_file;
  std::vector<std::string> listen;
  bool json = false;
  size_t expect = 0;
};

/// Broadcast addresses to listen on when none are given: loopback's, the limited broadcast and
/// every IPv4 interface's. A listener bound to a broadcast address (not 0.0.0.0) gets a copy of
/// each broadcast and can never take a unicast meant for a node on this host.
std::vector<uint32_t> default_listen_addresses() {
  std::vector<uint32_t> out = {0x7FFFFFFFu, 0xFFFFFFFFu};
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_BROADCAST) == 0 || i->ifa_broadaddr == nullptr) continue;
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr);
      const uint32_t b = ntohl(sin->sin_addr.s_addr);
      if (b != 0 && std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
    }
    freeifaddrs(list);
  }
  return out;
}

int cmd_discover(const Globals& g, const DiscoverOptions& o) {
  spore::HmacKey key;
  if (o.key_file) {
    std::optional<std::string> text = read_file(*o.key_file);
    if (!text) throw Failure{kExitUsage, "cannot read the cluster key file '" + *o.key_file + "'"};
    if (!key.set_hex(spore::cli::trim(*text)) || key.empty()) {
      throw Failure{kExitUsage, "the cluster key file '" + *o.key_file + "' does not hold a key: expected " +
                                    std::to_string(spore::HmacKey::kMinKeyBytes * 2) + " to " +
                                    std::to_string(SPORE_MAX_KEY_BYTES * 2) + " hex digits"};
    }
  }
  std::vector<uint32_t> addresses;
  if (o.listen.empty()) {
    addresses = default_listen_addresses();
  } else {
    for (const std::string& text : o.listen) {
      uint32_t ip = 0;
      if (!spore::posix::parse_ipv4(text, &ip)) throw Failure{kExitUsage, "--listen: '" + text + "' is not an IPv4 address"};
      addresses.push_back(ip);
    }
  }
  std::vector<std::unique_ptr<spore::posix::UdpSocket>> sockets;
  std::string errors;
  for (uint32_t ip : addresses) {
    auto s = std::make_unique<spore::posix::UdpSocket>();
    std::string error;
    if (s->open_listener(ip, o.udp_port, &error)) {
      sockets.push_back(std::move(s));
    } else {
      errors += "\n  " + spore::posix::ipv4_to_string(ip) + ":" + std::to_string(o.udp_port) + ": " + error;
    }
  }
  if (sockets.empty()) throw Failure{kExitFailure, "cannot listen on UDP port " + std::to_string(o.udp_port) + errors};

  std::vector<pollfd> fds;
  std::vector<spore::posix::UdpSocket*> owners;
  for (auto& s : sockets) {
    for (int fd : {s->unicast_fd(), s->broadcast_fd()}) {
      if (fd < 0) continue;
      fds.push_back(pollfd{fd, POLLIN, 0});
      owners.push_back(s.get());
    }
  }
  const bool progress = !o.json && isatty(STDERR_FILENO) == 1;
  if (progress) {
    std::cerr << "listening for SPORE announcements on UDP port " << o.udp_port << " for " << o.timeout_s
              << " s" << (key.empty() ? "" : " (with the cluster key)") << "...\n";
  }
  std::vector<spore::cli::DiscoveredNode> nodes;
  size_t unexpected_auth = 0, bad_tag = 0, auth_required = 0, other_errors = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  uint8_t buf[2048];
  while (o.expect == 0 || nodes.size() < o.expect) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    for (pollfd& p : fds) p.revents = 0;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n <= 0) continue;  // timeout or EINTR: the loop re-checks the deadline
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      for (;;) {
        uint32_t src_ip = 0;
        uint16_t src_port = 0;
        const size_t size = owners[i]->receive(buf, sizeof(buf), &src_ip, &src_port, 0);
        if (size == 0) break;
        spore::wire::Message msg;
        const spore::wire::DecodeError err = spore::wire::decode(buf, size, key, nullptr, msg);
        if (err == spore::wire::DecodeError::kUnexpectedAuth) {
          ++unexpected_auth;
          continue;
        }
        if (err == spore::wire::DecodeError::kBadTag) {
          ++bad_tag;
          continue;
        }
        if (err == spore::wire::DecodeError::kAuthRequired) {
          ++auth_required;
          continue;
        }
        if (err != spore::wire::DecodeError::kOk) {
          ++other_errors;
          continue;
        }
        if (msg.header.type != spore::wire::MessageType::kAnnounce) continue;
        spore::cli::DiscoveredNode d;
        d.node_id = msg.header.sender_id;
        d.incarnation = msg.header.incarnation;
        d.hostname = std::string(msg.announce.hostname);
        d.ip = spore::cli::ipv4_to_string(msg.announce.ip != 0 ? msg.announce.ip : src_ip);
        d.http_port = msg.announce.http_port;
        d.udp_port = msg.announce.udp_port != 0 ? msg.announce.udp_port : src_port;
        d.free_heap_bytes = msg.announce.free_heap_bytes;
        d.authenticated = msg.header.authenticated;
        if (spore::cli::merge_discovered(nodes, d) && progress) {
          std::cerr << "  heard " << spore::cli::terminal_safe(d.hostname) << " (" << d.ip << ")\n";
        }
      }
    }
  }
  if (o.json) {
    std::cout << spore::cli::json_for_terminal(spore::cli::discovered_to_json(nodes), 2) << "\n";
  } else if (!nodes.empty()) {
    std::cout << spore::cli::format_discovered_table(nodes);
  }
  std::string hints;
  if (unexpected_auth > 0) {
    hints += "\n  " + std::to_string(unexpected_auth) +
             " authenticated datagram(s) heard: that cluster uses a key, pass --cluster-key-file FILE";
  }
  if (bad_tag > 0) {
    hints += "\n  " + std::to_string(bad_tag) + " datagram(s) with a tag that does not verify under this key "
                                                "(another cluster's key?)";
  }
  if (auth_required > 0) {
    hints += "\n  " + std::to_string(auth_required) + " unauthenticated datagram(s) ignored: the key is set, "
                                                      "those senders use none";
  }
  if (other_errors > 0) hints += "\n  " + std::to_string(other_errors) + " datagram(s) that are not SPORE v1 ignored";
  if (nodes.empty()) {
    throw Failure{kExitFailure, "no SPORE node heard on UDP port " + std::to_string(o.udp_port) + " in " +
                                    std::to_string(o.timeout_s).substr(0, std::to_string(o.timeout_s).find('.') + 2) +
                                    " s" + hints};
  }
  if (o.expect > 0 && nodes.size() < o.expect) {
    throw Failure{kExitFailure, "heard " + std::to_string(nodes.size()) + " of the " + std::to_string(o.expect) +
                                    " nodes expected" + hints};
  }
  if (!hints.empty() && !o.json) std::cerr << "note:" << hints << "\n";
  (void)g;
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spore: the command-line tool for a SPORE cluster.\n"
               "Reads a node's REST API (cluster members, node status, restart), updates nodes over the\n"
               "air (ota update, ota all; keygen and sign for signed images) or listens for the nodes'\n"
               "UDP announcements (discover).",
               "spore"};
  app.set_version_flag("--version", std::string("spore ") + SPORE_VERSION + " (wire protocol v" +
                                        std::to_string(spore::wire::kProtocolVersion) + ")");
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.footer(
      "Node address: --node HOST[:PORT] (default port 8080), else $SPORE_NODE, else $API_NODE,\n"
      "else API_NODE in ./.env (e.g. `export API_NODE=192.168.1.100`), only if that file is yours and\n"
      "not writable by group or others (it chooses where the token goes); stderr says which file named the node.\n"
      "Global options (--node, --http-timeout, --max-answer-bytes, --color, --quiet) may follow the subcommand.\n"
      "SPORE_ENV_FILE names another .env to read; SPORE_TOKEN holds the API token (node restart, ota, events publish, mqtt proof).\n"
      "Exit codes: 0 ok, 1 failed (unreachable, error answer, nothing heard), 2 bad arguments.");

  Globals g;
  app.add_option("--node", g.node, "node to talk to: HOST[:PORT], default port 8080")->type_name("HOST[:PORT]");
  app.add_option("--http-timeout", g.http_timeout_s,
                 "seconds one request to a node may take in all (connect, send, the whole answer)")
      ->check(CLI::Range(0.1, 600.0))
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--max-answer-bytes", g.max_answer_bytes,
                 "largest answer body read from a node; a larger one is an error (exit 1), the rest unread")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 30))
      ->type_name("BYTES")
      ->capture_default_str();
  app.add_flag("-q,--quiet", g.quiet, "no notes on stderr (which .env named the node)");
  app.add_option("--color", g.color, "colour the status column: auto (when stdout is a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->type_name("WHEN")
      ->capture_default_str();

  CLI::App* cluster = app.add_subcommand("cluster", "cluster-wide views");
  cluster->require_subcommand(1);
  MembersOptions members_opts;
  CLI::App* members = cluster->add_subcommand("members", "the membership table as the node sees it");
  members->add_flag("--json", members_opts.json,
                    "print the node's JSON answer (same JSON, non-ASCII characters as \\uXXXX escapes)");
  members->add_option("--watch", members_opts.watch_s, "refresh every SECONDS until Ctrl-C")
      ->check(CLI::Range(0.1, 3600.0))
      ->type_name("SECONDS");

  CLI::App* node = app.add_subcommand("node", "one node");
  node->require_subcommand(1);
  bool status_json = false;
  CLI::App* status = node->add_subcommand("status", "resources and published endpoints of the node");
  status->add_flag("--json", status_json,
                   "print the node's JSON answer (same JSON, non-ASCII characters as \\uXXXX escapes)");
  RestartOptions restart_opts;
  CLI::App* restart = node->add_subcommand("restart", "restart the node (needs its API token)");
  auto* token_opt = restart->add_option("--token", restart_opts.token, "API token (else --token-file, else $SPORE_TOKEN)")->type_name("TOKEN");
  restart->add_option("--token-file", restart_opts.token_file, "file holding the API token")
      ->excludes(token_opt)
      ->type_name("FILE");
  restart->add_flag("--bearer", restart_opts.bearer,
                    "send the token itself ('Authorization: Bearer') instead of a one-use request proof (nodes "
                    "older than request proofs)");
  restart->add_option("--wait", restart_opts.wait_s, "wait up to SECONDS for the node to come back with a new incarnation")
      ->check(CLI::Range(0.0, 3600.0))
      ->type_name("SECONDS");

  DiscoverOptions disc;
  CLI::App* discover = app.add_subcommand(
      "discover", "list the nodes on the LAN by listening for their UDP announcements (no address needed)");
  discover->add_option("--timeout", disc.timeout_s, "seconds to listen")
      ->check(CLI::Range(0.1, 3600.0))
      ->type_name("SECONDS")
      ->capture_default_str();
  discover->add_option("--udp-port", disc.udp_port, "the cluster's UDP port")
      ->check(CLI::Range(1, 65535))
      ->type_name("PORT")
      ->capture_default_str();
  discover->add_option("--cluster-key-file", disc.key_file, "file with the cluster key in hex, for a keyed cluster")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  discover->add_option("--listen", disc.listen,
                       "IPv4 address(es) to listen on (default: 127.255.255.255, 255.255.255.255 and every "
                       "interface's broadcast address)")
      ->type_name("IP");
  discover->add_option("--expect", disc.expect, "stop as soon as N nodes were heard; fail if fewer by the timeout")
      ->type_name("N");
  discover->add_flag("--json", disc.json, "print {\"nodes\": [...]} instead of a table");

  // ---- events publish, events watch (events_cmd.cpp) ----
  spore::cli::EventsCli events_cli;
  events_cli.add_to(app);
  spore::cli::MqttCli mqtt_cli;
  mqtt_cli.add_to(app);

  // ---- ota, keygen, sign, verify (ota_cmd.cpp) ----
  CLI::App* ota = app.add_subcommand("ota", "over-the-air updates: one node, or the whole fleet in waves");
  ota->require_subcommand(1);
  auto add_common = [](CLI::App* cmd, spore::cli::OtaCommonOptions& o) {
    auto* tok = cmd->add_option("--token", o.token, "API token for every node (else --token-file, else $SPORE_TOKEN)")
                    ->type_name("TOKEN");
    cmd->add_option("--token-file", o.token_file, "file holding the API token for every node")
        ->excludes(tok)
        ->type_name("FILE");
    cmd->add_option("--token-map", o.token_map,
                    "per-node tokens: lines 'NODE_ID TOKEN', NODE_ID the node's id as 8 hex digits (its state "
                    "dir's node_id file; # comments); a node without a line gets --token / --token-file / "
                    "$SPORE_TOKEN")
        ->check(CLI::ExistingFile)
        ->type_name("FILE");
    cmd->add_flag("--bearer", o.bearer,
                  "send the API token itself ('Authorization: Bearer') instead of a one-use request proof: for "
                  "nodes older than request proofs; anyone on the path can read and reuse it, and node "
                  "identities are not checked");
    cmd->add_option("--timeout", o.timeout_s,
                    "per node: seconds to wait for it to come back ACTIVE with the new image after the upload "
                    "(also the limit for a stalled upload and for the answer to it)")
        ->check(CLI::Range(1.0, 3600.0))
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_flag("--raw", o.raw, "send the image as application/octet-stream instead of multipart (curl -F)");
    cmd->add_flag("--force", o.force, "upload even to a node that already runs this image");
    cmd->add_flag("--allow-downgrade", o.allow_downgrade,
                  "let a node with an OTA public key install a signed image older than the one it runs, when the "
                  "image was signed with 'spore sign --allow-downgrade'; without both such nodes answer 422 downgrade");
    cmd->add_flag("--json", o.json, "print the result as JSON on stdout (progress stays on stderr)");
  };
  spore::cli::OtaUpdateOptions upd;
  std::vector<std::string> upd_args;
  CLI::App* ota_update = ota->add_subcommand(
      "update", "send FILE to one node, show progress, wait until it is back ACTIVE with the new image");
  ota_update->add_option("args", upd_args, "[NODE] FILE: NODE as HOST[:PORT] (else --node, $SPORE_NODE, API_NODE)")
      ->required()
      ->expected(1, 2)
      ->type_name("[NODE] FILE");
  add_common(ota_update, upd);
  ota_update->add_flag("--no-wait", upd.no_wait, "return once the node accepted the image");
  spore::cli::OtaAllOptions all;
  CLI::App* ota_all = ota->add_subcommand(
      "all", "update every node the --node node lists (not DEAD): canary first, then waves of at most --parallel; "
             "stops at the first failure and prints a per-node table");
  ota_all->add_option("file", all.file, "the image (ESP8266 .bin, or an ELF for Linux nodes; signed or not)")
      ->required()
      ->type_name("FILE");
  add_common(ota_all, all);
  ota_all->add_option("--canary", all.canary, "nodes updated first, alone, before any wave (0: none)")
      ->check(CLI::Range(0, 1000))
      ->type_name("N")
      ->capture_default_str();
  ota_all->add_option("--parallel", all.parallel, "nodes updated at the same time in each wave (1: one by one)")
      ->check(CLI::Range(1, 256))
      ->type_name("K")
      ->capture_default_str();

  std::string keygen_dir = ".";
  int keygen_bits = 2048;
  bool keygen_force = false;
  CLI::App* keygen = app.add_subcommand(
      "keygen", "write private.key and public.key (RSA-2048, PEM) for signed updates (ESP8266 core format)");
  keygen->add_option("--out", keygen_dir, "directory for the two files")->type_name("DIR")->capture_default_str();
  keygen->add_option("--bits", keygen_bits, "RSA key size (the ESP8266 core verifies 2048)")
      ->check(CLI::IsMember({2048, 3072, 4096}))
      ->capture_default_str();
  keygen->add_flag("--force", keygen_force, "replace existing key files");

  std::string sign_file, sign_key;
  std::optional<std::string> sign_out;
  bool sign_force = false;
  CLI::App* sign = app.add_subcommand(
      "sign", "append an RSA/SHA-256 signature and its length to FILE (ESP8266 core signed-update format)");
  sign->add_option("file", sign_file, "the unsigned image")->required()->check(CLI::ExistingFile)->type_name("FILE");
  sign->add_option("--key", sign_key, "the PEM private key (spore keygen)")->required()->check(CLI::ExistingFile)->type_name("FILE");
  sign->add_option("--out", sign_out, "the signed image (default FILE.signed)")->type_name("FILE");
  sign->add_flag("--force", sign_force, "replace --out, or sign a file that already ends with a signature");
  bool sign_allow_downgrade = false;
  sign->add_flag("--allow-downgrade", sign_allow_downgrade,
                 "mark the image's version slot (inside the signed bytes) so that nodes with a newer version install "
                 "it when the update also says --allow-downgrade");

  std::string verify_file, verify_key;
  CLI::App* verify = app.add_subcommand("verify", "check a signed image's signature with a PEM public key");
  verify->add_option("file", verify_file, "the signed image")->required()->check(CLI::ExistingFile)->type_name("FILE");
  verify->add_option("--key", verify_key, "the PEM public key")->required()->check(CLI::ExistingFile)->type_name("FILE");

  // A node that closes the connection mid-upload must give an error, not kill the CLI.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  spore::cli::set_max_answer_bytes(g.max_answer_bytes);
  try {
    if (*members) return cmd_members(g, members_opts);
    if (*status) return cmd_status(g, status_json);
    if (*restart) return cmd_restart(g, restart_opts);
    if (*discover) return cmd_discover(g, disc);
    if (mqtt_cli.selected()) return mqtt_cli.run();
    if (events_cli.selected()) {
      return events_cli.run(spore::cli::EventsContext{[&g] { return node_address(g); }, g.http_timeout_s, use_color(g)});
    }
    if (*ota_update) {
      upd.http_timeout_s = g.http_timeout_s;
      if (upd_args.size() == 2) {
        std::string error;
        std::optional<spore::cli::NodeAddress> addr = spore::cli::parse_node_address(upd_args[0], &error);
        if (!addr) throw Failure{kExitUsage, "ota update: " + error};
        upd.file = upd_args[1];
        return spore::cli::cmd_ota_update(*addr, upd);
      }
      upd.file = upd_args[0];
      return spore::cli::cmd_ota_update(node_address(g), upd);
    }
    if (*ota_all) {
      all.http_timeout_s = g.http_timeout_s;
      return spore::cli::cmd_ota_all(node_address(g), all);
    }
    if (*keygen) return spore::cli::cmd_keygen(keygen_dir, keygen_bits, keygen_force);
    if (*sign) return spore::cli::cmd_sign(sign_file, sign_key, sign_out, sign_force, sign_allow_downgrade);
    if (*verify) return spore::cli::cmd_verify(verify_file, verify_key);
  } catch (const spore::cli::CliError& f) {
    std::cerr << "spore: " << f.message << "\n";
    return f.code;
  } catch (const Failure& f) {
    std::cerr << "spore: " << f.message << "\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "spore: " << e.what() << "\n";
    return kExitFailure;
  }
  std::cerr << app.help();
  return kExitUsage;
}
