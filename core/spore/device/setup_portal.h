#pragma once
/// @file setup_portal.h
/// The decisions of the WiFi setup portal (the page itself is served by the platform, e.g.
/// platform/esp8266/portal.cpp): which requests it takes, what a submitted form does, and when the
/// accepted credentials are saved and applied. Kept here so the host tests reach them.
///
/// - While the portal is open it answers every path outside /api/ (phones' and laptops'
///   connectivity probes such as /generate_204 then show the page); /api/ stays with REST, so a
///   device stuck in setup can still be inspected and updated over the access point.
/// - Pages are GET (or HEAD) without a body. POST /wifi submits the form: its page posts the
///   fields urlencoded ("ssid=..&password=..&token=..") with Content-Type kFormContentType from a
///   few lines of script, not as a plain HTML form, because ESPAsyncWebServer never hands an
///   application/x-www-form-urlencoded body to a trivial handler (WebRequest.cpp:199-224: it
///   drops it, or parses it into a heap list of parameters for a non-trivial one). The body is
///   read whole, at most kMaxBodyBytes, and its fields by http_form_field(): nothing of it is
///   parsed into the library's lists. Any other request with a body is not the portal's.
/// - The access point is open, so when the device has an API token
///   the form must carry it (403 otherwise): nobody in radio range may move a device that lost
///   its network to a network of theirs. An empty network name is refused (400): on the form it
///   is a mistake, not a request to forget the credentials. Every other check is
///   DeviceConfig::set_wifi()'s; on any error the settings are unchanged.
/// - Accepted credentials are applied kApplyDelayMs later, from the loop: flash writes and a radio
///   mode change do not belong in the server callback, and the delay lets the answer reach the
///   browser before the access point changes channel.
/// - Admission (the access point is open to anyone in radio range): a request is taken only with
///   heap_allows() (otherwise the platform answers a short 503 at once, as HTTP admission does),
///   a kBadSubmit is answered as soon as its headers are in (its body is not read), and the one
///   body buffer goes to a submission by claim_body(): free, or held longer than kBodyHoldMs by
///   another (a sender trickling a byte every 2 s must not keep every real submission at 503).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spore/device/device_config.h"
#include "spore/cluster/api_registry.h"
#include "spore/http/rest_api.h"

namespace spore {

class SetupPortal {
 public:
  /// Longest form body read: the three fields at their longest, every byte %-escaped (ssid
  /// 32 x 3, password 64 x 3, token 64 x 3) plus their names. A longer POST /wifi is kBadSubmit.
  static constexpr size_t kMaxBodyBytes = 512;
  /// The Content-Type the page's script posts the form with (urlencoded fields).
  static constexpr std::string_view kFormContentType = "application/x-spore-setup-form";
  /// Time between the answer to POST /wifi and saving + reconnecting.
  static constexpr uint32_t kApplyDelayMs = 1000;
  /// A submission's body (at most kMaxBodyBytes, from a phone next to the device) takes well
  /// under this; past it another submission may take the buffer over.
  static constexpr uint32_t kBodyHoldMs = 5000;
  /// Heap a page needs: the library's AsyncResponseStream allocates a 1,460-B cbuf (throwing new),
  /// then the 1,072-B send buffer; the block floor is the cbuf plus margin, the free floor leaves
  /// lwIP and WiFi their room.
  static constexpr uint32_t kMinFreeHeapBytes = 8 * 1024;
  static constexpr uint32_t kMinFreeBlockBytes = 2 * 1024;

  enum class Route : uint8_t {
    kNotMine,    ///< portal closed, an /api/ path, or a request with a body but POST /wifi: REST answers
    kPage,       ///< the form (GET, no body)
    kSubmit,     ///< POST /wifi with kFormContentType and 1..kMaxBodyBytes of body
    kBadSubmit,  ///< another POST /wifi (a browser without script posts a plain form): 400 + the form
  };
  static Route route(bool portal_open, HttpMethod method, std::string_view path, std::string_view content_type,
                     size_t content_length_bytes);

  struct Outcome {
    int status;          ///< 200 saved, 400 bad credentials, 403 wrong token
    const char* error;   ///< static English sentence for the page; nullptr when saved
  };
  /// Checks a submitted form and, when it is good, stores the credentials in `config` and
  /// schedules apply_due(). `api` holds the device's token (none asked when it has none).
  Outcome submit(DeviceConfig& config, const RestApi& api, std::string_view ssid, std::string_view password,
                 std::string_view token, uint32_t now_ms);
  /// submit() with the fields read from a kSubmit body (urlencoded, http_form_field()); a field
  /// that is malformed or longer than its limit is 400 and changes nothing.
  Outcome submit_form(DeviceConfig& config, const RestApi& api, std::string_view body, uint32_t now_ms);
  /// The sentence for a kBadSubmit answer (status 400).
  static const char* bad_submit_error();

  /// True once, kApplyDelayMs after an accepted submit (a later submit restarts the wait).
  bool apply_due(uint32_t now_ms);
  bool pending() const { return pending_; }

  /// True when the heap can take a page (free >= kMinFreeHeapBytes, largest block >=
  /// kMinFreeBlockBytes); otherwise the request is refused with 503 before anything is allocated.
  static bool heap_allows(uint32_t free_bytes, uint32_t max_block_bytes);

  /// A kSubmit's headers are in: true when `request` (an opaque handle) gets the body buffer, because
  /// it is free or its holder took it more than kBodyHoldMs ago (that one then answers "busy").
  /// The caller fills the buffer from the start.
  bool claim_body(const void* request, uint32_t now_ms);
  bool owns_body(const void* request) const { return request != nullptr && body_owner_ == request; }
  /// The submission ended (answered or gone); nothing for a request that does not hold the buffer.
  void release_body(const void* request);

 private:
  uint32_t accepted_ms_ = 0;
  uint32_t body_claimed_ms_ = 0;
  const void* body_owner_ = nullptr;
  bool pending_ = false;
};

}  // namespace spore
