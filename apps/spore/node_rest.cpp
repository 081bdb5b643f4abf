#include "node_rest.h"

#include <iostream>

#include "cli_format.h"
#include "transport_error.h"
#include "terminal_safe.h"

namespace spore {
namespace cli {

std::string cannot_reach(const NodeAddress& addr, const BoundedAnswer& answer) {
  if (!answer.unresolved.empty()) {
    return answer.unresolved + ": check the name, or give the node's IP address (`spore discover` lists the nodes "
                               "on the LAN)";
  }
  return "cannot reach the node at " + addr.base_url() + ": " + describe_transport_error(answer.error) +
         ". Is spored running there? (`spore discover` lists the nodes on the LAN)";
}

std::string no_usable_answer(const NodeAddress& addr, const BoundedAnswer& answer, double deadline_s) {
  if (answer.failure == BoundedAnswer::Failure::kTransport) return cannot_reach(addr, answer);
  return addr.to_string() + ": " + answer.why(deadline_s);
}

HttpAnswer http_call(const NodeAddress& addr, const Globals& g, const std::string& method, const std::string& path,
                     const httplib::Headers& headers) {
  const BoundedAnswer a =
      bounded_request(addr, g.http_timeout_s, method, path, headers, "", method == "POST" ? "application/json" : "");
  if (a.failure == BoundedAnswer::Failure::kTransport) throw CliError{kExitFailure, cannot_reach(addr, a)};
  if (!a.ok()) {
    throw CliError{kExitFailure, addr.to_string() + " " + method + " " + path + ": " + a.why(g.http_timeout_s)};
  }
  if (const std::optional<std::string> other = not_spore_answer(addr.base_url() + path, a.content_type, a.body)) {
    throw CliError{kExitFailure, *other};
  }
  return HttpAnswer{a.status, a.body, a.content_type};
}

nlohmann::ordered_json get_json(const NodeAddress& addr, const Globals& g, const std::string& path, std::string* raw) {
  HttpAnswer a = http_call(addr, g, "GET", path);
  if (a.status < 200 || a.status > 299) {
    throw CliError{kExitFailure, addr.to_string() + " GET " + path + ": " +
                                     describe_error_response(a.status, a.body)};
  }
  bool too_deep = false;
  nlohmann::ordered_json j = parse_node_json(a.body, &too_deep);
  if (too_deep) {
    throw CliError{kExitFailure, addr.to_string() + " GET " + path + ": the answer nests arrays/objects deeper than " +
                                     std::to_string(kMaxJsonDepth) + " levels; refused"};
  }
  if (j.is_discarded()) {
    throw CliError{kExitFailure, addr.to_string() + " GET " + path + ": the answer is not JSON: " +
                                     terminal_safe(a.body.substr(0, 200))};
  }
  // --json prints it re-encoded: a node's JSON may hold raw C1/bidi characters in its strings and
  // CRs between its tokens, which a terminal would act on.
  if (raw != nullptr) *raw = json_for_terminal(j);
  return j;
}

void print_raw(const std::string& body) {
  std::cout << body;
  if (body.empty() || body.back() != '\n') std::cout << '\n';
  std::cout.flush();
}

}  // namespace cli
}  // namespace spore
