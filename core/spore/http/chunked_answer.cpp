#include "spore/http/chunked_answer.h"

#include <cstring>

namespace spore {

bool write_whole_answer(AnswerSource source, JsonOutput& out, bool json) {
  AnswerCursor cursor;
  JsonWriter w(out);
  while (source(cursor, w)) {
  }
  return !json || w.complete();
}

void ChunkedAnswer::write(const char* data, size_t size_bytes) {
  if (failed_ || size_bytes == 0) return;
  if (size_bytes > sizeof carry_ - carry_len_) {
    // A unit longer than the carry: its bytes cannot all be kept, so none of the answer may go
    // out as if complete.
    failed_ = true;
    return;
  }
  std::memcpy(carry_ + carry_len_, data, size_bytes);
  carry_len_ = static_cast<uint16_t>(carry_len_ + size_bytes);
}

void ChunkedAnswer::start(AnswerSource source, bool json) {
  if (started_ || !source) {
    failed_ = true;
    return;
  }
  started_ = true;
  source_ = source;
  json_ = json;
  more_ = true;
}

size_t ChunkedAnswer::fill(char* buffer, size_t capacity_bytes) {
  size_t n = 0;
  while (!failed_ && n < capacity_bytes) {
    if (pending() > 0) {
      size_t take = pending();
      if (take > capacity_bytes - n) take = capacity_bytes - n;
      std::memcpy(buffer + n, carry_ + carry_pos_, take);
      carry_pos_ = static_cast<uint16_t>(carry_pos_ + take);
      n += take;
      continue;
    }
    // The carry is drained: the next unit is rendered into it whole, at its start.
    carry_len_ = 0;
    carry_pos_ = 0;
    if (!more_) break;
    more_ = source_(cursor_, writer_);
    if (!more_ && json_ && !writer_.complete()) failed_ = true;
  }
  if (failed_) return 0;
  sent_bytes_ += n;
  return n;
}

}  // namespace spore
