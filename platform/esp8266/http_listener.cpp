#include "http_listener.h"

#include <Arduino.h>
#include <ESPAsyncTCP.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include <new>

#include "spore/device/http_admission.h"
#include "spore/device/http_request_table.h"

namespace spore::esp8266 {
namespace {

HttpListener* g_listener = nullptr;  // the one listener: lwIP's callbacks carry the AsyncClient as arg

#if !LWIP_CALLBACK_API
#error "the head screen wraps tcp_pcb::recv: lwIP with LWIP_CALLBACK_API expected"
#endif

// kConnectionBytes and kHeadWorstCaseBytes hold while the libraries' objects are no larger than
// this (tools/esp8266-http-sizes.sh prints them).
static_assert(sizeof(AsyncClient) <= 220 && sizeof(AsyncWebServerRequest) <= 336 && sizeof(tcp_pcb) <= 184,
              "a connection's objects grew: update HttpListener::kConnectionBytes and the README");
static_assert(sizeof(AsyncWebHeader) <= 24 && sizeof(AsyncWebParameter) <= 32,
              "a header's or parameter's object grew: update HttpListener::kHeadWorstCaseBytes and the README");
// The listener's own RAM: SPORE_ESP_MAX_HEAD_SCREENS of these (README "HTTP admission").
static_assert(sizeof(HttpHeadScreen) <= 10, "the head screen is a few counters");

// Whether `pcb` is still a live connection in lwIP (its active list, lwip/priv/tcp_priv.h): a
// pointer comparison, so a pcb lwIP has freed is never read.
bool is_active(const tcp_pcb* pcb) {
  for (const tcp_pcb* p = tcp_active_pcbs; p != nullptr; p = p->next) {
    if (p == pcb) return true;
  }
  return false;
}

// The client's IPv4 address of a connection (the admission policy's per-address share).
uint32_t ipv4_of(const tcp_pcb* pcb) { return ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)); }

}  // namespace

bool HttpListener::begin(AsyncWebServer& server, uint16_t port) {
  if (listen_pcb_ != nullptr) return true;
  server_ = &server;
  // As AsyncServer::begin() (ESPAsyncTCP.cpp:1119-1143), on any address.
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
  if (pcb == nullptr) return false;
  tcp_setprio(pcb, TCP_PRIO_MIN);
  if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
    tcp_close(pcb);
    return false;
  }
  // A backlog, unlike AsyncServer's default (0xff, lwipopts.h:1413-1414): connections lwIP has
  // not handed to accept() yet (SYN_RCVD, ~192 B of heap each for up to 20 s) are bounded too.
  static_assert(TCP_LISTEN_BACKLOG, "lwIP with TCP_LISTEN_BACKLOG (LWIP_FEATURES=1) expected");
  tcp_pcb* listening = tcp_listen_with_backlog(pcb, SPORE_ESP_MAX_HEAD_SCREENS + 1);  // frees `pcb` on success
  if (listening == nullptr) {
    tcp_close(pcb);
    return false;
  }
  listen_pcb_ = listening;
  g_listener = this;
  tcp_arg(listen_pcb_, this);
  tcp_accept(listen_pcb_, &HttpListener::s_accept);
  return true;
}

err_t HttpListener::s_accept(void* arg, tcp_pcb* pcb, err_t err) {
  // lwIP's contract (tcp.h, tcp_accept_fn): return ERR_ABRT only after tcp_abort() on `pcb`.
  if (pcb == nullptr || err != ERR_OK) return ERR_OK;  // as ESPAsyncTCP.cpp:1203-1214
  return static_cast<HttpListener*>(arg)->accept(pcb);
}

err_t HttpListener::s_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  return g_listener->recv(arg, pcb, p, err);
}

