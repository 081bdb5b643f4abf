#include "posix/ota_url_fetch.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "posix/http_server.h"
#include "spore/ota/ota_upload.h"

namespace spore::posix {

OtaUrlFetch::OtaUrlFetch(OtaUploadHandler& ota, std::mutex& core_mutex, const Clock& clock, LogSink* log)
    : ota_(ota), core_mutex_(core_mutex), clock_(clock), log_(log) {}

OtaUrlFetch::~OtaUrlFetch() { stop(); }

bool OtaUrlFetch::parse_url(const std::string& url, std::string* host, uint16_t* port, std::string* path) {
  static const std::string kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) return false;
  const size_t slash = url.find('/', kScheme.size());
  const std::string authority = url.substr(kScheme.size(), slash == std::string::npos ? std::string::npos : slash - kScheme.size());
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  const size_t colon = authority.rfind(':');
  *host = authority.substr(0, colon);
  *port = 80;
  if (colon != std::string::npos) {
    const std::string digits = authority.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long p = std::strtoul(digits.c_str(), nullptr, 10);
    if (p == 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  }
  return !host->empty() && host->find_first_of("@[]") == std::string::npos;
}

bool OtaUrlFetch::start(const char* url, bool allow_downgrade) {
  std::string host, path;
  uint16_t port = 0;
  if (busy_.load() || ota_.busy() || !parse_url(url, &host, &port, &path)) return false;
  if (thread_.joinable()) thread_.join();  // the previous download's thread, finished
  busy_.store(true);
  stopping_.store(false);
  timed_out_.store(false);
  started_ms_.store(clock_.now_ms());
  thread_ = std::thread([this, host, port, path, allow_downgrade] { run(host, port, path, allow_downgrade); });
  return true;
}

void OtaUrlFetch::shut_down_locked() {
  // Wakes whatever the download waits in (connect, the answer's head, a body read): its socket
  // reads EOF, or its connection attempt is aborted, and cpp-httplib returns with an error.
  if (watch_fd_ >= 0) ::shutdown(watch_fd_, SHUT_RDWR);
}

void OtaUrlFetch::cancel() {
  std::lock_guard<std::mutex> lock(socket_mutex_);
  if (!busy_.load()) return;
  stopping_.store(true);
  shut_down_locked();
}

void OtaUrlFetch::poll() {
  if (!busy_.load() || stopping_.load() || elapsed_ms(clock_.now_ms(), started_ms_.load()) < deadline_ms_) return;
  timed_out_.store(true);
  cancel();
}

void OtaUrlFetch::stop() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void OtaUrlFetch::on_socket(int sock) {
  std::lock_guard<std::mutex> lock(socket_mutex_);
  // One socket per address tried; the last is the one that connects.
  if (watch_fd_ >= 0) ::close(watch_fd_);
  watch_fd_ = ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (stopping_.load()) shut_down_locked();  // cancelled before the socket existed
}

void OtaUrlFetch::log(LogLevel level, const std::string& line) {
  if (log_ != nullptr) log_->write(level, line.c_str());
}

void OtaUrlFetch::run(std::string host, uint16_t port, std::string path, bool allow_downgrade) {
  const std::string where = "http://" + host + ":" + std::to_string(port) + path;
  log(LogLevel::kInfo, "ota: downloading " + where + (source_address_.empty() ? "" : " from " + source_address_) +
                           (allow_downgrade ? " (downgrade allowed)" : "") + ", deadline " +
                           std::to_string(deadline_ms_ / 1000) + " s");
  httplib::Client client(host, port);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(30, 0);  // between bytes; the overall deadline (poll()) usually ends it first
  // The node's own address, as every other packet it sends (an IPv4 literal: httplib binds it when
  // no interface has that name, httplib.h 0.11.4 create_client_socket()).
  if (!source_address_.empty()) client.set_interface(source_address_);
  client.set_socket_options([this](int sock) { on_socket(sock); });
  uint32_t upload_id = 0;
  std::string refusal;
  bool body_ok = true;
  httplib::Result res = client.Get(
      path.c_str(), httplib::Headers{},
      [&](const httplib::Response& r) {
        if (r.status != 200) {
          refusal = "the server answered HTTP " + std::to_string(r.status);
          return false;
        }
        size_t length = 0;
        if (r.has_header("Content-Length")) length = std::strtoull(r.get_header_value("Content-Length").c_str(), nullptr, 10);
        std::string answer;
        StringJsonOutput out(answer);
        std::lock_guard<std::mutex> lock(core_mutex_);
        const int status =
            ota_.start_authorized("application/octet-stream", length, clock_.now_ms(), out, allow_downgrade);
        if (status != 0) {
          refusal = "refused: " + answer;
          return false;
        }
        upload_id = ota_.upload_id();
        return true;
      },
      [&](const char* data, size_t size) {
        if (stopping_.load()) return body_ok = false;
        std::lock_guard<std::mutex> lock(core_mutex_);
        body_ok = ota_.body(reinterpret_cast<const uint8_t*>(data), size, clock_.now_ms(), upload_id);
        return body_ok;
      });
  {
    std::lock_guard<std::mutex> lock(socket_mutex_);
    if (watch_fd_ >= 0) ::close(watch_fd_);
    watch_fd_ = -1;
  }
  if (timed_out_.load()) {
    refusal = "gave up after the download deadline of " + std::to_string(deadline_ms_ / 1000) + " s";
  } else if (stopping_.load()) {
    refusal = "cancelled (the node is stopping)";
  }
  if (upload_id != 0) {
    const bool complete = res && res->status == 200 && body_ok && !stopping_.load();
    std::string answer;
    StringJsonOutput out(answer);
    int status = 0;
    {
      std::lock_guard<std::mutex> lock(core_mutex_);
      status = ota_.finish(complete, clock_.now_ms(), out, upload_id);
    }
    log(status == 200 ? LogLevel::kInfo : LogLevel::kWarn,
        "ota: " + where + ": " + (refusal.empty() ? "" : refusal + ": ") + answer);
  } else {
    if (refusal.empty()) refusal = "download failed: " + httplib::to_string(res.error());
    if (res.error() == httplib::Error::BindIPAddress) refusal += " (source address " + source_address_ + ")";
    log(LogLevel::kWarn, "ota: " + where + ": " + refusal);
  }
  busy_.store(false);
}

}  // namespace spore::posix
