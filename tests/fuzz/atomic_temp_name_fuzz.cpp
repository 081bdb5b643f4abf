// libFuzzer target for the names of spored's temporary files (platform/posix/atomic_temp_name.h):
// the start-up clean-up reads every directory entry of the state dir through
// is_atomic_temp_name() and removes the stale ones, so it must recognise exactly the names
// atomic_temp_name() makes.
//
// Input: any bytes, taken as a directory entry name.
//
// Properties checked on every input, abort() on violation:
// - never crashes or reads out of bounds (ASan/UBSan);
// - recognised => the pid is 1..2^31-1 and the name is atomic_temp_name(target, pid, n) for the
//   target before its last ".tmp." and some n in 0..kMaxAtomicTempSuffix (a round trip), so
//   nothing but spored's own naming is ever removed;
// - the name made from the input (as target) with its length as pid is recognised with that pid.
//
// Seed corpus: tests/fuzz/corpus/atomic_temp_name/.

#include "../../platform/posix/atomic_temp_name.cpp"
#include "../../platform/posix/ota_trial_text.cpp"  // parse_decimal_u32()

#include <cstdlib>
#include <string>

namespace {

using namespace spore::posix;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);
  pid_t pid = 0;
  if (is_atomic_temp_name(name, &pid)) {
    check(pid >= 1);
    const std::string target = name.substr(0, name.rfind(".tmp."));
    bool made = false;
    for (uint32_t n = 0; n <= kMaxAtomicTempSuffix && !made; ++n) made = atomic_temp_name(target, pid, n) == name;
    check(made);
  } else {
    check(pid == 0);
  }
  if (!name.empty()) {
    const pid_t writer = static_cast<pid_t>(size);
    pid_t got = 0;
    check(is_atomic_temp_name(atomic_temp_name(name, writer, size % (kMaxAtomicTempSuffix + 1)), &got));
    check(got == writer);
  }
  return 0;
}
