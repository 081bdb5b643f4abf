#include "spore/device/safe_mode.h"

#include "spore/base/ports.h"

namespace spore {

namespace {

// "SPSM": SPORE safe mode. The check word makes a torn write or stray RTC contents read as blank.
constexpr uint32_t kMagic = 0x5350534D;

uint32_t check_of(uint32_t count) { return ~(kMagic ^ count); }

}  // namespace

bool SafeMode::begin(uint32_t now_ms, bool power_on) {
  uint32_t words[SafeModeStore::kWords] = {};
  uint32_t count = 0;
  if (!power_on && store_.load(words) && words[0] == kMagic && words[2] == check_of(words[1])) count = words[1];
  failed_boots_ = static_cast<uint8_t>(count > 255 ? 255 : count);
  active_ = config_.boot_attempts != 0 && count >= config_.boot_attempts;
  begun_ = true;
  stable_ = false;
  timed_out_ = false;
  started_ms_ = now_ms;
  // Entering safe mode starts the count over, so after its timeout a normal boot gets
  // boot_attempts more tries (ESPHome does the same); a boot loop in safe mode itself then
  // alternates with normal attempts instead of never trying the normal image again.
  store_count(active_ ? 0 : count + 1);
  return active_;
}

SafeModeEvent SafeMode::poll(uint32_t now_ms, bool busy) {
  if (!begun_) return SafeModeEvent::kNone;
  const uint32_t up_ms = elapsed_ms(now_ms, started_ms_);
  if (!active_ && !stable_ && up_ms >= config_.stable_after_ms) {
    stable_ = true;
    store_count(0);
    return SafeModeEvent::kBootStable;
  }
  if (active_ && !timed_out_ && !busy && up_ms >= config_.timeout_ms) {
    timed_out_ = true;
    return SafeModeEvent::kTimeout;
  }
  return SafeModeEvent::kNone;
}

void SafeMode::clear() {
  if (begun_) store_count(0);
}

void SafeMode::store_count(uint32_t count) {
  const uint32_t words[SafeModeStore::kWords] = {kMagic, count, check_of(count)};
  store_.save(words);  // a failed save only means the next boot counts from 0: nothing to undo
}

}  // namespace spore
