// The chip's ROM functions the core's umm_malloc calls (umm_local.h, umm_local.c), for the
// emulated board. memset/memcpy/memmove are what the ROM's ets_mem* do; the two printing ones are
// in board_esp.cpp and write to the board's serial (stdout).
#pragma once
#include <stdarg.h>
#include <string.h>
#define ets_memset memset
#define ets_memcpy memcpy
#define ets_memmove memmove
#ifdef __cplusplus
extern "C" {
#endif
void ets_uart_putc1(char c);
int ets_vprintf(void (*putc)(char), const char* fmt, va_list ap);
#ifdef __cplusplus
}
#endif
