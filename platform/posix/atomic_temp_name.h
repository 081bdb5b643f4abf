#pragma once
/// @file atomic_temp_name.h
/// The names of write_file_atomic()'s temporary files (state_store.h), made and recognised in one
/// place, so that the start-up clean-up (StateStore::open) removes exactly what spored itself
/// creates: `<target>.tmp.<pid>`, or `<target>.tmp.<pid>.<n>` (n = 1..kMaxAtomicTempSuffix) when
/// that name is taken (the temp file is created with O_EXCL and never reuses a name).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace spore::posix {

/// The largest `<n>` suffix write_file_atomic() tries before it gives up.
constexpr uint32_t kMaxAtomicTempSuffix = 7;

/// `<path>.tmp.<pid>` for attempt 0, `<path>.tmp.<pid>.<attempt>` after.
std::string atomic_temp_name(const std::string& path, pid_t pid, uint32_t attempt);

/// Whether `name` (a directory entry) is one of those names for some target: a non-empty target,
/// ".tmp.", a pid of 1..10 digits in 1..2^31-1 without leading zero, optionally "." and a suffix
/// of 1..kMaxAtomicTempSuffix. `*pid` gets the writer's pid (only when true).
bool is_atomic_temp_name(std::string_view name, pid_t* pid);

}  // namespace spore::posix
