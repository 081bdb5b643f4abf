#include "spore/cluster/api_registry.h"

#include <cstring>

#include "spore/base/bytes.h"
#include "spore/base/json_writer.h"

namespace spore {

namespace {

constexpr const char* kMethodNames[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
constexpr size_t kMethodCount = sizeof(kMethodNames) / sizeof(kMethodNames[0]);

bool method_valid(HttpMethod m) {
  auto v = static_cast<uint8_t>(m);
  return v >= 1 && v <= kMethodCount;
}

/// Orders endpoints by the bytes of their canonical line "METHOD uri\n". Comparing the method
/// name, then the uri, gives the same order because no method name is a prefix of another and
/// every uri byte (>= 0x21) sorts after the '\n' that ends a shorter uri.
bool line_less(const ApiEndpoint& a, const ApiEndpoint& b) {
  int by_method =
      std::string_view(http_method_name(a.method)).compare(std::string_view(http_method_name(b.method)));
  if (by_method != 0) return by_method < 0;
  return a.uri_view() < b.uri_view();
}

}  // namespace

const char* http_method_name(HttpMethod m) {
  return method_valid(m) ? kMethodNames[static_cast<uint8_t>(m) - 1] : "?";
}

bool parse_http_method(std::string_view text, HttpMethod* out) {
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (text == kMethodNames[i]) {
      *out = static_cast<HttpMethod>(i + 1);
      return true;
    }
  }
  return false;
}

std::string_view ApiEndpoint::uri_view() const {
  const void* nul = std::memchr(uri, '\0', sizeof(uri));
  size_t len = nul != nullptr ? static_cast<size_t>(static_cast<const char*>(nul) - uri) : sizeof(uri);
  return std::string_view(uri, len);
}

ApiAddResult ApiRegistry::add(std::string_view uri, HttpMethod method) {
  if (!method_valid(method) || uri.empty() || uri.size() > SPORE_MAX_URI_LEN || uri[0] != '/') {
    return ApiAddResult::kBadUri;
  }
  for (char c : uri) {
    auto b = static_cast<uint8_t>(c);
    if (b < 0x21 || b > 0x7E) return ApiAddResult::kBadUri;
  }
  for (const ApiEndpoint& e : *this) {
    if (e.method == method && e.uri_view() == uri) return ApiAddResult::kDuplicate;
  }
  if (size_ >= SPORE_MAX_APIS) return ApiAddResult::kFull;
  ApiEndpoint& e = endpoints_[size_];
  e.method = method;
  std::memcpy(e.uri, uri.data(), uri.size());
  e.uri[uri.size()] = '\0';
  ++size_;
  digest_ = compute_digest();
  return ApiAddResult::kAdded;
}

uint32_t ApiRegistry::compute_digest() const {
  // Insertion sort of indices: at most SPORE_MAX_APIS (16) entries, no allocation, and smaller
  // code than std::sort on lx106.
  std::array<uint8_t, SPORE_MAX_APIS> order{};
  for (uint8_t i = 0; i < size_; ++i) {
    uint8_t j = i;
    while (j > 0 && line_less(endpoints_[i], endpoints_[order[j - 1]])) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = i;
  }
  uint32_t h = kEmptyDigest;
  for (uint8_t k = 0; k < size_; ++k) {
    const ApiEndpoint& e = endpoints_[order[k]];
    h = fnv1a(h, http_method_name(e.method));
    h = fnv1a(h, " ");
    h = fnv1a(h, e.uri_view());
    h = fnv1a(h, "\n");
  }
  return h;
}

void write_api_entry(JsonWriter& w, HttpMethod method, std::string_view uri) {
  w.begin_object().field(SPORE_FSTR("uri"), uri).field(SPORE_FSTR("method"), http_method_name(method)).end_object();
}

void ApiRegistry::write_json(JsonWriter& w) const {
  w.begin_array();
  for (const ApiEndpoint& e : *this) write_api_entry(w, e.method, e.uri_view());
  w.end_array();
}

}  // namespace spore