err_t HttpListener::s_sent(void* arg, tcp_pcb* pcb, uint16_t len) {
  // The library may abort from here too (an answer that failed: AnswerResponse::_sourceValid(),
  // reached through AsyncClient::_sent -> the request's _onAck).
  HttpListener& self = *g_listener;
  self.forwarding_arg_ = arg;
  self.forwarding_aborted_ = false;
  return self.after_forward(arg, self.forward_sent_(arg, pcb, len));
}

void HttpListener::s_err(void* arg, err_t err) {
  // lwIP calls this after it freed the pcb (tcp_abandon(): the library's or our tcp_abort(), or
  // the peer's RST).
  HttpListener& self = *g_listener;
  if (arg == self.forwarding_arg_) self.forwarding_aborted_ = true;
  self.forward_err_(arg, err);
}

err_t HttpListener::after_forward(void* arg, err_t result) {
  const bool aborted = forwarding_aborted_ && forwarding_arg_ == arg;
  forwarding_arg_ = nullptr;
  forwarding_aborted_ = false;
  return aborted ? ERR_ABRT : result;
}

void HttpListener::poll(uint32_t now_ms) {
  for (Screen& s : screens_) {
    if (s.pcb == nullptr || now_ms - s.accepted_ms < SPORE_ESP_HEAD_TIMEOUT_MS) continue;
    tcp_pcb* pcb = s.pcb;
    s.pcb = nullptr;
    // Still that connection, mid-head? (A pcb lwIP freed is compared, never read.)
    if (!is_active(pcb) || pcb->recv != &s_recv) continue;
    ++refused_heads_;
    // From loop(), outside lwIP's callbacks: as a peer's RST, the err callback lets the request
    // delete itself and its client (ESPAsyncTCP.cpp:744-750, WebRequest.cpp:95-101, 283-292).
    tcp_abort(pcb);
  }
}

HttpListener::Screen* HttpListener::screen_of(const tcp_pcb* pcb) {
  for (Screen& s : screens_) {
    if (s.pcb == pcb) return &s;
  }
  return nullptr;
}

size_t HttpListener::release_stale_screens() {
  // A screen is released in recv() when its head ends, is refused, or the library aborts the
  // connection. A connection that ends otherwise mid-head (the peer's RST, the library's 3 s rx
  // timeout closing it) leaves its screen behind: it is stale once its pcb is no longer active
  // or no longer routes its data through us (AsyncClient's close clears the recv callback).
  size_t in_use = 0;
  for (Screen& s : screens_) {
    if (s.pcb != nullptr && (!is_active(s.pcb) || s.pcb->recv != &s_recv)) {
      s.pcb = nullptr;
    }
    in_use += s.pcb != nullptr ? 1 : 0;
  }
  return in_use;
}

