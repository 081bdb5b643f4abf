#!/usr/bin/env bash
# The emulated-board bed's tools without the source trees they build from (tools/esp8266-host/
# build.sh, bed.sh and `./ctl.sh esp8266-host`): usage and --help, a missing or wrong tree names
# the tag to get, an unknown scenario or command is refused with a clear message, and the bed
# refuses to start without a board binary. Nothing is built, no namespace is made, no network.
source "$(dirname "$0")/lib.sh"
it_init 213 60

BUILD="$IT_ROOT/tools/esp8266-host/build.sh"
BED="$IT_ROOT/tools/esp8266-host/bed.sh"
CTL="$IT_ROOT/ctl.sh"
cd "$IT_TMP" || exit 1
expect_out() { grep -qF -- "$1" <<<"$OUT" || it_fail "${2:-output} lacks '$1': $OUT"; }

expect_rc 2 "$BUILD"
expect_out "usage: tools/esp8266-host/build.sh ARDUINO AWS ATCP LWIP BEARSSL"
expect_rc 0 "$BUILD" --help
expect_out "lwIP at tag STABLE-2_1_3_RELEASE"
expect_rc 0 "$BASH" "$CTL" esp8266-host --help
expect_out "./ctl.sh esp8266-host bed SCENARIO"
expect_rc 2 "$BASH" "$CTL" esp8266-host frob
expect_out "unknown command 'frob'"
mkdir -p empty
expect_rc 1 "$BUILD" no-such-dir empty empty empty empty
expect_out "no such directory: no-such-dir"
expect_rc 1 "$BUILD" empty empty empty empty empty
expect_out "--branch 3.1.2"
# A tree that looks like the core but is another version.
mkdir -p core/tests/host/common core/cores/esp8266/umm_malloc
touch core/tests/host/common/mock.h core/cores/esp8266/umm_malloc/umm_malloc.cpp
echo version=3.0.2 >core/platform.txt
expect_rc 1 "$BUILD" core empty empty empty empty
expect_out "is not version=3.1.2"

expect_rc 2 "$BED"
expect_out "usage: tools/esp8266-host/bed.sh SCENARIO"
expect_rc 2 "$BED" frob
expect_out "unknown scenario frob"
expect_rc 1 env SPORE_BOARD="$IT_TMP/none" "$BED" join
expect_out "build it with tools/esp8266-host/build.sh"
# The portal scenario's board without credentials is a second build.
expect_rc 1 env SPORE_BOARD=/bin/true SPORE_BOARD_NOCREDS="$IT_TMP/none" "$BED" portal
expect_out "build it without credentials"

log "esp8266-host build and bed check their command lines and trees as documented"
