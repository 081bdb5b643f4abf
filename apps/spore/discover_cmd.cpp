// spore discover: lists the nodes on the LAN by asking them (a DISCOVER broadcast that every node
// answers with its ANNOUNCE, docs/protocol.md §4.13) and by listening for their own ANNOUNCE
// broadcasts meanwhile; needs no node address at all.

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli_context.h"
#include "cli_format.h"
#include "commands.h"
#include "posix/udp_socket.h"
#include "spore/auth/hmac_sha256.h"
#include "spore/base/heap_size.h"
#include "spore/wire/wire_codec.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

using Clock = std::chrono::steady_clock;

/// The request goes out this many times, evenly over the wait (at 0, 1/3 and 2/3 of it): a lost
/// request or answer is made good by the next round, and every answer of the last round (at most
/// discovery_interval_ms / 2 = 0.5 s of jitter) still arrives within a 2 s wait.
constexpr int kRequestRounds = 3;

struct DiscoverOptions {
  double timeout_s = 2.0;
  uint16_t udp_port = kDefaultUdpPort;
  std::optional<std::string> key_file;
  std::vector<std::string> listen;
  std::vector<std::string> targets;
  bool json = false;
  bool passive = false;
  size_t expect = 0;
};

/// Broadcast addresses to listen on and to ask when none are given: loopback's, the limited
/// broadcast and every IPv4 interface's. A listener bound to a broadcast address (not 0.0.0.0)
/// gets a copy of each broadcast and can never take a unicast meant for a node on this host.
std::vector<uint32_t> default_broadcast_addresses() {
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

/// `texts` as IPv4 addresses (else the default broadcast addresses); CliError (exit 2) names the
/// first one that is not an address.
std::vector<uint32_t> addresses_or_default(const std::vector<std::string>& texts, const char* flag) {
  if (texts.empty()) return default_broadcast_addresses();
  std::vector<uint32_t> out;
  for (const std::string& text : texts) {
    uint32_t ip = 0;
    if (!posix::parse_ipv4(text, &ip)) throw CliError{kExitUsage, std::string(flag) + ": '" + text + "' is not an IPv4 address"};
    out.push_back(ip);
  }
  return out;
}

/// The cluster key: --cluster-key-file, else $SPORE_CLUSTER_KEY, else SPORE_CLUSTER_KEY in the
/// user's own .env (the one the demo writes); "open" or none at all = no key. CliError (exit 2)
/// for a file that cannot be read or a value that is not a key.
HmacKey load_cluster_key(const DiscoverOptions& o) {
  std::optional<std::string> text;
  std::string from;
  if (o.key_file) {
    text = read_file(*o.key_file);
    if (!text) throw CliError{kExitUsage, "cannot read the cluster key file '" + *o.key_file + "'"};
    from = "the cluster key file '" + *o.key_file + "'";
  } else if (const char* env = std::getenv("SPORE_CLUSTER_KEY"); env != nullptr && *env != '\0') {
    text = env;
    from = "$SPORE_CLUSTER_KEY";
  } else {
    std::string note;
    text = trusted_dotenv_value("SPORE_CLUSTER_KEY", &note);
    if (!note.empty()) std::cerr << "spore: " << note << "\n";
    from = "SPORE_CLUSTER_KEY in the .env";
  }
  HmacKey key;
  if (!text || (!o.key_file && (trim(*text) == "open" || trim(*text) == "OPEN"))) return key;
  if (!key.set_hex(trim(*text)) || key.empty()) {
    throw CliError{kExitUsage, from + " does not hold a key: expected " + std::to_string(HmacKey::kMinKeyBytes * 2) +
                                   " to " + std::to_string(SPORE_MAX_KEY_BYTES * 2) + " hex digits"};
  }
  return key;
}

/// One listener per --listen address; throws CliError (exit 1) when none of them can be bound.
std::vector<std::unique_ptr<posix::UdpSocket>> open_listeners(const DiscoverOptions& o) {
  std::vector<std::unique_ptr<posix::UdpSocket>> sockets;
  std::string errors;
  for (uint32_t ip : addresses_or_default(o.listen, "--listen")) {
    auto s = std::make_unique<posix::UdpSocket>();
    std::string error;
    if (s->open_listener(ip, o.udp_port, &error)) {
      sockets.push_back(std::move(s));
    } else {
      errors += "\n  " + posix::ipv4_to_string(ip) + ":" + std::to_string(o.udp_port) + ": " + error;
    }
  }
  if (sockets.empty()) throw CliError{kExitFailure, "cannot listen on UDP port " + std::to_string(o.udp_port) + errors};
  return sockets;
}

/// The asking side: a socket on an ephemeral port (the nodes answer its address), this run's
/// random sender id (the answers' dest: a tag over it proves an answer was made for this run),
/// and the DISCOVER it sends, tagged with the key when there is one.
class Asker {
 public:
  Asker(const DiscoverOptions& o, const HmacKey& key) : key_(key), port_(o.udp_port) {
    targets_ = addresses_or_default(o.targets, "--target");
    std::string error;
    if (!socket_.open(0, 0, &error)) throw CliError{kExitFailure, "cannot open a UDP socket to ask from: " + error};
    std::random_device rd;
    while (id_ == 0) id_ = rd();
  }
  uint32_t id() const { return id_; }
  posix::UdpSocket& socket() { return socket_; }

  /// Sends the request to every target; the number of targets it reached the kernel for.
  size_t ask() {
    wire::Message m;
    m.header.type = wire::MessageType::kDiscover;
    m.header.sender_id = id_;
    m.header.seq = seq_++;
    uint8_t buf[SPORE_MAX_DATAGRAM_BYTES];
    const wire::EncodeResult r = wire::encode(m, key_, buf, sizeof buf);
    size_t sent = 0;
    for (uint32_t ip : targets_) sent += r.ok() && socket_.send_to(ip, port_, buf, r.size_bytes) ? 1 : 0;
    return sent;
  }
  std::string targets_text() const {
    std::string out;
    for (uint32_t ip : targets_) out += (out.empty() ? "" : ", ") + posix::ipv4_to_string(ip);
    return out;
  }

 private:
  HmacKey key_;
  uint16_t port_;
  posix::UdpSocket socket_;
  std::vector<uint32_t> targets_;
  uint32_t id_ = 0;
  uint32_t seq_ = 1;
};

/// What was heard: the nodes, and the datagrams that did not decode, by reason.
struct Heard {
  std::vector<DiscoveredNode> nodes;
  size_t unexpected_auth = 0, bad_tag = 0, auth_required = 0, other_errors = 0;

  /// Decodes one datagram; records an ANNOUNCE's node (true when its id is new) or counts why
  /// not. Broadcast ANNOUNCEs count, and unicast ones addressed to `asker_id` (the answers).
  bool take(const uint8_t* buf, size_t size, uint32_t src_ip, uint16_t src_port, const HmacKey& key,
            uint32_t asker_id, DiscoveredNode* node) {
    wire::Message msg;
    const wire::DecodeError err = wire::decode(buf, size, key, msg);
    size_t* why = err == wire::DecodeError::kUnexpectedAuth ? &unexpected_auth
                  : err == wire::DecodeError::kBadTag       ? &bad_tag
                  : err == wire::DecodeError::kAuthRequired ? &auth_required
                  : err != wire::DecodeError::kOk           ? &other_errors
                                                            : nullptr;
    if (why != nullptr) {
      ++*why;
      return false;
    }
    if (msg.header.type != wire::MessageType::kAnnounce) return false;
    if (msg.header.dest_id != 0 && msg.header.dest_id != asker_id) return false;
    DiscoveredNode& d = *node;
    d.node_id = msg.header.sender_id;
    d.incarnation = msg.header.incarnation;
    d.hostname = std::string(msg.announce.hostname);
    d.ip = ipv4_to_string(msg.announce.ip != 0 ? msg.announce.ip : src_ip);
    d.http_port = msg.announce.http_port;
    d.udp_port = msg.announce.udp_port != 0 ? msg.announce.udp_port : src_port;
    d.free_heap_bytes = heap_bytes_from_code(msg.announce.free_heap_code);
    d.authenticated = msg.header.authenticated;
    return merge_discovered(nodes, d);
  }

  /// The lines that explain datagrams heard but not shown ("" when there were none).
  std::string hints() const {
    std::string out;
    if (unexpected_auth > 0) {
      out += "\n  " + std::to_string(unexpected_auth) +
             " authenticated datagram(s) heard: that cluster uses a key, pass --cluster-key-file FILE or set "
             "SPORE_CLUSTER_KEY";
    }
    if (bad_tag > 0) {
      out += "\n  " + std::to_string(bad_tag) + " datagram(s) with a tag that does not verify under this key "
                                                "(another cluster's key?)";
    }
    if (auth_required > 0) {
      out += "\n  " + std::to_string(auth_required) + " unauthenticated datagram(s) ignored: the key is set, "
                                                      "those senders use none";
    }
    if (other_errors > 0) out += "\n  " + std::to_string(other_errors) + " datagram(s) that are not SPORE v2 ignored";
    return out;
  }
};

/// Reads everything queued on `s` into `heard`; says who was new on stderr when `progress`.
void drain(posix::UdpSocket& s, const HmacKey& key, uint32_t asker_id, bool progress, Heard& heard) {
  uint8_t buf[2048];
  for (;;) {
    uint32_t src_ip = 0;
    uint16_t src_port = 0;
    const size_t size = s.receive(buf, sizeof(buf), &src_ip, &src_port, 0);
    if (size == 0) return;
    DiscoveredNode d;
    if (heard.take(buf, size, src_ip, src_port, key, asker_id, &d) && progress) {
      std::cerr << "  heard " << terminal_safe(d.hostname) << " (" << d.ip << ")\n";
    }
  }
}

/// Asks (unless --passive) kRequestRounds times over the wait and listens until --timeout, or
/// until --expect nodes were heard. `asked` = targets the requests reached the kernel for.
Heard listen(const DiscoverOptions& o, const HmacKey& key, std::vector<std::unique_ptr<posix::UdpSocket>>& sockets,
             Asker* asker, size_t* asked) {
  std::vector<posix::UdpSocket*> all;
  for (auto& s : sockets) all.push_back(s.get());
  if (asker != nullptr) all.push_back(&asker->socket());
  std::vector<pollfd> fds;
  std::vector<posix::UdpSocket*> owners;
  for (posix::UdpSocket* sock : all) {
    for (int fd : {sock->unicast_fd(), sock->broadcast_fd()}) {
      if (fd < 0) continue;
      fds.push_back(pollfd{fd, POLLIN, 0});
      owners.push_back(sock);
    }
  }
  const bool progress = !o.json && isatty(STDERR_FILENO) == 1;
  if (progress) {
    std::cerr << (asker != nullptr ? "asking for" : "listening for") << " SPORE nodes on UDP port " << o.udp_port
              << " for " << o.timeout_s << " s" << (key.empty() ? "" : " (with the cluster key)") << "...\n";
  }
  Heard heard;
  const auto start = Clock::now();
  const auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
  int rounds = 0;
  while (o.expect == 0 || heard.nodes.size() < o.expect) {
    const auto now = Clock::now();
    if (now - start >= wait) break;
    if (asker != nullptr && rounds < kRequestRounds && now - start >= wait * rounds / kRequestRounds) {
      *asked = std::max(*asked, asker->ask());
      ++rounds;
    }
    auto until = start + wait;
    if (asker != nullptr && rounds < kRequestRounds) until = std::min(until, start + wait * rounds / kRequestRounds);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    for (pollfd& p : fds) p.revents = 0;
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(left, 1))) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) != 0) drain(*owners[i], key, asker != nullptr ? asker->id() : 0, progress, heard);
    }
  }
  return heard;
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

