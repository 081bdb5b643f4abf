// spore discover: lists the nodes on the LAN by listening for the wire protocol's ANNOUNCE
// broadcasts; needs no node address at all.

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
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

struct DiscoverOptions {
  double timeout_s = 5.0;
  uint16_t udp_port = kDefaultUdpPort;
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

/// The cluster key from --cluster-key-file (empty without one); throws CliError (exit 2) for a
/// file that cannot be read or holds no key.
HmacKey load_cluster_key(const DiscoverOptions& o) {
  HmacKey key;
  if (!o.key_file) return key;
  std::optional<std::string> text = read_file(*o.key_file);
  if (!text) throw CliError{kExitUsage, "cannot read the cluster key file '" + *o.key_file + "'"};
  if (!key.set_hex(trim(*text)) || key.empty()) {
    throw CliError{kExitUsage, "the cluster key file '" + *o.key_file + "' does not hold a key: expected " +
                                   std::to_string(HmacKey::kMinKeyBytes * 2) + " to " +
                                   std::to_string(SPORE_MAX_KEY_BYTES * 2) + " hex digits"};
  }
  return key;
}

/// One listener per --listen address (else default_listen_addresses()); throws CliError when an
/// address is not IPv4 (exit 2) or none of them can be bound (exit 1).
std::vector<std::unique_ptr<posix::UdpSocket>> open_listeners(const DiscoverOptions& o) {
  std::vector<uint32_t> addresses;
  if (o.listen.empty()) {
    addresses = default_listen_addresses();
  } else {
    for (const std::string& text : o.listen) {
      uint32_t ip = 0;
      if (!posix::parse_ipv4(text, &ip)) throw CliError{kExitUsage, "--listen: '" + text + "' is not an IPv4 address"};
      addresses.push_back(ip);
    }
  }
  std::vector<std::unique_ptr<posix::UdpSocket>> sockets;
  std::string errors;
  for (uint32_t ip : addresses) {
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

/// What was heard: the nodes, and the datagrams that did not decode, by reason.
struct Heard {
  std::vector<DiscoveredNode> nodes;
  size_t unexpected_auth = 0, bad_tag = 0, auth_required = 0, other_errors = 0;

  /// Decodes one datagram; records an ANNOUNCE's node (true when its id is new) or counts why not.
  bool take(const uint8_t* buf, size_t size, uint32_t src_ip, uint16_t src_port, const HmacKey& key,
            DiscoveredNode* node) {
    wire::Message msg;
    const wire::DecodeError err = wire::decode(buf, size, key, msg);
    if (err == wire::DecodeError::kUnexpectedAuth) {
      ++unexpected_auth;
      return false;
    }
    if (err == wire::DecodeError::kBadTag) {
      ++bad_tag;
      return false;
    }
    if (err == wire::DecodeError::kAuthRequired) {
      ++auth_required;
      return false;
    }
    if (err != wire::DecodeError::kOk) {
      ++other_errors;
      return false;
    }
    if (msg.header.type != wire::MessageType::kAnnounce) return false;
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
             " authenticated datagram(s) heard: that cluster uses a key, pass --cluster-key-file FILE";
    }
    if (bad_tag > 0) {
      out += "\n  " + std::to_string(bad_tag) + " datagram(s) with a tag that does not verify under this key "
                                                "(another cluster's key?)";
    }
    if (auth_required > 0) {
      out += "\n  " + std::to_string(auth_required) + " unauthenticated datagram(s) ignored: the key is set, "
                                                      "those senders use none";
    }
    if (other_errors > 0) out += "\n  " + std::to_string(other_errors) + " datagram(s) that are not SPORE v1 ignored";
    return out;
  }
};

/// Listens on `sockets` until --timeout, or until --expect nodes were heard.
Heard listen(const DiscoverOptions& o, const HmacKey& key, std::vector<std::unique_ptr<posix::UdpSocket>>& sockets) {
  std::vector<pollfd> fds;
  std::vector<posix::UdpSocket*> owners;
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
  Heard heard;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  uint8_t buf[2048];
  while (o.expect == 0 || heard.nodes.size() < o.expect) {
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
        DiscoveredNode d;
        if (heard.take(buf, size, src_ip, src_port, key, &d) && progress) {
          std::cerr << "  heard " << terminal_safe(d.hostname) << " (" << d.ip << ")\n";
        }
      }
    }
  }
  return heard;
}

int cmd_discover(const DiscoverOptions& o) {
  const HmacKey key = load_cluster_key(o);
  std::vector<std::unique_ptr<posix::UdpSocket>> sockets = open_listeners(o);
  const Heard heard = listen(o, key, sockets);
  const std::vector<DiscoveredNode>& nodes = heard.nodes;
  if (o.json) {
    std::cout << json_for_terminal(discovered_to_json(nodes), 2) << "\n";
  } else if (!nodes.empty()) {
    std::cout << format_discovered_table(nodes);
  }
  const std::string hints = heard.hints();
  if (nodes.empty()) {
    throw CliError{kExitFailure, "no SPORE node heard on UDP port " + std::to_string(o.udp_port) + " in " +
                                     std::to_string(o.timeout_s).substr(0, std::to_string(o.timeout_s).find('.') + 2) +
                                     " s" + hints};
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
      "discover", "list the nodes on the LAN by listening for their UDP announcements (no address needed)");
  add_seconds_option(discover, "--timeout", o->timeout_s, "seconds to listen", 0.1, 3600.0)->capture_default_str();
  discover->add_option("--udp-port", o->udp_port, "the cluster's UDP port")
      ->check(CLI::Range(1, 65535))
      ->type_name("PORT")
      ->capture_default_str();
  discover->add_option("--cluster-key-file", o->key_file, "file with the cluster key in hex, for a keyed cluster")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  discover->add_option("--listen", o->listen,
                       "IPv4 address(es) to listen on (default: 127.255.255.255, 255.255.255.255 and every "
                       "interface's broadcast address)")
      ->type_name("IP");
  discover->add_option("--expect", o->expect, "stop as soon as N nodes were heard; fail if fewer by the timeout")
      ->type_name("N");
  discover->add_flag("--json", o->json, "print {\"nodes\": [...]} instead of a table");
  cli.on_run(discover, [o] { return cmd_discover(*o); });
}

}  // namespace cli
}  // namespace spore
