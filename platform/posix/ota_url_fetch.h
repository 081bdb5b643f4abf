#pragma once
/// @file ota_url_fetch.h
/// OTA from a URL on Linux: the MQTT bridge's `cmd/ota` (docs/mqtt.md) hands over an http:// URL;
/// this downloads it on a thread of its own and streams the body through the same
/// OtaUploadHandler as POST /api/node/update (size, magic, signature and flash checks, ota_*
/// events), so an image fetched from a URL is held to exactly the rules of an uploaded one. The
/// core mutex is held around each call into core, never while waiting for the network. On success
/// the handler's restart_pending() turns true and spored's loop restarts into the new image, as
/// after an upload.
///
/// One download at a time; http:// only (cpp-httplib is built without TLS here); the server must
/// answer 200 (redirects are not followed). Failures are logged and end as ota_failed.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "spore/ports.h"

namespace spore {
class OtaUploadHandler;
}

namespace spore::posix {

class OtaUrlFetch {
 public:
  /// Uploads start with OtaUploadHandler::start_authorized(): the command that asked (MQTT
  /// cmd/ota) was checked against the node's token already.
  OtaUrlFetch(OtaUploadHandler& ota, std::mutex& core_mutex, const Clock& clock, LogSink* log);
  ~OtaUrlFetch();
  OtaUrlFetch(const OtaUrlFetch&) = delete;
  OtaUrlFetch& operator=(const OtaUrlFetch&) = delete;

  /// Starts downloading `url` (http://host[:port]/path). False at once when a download is running
  /// or the URL is not one this can fetch. Called with the core mutex held (from the bridge).
  bool start(const char* url);
  /// Aborts a running download (its upload ends as aborted) and waits for the thread. Must not
  /// be called with the core mutex held.
  void stop();
  bool busy() const { return busy_.load(); }

  /// Splits an http:// URL; false for anything else (https, no host, a bad port).
  static bool parse_url(const std::string& url, std::string* host, uint16_t* port, std::string* path);

 private:
  void run(std::string host, uint16_t port, std::string path);
  void log(LogLevel level, const std::string& line);

  OtaUploadHandler& ota_;
  std::mutex& core_mutex_;
  const Clock& clock_;
  LogSink* log_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace spore::posix
