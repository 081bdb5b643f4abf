#include "spore/ota/multipart.h"
#include "spore/http/http_text.h"

#include <cstring>

namespace spore {

namespace {

constexpr size_t kFailedScan = static_cast<size_t>(-1);



/// RFC 2046 bchars (space allowed, but not as the last character).
bool is_bchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'' || c == '(' ||
         c == ')' || c == '+' || c == '_' || c == ',' || c == '-' || c == '.' || c == '/' || c == ':' || c == '=' ||
         c == '?' || c == ' ';
}

/// Splits "a; b=\"x;y\"; c" at the next ';' outside a quoted string: returns the piece before
/// it and advances `rest` past it.
std::string_view next_param(std::string_view& rest) {
  bool quoted = false;
  size_t i = 0;
  for (; i < rest.size(); ++i) {
    const char c = rest[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      break;
    }
  }
  if (i > rest.size()) i = rest.size();
  const std::string_view piece = rest.substr(0, i);
  rest.remove_prefix(i < rest.size() ? i + 1 : rest.size());
  return trim_ows(piece);
}

/// Splits a parameter "name=value" and unquotes nothing; false without '='.
bool split_param(std::string_view param, std::string_view& name, std::string_view& value) {
  const size_t eq = param.find('=');
  if (eq == std::string_view::npos) return false;
  name = trim_ows(param.substr(0, eq));
  value = trim_ows(param.substr(eq + 1));
  return true;
}

/// Compares a parameter value (a token, or a quoted-string with backslash escapes) with `want`,
/// unescaping on the fly. An unterminated quoted string never matches.
bool value_equals(std::string_view value, std::string_view want) {
  if (value.empty() || value.front() != '"') return value == want;
  size_t w = 0;
  for (size_t i = 1; i < value.size(); ++i) {
    char c = value[i];
    if (c == '"') return w == want.size() && i + 1 == value.size();
    if (c == '\\') {
      if (++i >= value.size()) return false;
      c = value[i];
    }
    if (w >= want.size() || want[w] != c) return false;
    ++w;
  }
  return false;
}

}  // namespace

bool MultipartParser::fail(FlashStr why) {
  error_ = why;
  state_ = State::kFailed;
  capturing_ = false;
  return false;
}

bool MultipartParser::begin(std::string_view content_type, std::string_view part_name) {
  part_name_ = part_name;
  error_ = FlashStr();
  state_ = State::kIdle;
  pattern_len_ = 0;
  match_ = 0;
  tail_state_ = 0;
  capturing_ = false;
  found_part_ = false;
  part_selected_ = false;
  header_bytes_ = 0;
  line_len_ = 0;
  part_bytes_ = 0;

  std::string_view rest = content_type;
  if (!ascii_iequals(next_param(rest), "multipart/form-data")) {
    return fail(SPORE_FSTR("The Content-Type is not multipart/form-data."));
  }
  std::string_view boundary;
  bool have_boundary = false;
  while (!rest.empty()) {
    std::string_view name;
    std::string_view value;
    if (!split_param(next_param(rest), name, value) || !ascii_iequals(name, "boundary")) continue;
    if (!value.empty() && value.front() == '"') {
      // Boundaries are bchars only, none of which needs escaping: a backslash is refused below.
      if (value.size() < 2 || value.back() != '"')
        return fail(SPORE_FSTR("The multipart boundary has an unterminated quote."));
      value = value.substr(1, value.size() - 2);
    }
    boundary = value;
    have_boundary = true;
    break;
  }
  if (!have_boundary || boundary.empty())
    return fail(SPORE_FSTR("The multipart Content-Type has no boundary parameter."));
  if (boundary.size() > kMaxBoundaryBytes)
    return fail(SPORE_FSTR("The multipart boundary is longer than 70 characters."));
  for (char c : boundary) {
    if (!is_bchar(c)) return fail(SPORE_FSTR("The multipart boundary holds a character RFC 2046 does not allow."));
  }
  if (boundary.back() == ' ') return fail(SPORE_FSTR("The multipart boundary ends with a space."));

  // Delimiter = CRLF "--" boundary; the body is scanned as if preceded by CRLF, so a boundary at
  // its very start matches too.
  std::memcpy(pattern_, "\r\n--", 4);
  std::memcpy(pattern_ + 4, boundary.data(), boundary.size());
  pattern_len_ = static_cast<uint8_t>(4 + boundary.size());
  match_ = 2;
  state_ = State::kPreamble;
  return true;
}

bool MultipartParser::emit(const uint8_t* data, size_t size_bytes) {
  if (size_bytes == 0) return true;
  part_bytes_ += size_bytes;
  if (sink_ && !sink_(data, size_bytes)) return fail(SPORE_FSTR("The part's data was refused."));
  return true;
}

size_t MultipartParser::scan(const uint8_t* data, size_t size_bytes, bool capture, bool* found) {
  *found = false;
  // The pending (partially matched) bytes are always pattern_[0, m). `carried` of them arrived
  // in earlier chunks, so they are not in `data`; the rest are data[i - (m - carried), i).
  size_t m = match_;
  size_t carried = m;
  size_t i = 0;
  const auto* pattern = reinterpret_cast<const uint8_t*>(pattern_);
  while (i < size_bytes) {
    if (m == 0) {
      const void* cr = std::memchr(data + i, pattern[0], size_bytes - i);
      if (cr == nullptr) {
        i = size_bytes;
        break;
      }
      i = static_cast<size_t>(static_cast<const uint8_t*>(cr) - data) + 1;
      m = 1;
      continue;
    }
    if (data[i] == pattern[m]) {
      ++m;
      ++i;
      if (m == pattern_len_) {
        const size_t in_chunk = m - carried;
        if (capture && !emit(data, i - in_chunk)) return kFailedScan;
        match_ = 0;
        *found = true;
        return i;
      }
      continue;
    }
    // Mismatch. '\r' occurs only at the start of the delimiter (bchars exclude CR), so no proper
    // suffix of the pending bytes can start a new match: all of them are data, and data[i] is
    // looked at again as a possible start.
    if (carried > 0 && capture && !emit(pattern, carried)) return kFailedScan;
    carried = 0;
    m = 0;
  }
  // While carried > 0 every byte of this chunk is pending, so data[0, end) is all data.
  if (capture && !emit(data, size_bytes - (m - carried))) return kFailedScan;
  match_ = static_cast<uint8_t>(m);
  return size_bytes;
}

