#!/usr/bin/env bash
# Prepare C++ headers for compiling core/ with Debian's xtensa-lx106-elf-g++.
#
# Usage: tools/lx106-setup.sh [OUTDIR]      (default build/lx106, relative to the repo root)
#
# Debian's gcc-xtensa-lx106 ships no libstdc++ headers, so we configure libstdc++-v3 for the target
# from Debian's gcc-12-source and install only its headers. Result:
#   OUTDIR/sysroot/include/c++/<ver>/...   libstdc++ + libsupc++ headers for xtensa-lx106-elf
#   OUTDIR/include/bearssl/*.h             BearSSL headers (as the ESP8266 Arduino core ships them)
#   OUTDIR/cxxflags                        the include flags to pass to xtensa-lx106-elf-g++
# Needs (apt): gcc-xtensa-lx106 picolibc-xtensa-lx106-elf gcc-12-source libbearssl-dev, plus make.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-build/lx106}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

TARGET=xtensa-lx106-elf
CXX="$TARGET-g++"
# The C library headers: Debian's picolibc; tools/esp8266-compile-check.sh points this at the
# newlib the ESP8266 Arduino core ships (an install-like include tree) to check platform/esp8266.
PICOLIBC_INC="${SPORE_LX106_LIBC_INC:-/usr/lib/$TARGET/include}"
BEARSSL_INC=/usr/include/bearssl