int cmd_discover(const DiscoverOptions& o) {
  const HmacKey key = load_cluster_key(o);
  std::vector<std::unique_ptr<posix::UdpSocket>> sockets = open_listeners(o);
  std::unique_ptr<Asker> asker = o.passive ? nullptr : std::make_unique<Asker>(o, key);
  size_t asked = 0;
  const Heard heard = listen(o, key, sockets, asker.get(), &asked);
  const std::vector<DiscoveredNode>& nodes = heard.nodes;
  if (o.json) {
    std::cout << json_for_terminal(discovered_to_json(nodes), 2) << "\n";
  } else if (!nodes.empty()) {
    std::cout << format_discovered_table(nodes);
  }
  std::string hints = heard.hints();
  if (asker && asked == 0) hints += "\n  the request could not be sent to any of " + asker->targets_text();
  if (nodes.empty()) {
    if (key.empty() && heard.unexpected_auth == 0) {
      hints += "\n  a keyed cluster answers only a request tagged with its key: pass --cluster-key-file FILE or "
               "set SPORE_CLUSTER_KEY";
    }
    throw CliError{kExitFailure, "no SPORE node heard on UDP port " + std::to_string(o.udp_port) + " in " +
                                     seconds_text(o.timeout_s) +
                                     (asker ? " (asked " + asker->targets_text() + ")" : std::string()) + hints};
  }
  if (o.expect > 0 && nodes.size() < o.expect) {
    throw CliError{kExitFailure, "heard " + std::to_string(nodes.size()) + " of the " + std::to_string(o.expect) +
                                     " nodes expected" + hints};
  }
  if (!hints.empty() && !o.json) std::cerr << "note:" << hints << "\n";
  return kExitOk;
}

}  // namespace

