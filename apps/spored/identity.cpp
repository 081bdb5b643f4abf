#include "identity.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>

#include "posix/private_file.h"
#include "posix/state_store.h"
#include "posix/system_info.h"

namespace spored {

namespace {

using spore::LogLevel;
namespace px = spore::posix;

/// The address peers will see for a node bound to 0.0.0.0: the first non-loopback IPv4
/// address of an interface that is up, else 127.0.0.1.
uint32_t primary_ipv4() {
  uint32_t result = 0x7F000001u;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return result;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    result = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    break;
  }
  freeifaddrs(list);
  return result;
}

std::string default_hostname(uint32_t bind_ip, uint32_t node_id) {
  char fallback[24];
  std::snprintf(fallback, sizeof fallback, "spored-%08x", static_cast<unsigned>(node_id));
  // Several nodes on one host (127.0.0.2, .3, ...) would all carry the system hostname.
  if ((bind_ip >> 24) == 127) return fallback;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return fallback;
  std::string h(name);
  const size_t dot = h.find('.');
  if (dot != std::string::npos) h.resize(dot);
  return valid_hostname(h) ? h : fallback;
}

/// The node's state: read only for --self-test (the running node holds the lock and owns every
/// file), else opened, locked and started (a boot counted). False with the reason on stderr.
bool open_state(const Options& opt, px::StateStore& state, px::NodeState* node, px::StderrLogSink& log) {
  std::string error;
  if (opt.self_test) {
    if (!px::StateStore::peek(opt.state_dir, node, &error)) {
      std::fprintf(stderr, "spored: %s\n", error.c_str());
      return false;
    }
    if (node->node_id == 0) node->node_id = 1;  // a fresh state dir: the id is made at the real start
  } else if (!state.open(opt.state_dir, &error) || !state.start(node, &error)) {
    std::fprintf(stderr, "spored: %s\n", error.c_str());
    return false;
  }
  for (const std::string& name : state.removed_temp_files()) {
    log.logf(LogLevel::kInfo, "state: removed %s, the temporary file of an interrupted write", state.path(name).c_str());
  }
  return true;
}

/// The API token and where it is: --api-token-file, else the state dir's (made on the first
/// start). -1 to go on, else the exit code.
int resolve_token(const Options& opt, px::StateStore& state, Identity* id) {
  id->token_where = "none (--no-api-token: the REST API is unauthenticated)";
  if (opt.no_api_token) return -1;
  std::string error;
  if (!opt.api_token_file.empty()) {
    id->token_path = opt.api_token_file;
    id->token_where = id->token_path;
  } else if (opt.self_test) {
    if (px::read_private_file("API token file", opt.state_dir + "/api_token", &id->token, 4096, &error) ==
        px::PrivateRead::kRefused) {
      std::fprintf(stderr, "spored: %s\n", error.c_str());
      return 2;
    }
    id->token = std::string(px::trim_ascii(id->token));
  } else {
    bool created = false;
    if (!state.load_or_create_token(&id->token, &created, &error)) {
      std::fprintf(stderr, "spored: %s\n", error.c_str());
      return 1;
    }
    id->token_path = state.path("api_token");
    id->token_where = id->token_path + (created ? " (created now)" : "");
  }
  return -1;
}

}  // namespace

int load_identity(const Options& opt, std::string token_from_file, px::StateStore& state, px::StderrLogSink& log,
                  Identity* out) {
  if (!open_state(opt, state, &out->node, log)) return 1;
  out->token = std::move(token_from_file);
  const int token = resolve_token(opt, state, out);
  if (token >= 0) return token;
  out->hostname = opt.hostname.empty() ? default_hostname(opt.bind_ip, out->node.node_id) : opt.hostname;
  out->self_ip = opt.bind_ip != 0 ? opt.bind_ip : primary_ipv4();
  return -1;
}

}  // namespace spored
