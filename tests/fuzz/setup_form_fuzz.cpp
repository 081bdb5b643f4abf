// libFuzzer target for the setup portal's form reader (http_form_field(), core/spore/auth/http_target.h)
// and SetupPortal::submit_form() (core/spore/device/setup_portal.h), which the ESP8266 portal runs on the
// raw POST /wifi body instead of ESPAsyncWebServer's parameter list.
//
// Input: byte 0 = output capacity (0..63); the rest is the form body.
//
// Properties checked on every input, abort() on violation:
// - nothing crashes or reads out of bounds (ASan/UBSan in the fuzz preset); no write past the
//   capacity (a canary after it);
// - http_form_field() returns -2, -1 or a length <= capacity; a field is found only when its name
//   starts the body or follows a '&'; a found value has no NUL;
// - round trip: the body's bytes, %-encoded as a browser does (space as '+'), read back unchanged
//   as the value of "ssid" between two other fields, when they contain no NUL and fit;
// - submit_form() on the body answers 200, 400 or 403; on 400/403 the settings are unchanged and
//   nothing is pending.
//
// Seed corpus: tests/fuzz/corpus/setup_form/.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_ports.h"
#include "spore/device/device_config.h"
#include "spore/auth/http_target.h"
#include "spore/node/node_context.h"
#include "spore/http/rest_api.h"
#include "spore/device/setup_portal.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string form_encode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

bool found_at_field_start(std::string_view body, std::string_view name) {
  for (size_t i = 0; i + name.size() <= body.size(); ++i) {
    if ((i == 0 || body[i - 1] == '&') && body.substr(i, name.size()) == name &&
        (i + name.size() == body.size() || body[i + name.size()] == '=' || body[i + name.size()] == '&')) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 2048) return 0;
  const size_t capacity = data[0] % 64;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  char out[64 + 1];
  out[capacity] = '\x5A';
  const int n = spore::http_form_field(body, "ssid", out, capacity);
  check(out[capacity] == '\x5A');
  check(n >= -2 && n <= static_cast<int>(capacity));
  if (n >= 0) {
    check(found_at_field_start(body, "ssid"));
    check(std::memchr(out, 0, static_cast<size_t>(n)) == nullptr);
  }

  const std::string wrapped = "a=1&ssid=" + form_encode(body) + "&b=2";
  char back[2048];
  const int m = spore::http_form_field(wrapped, "ssid", back, sizeof back);
  if (body.find('\0') == std::string_view::npos) {
    check(m == static_cast<int>(body.size()) && std::memcmp(back, body.data(), body.size()) == 0);
  } else {
    check(m == -2);
  }

  spore::fuzz::SettableClock clock{1000};
  spore::fuzz::CountingRandom random;
  spore::fuzz::FixedSystem system;
  spore::NodeContext ctx{spore::Config::default_esp8266(), clock, random, system, nullptr};
  spore::RestApi api{ctx};
  check(ctx.begin({0x00ABCDEFu, 1, 0, "esp_abcdef"}) && api.begin());
  if ((data[0] & 0x40) != 0) check(api.set_api_token("tok"));
  spore::DeviceConfig config;
  spore::DeviceConfigError e;
  check(config.parse("wifi_ssid=Old\nwifi_password=old-password\n", &e));
  spore::SetupPortal portal;
  const spore::SetupPortal::Outcome r = portal.submit_form(config, api, body, 5000);
  check(r.status == 200 || r.status == 400 || r.status == 403);
  check((r.status == 200) == (r.error == nullptr));
  if (r.status != 200) {
    check(std::strcmp(config.wifi_ssid(), "Old") == 0 && std::strcmp(config.wifi_password(), "old-password") == 0);
    check(!portal.pending());
  } else {
    check(portal.pending() && config.wifi_ssid()[0] != '\0');
  }
  return 0;
}
