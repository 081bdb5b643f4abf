#pragma once
/// @file http_target.h
/// Request-target helpers ("/path?a=1&b=2"): reading one query parameter, and the canonical form
/// of a target that request proofs sign (docs/security.md, "Request proofs").
///
/// Why a canonical form: the client signs the target it sends, but the node does not always see
/// those bytes. ESPAsyncWebServer decodes the path and the query and the ESP8266 adapter rebuilds
/// the target from the parsed parameters; cpp-httplib / libmicrohttpd hand over the raw target.
/// Both sides therefore sign the same normal form: every %XX escape decoded, then every byte
/// outside RFC 3986's unreserved set (and '/' in the path) re-encoded as %XX with upper-case hex.
/// '+' is a byte like any other (never a space), a fragment is dropped, an empty query ("/p?") is
/// no query, and a '%' not followed by two hex digits stands for itself (so it becomes "%25").
///
/// What the ESP8266 cannot reproduce, because ESPAsyncWebServer decodes before SPORE sees the
/// target: a literal '+' in the query (it becomes a space: send %2B), "%25" in the path, a
/// parameter without '=' ("?a": it becomes "?a="), and a target over 160 bytes (the adapter's
/// buffer). A proof over such a target verifies on Linux and fails (401) on an ESP8266; the CLI and
/// the dashboard never send one.

#include <cstddef>
#include <string_view>

namespace spore {

/// The value of query parameter `name` in `target`, percent-decoded ('+' stays '+', as a topic may
/// contain it) into `out`. Returns its length; -1 when absent; -2 when malformed (bad %-escape, a raw or
/// decoded NUL) or longer than `capacity_bytes`. The first occurrence wins; names are compared
/// raw (not decoded). A fragment is cut off first, as canonical_target() does: "/p#?a=1" has no
/// query, so nothing a request proof does not cover is ever read.
int http_query_param(std::string_view target, std::string_view name, char* out, size_t capacity_bytes);

/// True when `target` holds a '#' (a fragment). A client never sends one (RFC 9112 §3.2: the
/// origin-form is absolute-path ["?" query]), and what follows it is outside what a request proof signs,
/// so RestApi and the OTA upload refuse such a target with 400 rather than guess which part counts.
bool http_target_has_fragment(std::string_view target);

/// The value of field `name` in an application/x-www-form-urlencoded body ("a=1&b=x+y"), decoded
/// into `out` as a browser encodes it ('+' is a space, %XX a byte). Same results and rules as
/// http_query_param(): length, -1 absent, -2 malformed or longer than `capacity_bytes`; the
/// first occurrence wins. Reads nothing outside `form` and writes at most `capacity_bytes`.
int http_form_field(std::string_view form, std::string_view name, char* out, size_t capacity_bytes);

/// Receives the canonical target in pieces (see canonical_target()).
class CanonicalSink {
 public:
  virtual void append(const char* data, size_t size_bytes) = 0;

 protected:
  ~CanonicalSink() = default;
};

/// Writes the canonical form of `target` (see the file comment) to `sink`, in pieces; no buffer, so
/// a target of any length works. Returns the canonical length in bytes.
size_t canonical_target(std::string_view target, CanonicalSink& sink);

}  // namespace spore
