#pragma once
/// @file http_server.h
/// The REST API on Linux: cpp-httplib's server in front of core's RestApi.
///
/// Every request, whatever its path or method, becomes an spore::HttpRequest handed to
/// RestApi::handle() under `core_mutex`, the mutex the node loop holds while it runs core (core
/// is single-threaded; httplib serves from a small pool of its own threads). So unknown paths get
/// RestApi's JSON 404 too, and errors httplib produces itself (malformed request line, body over
/// the limit: 413, URI too long: 414) are rewritten as JSON {"error", "code"} as well.
///
/// Responses carry `Content-Type: application/json`, `Cache-Control: no-store`, and the
/// `Allow` / `WWW-Authenticate` headers RestApi asks for. A 202 (restart accepted) also carries
/// `Connection: close`, so no keep-alive connection pins a process that is about to exec().

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "spore/ports.h"
#include "spore/rest_api.h"

namespace spore::posix {

class HttpServer {
 public:
  /// Bodies larger than this get 413 without reaching RestApi.
  static constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;

  /// `api`, `core_mutex` and `log` (may be nullptr) must outlive the server.
  HttpServer(RestApi& api, std::mutex& core_mutex, LogSink* log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void set_max_body_bytes(size_t bytes) { max_body_bytes_ = bytes; }
  /// Worker threads serving requests (default 4).
  void set_threads(size_t threads) { threads_ = threads; }

  /// Binds `bind_ip`:`port` (port 0: the kernel picks, see port()) and starts serving on a
  /// background thread. False with a sentence in `*error` if the address cannot be bound (port in
  /// use, address not local, privileged port).
  bool start(const std::string& bind_ip, uint16_t port, std::string* error);
  /// Stops accepting, waits for in-flight requests to finish (their responses are sent), joins the
  /// threads. Idempotent. Must not be called with `core_mutex` held.
  void stop();
  bool running() const;
  uint16_t port() const { return port_; }

 private:
  struct Impl;
  RestApi& api_;
  std::mutex& core_mutex_;
  LogSink* log_;
  size_t max_body_bytes_ = kDefaultMaxBodyBytes;
  size_t threads_ = 4;
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
};

/// An spore::JsonOutput that appends to a std::string (host side only).
class StringJsonOutput : public spore::JsonOutput {
 public:
  explicit StringJsonOutput(std::string& out) : out_(out) {}
  void write(const char* data, size_t size_bytes) override { out_.append(data, size_bytes); }

 private:
  std::string& out_;
};

}  // namespace spore::posix