size_t MultipartParser::boundary_tail(const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; ++i) {
    const char c = static_cast<char>(data[i]);
    bool to_headers = false;
    switch (tail_state_) {
      case 0:  // right after the boundary
      case 2:  // transport padding
        if (c == '-' && tail_state_ == 0) {
          tail_state_ = 1;
        } else if (is_ows(c)) {
          tail_state_ = 2;
        } else if (c == '\r') {
          tail_state_ = 3;
        } else if (c == '\n') {
          to_headers = true;
        } else {
          fail(SPORE_FSTR("A multipart boundary is followed by other characters (boundary inside the data?)."));
          return kFailedScan;
        }
        break;
      case 1:
        if (c != '-') {
          fail(SPORE_FSTR("A multipart boundary is followed by a single '-'."));
          return kFailedScan;
        }
        state_ = State::kEpilogue;
        return i + 1;
      default:  // 3: CR seen
        if (c != '\n') {
          fail(SPORE_FSTR("A multipart boundary line does not end with CRLF."));
          return kFailedScan;
        }
        to_headers = true;
        break;
    }
    if (to_headers) {
      state_ = State::kHeaders;
      header_bytes_ = 0;
      line_len_ = 0;
      part_selected_ = false;
      return i + 1;
    }
  }
  return size_bytes;
}

void MultipartParser::header_line() {
  size_t kept = line_len_ < sizeof line_ ? line_len_ : sizeof line_;
  if (line_len_ <= sizeof line_ && kept > 0 && line_[kept - 1] == '\r') --kept;
  const std::string_view line(line_, kept);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !ascii_iequals(trim_ows(line.substr(0, colon)), "content-disposition")) return;
  std::string_view rest = line.substr(colon + 1);
  if (!ascii_iequals(next_param(rest), "form-data")) return;
  while (!rest.empty()) {
    std::string_view name;
    std::string_view value;
    if (!split_param(next_param(rest), name, value) || !ascii_iequals(name, "name")) continue;
    part_selected_ = value_equals(value, part_name_);
    return;
  }
}

size_t MultipartParser::headers(const uint8_t* data, size_t size_bytes) {
  for (size_t i = 0; i < size_bytes; ++i) {
    if (++header_bytes_ > SPORE_MULTIPART_MAX_HEADER_BYTES) {
      fail(SPORE_FSTR("A multipart part's headers are longer than the node accepts."));
      return kFailedScan;
    }
    const char c = static_cast<char>(data[i]);
    if (c != '\n') {
      if (line_len_ < sizeof line_) line_[line_len_] = c;
      ++line_len_;
      continue;
    }
    const bool empty = line_len_ == 0 || (line_len_ == 1 && line_[0] == '\r');
    if (!empty) {
      header_line();
      line_len_ = 0;
      continue;
    }
    // End of the part's headers: its body follows.
    line_len_ = 0;
    state_ = State::kBody;
    match_ = 0;
    capturing_ = part_selected_;
    if (part_selected_) {
      if (found_part_) {
        fail(SPORE_FSTR("The form has more than one firmware part."));
        return kFailedScan;
      }
      found_part_ = true;
    }
    return i + 1;
  }
  return size_bytes;
}

bool MultipartParser::feed(const uint8_t* data, size_t size_bytes) {
  if (state_ == State::kIdle) return fail(SPORE_FSTR("The multipart parser was not started."));
  if (state_ == State::kFailed) return false;
  if (data == nullptr && size_bytes > 0) return fail(SPORE_FSTR("No data."));
  while (size_bytes > 0) {
    size_t used = 0;
    bool found = false;
    switch (state_) {
      case State::kPreamble:
        used = scan(data, size_bytes, false, &found);
        break;
      case State::kBody:
        used = scan(data, size_bytes, capturing_, &found);
        break;
      case State::kBoundaryTail:
        used = boundary_tail(data, size_bytes);
        break;
      case State::kHeaders:
        used = headers(data, size_bytes);
        break;
      case State::kEpilogue:
        return true;  // after the closing boundary: ignored
      default:
        return false;
    }
    if (used == kFailedScan) return false;
    if (found) {
      capturing_ = false;
      state_ = State::kBoundaryTail;
      tail_state_ = 0;
    }
    data += used;
    size_bytes -= used;
  }
  return true;
}

bool MultipartParser::finish() {
  if (state_ == State::kFailed) return false;
  if (state_ == State::kIdle) return fail(SPORE_FSTR("The multipart parser was not started."));
  if (state_ != State::kEpilogue) {
    return fail(state_ == State::kPreamble ? SPORE_FSTR("The body holds no multipart boundary.")
                                           : SPORE_FSTR("The multipart body ended before its closing boundary."));
  }
  if (!found_part_) {
    return fail(part_name_ == kDefaultPartName
                    ? SPORE_FSTR("The form has no part named \"firmware\" (send: curl -F firmware=@image.bin ...).")
                    : SPORE_FSTR("The form has no part with the expected name."));
  }
  return true;
}

}  // namespace spore
