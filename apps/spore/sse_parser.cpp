#include "sse_parser.h"

namespace spore {
namespace cli {

namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr size_t kBomSize = 3;

bool only_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

SseParser::SseParser(SseLimits limits) : limits_(limits) {
  // A zero limit would drop every line; one byte is the least that still parses "\n".
  if (limits_.max_line_bytes == 0) limits_.max_line_bytes = 1;
}

void SseParser::reset() {
  line_.clear();
  line_too_long_ = false;
  line_is_comment_ = false;
  line_started_ = false;
  after_cr_ = false;
  at_stream_start_ = true;
  bom_matched_ = 0;
  data_.clear();
  has_data_ = false;
  event_.clear();
  id_.reset();
  poisoned_ = false;
}

void SseParser::feed(std::string_view bytes, std::vector<SseMessage>& out) {
  // The BOM is recognised byte by byte, so a chunk may end inside it.
  while (at_stream_start_ && !bytes.empty()) {
    if (bytes.front() == kBom[bom_matched_]) {
      bytes.remove_prefix(1);
      if (++bom_matched_ == kBomSize) at_stream_start_ = false;
      continue;
    }
    at_stream_start_ = false;
    // Not a BOM after all: the bytes that looked like one are ordinary text.
    take(std::string_view(kBom, bom_matched_), out);
  }
  take(bytes, out);
}

void SseParser::take(std::string_view bytes, std::vector<SseMessage>& out) {
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {  // CR LF is one line end
        bytes.remove_prefix(1);
        continue;
      }
    }
    const size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      append_to_line(bytes);
      return;
    }
    append_to_line(bytes.substr(0, end));
    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    end_line(out);
  }
}

void SseParser::append_to_line(std::string_view bytes) {
  if (bytes.empty()) return;
  if (!line_started_) {
    line_started_ = true;
    line_is_comment_ = bytes.front() == ':';
  }
  if (line_too_long_) return;
  if (line_.size() + bytes.size() > limits_.max_line_bytes) {
    line_too_long_ = true;
    ++stats_.long_lines;
    line_.clear();
    // A comment is not part of a message; any other line may be (a data line surely), and a
    // message with a line missing must not be shown as if it were whole.
    if (!line_is_comment_) poison();
    return;
  }
  line_.append(bytes.data(), bytes.size());
}

void SseParser::poison() {
  if (!poisoned_) ++stats_.dropped_events;
  poisoned_ = true;
  data_.clear();
  has_data_ = false;
}

void SseParser::end_line(std::vector<SseMessage>& out) {
  const bool skipped = line_too_long_;
  line_too_long_ = false;
  line_started_ = false;
  if (skipped) {
    line_.clear();
    return;
  }
  std::string_view line = line_;
  if (line.empty()) {
    dispatch(out);
  } else if (line.front() == ':') {
    ++stats_.comments;
    line.remove_prefix(1);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    last_comment_.assign(line.data(), line.size());
  } else {
    const size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    on_field(name, value);
  }
  line_.clear();
}

void SseParser::on_field(std::string_view name, std::string_view value) {
  if (name == "data") {
    if (poisoned_) return;
    const size_t grown = data_.size() + (has_data_ ? 1 : 0) + value.size();
    if (grown > limits_.max_event_bytes) {
      poison();
      return;
    }
    if (has_data_) data_.push_back('\n');
    data_.append(value.data(), value.size());
    has_data_ = true;
  } else if (name == "event") {
    event_.assign(value.data(), value.size());
  } else if (name == "id") {
    // The spec ignores an id with a NUL in it (it could not be sent back as Last-Event-ID).
    if (value.find('\0') != std::string_view::npos) return;
    id_ = std::string(value);
    last_event_id_ = *id_;
  } else if (name == "retry") {
    // More than 19 digits would overflow; such a value is no sensible delay anyway.
    if (!only_digits(value) || value.size() > 19) {
      ++stats_.bad_retry;
      return;
    }
    uint64_t v = 0;
    for (char c : value) v = v * 10 + static_cast<uint64_t>(c - '0');
    retry_ms_ = v;
  } else {
    ++stats_.unknown_fields;
  }
}

void SseParser::dispatch(std::vector<SseMessage>& out) {
  const bool deliver = has_data_ && !poisoned_;
  if (deliver) {
    SseMessage m;
    if (!event_.empty()) m.event = std::move(event_);
    m.data = std::move(data_);
    m.id = std::move(id_);
    out.push_back(std::move(m));
    ++stats_.messages;
  }
  data_.clear();
  has_data_ = false;
  event_.clear();
  id_.reset();
  poisoned_ = false;
}

}  // namespace cli
}  // namespace spore
