#pragma once
/// @file node_rest.h
/// The REST calls of the commands that talk to one node (cluster members, node status, node
/// restart, events): one bounded request (--http-timeout, --max-answer-bytes), a JSON answer or a
/// CliError that says what went wrong in one line.

#include <httplib.h>

#include <string>

#include <nlohmann/json.hpp>

#include "bounded_http.h"
#include "cli_context.h"

namespace spore {
namespace cli {

/// "cannot reach the node at http://HOST:PORT: <what failed>. Is spored running there? ...": the
/// message for a node that did not answer at all (`answer` a transport failure); "cannot resolve
/// host 'HOST' (...)" when that was why.
std::string cannot_reach(const NodeAddress& addr, const BoundedAnswer& answer);

/// The message for a request that got no usable answer (`answer.ok()` false): cannot_reach() for a
/// transport failure, else "HOST:PORT: <the bound it broke>" (too slow, too large).
std::string no_usable_answer(const NodeAddress& addr, const BoundedAnswer& answer, double deadline_s);

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
};

/// One request bounded in time (--http-timeout, for the whole request) and size
/// (--max-answer-bytes): bounded_http.h. Any answer is returned; no answer (unreachable, too slow,
/// too large) throws CliError (exit 1), and so does an answer that is not SPORE's JSON
/// (not_spore_answer(): a web server's page is named, never printed).
HttpAnswer http_call(const NodeAddress& addr, const Globals& g, const std::string& method, const std::string& path,
                     const httplib::Headers& headers = {});

/// GET `path` and parse the JSON body; any error answer or non-JSON body throws CliError (exit 1).
/// `raw` (when not null) gets the answer re-encoded for a terminal (json_for_terminal).
nlohmann::ordered_json get_json(const NodeAddress& addr, const Globals& g, const std::string& path, std::string* raw);

/// `body` on stdout, ending in one newline.
void print_raw(const std::string& body);

}  // namespace cli
}  // namespace spore
