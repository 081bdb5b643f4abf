#include "posix/log_sink.h"

#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace spore::posix {

void StderrLogSink::set_tag(std::string_view tag) {
  const size_t n = tag.size() < sizeof tag_ - 1 ? tag.size() : sizeof tag_ - 1;
  std::memcpy(tag_, tag.data(), n);
  tag_[n] = '\0';
}

void StderrLogSink::write(LogLevel level, const char* message) {
  if (static_cast<uint8_t>(level) > static_cast<uint8_t>(max_level_.load())) return;
  static const char kLetters[] = {'E', 'W', 'I', 'D'};
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char line[512];
  const int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %c %s%s%s\n",
                              utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                              utc.tm_sec, ts.tv_nsec / 1000000, kLetters[static_cast<uint8_t>(level) & 3], tag_,
                              tag_[0] != '\0' ? ": " : "", message);
  if (n <= 0) return;
  size_t len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
  if (static_cast<size_t>(n) >= sizeof line) line[len - 1] = '\n';  // truncated: still one line
  ssize_t ignored = ::write(fd_, line, len);
  (void)ignored;
}

void StderrLogSink::logf(LogLevel level, const char* format, ...) {
  if (static_cast<uint8_t>(level) > static_cast<uint8_t>(max_level_.load())) return;
  char message[400];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  write(level, message);
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  if (text == "error") *out = LogLevel::kError;
  else if (text == "warn" || text == "warning") *out = LogLevel::kWarn;
  else if (text == "info") *out = LogLevel::kInfo;
  else if (text == "debug") *out = LogLevel::kDebug;
  else return false;
  return true;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace spore::posix
