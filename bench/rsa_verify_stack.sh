#!/usr/bin/env bash
# Stack depth of BearSSL's RSA-2048 signature verification on the host (docs/ota.md §9): builds
# bench/rsa_verify_stack.cpp against the dev build's core library and Debian's libbearssl and runs
# it. Host (x86-64) figures, not the ESP8266's; see the source's comment.
#
# Usage: bench/rsa_verify_stack.sh            (needs build/dev: cmake --preset dev && cmake --build build/dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIB=build/dev/libspore_core.a
[[ -f $LIB ]] || { echo "rsa_verify_stack: build the dev preset first ($LIB missing)" >&2; exit 2; }
OUT=build/bench
mkdir -p "$OUT"
# libbearssl is prebuilt (its own flags); the optimisation level only shapes the measuring wrapper.
c++ -std=c++17 -O2 -Icore -Itests/unit bench/rsa_verify_stack.cpp "$LIB" -lbearssl -o "$OUT/rsa_verify_stack"
echo "## $(uname -m), g++ $(c++ -dumpfullversion), libbearssl $(dpkg-query -W -f '${Version}' libbearssl-dev 2>/dev/null || echo '?')"
"$OUT/rsa_verify_stack"
