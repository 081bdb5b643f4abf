#pragma once
/// @file version.h
/// Version of the Linux programs. CMake may pass -DSPORE_VERSION="x.y.z" (PROJECT_VERSION).
///
/// The version a running spored reports ("firmwareVersion" in /api/node/status, sdkVersion,
/// --version) is read from a patchable slot in the executable, not from the compile-time macro:
/// the bytes `SPORE-VERSION-SLOT:<version>` padded with NULs to kVersionSlotBytes. Overwriting
/// them in a copy of the executable (same length, NUL-padded) gives a "new firmware" with another
/// version and another SHA-256 without compiling again, which is how the OTA tests make their
/// images (docs/linux-node.md, "Firmware updates").
#ifndef SPORE_VERSION
#define SPORE_VERSION "0.1.0"
#endif

#include <cstddef>

#include "spore/auth/image_version.h"

namespace spore::posix {

/// The slot's layout is core's (spore/auth/image_version.h): a node finds the same slot in an image it
/// is sent and refuses a signed one older than its own (docs/ota.md, "Downgrades").
/// Size of the whole slot, prefix and NUL padding included.
constexpr size_t kVersionSlotBytes = kImageVersionSlotBytes;
/// Length of "SPORE-VERSION-SLOT:", the marker in front of the version.
constexpr size_t kVersionSlotPrefixBytes = kImageVersionMarkerBytes;
/// Longest version the slot holds (it always keeps one NUL).
constexpr size_t kMaxSlotVersionBytes = kImageVersionMaxTextBytes;

/// The version in the slot: up to the first NUL, printable ASCII without spaces; SPORE_VERSION if
/// the slot holds nothing usable. Read once; the pointer stays valid.
const char* firmware_version();

}  // namespace spore::posix
