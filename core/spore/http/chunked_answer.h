#pragma once
/// @file chunked_answer.h
/// Answers rendered piece by piece into the buffers an HTTP library supplies, so that no answer
/// needs more memory than one fixed buffer, whatever the size of the cluster.
///
/// An answer that can be large (GET /api/cluster/members: ~700 B per member; GET /api/node/status
/// with its API list; GET /metrics) is an AnswerSource: a function that writes the next *unit* of
/// the answer (a member's head, one API entry, one metrics line, ...) and says whether more follow.
/// Every unit is rendered whole at one instant, from the data as it is then, and is at most
/// SPORE_ANSWER_CARRY_BYTES long. The source keeps its place in an AnswerCursor (which member,
/// which API entry) rather than as a byte offset, so the table may change between two units:
///  - members are written in increasing node-id order (the node itself first), the next one found
///    afresh each time, so a member added or removed meanwhile is written whole or not at all, and
///    none twice;
///  - a member's own fields come from the copy taken when its first unit was written; if its API
///    list changes under the answer (the member left, restarted or announced another list) the
///    list ends where it is and the entry says "detailsTruncated": true;
///  - commas and nesting are kept by one JsonWriter that lives as long as the answer, so they are
///    right whatever was skipped.
///
/// Two ways to run a source:
///  - write_whole_answer(): all units straight into a JsonOutput (the Linux server's string, a
///    test's buffer) — the one-shot rendering;
///  - ChunkedAnswer: the ESP8266 adapter's response object owns one; the library calls fill() with
///    its send buffer whenever TCP has room. A unit that does not fit what is left of that buffer
///    waits in the answer's carry buffer and goes out first on the next call: no byte is lost or
///    reordered, so the bytes are exactly the one-shot rendering's for a table that does not change.
///
/// Allocation-free; a ChunkedAnswer is about SPORE_ANSWER_CARRY_BYTES + 150 bytes.

#include <cstddef>
#include <cstdint>

#include "spore/base/delegate.h"
#include "spore/base/json_writer.h"
#include "spore/base/limits.h"
#include "spore/cluster/member_table.h"

namespace spore {

/// Where an AnswerSource is in its answer. Zero-initialized at the start of an answer; only the
/// source reads or writes it.
struct AnswerCursor {
  uint32_t part = 0;    ///< which part of the answer comes next (the source's own numbering)
  uint32_t step = 0;    ///< position inside that part (a member's head, resources, API list, tail)
  uint32_t index = 0;   ///< position inside a list (an API entry, a metrics sample slot)
  uint32_t key = 0;     ///< ordering key of the last element written (members: its node id)
  uint32_t now_ms = 0;  ///< the answer's clock, read when it started
  bool cut = false;     ///< the element in progress changed under the answer (its list ended early)
  Member member;        ///< the element in progress, copied when its first unit was written
};

/// Writes the next unit of an answer (at most SPORE_ANSWER_CARRY_BYTES; possibly nothing) through
/// the writer (a text answer: raw bytes to JsonWriter::output()) and returns true while more units
/// follow, false after the last one.
using AnswerSource = Delegate<bool(AnswerCursor&, JsonWriter&)>;

/// Runs `source` from its start to its end into `out`. Returns false when a JSON answer (`json`)
/// did not come out as one complete document (a bug in the source).
bool write_whole_answer(AnswerSource source, JsonOutput& out, bool json);

/// An answer handed out in pieces of whatever size the caller asks for.
///
/// Before start(), it is a plain JsonOutput: what is written to it (a small answer written in one
/// piece: an error, the challenge) is kept in the carry buffer; more than SPORE_ANSWER_CARRY_BYTES
/// makes it failed(). start() then attaches a source whose units follow those bytes.
class ChunkedAnswer final : public JsonOutput {
 public:
  ChunkedAnswer() = default;
  ChunkedAnswer(const ChunkedAnswer&) = delete;
  ChunkedAnswer& operator=(const ChunkedAnswer&) = delete;

  void write(const char* data, size_t size_bytes) override;
  ChunkedAnswer* chunked_answer() override { return this; }

  /// The rest of the answer comes from `source` (`json`: it must end as one complete document).
  /// Once per answer; a second call fails the answer.
  void start(AnswerSource source, bool json);

  /// Copies the next bytes of the answer into `buffer` (at most `capacity_bytes`), rendering units
  /// as needed, and returns how many. Returns 0 only when the answer is over: finished() (every
  /// byte handed out) or failed(). Never returns part of a unit that did not render completely.
  size_t fill(char* buffer, size_t capacity_bytes);

  /// The answer cannot be completed: a unit (or the bytes written before start()) exceeded the
  /// carry buffer, start() was called twice, or a JSON source ended with an incomplete document.
  /// The caller must not send what it has as a complete answer: before the head, answer an error
  /// instead; after it, close the connection (a chunked body without its last chunk).
  bool failed() const { return failed_; }
  /// Every byte of a complete answer was handed out by fill().
  bool finished() const { return !failed_ && !more_ && pending() == 0; }
  /// Bytes handed out by fill() so far.
  size_t sent_bytes() const { return sent_bytes_; }

 private:
  size_t pending() const { return carry_len_ - carry_pos_; }

  AnswerCursor cursor_{};
  JsonWriter writer_{*this};
  AnswerSource source_;
  size_t sent_bytes_ = 0;
  uint16_t carry_len_ = 0;
  uint16_t carry_pos_ = 0;
  bool more_ = false;
  bool json_ = false;
  bool started_ = false;
  bool failed_ = false;
  char carry_[SPORE_ANSWER_CARRY_BYTES];
};

static_assert(SPORE_ANSWER_CARRY_BYTES >= 320 && SPORE_ANSWER_CARRY_BYTES <= 0xFFFF,
              "SPORE_ANSWER_CARRY_BYTES must hold the longest unit (320 B: an upload refusal) and fit 16 bits");

}  // namespace spore
