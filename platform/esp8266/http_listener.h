#pragma once
/// @file http_listener.h
/// The HTTP port's listener: what AsyncWebServer::begin() would do, plus core's head screen
/// (core/spore/device/http_head_screen.h) between lwIP and ESPAsyncWebServer, so the library never parses
/// a request line, a query or header lines beyond SPORE's limits (platform/esp8266/README.md,
/// "HTTP admission"). Public APIs only: the library is not patched.
///
/// How (ESPAsyncWebServer 3.12.0, ESPAsyncTCP 2.0.0, lwIP 2.1.3 as the ESP8266 core 3.1.2 builds
/// it, LWIP_CALLBACK_API):
///  - AsyncWebServer::begin() is never called, so its own AsyncServer never listens
///    (WebServer.cpp:112-115). This listener binds the port with raw lwIP and, for each accepted
///    pcb, does what ESPAsyncTCP's AsyncServer::_accept() (ESPAsyncTCP.cpp:1201-1303: Nagle off
///    as AsyncWebServer::begin() asks, `new (std::nothrow) AsyncClient(pcb)`) and the server's
///    accept lambda (WebServer.cpp:45-57: setRxTimeout(3), AsyncWebServerRequest::create(), abort
///    and delete on failure) do;
///  - before that, core's admission policy (place_head(), core/spore/device/http_admission.h,
///    the one spored applies to its connections) decides: a connection from an address that holds
///    SPORE_ESP_MAX_HEAD_SCREENS_PER_ADDRESS screens already is refused (RST, before anything is
///    allocated: lwIP's pcb is all it cost); when all SPORE_ESP_MAX_HEAD_SCREENS screens are in
///    use, the head choose_eviction() picks (from the address holding the most, aged before
///    young, the oldest) is reset and the new connection takes its screen. It is also refused
///    when the free heap could not hold one more head at its worst case besides those in flight
///    and a reserve (see begin());
///  - AsyncClient's constructor sets the pcb's recv, sent and err callbacks to its own
///    (ESPAsyncTCP.cpp:198-200); the listener saves them from the pcb and puts its own in front,
///    for the connection's life. Each received pbuf chain goes through the screen first while the
///    head is being read: within limits it is forwarded unchanged; a head over a limit (or with a
///    byte the library would abort on: a NUL, an empty request line, no method) is dropped with
///    tcp_abort() (RST, no answer) before the library sees any byte of that chain. After the head
///    everything is forwarded unchanged;
///  - the wrappers also mend one ESPAsyncTCP behaviour: when the library aborts a connection from
///    inside its recv or sent callback, ESPAsyncTCP answers lwIP ERR_OK (its error tracker is
///    already marked: ESPAsyncTCP.cpp:137-143, 737-750), and lwIP then goes on with the freed pcb
///    (with a FIN in the same segment: a second tcp_free() and a call into the deleted client).
///    The err wrapper notes that the pcb was freed while the library's callback ran, and the recv
///    and sent wrappers then return ERR_ABRT, as lwIP requires (tcp.h, tcp_abort());
///  - a head not in within SPORE_ESP_HEAD_TIMEOUT_MS of accept is reset from loop() (poll());
///  - the listen backlog is SPORE_ESP_MAX_HEAD_SCREENS + 1, so half-open connections (SYN_RCVD,
///    ~192 B of heap each, which lwIP takes from the heap: MEMP_MEM_MALLOC 1) are bounded too.
///
/// One listener per node (its callbacks find it through a static pointer). Runs in lwIP's
/// receive path, serialized with loop() like every ESPAsyncWebServer callback.

#include <ESPAsyncWebServer.h>
#include <lwip/tcp.h>

#include <cstddef>
#include <cstdint>

#include "spore/device/http_head_screen.h"

