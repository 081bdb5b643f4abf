#include "signals.h"

#include <signal.h>

namespace spored {

namespace {

std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_restart_requested{false};

void on_signal(int sig) { g_stop_signal.store(sig); }

sigset_t stop_set() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  return stop;
}

}  // namespace

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flag at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A restart blocks them across its exec() (block_stop_signals()): delivered now, to the handler.
  const sigset_t stop = stop_set();
  sigprocmask(SIG_UNBLOCK, &stop, nullptr);
}

std::atomic<int>& stop_signal() { return g_stop_signal; }

void request_restart() { g_restart_requested.store(true); }

bool restart_requested() { return g_restart_requested.load(); }

void block_stop_signals() {
  const sigset_t stop = stop_set();
  sigprocmask(SIG_BLOCK, &stop, nullptr);
}

}  // namespace spored
