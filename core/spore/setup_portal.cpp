#include "spore/setup_portal.h"

#include "spore/ports.h"

namespace spore {

SetupPortal::Route SetupPortal::route(bool portal_open, HttpMethod method, std::string_view path,
                                      size_t content_length_bytes) {
  if (!portal_open || content_length_bytes > kMaxBodyBytes) return Route::kNotMine;
  if (path.substr(0, 5) == "/api/") return Route::kNotMine;
  return method == HttpMethod::kPost && path == "/wifi" ? Route::kSubmit : Route::kPage;
}

SetupPortal::Outcome SetupPortal::submit(DeviceConfig& config, const RestApi& api, std::string_view ssid,
                                         std::string_view password, std::string_view token, uint32_t now_ms) {
  if (!api.token_matches(token)) return {403, "wrong API token"};
  if (ssid.empty()) return {400, "the network name must not be empty"};
  if (const char* error = config.set_wifi(ssid, password)) return {400, error};
  pending_ = true;
  accepted_ms_ = now_ms;
  return {200, nullptr};
}

bool SetupPortal::apply_due(uint32_t now_ms) {
  if (!pending_ || elapsed_ms(now_ms, accepted_ms_) < kApplyDelayMs) return false;
  pending_ = false;
  return true;
}

}  // namespace spore