void add_discover_commands(CLI::App& app, Cli& cli) {
  auto o = std::make_shared<DiscoverOptions>();
  CLI::App* discover = app.add_subcommand(
      "discover", "list the nodes on the LAN: asks them by UDP broadcast and lists who answers (no address needed)");
  add_seconds_option(discover, "-t,--timeout", o->timeout_s,
                     "seconds to wait for answers; the request is repeated at 1/3 and 2/3 of it", 0.1, 3600.0)
      ->capture_default_str();
  discover->add_option("--udp-port", o->udp_port, "the cluster's UDP port")
      ->check(CLI::Range(1, 65535))
      ->type_name("PORT")
      ->capture_default_str();
  discover->add_option("--cluster-key-file", o->key_file,
                       "file with the cluster key in hex (else $SPORE_CLUSTER_KEY, else SPORE_CLUSTER_KEY in ./.env)")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  discover->add_option("--target", o->targets,
                       "IPv4 address(es) to send the request to: broadcast addresses or nodes (default: the same "
                       "broadcast addresses as --listen)")
      ->type_name("IP");
  discover->add_option("--listen", o->listen,
                       "IPv4 address(es) to listen on for broadcast ANNOUNCEs (default: 127.255.255.255, "
                       "255.255.255.255 and every interface's broadcast address)")
      ->type_name("IP");
  discover->add_option("--expect", o->expect, "stop as soon as N nodes were heard; fail if fewer by the timeout")
      ->type_name("N");
  discover->add_flag("--passive", o->passive, "only listen for the nodes' own ANNOUNCEs (every 10 s), do not ask");
  discover->add_flag("-j,--json", o->json, "print {\"nodes\": [...]} instead of a table");
  cli.on_run(discover, [o] { return cmd_discover(*o); });
}

}  // namespace cli
}  // namespace spore
