#include "spore/base/heap_size.h"

namespace spore {

uint32_t heap_code_from_bytes(uint64_t bytes) {
  if (bytes < kHeapCodeKibFlag) return static_cast<uint32_t>(bytes);
  const uint64_t kib = bytes >> 10;
  return kHeapCodeKibFlag | static_cast<uint32_t>(kib < kHeapCodeKibFlag - 1 ? kib : kHeapCodeKibFlag - 1);
}

}  // namespace spore
