#pragma once
/// @file http_listener.h
/// The HTTP port's listener: what AsyncWebServer::begin() would do, plus core's head screen
/// (core/spore/http_head_screen.h) between lwIP and ESPAsyncWebServer, so the library never parses
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
///  - before that, it refuses (RST, before anything is allocated) a connection when all
///    SPORE_ESP_MAX_HEAD_SCREENS screens are in use or the free heap could not hold one more head
///    at its worst case besides those in flight and a reserve (see begin()): lwIP's pcb is all
///    it cost;
///  - AsyncClient's constructor sets the pcb's recv callback to its own (ESPAsyncTCP.cpp:198);
///    the listener saves it from the pcb and puts screen_recv() in front. Each received pbuf chain
///    goes through the screen first: while the head is within limits it is forwarded unchanged;
///    once the head ended within them the saved callback is put back (the body, and anything
///    after the request, reaches the library directly); a head over a limit is dropped with
///    tcp_abort() (RST, no answer) before the library sees any byte of that chain.
///
/// One listener per node (its callbacks find it through a static pointer). Runs in lwIP's
/// receive path, serialized with loop() like every ESPAsyncWebServer callback.

#include <ESPAsyncWebServer.h>
#include <lwip/tcp.h>

#include <cstddef>
#include <cstdint>

#include "spore/http_head_screen.h"

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

  /// Connections reset at accept (no screen free, or not enough heap) since begin().
  uint32_t refused_accepts() const { return refused_accepts_; }
  /// Connections reset because their head broke a limit since begin().
  uint32_t refused_heads() const { return refused_heads_; }

 private:
  struct Screen {
    tcp_pcb* pcb = nullptr;         ///< nullptr: free
    tcp_recv_fn forward = nullptr;  ///< the recv callback AsyncClient installed
    HttpHeadScreen head;
  };
  static_assert(sizeof(Screen) <= 20, "README \"HTTP admission\" says 20 B per screen");

  // lwIP's accept and recv callbacks (exact lwIP signatures).
  static err_t s_accept(void* arg, tcp_pcb* pcb, err_t err);
  static err_t s_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  err_t accept(tcp_pcb* pcb);
  err_t recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  /// A free screen, after releasing those whose connection lwIP has closed or freed meanwhile.
  Screen* free_screen(size_t* in_use);
  Screen* screen_of(const tcp_pcb* pcb);

  AsyncWebServer* server_ = nullptr;
  tcp_pcb* listen_pcb_ = nullptr;
  Screen screens_[SPORE_ESP_MAX_HEAD_SCREENS];
  uint32_t refused_accepts_ = 0;
  uint32_t refused_heads_ = 0;
};

}  // namespace spore::esp8266
