#include "cli_logic.h"

#include "terminal_safe.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace spore {
namespace cli {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool set_error(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

}  // namespace

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string NodeAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string NodeAddress::base_url() const { return "http://" + to_string(); }

std::optional<NodeAddress> parse_node_address(std::string_view text, std::string* error, uint16_t default_port) {
  std::string trimmed = trim(text);
  std::string_view s = trimmed;
  if (s.empty()) {
    set_error(error, "empty node address");
    return std::nullopt;
  }
  if (starts_with(s, "https://")) {
    set_error(error, "'" + trimmed + "': nodes serve plain HTTP, use http:// or just HOST[:PORT]");
    return std::nullopt;
  }
  if (starts_with(s, "http://")) s.remove_prefix(7);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty()) {
    set_error(error, "'" + trimmed + "': no host");
    return std::nullopt;
  }
  if (s.find('/') != std::string_view::npos) {
    set_error(error, "'" + trimmed + "': expected HOST[:PORT], not a URL with a path");
    return std::nullopt;
  }
  if (std::any_of(s.begin(), s.end(), [](char c) { return is_space(c) || static_cast<unsigned char>(c) < 0x21 || c == 0x7F; })) {
    set_error(error, "'" + trimmed + "': spaces in the node address");
    return std::nullopt;
  }
  NodeAddress out;
  out.port = default_port;
  std::string_view host = s;
  std::string_view port;
  bool has_port = false;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) {
      set_error(error, "'" + trimmed + "': missing ']' after the IPv6 address");
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        set_error(error, "'" + trimmed + "': expected ':PORT' after ']'");
        return std::nullopt;
      }
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      if (s.find(':', colon + 1) != std::string_view::npos) {
        // A bare IPv6 address: no port possible without brackets.
        host = s;
      } else {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        has_port = true;
      }
    }
  }
  if (host.empty()) {
    set_error(error, "'" + trimmed + "': no host");
    return std::nullopt;
  }
  if (host.find_first_of("[]") != std::string_view::npos) {
    set_error(error, "'" + trimmed + "': '[' and ']' only enclose an IPv6 address, as in [fe80::1]:8080");
    return std::nullopt;
  }
  out.port_given = has_port;
  if (has_port) {
    if (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) == 0 ||
        std::stoul(std::string(port)) > 65535) {
      set_error(error, "'" + trimmed + "': port must be a number 1..65535");
      return std::nullopt;
    }
    out.port = static_cast<uint16_t>(std::stoul(std::string(port)));
  }
  out.host = std::string(host);
  return out;
}

uint16_t default_http_port(std::string_view host, const std::vector<std::string>& local_names) {
  const auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  std::string h = lower(host);
  while (!h.empty() && h.back() == '.') h.pop_back();  // "localhost." is the same name
  const bool loopback = h == "localhost" || (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) ||
                        starts_with(h, "127.") || h == "::1" || h == "0:0:0:0:0:0:0:1";
  if (loopback) return kDefaultHttpPort;
  for (const std::string& name : local_names) {
    if (!name.empty() && lower(name) == h) return kDefaultHttpPort;
  }
  return kDeviceHttpPort;
}

std::optional<std::string> parse_env_value(std::string_view env_text, std::string_view key) {
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos <= env_text.size()) {
    size_t eol = env_text.find('\n', pos);
    if (eol == std::string_view::npos) eol = env_text.size();
    std::string_view line = env_text.substr(pos, eol - pos);
    pos = eol + 1;
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (starts_with(line, "export") && line.size() > 6 && (line[6] == ' ' || line[6] == '\t')) {
      line.remove_prefix(6);
      while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = line.substr(0, eq);
    while (!name.empty() && is_space(name.back())) name.remove_suffix(1);
    if (name != key) continue;
    std::string_view value = line.substr(eq + 1);
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    std::string result;
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      const char quote = value.front();
      size_t close = value.find(quote, 1);
      // An unterminated quote takes the rest of the line, as a forgiving reader would.
      result = std::string(value.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    } else {
      size_t comment = std::string_view::npos;
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '#' && (i == 0 || is_space(value[i - 1]))) {
          comment = i;
          break;
        }
      }
      result = trim(value.substr(0, comment));
    }
    found = result;
    if (eol == env_text.size()) break;
  }
  return found;
}

