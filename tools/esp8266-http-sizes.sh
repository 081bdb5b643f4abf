#!/usr/bin/env bash
# Object sizes behind the ESP8266 HTTP admission figures (platform/esp8266/README.md, "HTTP
# admission"): sizeof of ESPAsyncWebServer's per-parameter, per-header and per-answer objects as
# the ESP8266 compiler lays them out, compiled (never linked) by tools/esp8266-compile-check.sh
# against the trees the caller supplies. Heap per object = umm_malloc's 8-byte blocks with a
# 4-byte header: ceil((size + 4) / 8) * 8.
#
# Usage: tools/esp8266-http-sizes.sh ARDUINO AWS ATCP NEWLIB   (as esp8266-compile-check.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ $# -eq 4 ]] || { sed -n '2,8p' "$0" >&2; exit 2; }
probe=build/esp8266-check/http_sizes_probe.cpp
mkdir -p build/esp8266-check
cat >"$probe" <<'EOP'
#include <ESPAsyncWebServer.h>
#include <list>
// One std::list node = two pointers + the value.
template <typename T> struct Node { void* prev; void* next; T value; };
extern "C" {
extern const unsigned kString = sizeof(String);
extern const unsigned kParamNode = sizeof(Node<AsyncWebParameter>);
extern const unsigned kHeaderNode = sizeof(Node<AsyncWebHeader>);
extern const unsigned kRequest = sizeof(AsyncWebServerRequest);
extern const unsigned kBasicResponse = sizeof(AsyncBasicResponse);
extern const unsigned kStreamResponse = sizeof(AsyncResponseStream);
extern const unsigned kProgmemResponse = sizeof(AsyncProgmemResponse);
}
EOP
tools/esp8266-compile-check.sh "$@" "$probe" >/dev/null
obj=build/esp8266-check/http_sizes_probe.o
# Not left beside the platform objects, whose sizes SPORE_CHECK_SIZES lists.
trap 'rm -f "$obj" "$probe"' EXIT
for sym in kString kParamNode kHeaderNode kRequest kBasicResponse kStreamResponse kProgmemResponse; do
  line=$(xtensa-lx106-elf-nm -S "$obj" | awk -v s="$sym" '$4 == s')
  sec=$(xtensa-lx106-elf-objdump -t "$obj" | awk -v s="$sym" '$NF == s {print $(NF-2)}')
  off=$(awk '{print $1}' <<<"$line")
  hex=$(xtensa-lx106-elf-objcopy -O binary --only-section="$sec" "$obj" /dev/stdout | od -An -tu4 -j $((16#$off)) -N4 | tr -d ' ')
  printf '%-18s %5u B  heap %5u B\n' "$sym" "$hex" $(( (hex + 4 + 7) / 8 * 8 ))
done
