// The emulated board's heap: the core's own umm_malloc (umm_malloc.cpp, compiled unchanged) over
// the chip's heap region at the chip's addresses, _heap_start (from this image's link map) to
// 0x3FFFC000 (umm_malloc_cfgport.h: UMM_HEAP_END_ADDR), mapped into this 32-bit process. Every
// malloc, free, calloc, realloc and strdup of the firmware, the core, the libraries and lwIP is
// routed here (the link's --wrap); glibc's own allocations stay in glibc's heap. So
// ESP.getFreeHeap(), getMaxFreeBlockSize() and getHeapFragmentation() answer from the same
// allocator, region and block size as on the chip, and a failed throwing new is the core's "OOM"
// reset (abi.cpp).
#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include <cstdint>
#include <climits>
#include <cstdio>
#include <cstring>

#include "board.h"

extern "C" {
void umm_init(void);
void* umm_board_malloc(size_t size);
void umm_board_free(void* p);
void* umm_board_calloc(size_t n, size_t size);
void* umm_board_realloc(void* p, size_t size);

size_t umm_free_heap_size_lw(void);
size_t umm_max_block_size(void);
int umm_fragmentation_metric(void);
}

namespace {
// The heap's low-water mark: the least free heap right after any allocation of the board's life
// (the allocator's O(1) counter, read on every allocation, so no transient minimum is missed).
uint32_t min_free_ = UINT32_MAX;
void* noted(void* p) {
  const uint32_t f = static_cast<uint32_t>(umm_free_heap_size_lw());
  if (f < min_free_) min_free_ = f;
  return p;
}
}  // namespace

extern "C" {
void* __wrap_malloc(size_t size) { return noted(umm_board_malloc(size)); }
void __wrap_free(void* p) { umm_board_free(p); }
void* __wrap_calloc(size_t n, size_t size) { return noted(umm_board_calloc(n, size)); }
void* __wrap_realloc(void* p, size_t size) { return noted(umm_board_realloc(p, size)); }
char* __wrap_strdup(const char* s) {
  const size_t n = std::strlen(s) + 1;
  char* d = static_cast<char*>(__wrap_malloc(n));
  if (d != nullptr) std::memcpy(d, s, n);
  return d;
}
}

void board_heap_reset_low_water() { min_free_ = UINT32_MAX; }

BoardHeapStats board_heap_stats() {
  BoardHeapStats s;
  s.free_bytes = static_cast<uint32_t>(umm_free_heap_size_lw());
  s.max_block_bytes = static_cast<uint32_t>(umm_max_block_size());
  s.fragmentation_pct = static_cast<uint32_t>(umm_fragmentation_metric());
  s.min_free_bytes = min_free_ == UINT32_MAX ? s.free_bytes : min_free_;
  return s;
}

namespace {
constexpr uint32_t kHeapEnd = 0x3FFFC000;  // umm_malloc_cfgport.h: UMM_HEAP_END_ADDR
void* sdk_block_ = nullptr;
}  // namespace

// _heap_start for umm_malloc_cfgport.h's UMM_MALLOC_CFG_HEAP_ADDR is given to the link with
// --defsym (build.sh). On the chip, app_entry runs umm_init() before any C++ constructor (the
// firmware's globals allocate in theirs): here a constructor of the first priority maps the region
// and runs umm_init() before the others.
extern "C" char _heap_start[];
namespace {
bool heap_mapped_ = false;
__attribute__((constructor(101))) void heap_map() {
  const uintptr_t start = reinterpret_cast<uintptr_t>(_heap_start);
  const uintptr_t page = start & ~uintptr_t{4095};
  void* p = mmap(reinterpret_cast<void*>(page), kHeapEnd - page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != reinterpret_cast<void*>(page)) {
    std::fprintf(stderr, "board: cannot map the heap region 0x%08lx..0x%08x\n", static_cast<unsigned long>(start), kHeapEnd);
    std::_Exit(1);
  }
  umm_init();
  heap_mapped_ = true;
}
}  // namespace

bool board_heap_init(uint32_t sdk_reserve_bytes) {
  // What the SDK's WiFi stack takes from the same heap once the radio is up (buffers, the
  // station's state): held for the board's life, taken before setup() as the SDK's user_init
  // precedes it, so every figure the firmware reports has it already taken.
  if (sdk_reserve_bytes > 0) sdk_block_ = umm_board_malloc(sdk_reserve_bytes);
  return heap_mapped_ && (sdk_reserve_bytes == 0 || sdk_block_ != nullptr);
}

// The core's abi.cpp (not compiled here: it also defines __dso_handle, which the host's C runtime
// owns): operator new takes the board's heap and a failed throwing new is the "OOM" reset
// (__unhandled_exception, board_esp.cpp), as with -fno-exceptions on the chip. The deletes are
// defined here too, so that memory new took from the board's heap goes back to it (libstdc++'s
// own operator delete would hand it to glibc).
extern "C" void __unhandled_exception(const char* str);
namespace {
void* new_or_oom(size_t size) {
  void* p = malloc(size);
  if (p == nullptr && size != 0) __unhandled_exception("OOM");  // abi.cpp: size 0 is no OOM
  return p;
}
}  // namespace
void* operator new(size_t size) { return new_or_oom(size); }
void* operator new[](size_t size) { return new_or_oom(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { free(p); }
