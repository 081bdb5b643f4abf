// The emulated board's StackThunk.h, in place of the core's (cores/esp8266/StackThunk.h, whose
// make_stack_thunk() is xtensa assembly that swaps the stack pointer). The block is still taken
// from the board's heap (6,200 B, StackThunk.cpp's _stackSize), so heap figures stay the chip's;
// the thunked function runs on the host thread's stack. board_esp.cpp holds the functions.
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void stack_thunk_add_ref();
void stack_thunk_del_ref();
uint32_t stack_thunk_get_refcnt();
uint32_t stack_thunk_get_max_usage();
void stack_thunk_fatal_smashing();
#ifdef __cplusplus
}
#endif
// thunk_<fn>(args...) calls fn(args...) directly.
#define make_stack_thunk(fn) \
  extern "C" __typeof__(fn) thunk_##fn __attribute__((alias(#fn)));
