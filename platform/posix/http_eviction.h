#pragma once
/// @file http_eviction.h
/// Which connection a full HTTP server closes to make room for a new one (HttpServer, Linux).
///
/// A server that refuses new connections once it is full can be held full by anyone who opens
/// slow ones faster than they time out: the red team's 256 slow heads from 16 addresses made
/// every other client's request 503 at ~128 B/s of attacker traffic. So a full server takes the
/// new connection and closes one it already holds, chosen by choose_eviction():
///
///  1. from the client address holding the most connections (an attacker holds many per address;
///     a client making one request holds one);
///  2. among those, a connection that has waited at least `min_age_ms` in its state before a
///     younger one (a request head in flight on a LAN arrives within milliseconds);
///  3. then by state: a request head not complete yet (the first on its connection: slowest to
///     produce a head), then an idle keep-alive connection between requests, then a request body
///     still arriving;
///  4. then the one longest in that state.
///
/// Answers being sent, event streams, admitted uploads and the node's own connections are never
/// candidates (the caller leaves them out). No candidate: the new connection is the one refused.
/// An attacker who cannot outnumber a client's address can therefore not displace it; one
/// spreading over many addresses must open connections faster than a head crosses the LAN.

#include <cstddef>
#include <cstdint>

namespace spore::posix {

struct EvictionCandidate {
  enum class State : uint8_t {
    kBody,  ///< a request body is arriving (not an admitted upload)
    kIdle,  ///< a keep-alive connection between requests
    kHead,  ///< the connection's first request head is not complete yet
  };
  State state = State::kHead;
  /// How long the connection has been in `state`, ms.
  uint32_t age_ms = 0;
  /// Connections the candidate's client address holds (counted against the caps), itself included.
  size_t address_connections = 1;
};

/// The index in `candidates` (`count` of them) of the connection to close, or `count` when there
/// is none. Pure; the order is the one in the file comment.
size_t choose_eviction(const EvictionCandidate* candidates, size_t count, uint32_t min_age_ms);

}  // namespace spore::posix
