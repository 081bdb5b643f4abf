#pragma once
/// @file signals.h
/// spored's stop and restart requests: SIGTERM/SIGINT stop it; REST's and MQTT's restart, and a
/// new image, restart it (exec()). The loop polls both flags.

#include <atomic>

namespace spored {

/// SIGTERM / SIGINT handlers (no SA_RESTART: a wait returns EINTR at once), SIGPIPE ignored, and
/// the stop signals unblocked (a restart blocks them across its exec()).
void install_signals();
/// The stop signal received, 0 while none.
std::atomic<int>& stop_signal();
/// RestApi's and MqttBridge's restart handler.
void request_restart();
bool restart_requested();
/// From a restart's decision until the new image's install_signals(): a SIGTERM then stays
/// pending instead of killing the process before it could leave gracefully.
void block_stop_signals();

}  // namespace spored
