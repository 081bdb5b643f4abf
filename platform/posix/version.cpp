#include "posix/version.h"

#include <cstring>

namespace spore::posix {

namespace {

// The literal below is the only place the marker occurs in the binary (firmware_version() skips the
// prefix by its length instead of comparing it), so a patch tool finds exactly one slot.
// `volatile` makes every read load the bytes from the image: without it the compiler could fold
// the string into the code that uses it and a patched slot would not be seen. `used` keeps it even
// when nothing else seems to need it.
static_assert(sizeof("SPORE-VERSION-SLOT:") - 1 == kVersionSlotPrefixBytes, "prefix length");
static_assert(sizeof("SPORE-VERSION-SLOT:" SPORE_VERSION) <= kVersionSlotBytes, "SPORE_VERSION too long for the slot");
__attribute__((used)) const volatile char kVersionSlot[kVersionSlotBytes] = "SPORE-VERSION-SLOT:" SPORE_VERSION;

struct SlotVersion {
  char text[kMaxSlotVersionBytes + 1] = {};
  SlotVersion() {
    size_t n = 0;
    for (size_t i = kVersionSlotPrefixBytes; i < kVersionSlotBytes && n < kMaxSlotVersionBytes; ++i) {
      const char c = kVersionSlot[i];
      if (c <= ' ' || c > '~') break;  // NUL padding, or bytes that are no version
      text[n++] = c;
    }
    if (n == 0) std::strncpy(text, SPORE_VERSION, kMaxSlotVersionBytes);
  }
};

}  // namespace

const char* firmware_version() {
  static const SlotVersion version;
  return version.text;
}

}  // namespace spore::posix
