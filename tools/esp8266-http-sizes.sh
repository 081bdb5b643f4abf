#!/usr/bin/env bash
# Object sizes behind the ESP8266 HTTP admission figures (platform/esp8266/README.md, "HTTP
# admission"): sizeof of ESPAsyncWebServer's per-parameter, per-header and per-answer objects as
# the ESP8266 compiler lays them out, compiled (never linked) by tools/esp8266-compile-check.sh
# against the trees the caller supplies. Heap per object = umm_malloc's 8-byte blocks with a
# 4-byte header: ceil((size + 4) / 8) * 8. Also the objects of one accepted connection and, from
# them and core/spore/base/limits.h, the heap one request head can take at the head screen's limits
# (HttpListener::kHeadWorstCaseBytes, platform/esp8266/http_listener.h; README "Known limits").
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
#include <lwip/tcp.h>
#include <list>
#include <memory>
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
extern const unsigned kClient = sizeof(AsyncClient);
// make_shared's block (ESPAsyncTCP.cpp:219) and shared_ptr<T>(p)'s (ESPAsyncWebServer.h:522).
extern const unsigned kTrackerBlock = sizeof(std::_Sp_counted_ptr_inplace<ACErrorTracker, std::allocator<ACErrorTracker>, __gnu_cxx::_S_atomic>);
extern const unsigned kRequestBlock = sizeof(std::_Sp_counted_ptr<AsyncWebServerRequest*, __gnu_cxx::_S_atomic>);
extern const unsigned kTcpPcb = sizeof(tcp_pcb);
}
EOP
tools/esp8266-compile-check.sh "$@" "$probe" >/dev/null
obj=build/esp8266-check/http_sizes_probe.o
# Not left beside the platform objects, whose sizes SPORE_CHECK_SIZES lists.
trap 'rm -f "$obj" "$probe"' EXIT
declare -A heap
for sym in kString kParamNode kHeaderNode kRequest kBasicResponse kStreamResponse kProgmemResponse kClient \
  kTrackerBlock kRequestBlock kTcpPcb; do
  line=$(xtensa-lx106-elf-nm -S "$obj" | awk -v s="$sym" '$4 == s')
  sec=$(xtensa-lx106-elf-objdump -t "$obj" | awk -v s="$sym" '$NF == s {print $(NF-2)}')
  off=$(awk '{print $1}' <<<"$line")
  hex=$(xtensa-lx106-elf-objcopy -O binary --only-section="$sec" "$obj" /dev/stdout | od -An -tu4 -j $((16#$off)) -N4 | tr -d ' ')
  heap[$sym]=$(( (hex + 4 + 7) / 8 * 8 ))
  printf '%-18s %5u B  heap %5u B\n' "$sym" "$hex" "${heap[$sym]}"
done
# One connection's objects, then what a head at the screen's limits adds (http_listener.h).
connection=$(( heap[kClient] + heap[kTrackerBlock] + heap[kRequest] + heap[kRequestBlock] + heap[kTcpPcb] ))
limit() { awk -v m="$1" '$1 == "#define" && $2 == m {print $3}' core/spore/base/limits.h; }
head=$(limit SPORE_ESP_MAX_HEAD_BYTES) headers=$(limit SPORE_ESP_MAX_HEADERS) params=$(limit SPORE_ESP_MAX_QUERY_PARAMS)
line=$(limit SPORE_ESP_MAX_HEADER_LINE_BYTES) request_line=$(limit SPORE_ESP_MAX_REQUEST_LINE_BYTES)
# Kept: every header's node and its name and value (the head's text, 2 x 12 B of block overhead),
# the URL and each parameter's node and strings (the request line's text); in flight: one line
# in up to 5 copies (the buffer while realloc() moves it, the parse's name and value, and the
# request's own fields: Host, Content-Type, the multipart boundary).
worst=$(( connection + head + (heap[kHeaderNode] + 24) * headers + request_line + (heap[kParamNode] + 24) * params + 5 * (line + 12) ))
printf '%-18s %5u B\n' connection "$connection" head_worst_case "$worst"
