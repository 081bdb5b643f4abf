#pragma once
/// @file log_sink.h
/// spore::LogSink on stderr: one line per message, "2025-05-01T12:34:56.789Z I message", with a
/// level filter. Thread-safe (the HTTP threads and the node loop may both log); each line is one
/// write(2), so lines from several processes sharing a terminal do not interleave mid-line.

#include <atomic>
#include <string_view>

#include "spore/base/ports.h"

namespace spore::posix {

class StderrLogSink : public spore::LogSink {
 public:
  explicit StderrLogSink(LogLevel max_level = LogLevel::kInfo, int fd = 2) : max_level_(max_level), fd_(fd) {}
  /// Lines above `level` (more verbose) are dropped.
  void set_level(LogLevel level) { max_level_.store(level); }
  LogLevel level() const { return max_level_.load(); }
  /// Optional tag printed after the level (e.g. the hostname), at most 31 bytes.
  void set_tag(std::string_view tag);

  void write(LogLevel level, const char* message) override;
  /// printf-style convenience for platform code.
  void logf(LogLevel level, const char* format, ...) __attribute__((format(printf, 3, 4)));

 private:
  std::atomic<LogLevel> max_level_;
  int fd_;
  char tag_[32] = {};
};

/// "error" | "warn" | "info" | "debug" (also "warning"), case-sensitive lower case.
bool parse_log_level(std::string_view text, LogLevel* out);
const char* log_level_name(LogLevel level);

}  // namespace spore::posix
