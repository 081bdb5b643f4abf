#pragma once
/// @file api_registry.h
/// The HTTP endpoints a node serves: the seed's service registry, published as
/// `"api": [{"uri": "/api/node/status", "method": "GET"}]` in /api/node/status and
/// /api/cluster/members.
///
/// Endpoints live in a fixed array of SPORE_MAX_APIS entries (no allocation). Peers do not
/// exchange the list on every heartbeat; they exchange digest(), a 32-bit fingerprint of the set,
/// and fetch the list only when it changes, which keeps heartbeats small on a 40 KB-heap device.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/base/bytes.h"
#include "spore/base/limits.h"

namespace spore {

static_assert(SPORE_MAX_APIS >= 1 && SPORE_MAX_APIS <= 255, "ApiRegistry indexes endpoints with uint8_t");

class JsonWriter;

enum class HttpMethod : uint8_t { kGet = 1, kPost = 2, kPut = 3, kDelete = 4, kPatch = 5 };

/// "GET", "POST", "PUT", "DELETE", "PATCH"; "?" for a value outside the enum. Never nullptr;
/// the string is static.
const char* http_method_name(HttpMethod m);

/// Parses an exact upper-case method name ("GET", ...). Returns false and leaves `*out` untouched
/// for anything else, including lower case and surrounding spaces.
bool parse_http_method(std::string_view text, HttpMethod* out);

/// One registered endpoint. `uri` is NUL-terminated and at most SPORE_MAX_URI_LEN bytes.
struct ApiEndpoint {
  HttpMethod method;
  char uri[SPORE_MAX_URI_LEN + 1];
  std::string_view uri_view() const;
};

enum class ApiAddResult : uint8_t {
  kAdded,      ///< stored
  kDuplicate,  ///< the same uri + method is already registered; nothing changed
  kFull,       ///< SPORE_MAX_APIS endpoints already registered; nothing changed
  kBadUri,     ///< the uri (or the method) is not acceptable, see ApiRegistry::add(); nothing changed
};

/// The endpoints this node serves, in registration order, with a cached order-independent digest.
/// One entry of the seed's API list, `{"uri":"...","method":"GET"}` (ApiRegistry::write_json(),
/// and the members' lists, whose entries are written one at a time).
void write_api_entry(JsonWriter& w, HttpMethod method, std::string_view uri);

class ApiRegistry {
 public:
  /// Registers `method uri`.
  /// `uri` must start with '/', be 1..SPORE_MAX_URI_LEN bytes long and consist of printable ASCII
  /// 0x21-0x7E only (no spaces, controls or non-ASCII: it is sent verbatim in JSON and datagrams).
  /// A `method` outside HttpMethod is refused as kBadUri. Re-registering an existing uri + method
  /// is harmless and reported as kDuplicate even when the registry is full.
  ApiAddResult add(std::string_view uri, HttpMethod method);

  /// Number of endpoints, 0..SPORE_MAX_APIS.
  size_t size() const { return size_; }
  /// Endpoint `i` in registration order; `i` must be < size().
  const ApiEndpoint& at(size_t i) const { return endpoints_[i]; }
  const ApiEndpoint* begin() const { return endpoints_.data(); }
  const ApiEndpoint* end() const { return endpoints_.data() + size_; }

  /// Fingerprint of the set of endpoints: equal sets give equal digests regardless of registration
  /// order, build, platform or restart. It is FNV-1a (32 bit) over the lines "METHOD uri\n" of
  /// all endpoints, sorted by their bytes, concatenated. The empty registry's digest is therefore
  /// the FNV-1a offset basis, kEmptyDigest. Cached: O(1).
  uint32_t digest() const { return digest_; }

  /// digest() of a registry with no endpoints.
  static constexpr uint32_t kEmptyDigest = kFnv1aOffset;

  /// Writes the seed's array `[{"uri":"...","method":"GET"}, ...]` in registration order. The
  /// caller has already written the key (usually "api").
  void write_json(JsonWriter& w) const;

 private:
  uint32_t compute_digest() const;

  std::array<ApiEndpoint, SPORE_MAX_APIS> endpoints_{};
  uint8_t size_{0};
  uint32_t digest_{kEmptyDigest};
};

}  // namespace spore
