#pragma once
/// @file ota_progress.h
/// Where the OTA commands' progress and events go: stderr, one line at a time (several nodes
/// upload at once in a wave), or one bar redrawn in place for a single upload on a terminal.
/// Thread-safe: the nodes of a wave report from their own threads.

#include <cstdint>
#include <mutex>
#include <string>

#include "ota_logic.h"

namespace spore {
namespace cli {

class Reporter {
 public:
  /// kBar: one upload on a terminal; kLines: one upload, plain lines; kFinalOnly: several uploads
  /// at once (ota all), only the 100 % line of each, so a wave of 20 does not print 240 lines.
  enum class Mode { kBar, kLines, kFinalOnly };
  explicit Reporter(Mode mode) : bar_(mode == Mode::kBar), final_only_(mode == Mode::kFinalOnly) {}

  /// `prefix` (a node's hostname) is shown on one line, never broken: a '\n' in a hostname would
  /// forge progress lines (issue 18 attack, finding G). `text` is the CLI's own sentence; the
  /// node words it quotes were escaped where they entered it (short_hash, the restart field,
  /// check_member), so only the CLI's own hint lines keep their line breaks here.
  void line(const std::string& prefix, const std::string& text);

  /// A progress sample of one upload. `throttle` belongs to that upload.
  void progress(const std::string& prefix, ProgressThrottle& throttle, uint64_t sent, uint64_t total,
                double elapsed_s);

  /// Ends a bar in progress with a newline (nothing when none is shown).
  void end_bar();

 private:
  void clear_bar_locked();
  std::mutex mutex_;
  bool bar_;
  bool final_only_;
  bool bar_shown_ = false;
  double last_draw_s_ = -1;
};

}  // namespace cli
}  // namespace spore
