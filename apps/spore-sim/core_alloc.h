#pragma once
/// @file core_alloc.h
/// The "no allocation after begin()" invariant (DESIGN.md §2), checked continuously by spore-sim:
/// core_alloc.cpp replaces the global operator new, and counts every allocation made inside a
/// core call (the runner brackets each call into a begun node through platform/sim's CallHooks:
/// a loop pass, a delivered datagram, a graceful leave) unless the core called back into the
/// simulator inside it (its UdpPort, whose queues allocate by design).
///
/// What it cannot see: malloc/calloc/realloc called directly (core calls none; grep core/spore),
/// and allocations by other threads (spore-sim runs on one). Host only.

#include <cstdint>

namespace spore_sim {

/// Allocations counted since the process started (never reset: callers take differences).
uint64_t core_allocations();

/// Allocations are counted between enter_core_call() and leave_core_call() (the core is
/// running), except between enter_simulator_call() and leave_simulator_call() inside that (the
/// simulator is running on the core's behalf: sending a datagram, recording an event). Both nest.
void enter_core_call();
void leave_core_call();
void enter_simulator_call();
void leave_simulator_call();

/// enter_core_call() .. leave_core_call() for a scope.
class CoreCallScope {
 public:
  CoreCallScope() { enter_core_call(); }
  ~CoreCallScope() { leave_core_call(); }
  CoreCallScope(const CoreCallScope&) = delete;
  CoreCallScope& operator=(const CoreCallScope&) = delete;
};

/// enter_simulator_call() .. leave_simulator_call() for a scope.
class SimulatorScope {
 public:
  SimulatorScope() { enter_simulator_call(); }
  ~SimulatorScope() { leave_simulator_call(); }
  SimulatorScope(const SimulatorScope&) = delete;
  SimulatorScope& operator=(const SimulatorScope&) = delete;
};

}  // namespace spore_sim