namespace spore::esp8266 {

class HttpListener {
 public:
  /// Heap of one accepted connection's objects: AsyncClient (220 B), its error tracker's
  /// make_shared block, AsyncWebServerRequest (336 B), its shared_ptr block, lwIP's tcp_pcb
  /// (184 B), each in umm_malloc's 8-byte blocks with a 4-byte header.
  static constexpr uint32_t kConnectionBytes = 816;
  /// Heap one connection can take while its head is screened and parsed, at the screen's limits
  /// (an upper estimate, not measured on a board): the connection's objects; kept, every header
  /// line as a list node (40 B) with its name and value (the head's text plus 2 x 12 B of block
  /// overhead), the URL and each query parameter's node (48 B) and strings (the request line's
  /// text); in flight, one line in up to 5 copies (the buffer while realloc() moves it, the
  /// parse's name and value, the request's own fields: Host, Content-Type, the boundary).
  /// 7,052 B with the default limits; `tools/esp8266-http-sizes.sh` prints the same sum from the
  /// sizes the ESP8266 compiler gives (platform/esp8266/README.md, "HTTP admission").
  static constexpr uint32_t kHeadWorstCaseBytes =
      kConnectionBytes + SPORE_ESP_MAX_HEAD_BYTES + (40 + 24) * SPORE_ESP_MAX_HEADERS +
      SPORE_ESP_MAX_REQUEST_LINE_BYTES + (48 + 24) * SPORE_ESP_MAX_QUERY_PARAMS + 5 * (SPORE_ESP_MAX_HEADER_LINE_BYTES + 12);
  /// Free heap a new connection must leave beyond every head's worst case: room for the 503 that
  /// admission answers when the heap is below its floor (AsyncBasicResponse, its headers and
  /// lwIP's copy of the segment: under 1.6 KB, README "HTTP admission").
  static constexpr uint32_t kReserveBytes = 2048;
  /// The largest free block a new connection needs: the line buffer (at most
  /// SPORE_ESP_MAX_HEADER_LINE_BYTES) while realloc() copies it, or the request object.
  static constexpr uint32_t kMinFreeBlockBytes = 2 * SPORE_ESP_MAX_HEADER_LINE_BYTES;

  HttpListener() = default;
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  /// Listens on `port` (any address) and hands each connection whose head passes the screen to
  /// `server`'s handlers. A connection is accepted only while the free heap is at least
  /// kReserveBytes plus kHeadWorstCaseBytes for it and for every head still being screened, and
  /// the largest free block at least kMinFreeBlockBytes. False when lwIP cannot bind or listen.
  bool begin(AsyncWebServer& server, uint16_t port);

  /// Connections reset at accept (their address's share of screens taken, or not enough heap)
  /// since begin().
  uint32_t refused_accepts() const { return refused_accepts_; }
  /// Connections reset because their head broke a limit or its deadline since begin().
  uint32_t refused_heads() const { return refused_heads_; }
  /// Heads reset to make room for a new connection since begin() (choose_eviction()).
  uint32_t evicted_heads() const { return evicted_heads_; }
  /// A head is reset for a newcomer before younger ones once it is this old: spored's default
  /// (HttpServer::Limits::eviction_min_age_ms); a head on a LAN arrives within milliseconds.
  static constexpr uint32_t kEvictionMinAgeMs = 500;
  /// Resets connections whose head is not in SPORE_ESP_HEAD_TIMEOUT_MS after accept (the
  /// library's 3 s receive timeout restarts with every byte, so a head sent a byte at a time
  /// would otherwise hold its screen for as long as it likes). Call from loop().
  void poll(uint32_t now_ms);

 private:
  struct Screen {
    tcp_pcb* pcb = nullptr;   ///< nullptr: free
    uint32_t accepted_ms = 0;  ///< millis() at accept: the head's deadline runs from here
    HttpHeadScreen head;
  };
  static_assert(sizeof(Screen) <= 20, "README \"HTTP admission\" says 20 B per screen");

  // lwIP's accept callback and the wrappers around AsyncClient's recv, sent and err callbacks
  // (exact lwIP signatures).
  static err_t s_accept(void* arg, tcp_pcb* pcb, err_t err);
  static err_t s_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  static err_t s_sent(void* arg, tcp_pcb* pcb, uint16_t len);
  static void s_err(void* arg, err_t err);
  err_t accept(tcp_pcb* pcb);
  err_t recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  /// What AsyncClient's callback returned, or ERR_ABRT when the connection was aborted while it
  /// ran (its err callback came for `arg`): ESPAsyncTCP answers ERR_OK then (ESPAsyncTCP.cpp:
  /// 137-143, 737-750), and lwIP would go on with a freed pcb (tcp.h: "When calling this from one
  /// of the TCP callbacks, make sure you always return ERR_ABRT").
  err_t after_forward(void* arg, err_t result);
  /// Releases the screens whose connection lwIP has closed or freed meanwhile; the screens in use.
  size_t release_stale_screens();
  Screen* screen_of(const tcp_pcb* pcb);

  AsyncWebServer* server_ = nullptr;
  tcp_pcb* listen_pcb_ = nullptr;
  Screen screens_[SPORE_ESP_MAX_HEAD_SCREENS];
  // AsyncClient's own callbacks (the same static functions for every connection), captured at the
  // first accept; ours stay in front of them for the connection's life.
  tcp_recv_fn forward_recv_ = nullptr;
  tcp_sent_fn forward_sent_ = nullptr;
  tcp_err_fn forward_err_ = nullptr;
  void* forwarding_arg_ = nullptr;  ///< the AsyncClient whose callback runs now
  bool forwarding_aborted_ = false;  ///< its err callback came meanwhile: the pcb is freed
  uint32_t refused_accepts_ = 0;
  uint32_t refused_heads_ = 0;
  uint32_t evicted_heads_ = 0;
};

}  // namespace spore::esp8266
