#include "cli_context.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

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

/// This host's names for default_http_port(): its interface addresses (IPv4 and IPv6, as text)
/// and its hostname (also with ".local", its mDNS name).
std::vector<std::string> local_host_names() {
  std::vector<std::string> names;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
    names.emplace_back(host);
    names.push_back(std::string(host) + ".local");
  }
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return names;
  for (const struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const int family = i->ifa_addr->sa_family;
    const void* raw = nullptr;
    if (family == AF_INET) raw = &reinterpret_cast<const struct sockaddr_in*>(i->ifa_addr)->sin_addr;
    if (family == AF_INET6) raw = &reinterpret_cast<const struct sockaddr_in6*>(i->ifa_addr)->sin6_addr;
    if (raw != nullptr && ::inet_ntop(family, raw, text, sizeof text) != nullptr) names.emplace_back(text);
  }
  ::freeifaddrs(list);
  return names;
}

}  // namespace

NodeAddress with_default_port(NodeAddress addr) {
  if (!addr.port_given) {
    addr.port = default_http_port(addr.host, local_host_names());
    addr.port_given = true;
  }
  return addr;
}

int Cli::run_chosen() const {
  try {
    return chosen_();
  } catch (const CliError& f) {
    std::cerr << "spore: " << f.message << "\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "spore: " << e.what() << "\n";
    return kExitFailure;
  }
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

NodeAddress node_address(const Globals& g) {
  const char* spore_node = std::getenv("SPORE_NODE");
  const char* api_node = std::getenv("API_NODE");
  ResolvedAddress r = resolve_node_address(g.node, spore_node, api_node, std::nullopt);
  // The .env is opened only when nothing the user gave names the node: a hostile one (a FIFO, a
  // huge file) in the working directory then cannot touch a command that does not need it.
  if (r.source == AddressSource::kNone) {
    // SPORE_ENV_FILE lets a wrapper (ctl.sh) point at the project's .env from another directory.
    const char* env_file = std::getenv("SPORE_ENV_FILE");
    const std::string env_path = env_file != nullptr && *env_file != '\0' ? env_file : "./.env";
    const std::optional<DotEnvFile> dotenv = read_dotenv(env_path);
    if (dotenv) r = resolve_node_address(std::nullopt, nullptr, nullptr, dotenv->text);
    if (r.source == AddressSource::kDotEnv) {
      // Whoever can write the .env chooses where requests (and the token) go: only the user's own
      // file, writable by nobody else (its group included), may name the node (docs/security.md,
      // "The CLI facing a hostile node or a planted .env").
      if (std::optional<std::string> why = dotenv_trust_problem(
              env_path, dotenv->owner, user_name(dotenv->owner), dotenv->mode, ::geteuid())) {
        throw CliError{kExitUsage, *why};
      }
      if (r.address && !g.quiet) {
        static bool said = false;  // once per run, also when --watch asks again
        if (!said) {
          std::cerr << "spore: node " << r.address->to_string() << " from API_NODE in "
                    << terminal_safe(env_path) << "\n";
        }
        said = true;
      }
    }
  }
  if (!r.address) throw CliError{kExitUsage, r.error};
  return with_default_port(*r.address);
}

std::optional<std::string> trusted_dotenv_value(std::string_view name, std::string* note) {
  const char* env_file = std::getenv("SPORE_ENV_FILE");
  const std::string env_path = env_file != nullptr && *env_file != '\0' ? env_file : "./.env";
  const std::optional<DotEnvFile> dotenv = read_dotenv(env_path);
  if (!dotenv) return std::nullopt;
  std::optional<std::string> value = parse_env_value(dotenv->text, name);
  if (!value || trim(*value).empty()) return std::nullopt;
  // The same rule as for API_NODE: only the user's own file, writable by nobody else.
  if (dotenv_trust_problem(env_path, dotenv->owner, user_name(dotenv->owner), dotenv->mode, ::geteuid())) {
    if (note != nullptr) {
      *note = "not taking " + std::string(name) + " from " + terminal_safe(env_path) +
              ": it is not yours or others can write it (chmod go-w)";
    }
    return std::nullopt;
  }
  return trim(*value);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> token_from(const std::optional<std::string>& token,
                                      const std::optional<std::string>& token_file) {
  std::optional<std::string> file_text;
  if (token_file) {
    file_text = read_file(*token_file);
    if (!file_text) throw CliError{kExitUsage, "cannot read the token file '" + *token_file + "'"};
    if (trim(*file_text).empty()) throw CliError{kExitUsage, "the token file '" + *token_file + "' is empty"};
  }
  return resolve_token(token, file_text, std::getenv("SPORE_TOKEN"));
}

}  // namespace cli
}  // namespace spore
