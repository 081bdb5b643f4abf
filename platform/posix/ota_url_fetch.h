#pragma once
/// @file ota_url_fetch.h
/// OTA from a URL on Linux: the MQTT bridge's `cmd/ota` (docs/mqtt.md) hands over an http:// URL;
/// this downloads it on a thread of its own and streams the body through the same
/// OtaUploadHandler as POST /api/node/update (size, magic, signature and flash checks, ota_*
/// events), so an image fetched from a URL is held to exactly the rules of an uploaded one. The
/// core mutex is held around each call into core, never while waiting for the network, so the
/// node loop (heartbeats, probes, MQTT) runs on during the whole download. On success the
/// handler's restart_pending() turns true and spored's loop restarts into the new image, as after
/// an upload.
///
/// One download at a time; http:// only (cpp-httplib is built without TLS here); the server must
/// answer 200 (redirects are not followed). Failures are logged and end as ota_failed.
///
/// Bounded and cancellable (issue 18, finding 10): a download has an overall deadline
/// (set_deadline_ms(), spored's --ota-url-timeout-s, 300 s by default) from its start to its last
/// byte, enforced by poll() from the node loop; cancel() ends it at once whatever it waits for
/// (connecting, the answer's head, the next body byte), by shutting its socket down (a duplicate of
/// the descriptor cpp-httplib connects, taken in its socket-options hook, so a descriptor number
/// reused after httplib closed its own is never touched). A host name is resolved before that
/// socket exists: a name lookup that hangs is not cancelled (use an address in the URL).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "spore/base/ports.h"

namespace spore {
class OtaUploadHandler;
}

namespace spore::posix {

class OtaUrlFetch {
 public:
  /// The overall deadline of one download unless set_deadline_ms() says otherwise.
  static constexpr uint32_t kDefaultDeadlineMs = 300000;

  /// Uploads start with OtaUploadHandler::start_authorized(): the command that asked (MQTT
  /// cmd/ota) was checked against the node's token already.
  OtaUrlFetch(OtaUploadHandler& ota, std::mutex& core_mutex, const Clock& clock, LogSink* log);
  ~OtaUrlFetch();
  OtaUrlFetch(const OtaUrlFetch&) = delete;
  OtaUrlFetch& operator=(const OtaUrlFetch&) = delete;

  /// Every download's source address (an IPv4 literal: spored's --bind); "" = the kernel picks.
  /// Set before the first start().
  void set_source_address(const std::string& ip) { source_address_ = ip; }
  /// Overall limit of one download, connection to last byte, in ms (at least 1). Before start().
  void set_deadline_ms(uint32_t deadline_ms) { deadline_ms_ = deadline_ms > 0 ? deadline_ms : 1; }

  /// Starts downloading `url` (http://host[:port]/path); `allow_downgrade` as the query parameter
  /// of POST /api/node/update. False at once when a download is running or the URL is not one
  /// this can fetch. Called with the core mutex held (from the bridge).
  bool start(const char* url, bool allow_downgrade);
  /// From the node loop (core mutex held or not): cancels a download past its deadline.
  void poll();
  /// Ends a running download now (its upload ends as aborted; the running image stays) without
  /// waiting for its thread. Any thread; no-op when none runs.
  void cancel();
  /// cancel(), then waits for the thread (a cancelled download ends within milliseconds). Must
  /// not be called with the core mutex held.
  void stop();
  bool busy() const { return busy_.load(); }

  /// Splits an http:// URL; false for anything else (https, no host, a bad port).
  static bool parse_url(const std::string& url, std::string* host, uint16_t* port, std::string* path);

 private:
  void run(std::string host, uint16_t port, std::string path, bool allow_downgrade);
  void log(LogLevel level, const std::string& line);
  /// cpp-httplib's socket-options hook: keeps a duplicate of the download's socket for cancel().
  void on_socket(int sock);
  void shut_down_locked();

  OtaUploadHandler& ota_;
  std::mutex& core_mutex_;
  const Clock& clock_;
  LogSink* log_;
  std::string source_address_;
  uint32_t deadline_ms_ = kDefaultDeadlineMs;
  std::atomic<bool> busy_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> timed_out_{false};
  std::atomic<uint32_t> started_ms_{0};
  std::mutex socket_mutex_;  // guards watch_fd_
  int watch_fd_ = -1;        // duplicate of the download's socket, -1 when none
  std::thread thread_;
};

}  // namespace spore::posix
