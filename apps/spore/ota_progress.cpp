#include "ota_progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <iostream>

#include "terminal_safe.h"

namespace spore {
namespace cli {

namespace {

int terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

}  // namespace

void Reporter::line(const std::string& prefix, const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  clear_bar_locked();
  std::cerr << terminal_safe(prefix) << terminal_safe(text, Newlines::kKeep) << "\n" << std::flush;
}

void Reporter::progress(const std::string& prefix, ProgressThrottle& throttle, uint64_t sent, uint64_t total,
                        double elapsed_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bar_) {
    const bool done = sent >= total;
    if (!done && elapsed_s - last_draw_s_ < 0.1 && bar_shown_) return;
    last_draw_s_ = elapsed_s;
    std::cerr << "\r" << format_progress_bar(sent, total, elapsed_s, static_cast<size_t>(terminal_width() - 1))
              << "\033[K";
    bar_shown_ = true;
    if (done) {
      std::cerr << "\n";
      bar_shown_ = false;
    }
    std::cerr << std::flush;
    return;
  }
  if (final_only_ && sent < total) return;
  if (throttle.due(sent, total, elapsed_s)) {
    std::cerr << terminal_safe(prefix) << format_progress_line(sent, total, elapsed_s) << "\n" << std::flush;
  }
}

void Reporter::end_bar() {
  std::lock_guard<std::mutex> lock(mutex_);
  clear_bar_locked();
}

void Reporter::clear_bar_locked() {
  if (bar_shown_) {
    std::cerr << "\n";
    bar_shown_ = false;
  }
}

}  // namespace cli
}  // namespace spore
