#!/usr/bin/env bash
# Cross-checks core's ESP8266 image walker (core/spore/device/esp_image.h) and the image builder its
# tests use (tests/unit/esp_image_builder.h) against the ESP8266 Arduino core's own tools, on a
# tree the caller supplies (nothing is downloaded; nothing of it is copied into this repository).
# CI cannot run this (it needs that tree); docs/ota.md quotes its output.
#
# Usage: tools/esp-image-crosscheck.sh ARDUINO [ESPTOOL]
#   ARDUINO  esp8266/Arduino at tag 3.1.2: its tools/elf2bin.py, tools/signing.py and
#            bootloaders/eboot/eboot.elf
#   ESPTOOL  optional: espressif/esptool at tag v4.8.1 (run with Debian's python3-serial and
#            python3-intelhex): `esptool.py image_info` on the same files
#
# What it does, in build/esp-image-crosscheck/: assembles a small sketch ELF with the sections
# elf2bin.py reads (.irom0.text at 0x40201010 starting with the two zero CRC words, .text with the
# entry point, .text1, .data, .rodata), runs elf2bin.py (eboot.elf + sketch, dout, 40 MHz, 1M) and
# signing.py (a fresh RSA-2048 key), then prints for each file the walker's verdict (with and
# without an allowed signature trailer) and whether the test builder, given the same sections,
# writes the same bytes as elf2bin.py. Needs binutils-xtensa-lx106, python3, openssl, g++ and
# libbearssl-dev (the host build's packages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[[ $# -ge 1 ]] || { sed -n '2,20p' "$0" >&2; exit 2; }
ARDUINO="$(cd "$1" && pwd)"
ESPTOOL="${2:+$(cd "$2" && pwd)}"
for need in tools/elf2bin.py tools/signing.py bootloaders/eboot/eboot.elf; do
  [[ -e $ARDUINO/$need ]] || { echo "esp-image-crosscheck: missing $ARDUINO/$need" >&2; exit 2; }
done
OUT=build/esp-image-crosscheck
rm -rf "$OUT"
mkdir -p "$OUT"
X=xtensa-lx106-elf

cat >"$OUT/app.S" <<'EOF'
  .section .irom0.text, "ax"
  .long 0, 0          /* __crc_len, __crc_val: the core's linker script puts LONG(0) twice here */
  .fill 2990, 1, 0x5a
  .section .text, "ax"
  .long 0x11223344
  .global app_entry
app_entry:
  .fill 696, 1, 0x33
  .section .text1, "ax"
  .fill 60, 1, 0x44
  .section .data, "aw"
  .fill 33, 1, 0x55
  .section .rodata, "a"
  .fill 129, 1, 0x66
EOF
cat >"$OUT/app.ld" <<'EOF'
ENTRY(app_entry)
SECTIONS {
  .irom0.text 0x40201010 : { *(.irom0.text) }
  .text 0x40100000 : { *(.text) }
  .text1 : { *(.text1) }
  .data 0x3ffe8000 : { *(.data) }
  .rodata 0x3ffe8030 : { *(.rodata) }
}
EOF
$X-as "$OUT/app.S" -o "$OUT/app.o"
$X-ld -T "$OUT/app.ld" "$OUT/app.o" -o "$OUT/app.elf"
python3 "$ARDUINO/tools/elf2bin.py" -e "$ARDUINO/bootloaders/eboot/eboot.elf" -a "$OUT/app.elf" -m dout -f 40 -s 1M \
  -o "$OUT/sketch.bin" -p "$(dirname "$(command -v $X-objcopy)")" >/dev/null
openssl genrsa -out "$OUT/private.key" 2048 2>/dev/null
python3 "$ARDUINO/tools/signing.py" --mode sign --privatekey "$OUT/private.key" --bin "$OUT/sketch.bin" \
  --out "$OUT/sketch.bin.signed" >/dev/null

# The sections as elf2bin.py reads them, for the builder.
sections() { # ELF PREFIX SECTION...
  local elf="$1" prefix="$2" addr
  shift 2
  for s in "$@"; do
    $X-objcopy -O binary --only-section="$s" "$elf" "$OUT/$prefix$s.bin"
    addr="$($X-objdump -h -j "$s" "$elf" | awk -v s="$s" '$2 == s { print $4 }')"
    echo "$((16#$addr)) $OUT/$prefix$s.bin"
  done
}
entry() { $X-readelf -h "$1" | awk '/Entry point address/ { print strtonum($4) }'; }
{
  echo "boot $(entry "$ARDUINO/bootloaders/eboot/eboot.elf")"
  sections "$ARDUINO/bootloaders/eboot/eboot.elf" boot .text .rodata
  echo "app $(entry "$OUT/app.elf")"
  sections "$OUT/app.elf" app .irom0.text .text .text1 .data .rodata
} >"$OUT/sections.txt"

cat >"$OUT/check.cpp" <<'EOF'
// Walker verdicts on files, and the test builder against elf2bin.py's output.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "esp_image_builder.h"

namespace t = spore::test;

std::vector<uint8_t> read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

int verdict(const std::vector<uint8_t>& b, bool trailer) {
  spore::EspImageWalker w;
  w.begin(trailer);
  w.feed(b.data(), b.size());
  return static_cast<int>(w.finish());
}

int main(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    const std::vector<uint8_t> b = read(argv[i]);
    std::printf("%s: %zu bytes, walker %d without a trailer allowed, %d with (0 = accepted)\n", argv[i], b.size(),
                verdict(b, false), verdict(b, true));
  }
  t::EspImageSpec specs[2];
  int which = -1;
  std::ifstream list(argv[1]);
  for (std::string line; std::getline(list, line);) {
    std::istringstream in(line);
    std::string first;
    in >> first;
    if (first == "boot" || first == "app") {
      which = first == "boot" ? 0 : 1;
      in >> specs[which].entry;
    } else {
      std::string path;
      in >> path;
      specs[which].segments.push_back({static_cast<uint32_t>(std::stoul(first)), read(path)});
    }
  }
  const t::EspFirmware f = t::build_esp_firmware(specs[0], specs[1]);
  const bool same = f.bytes == read(argv[2]);
  std::printf("test builder vs elf2bin.py on the same sections: %s\n", same ? "identical bytes" : "DIFFERENT");
  return same ? 0 : 1;
}
EOF
g++ -std=c++17 -O1 -Icore -Itests/unit "$OUT/check.cpp" core/spore/device/esp_image.cpp -o "$OUT/check"
"$OUT/check" "$OUT/sections.txt" "$OUT/sketch.bin" "$OUT/sketch.bin.signed"

if [[ -n $ESPTOOL ]]; then
  tail -c +4097 "$OUT/sketch.bin" >"$OUT/app-part.bin"
  for f in sketch.bin app-part.bin; do
    echo "esptool.py image_info $f (the image at offset 0 of the file):"
    /usr/bin/python3 "$ESPTOOL/esptool.py" --chip esp8266 image_info "$OUT/$f" 2>&1 | grep -E "Segment|Checksum|Entry"
  done
fi