const char* address_source_name(AddressSource source) {
  switch (source) {
    case AddressSource::kFlag:
      return "--node";
    case AddressSource::kSporeNodeEnv:
      return "$SPORE_NODE";
    case AddressSource::kApiNodeEnv:
      return "$API_NODE";
    case AddressSource::kDotEnv:
      return "API_NODE in ./.env";
    case AddressSource::kNone:
      break;
  }
  return "nothing";
}

ResolvedAddress resolve_node_address(const std::optional<std::string>& flag_value, const char* spore_node_env,
                                     const char* api_node_env, const std::optional<std::string>& dotenv_text) {
  ResolvedAddress out;
  std::optional<std::string> text;
  if (flag_value && !trim(*flag_value).empty()) {
    text = *flag_value;
    out.source = AddressSource::kFlag;
  } else if (spore_node_env != nullptr && !trim(spore_node_env).empty()) {
    text = spore_node_env;
    out.source = AddressSource::kSporeNodeEnv;
  } else if (api_node_env != nullptr && !trim(api_node_env).empty()) {
    text = api_node_env;
    out.source = AddressSource::kApiNodeEnv;
  } else if (dotenv_text) {
    std::optional<std::string> v = parse_env_value(*dotenv_text, "API_NODE");
    if (v && !trim(*v).empty()) {
      text = *v;
      out.source = AddressSource::kDotEnv;
    }
  }
  if (!text) {
    out.error =
        "no node given: use --node HOST[:PORT], or set SPORE_NODE or API_NODE, or put "
        "'export API_NODE=HOST' in ./.env (or find nodes with 'spore discover')";
    return out;
  }
  std::string why;
  out.address = parse_node_address(*text, &why);
  if (!out.address) out.error = std::string("bad node address from ") + address_source_name(out.source) + ": " + why;
  return out;
}

std::optional<std::string> dotenv_trust_problem(const std::string& path, uint32_t owner_uid,
                                                const std::string& owner_name, uint32_t mode, uint32_t euid) {
  constexpr uint32_t kGroupWrite = 0020, kOtherWrite = 0002;  // S_IWGRP, S_IWOTH
  const bool foreign = owner_uid != euid;
  const bool shared = (mode & (kGroupWrite | kOtherWrite)) != 0;
  if (!foreign && !shared) return std::nullopt;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  const std::string shown = terminal_safe(path);
  const std::string owner = (owner_name.empty() ? std::string() : terminal_safe(owner_name) + " ") + "(uid " +
                            std::to_string(owner_uid) + ")";
  std::string out = "not taking API_NODE from " + shown + ": it is owned by " + owner + ", mode " + octal + ", ";
  out += foreign ? "not by you (uid " + std::to_string(euid) + ")" : "writable by group or others";
  out += "; whoever can write it chooses the node your requests and API token go to.\n  If the file is yours: ";
  if (foreign) out += "chown " + std::to_string(euid) + " '" + shown + "'; ";
  out += "chmod go-w '" + shown + "'. Else give the node with --node HOST[:PORT] or SPORE_NODE.";
  return out;
}

std::optional<std::string> resolve_token(const std::optional<std::string>& flag_value,
                                         const std::optional<std::string>& file_text, const char* env,
                                         TokenSource* source) {
  auto set_source = [&](TokenSource s) {
    if (source != nullptr) *source = s;
  };
  if (flag_value && !trim(*flag_value).empty()) {
    set_source(TokenSource::kFlag);
    return trim(*flag_value);
  }
  if (file_text) {
    std::string_view t = *file_text;
    size_t eol = t.find('\n');
    std::string first = trim(t.substr(0, eol));
    if (!first.empty()) {
      set_source(TokenSource::kFile);
      return first;
    }
  }
  if (env != nullptr && !trim(env).empty()) {
    set_source(TokenSource::kEnv);
    return trim(env);
  }
  set_source(TokenSource::kNone);
  return std::nullopt;
}

std::string trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace cli
}  // namespace spore