err_t HttpListener::accept(tcp_pcb* pcb) {
  const size_t in_use = release_stale_screens();
  // Core's admission policy (http_admission.h), as spored applies it: a share per client
  // address, and a full listener gives up the head choose_eviction() picks for the new one.
  HeadScreenSlot slots[SPORE_ESP_MAX_HEAD_SCREENS];
  for (size_t i = 0; i < SPORE_ESP_MAX_HEAD_SCREENS; ++i) {
    slots[i].used = screens_[i].pcb != nullptr;
    slots[i].address = slots[i].used ? ipv4_of(screens_[i].pcb) : 0;
    slots[i].accepted_ms = screens_[i].accepted_ms;
  }
  // The two numbers it reads, each an immediate (a copy of kLimits would sit in DRAM).
  HttpAdmissionLimits limits;
  limits.max_connections = HttpRequestTable::kLimits.max_connections;
  limits.max_connections_per_address = HttpRequestTable::kLimits.max_connections_per_address;
  bool evict = false;
  const size_t i =
      place_head(slots, SPORE_ESP_MAX_HEAD_SCREENS, ipv4_of(pcb), millis(), kEvictionMinAgeMs, limits, &evict);
  // Every head in flight may still grow to its worst case; this one too (an evicted one not).
  const uint32_t need = kReserveBytes + (evict ? in_use : in_use + 1) * kHeadWorstCaseBytes;
  if (i >= SPORE_ESP_MAX_HEAD_SCREENS || ESP.getFreeHeap() < need || ESP.getMaxFreeBlockSize() < kMinFreeBlockBytes) {
    ++refused_accepts_;
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  Screen* screen = &screens_[i];
  if (evict) {
    // As poll() resets a late head, from lwIP's accept path: lwIP's own tcp_alloc() aborts
    // other pcbs there too (tcp_kill_prio()). The err callback lets the request delete itself.
    tcp_pcb* old = screen->pcb;
    screen->pcb = nullptr;
    ++evicted_heads_;
    tcp_abort(old);
  }
  // AsyncServer::_accept() (ESPAsyncTCP.cpp:1215-1291) with AsyncWebServer::begin()'s
  // setNoDelay(true); the AsyncClient constructor sets arg, recv, sent, err and poll.
  tcp_nagle_disable(pcb);
  AsyncClient* client = new (std::nothrow) AsyncClient(pcb);
  if (client == nullptr) {
    ++refused_accepts_;
    tcp_abort(pcb);
    return ERR_ABRT;
  }
  if (forward_recv_ == nullptr) {
    forward_recv_ = pcb->recv;
    forward_sent_ = pcb->sent;
    forward_err_ = pcb->errf;
  }
  screen->pcb = pcb;
  screen->accepted_ms = millis();
  screen->head.reset();
  // Ours in front of AsyncClient's for the connection's life (tcp_arg stays the AsyncClient):
  // the recv one screens the head, and all three turn an abort inside the library's callback
  // into the ERR_ABRT lwIP needs (after_forward()).
  tcp_recv(pcb, &s_recv);
  tcp_sent(pcb, &s_sent);
  tcp_err(pcb, &s_err);
  // AsyncWebServer's accept lambda (WebServer.cpp:45-57). The request keeps itself alive.
  client->setRxTimeout(3);
  if (!AsyncWebServerRequest::create(server_, client)) {
    screen->pcb = nullptr;
    client->abort();  // tcp_abort(); no request, so nothing deletes the client meanwhile
    delete client;
    return ERR_ABRT;
  }
  return ERR_OK;
}

err_t HttpListener::recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  Screen* screen = screen_of(pcb);  // nullptr once the head is in: the rest passes straight on
  if (screen != nullptr) {
    if (p == nullptr || err != ERR_OK) {
      screen->pcb = nullptr;  // the peer closed (FIN) or lwIP reports an error: nothing to screen
    } else {
      HeadVerdict verdict = screen->head.verdict();
      for (const pbuf* q = p; q != nullptr && verdict == HeadVerdict::kReading; q = q->next) {
        verdict = screen->head.feed(static_cast<const uint8_t*>(q->payload), q->len);
      }
      if (verdict == HeadVerdict::kRefused) {
        screen->pcb = nullptr;
        ++refused_heads_;
        // tcp_abort() calls the pcb's err callback (s_err -> AsyncClient::_s_error,
        // ESPAsyncTCP.cpp:744-750), as a peer's RST does: the client forgets the pcb and reports
        // the disconnect, the request deletes itself and the client (WebRequest.cpp:95-101,
        // 283-292). Not client->abort(): it writes to the client after tcp_abort() returns
        // (ESPAsyncTCP.cpp:347-351), which the request has deleted by then. lwIP does not free
        // `p` after ERR_ABRT (tcp_in.c, "aborted:" drops its reference): we do.
        pbuf_free(p);
        tcp_abort(pcb);
        return ERR_ABRT;
      }
      if (verdict == HeadVerdict::kPassed) screen->pcb = nullptr;
    }
  }
  forwarding_arg_ = arg;
  forwarding_aborted_ = false;
  return after_forward(arg, forward_recv_(arg, pcb, p, err));
}

}  // namespace spore::esp8266