die() { echo "lx106-setup: error: $*" >&2; exit 1; }
command -v "$CXX" >/dev/null || die "$CXX not found (apt-get install gcc-xtensa-lx106)"
command -v make >/dev/null || die "make not found (apt-get install make)"
command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"
[[ -f $PICOLIBC_INC/stdio.h ]] || die "$PICOLIBC_INC/stdio.h missing (apt-get install picolibc-xtensa-lx106-elf)"
[[ -f $BEARSSL_INC/bearssl_hmac.h ]] || die "$BEARSSL_INC/bearssl_hmac.h missing (apt-get install libbearssl-dev)"
shopt -s nullglob
tarballs=(/usr/src/gcc-12/gcc-*.tar.xz)
shopt -u nullglob
[[ ${#tarballs[@]} -ge 1 ]] || die "no /usr/src/gcc-12/gcc-*.tar.xz (apt-get install gcc-12-source)"
TARBALL="${tarballs[0]}"
GCCVER="$("$CXX" -dumpfullversion)"

# Redo everything if the compiler, the source or this script changed; otherwise this is a no-op.
KEY="$GCCVER $(stat -c '%s %Y' "$TARBALL") $TARBALL $PICOLIBC_INC $(md5sum <"${BASH_SOURCE[0]}")"
if [[ -f $OUT/.setup-stamp && "$(cat "$OUT/.setup-stamp")" == "$KEY" ]]; then
  echo "lx106-setup: up to date ($OUT)"
  exit 0
fi

start=$SECONDS
rm -rf "$OUT/sysroot" "$OUT/include" "$OUT/src" "$OUT/libstdcxx-build" "$OUT/.setup-stamp"
mkdir -p "$OUT/src"

# Only libstdc++-v3 and the shared autoconf helpers are needed. Its testsuite and docs are 77 MB,
# but configure still wants the testsuite Makefile.in (hence [!M]*) and doc/xsl. Patterns are
# anchored at the top directory because gcc/, libgo/ etc. have their own config/ and include/.
TOP="$(tar -tJf "$TARBALL" 2>/dev/null | head -n1 || true)"
TOP="${TOP%%/*}"
[[ -n $TOP ]] || die "cannot read $TARBALL"
echo "lx106-setup: extracting libstdc++-v3 from $TARBALL"
tar -xJf "$TARBALL" -C "$OUT/src" --strip-components=1 --wildcards \
  --exclude="$TOP/libstdc++-v3/testsuite/[!M]*" \
  --exclude="$TOP/libstdc++-v3/doc/html/*" --exclude="$TOP/libstdc++-v3/doc/xml/*" \
  "$TOP/libstdc++-v3/*" "$TOP/config/*" "$TOP/include/*" "$TOP/libgcc/gthr*.h" "$TOP/gcc/BASE-VER" \
  "$TOP/gcc/DATESTAMP" "$TOP/config.sub" "$TOP/config.guess" "$TOP/install-sh" "$TOP/missing" \
  "$TOP/mkinstalldirs" "$TOP/ltmain.sh" "$TOP/config-ml.in" "$TOP/move-if-change" \
  "$TOP/config.rpath" "$TOP/depcomp" "$TOP/compile"
[[ -x $OUT/src/libstdc++-v3/configure ]] || die "libstdc++-v3/configure not found in $TARBALL"
[[ "$(cat "$OUT/src/gcc/BASE-VER")" == "$GCCVER" ]] ||
  echo "lx106-setup: warning: source is gcc $(cat "$OUT/src/gcc/BASE-VER"), compiler is $GCCVER" >&2

# The target cannot link a test program (picolibc.ld needs a board memory map), so configure runs
# in compile-only mode (--with-newlib uses canned answers); the few remaining link tests are
# answered through the cache variables below. Only headers are installed, nothing is linked.
echo "lx106-setup: configuring libstdc++-v3 for $TARGET"
mkdir -p "$OUT/libstdcxx-build"
(
  cd "$OUT/libstdcxx-build"
  "$OUT/src/libstdc++-v3/configure" \
    --host=$TARGET --build="$("$OUT/src/config.guess")" --prefix="$OUT/sysroot" \
    --with-newlib --disable-multilib --disable-shared --disable-nls \
    --disable-libstdcxx-pch --disable-libstdcxx-backtrace \
    CPPFLAGS="-isystem $PICOLIBC_INC" ac_cv_func_fcntl=yes ac_cv_func_getexecname=no \
    >configure.log 2>&1 || { tail -30 configure.log >&2; die "configure failed (see $PWD/config.log)"; }
  # include/ holds the library headers and generated c++config.h; libsupc++/ holds <new>,
  # <exception>, <initializer_list>, <compare>, which include/'s install does not cover.
  if ! { make -C include install && make -C libsupc++ install-bitsHEADERS install-stdHEADERS; } \
    >install.log 2>&1; then
    tail -30 install.log >&2
    die "header install failed"
  fi
)

CXXINC="$OUT/sysroot/include/c++/$GCCVER"
[[ -f $CXXINC/$TARGET/bits/c++config.h && -f $CXXINC/new ]] || die "headers not installed in $CXXINC"

# BearSSL headers are plain C with no glibc dependency; copying them (instead of -I/usr/include)
# keeps host glibc headers out of the target include path.
mkdir -p "$OUT/include/bearssl"
cp "$BEARSSL_INC"/*.h "$OUT/include/bearssl/"

# libstdc++ must come before the C headers: its <cstdlib> etc. use #include_next.
# One argument per line, so callers can read it with `mapfile -t` even if paths contain spaces.
printf '%s\n' -nostdinc++ -isystem "$CXXINC" -isystem "$CXXINC/$TARGET" -isystem "$PICOLIBC_INC" \
  -isystem "$OUT/include" >"$OUT/cxxflags"
mapfile -t INCFLAGS <"$OUT/cxxflags"

# Prove the headers work for the kind of code core/ is allowed to contain.
cat >"$OUT/selftest.cpp" <<'EOF'
#include <array>
#include <optional>
#include <string_view>
#include <algorithm>
#include <type_traits>
#include <utility>
#include <cstring>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <new>
#include <cstdio>
#include <bearssl/bearssl_hmac.h>
int selftest(char* out, std::size_t n, std::string_view s) {
  std::array<std::uint16_t, 4> a{{4, 1, 3, 2}};
  std::sort(a.begin(), a.end());
  std::optional<std::size_t> pos;
  if (s.find('x') != std::string_view::npos) pos = s.find('x');
  static_assert(std::is_trivially_copyable_v<std::array<int, 2>>);
  static_assert(std::numeric_limits<std::uint8_t>::max() == 255);
  return std::snprintf(out, n, "%u %d %u", unsigned(a[0]), pos ? int(*pos) : -1,
                       unsigned(sizeof(br_hmac_context)));
}
EOF
"$CXX" -std=gnu++17 -Os -fno-exceptions -fno-rtti -mlongcalls -mtext-section-literals -Wall -Wextra \
  -Werror "${INCFLAGS[@]}" -c "$OUT/selftest.cpp" -o "$OUT/selftest.o" ||
  die "self-test translation unit does not compile"

rm -rf "$OUT/src" "$OUT/libstdcxx-build" # 40 MB of sources and build tree; the headers are all we keep
echo "$KEY" >"$OUT/.setup-stamp"
echo "lx106-setup: done in $((SECONDS - start)) s: $CXXINC"
