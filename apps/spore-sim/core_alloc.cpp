#include "core_alloc.h"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace spore_sim {
namespace {
// Plain globals, not atomics: spore-sim runs every node on one thread, and operator new is hot
// enough in the simulator's own containers that the check must cost next to nothing.
int g_core_depth = 0;
int g_simulator_depth = 0;
uint64_t g_core_allocations = 0;
}  // namespace

uint64_t core_allocations() { return g_core_allocations; }

void enter_core_call() { ++g_core_depth; }
void leave_core_call() { --g_core_depth; }
void enter_simulator_call() { ++g_simulator_depth; }
void leave_simulator_call() { --g_simulator_depth; }

namespace {
void note_allocation() {
  if (g_core_depth > 0 && g_simulator_depth == 0) ++g_core_allocations;
}

void* allocate(std::size_t size_bytes) {
  note_allocation();
  return std::malloc(size_bytes == 0 ? 1 : size_bytes);
}

void* allocate_aligned(std::size_t size_bytes, std::align_val_t alignment) {
  note_allocation();
  const std::size_t align = static_cast<std::size_t>(alignment);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = ((size_bytes == 0 ? 1 : size_bytes) + align - 1) / align * align;
  return std::aligned_alloc(align, rounded);
}
}  // namespace

}  // namespace spore_sim

// Replaceable global allocation functions ([new.delete]): every form, so nothing bypasses the
// counter. The simulator is built with exceptions, so the throwing forms throw as the standard's do.
void* operator new(std::size_t size_bytes) {
  void* p = spore_sim::allocate(size_bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t size_bytes) { return operator new(size_bytes); }
void* operator new(std::size_t size_bytes, const std::nothrow_t&) noexcept { return spore_sim::allocate(size_bytes); }
void* operator new[](std::size_t size_bytes, const std::nothrow_t&) noexcept {
  return spore_sim::allocate(size_bytes);
}
void* operator new(std::size_t size_bytes, std::align_val_t alignment) {
  void* p = spore_sim::allocate_aligned(size_bytes, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t size_bytes, std::align_val_t alignment) { return operator new(size_bytes, alignment); }
void* operator new(std::size_t size_bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return spore_sim::allocate_aligned(size_bytes, alignment);
}
void* operator new[](std::size_t size_bytes, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return spore_sim::allocate_aligned(size_bytes, alignment);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
