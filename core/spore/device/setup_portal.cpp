#include "spore/device/setup_portal.h"

#include "spore/device/http_request_table.h"
#include "spore/auth/http_target.h"
#include "spore/http/http_text.h"
#include "spore/base/limits.h"
#include "spore/base/ports.h"

namespace spore {

SetupPortal::Route SetupPortal::route(bool portal_open, HttpMethod method, std::string_view path,
                                      std::string_view content_type, size_t content_length_bytes) {
  if (!portal_open) return Route::kNotMine;
  if (path.size() >= 5 && std::string_view(path.data(), 5) == "/api/") return Route::kNotMine;
  if (method == HttpMethod::kPost && path == "/wifi") {
    const bool ours = ascii_iequals(http_media_type(content_type), kFormContentType);
    return ours && content_length_bytes > 0 && content_length_bytes <= kMaxBodyBytes ? Route::kSubmit
                                                                                     : Route::kBadSubmit;
  }
  return method == HttpMethod::kGet && content_length_bytes == 0 ? Route::kPage : Route::kNotMine;
}

const char* SetupPortal::bad_submit_error() {
  return "the form needs JavaScript";
}

SetupPortal::Outcome SetupPortal::submit_form(DeviceConfig& config, const RestApi& api, std::string_view body,
                                              uint32_t now_ms) {
  // One byte more than each limit: a longer value is refused below, not cut.
  char ssid[SPORE_MAX_SSID_LEN + 1];
  char password[SPORE_MAX_WIFI_PASSWORD_LEN + 1];
  char token[SPORE_MAX_TOKEN_LEN + 1];
  const int ssid_len = http_form_field(body, "ssid", ssid, sizeof ssid);
  const int password_len = http_form_field(body, "password", password, sizeof password);
  const int token_len = http_form_field(body, "token", token, sizeof token);
  if (ssid_len == -2 || password_len == -2 || token_len == -2) return {400, bad_submit_error()};
  // Absent = empty, never a null view: RequestAuth::token_matches() memcpy()s from data().
  auto view = [](const char* s, int n) { return std::string_view(s, n > 0 ? static_cast<size_t>(n) : 0); };
  return submit(config, api, view(ssid, ssid_len), view(password, password_len), view(token, token_len), now_ms);
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

bool SetupPortal::heap_allows(uint32_t free_bytes, uint32_t max_block_bytes) {
  return free_bytes >= kMinFreeHeapBytes && max_block_bytes >= kMinFreeBlockBytes;
}

bool SetupPortal::claim_body(const void* request, uint32_t now_ms) {
  if (body_owner_ != nullptr && body_owner_ != request && elapsed_ms(now_ms, body_claimed_ms_) <= kBodyHoldMs) {
    return false;
  }
  body_owner_ = request;
  body_claimed_ms_ = now_ms;
  return true;
}

void SetupPortal::release_body(const void* request) {
  if (owns_body(request)) body_owner_ = nullptr;
}

bool SetupPortal::apply_due(uint32_t now_ms) {
  if (!pending_ || elapsed_ms(now_ms, accepted_ms_) < kApplyDelayMs) return false;
  pending_ = false;
  return true;
}

}  // namespace spore
