#!/usr/bin/env bash
# tools/firmware-link.sh (and `./ctl.sh firmware-link`) without the source trees it links from:
# the command line is checked (usage, unknown env, a missing tree names the tag to get), and the
# image budget check (--budget-check on a size file in the script's format) passes at and under
# the budget, fails over it, honours SPORE_IMAGE_BUDGET_BYTES and refuses a file with no size.
# No process is started, nothing is built, no network.
source "$(dirname "$0")/lib.sh"
it_init 212 60

LINK="$IT_ROOT/tools/firmware-link.sh"
CTL="$IT_ROOT/ctl.sh"
cd "$IT_TMP"

unset SPORE_IMAGE_BUDGET_BYTES SPORE_LINK_JOBS
# expect_rc (lib.sh) leaves the command's output in $OUT.
expect_out() { grep -qF -- "$1" <<<"$OUT" || it_fail "${2:-output} lacks '$1': $OUT"; }

# ---- command line
expect_rc 2 "$LINK"
expect_out "Usage: tools/firmware-link.sh"
expect_rc 2 "$BASH" "$CTL" firmware-link --help
expect_out "Usage: tools/firmware-link.sh" "ctl.sh firmware-link --help"
expect_rc 2 "$LINK" --env esp32 a b c d e
expect_out "unknown env 'esp32'"
expect_rc 2 "$LINK" --frobnicate
expect_out "unknown option --frobnicate"
mkdir -p empty
expect_rc 2 "$LINK" empty empty empty empty empty
expect_out "at tag 3.1.2" "a tree without the core's files"
expect_rc 2 "$LINK" no-such-dir empty empty empty empty
expect_out "ARDUINO: no directory '$IT_TMP/no-such-dir'" "a relative tree path"
expect_rc 2 env SPORE_LINK_JOBS=0 "$LINK" --budget-check x
expect_out "SPORE_LINK_JOBS must be a positive number"

# ---- the budget check, on size files as the script writes them (relative to the caller's cwd)
printf 'esp01_1m bin_bytes=450560\nesp01_1m iram_bytes=27625\nesp01s bin_bytes=400000\n' >at.txt
expect_rc 0 "$LINK" --budget-check at.txt
expect_out "esp01_1m image 450560 B of budget 450560 B (0 B left): ok"
expect_out "esp01s image 400000 B of budget 450560 B (50560 B left): ok"
printf 'esp01_1m bin_bytes=400000\nesp01_1m_mqtt bin_bytes=450561\n' >over.txt
expect_rc 1 "$BASH" "$CTL" firmware-link --budget-check over.txt
expect_out "esp01_1m_mqtt image 450561 B of budget 450560 B (1 B over): OVER" "ctl.sh, one byte over"
expect_out "esp01_1m image 400000 B of budget 450560 B (50560 B left): ok"
expect_rc 1 env SPORE_IMAGE_BUDGET_BYTES=399999 "$LINK" --budget-check at.txt
expect_out "esp01s image 400000 B of budget 399999 B (1 B over): OVER" "SPORE_IMAGE_BUDGET_BYTES"
expect_rc 2 env SPORE_IMAGE_BUDGET_BYTES=440KB "$LINK" --budget-check at.txt
expect_out "SPORE_IMAGE_BUDGET_BYTES must be a number of bytes"
printf 'esp01_1m iram_bytes=27625\nesp01_1m bin_bytes=oops\n' >none.txt
expect_rc 1 "$LINK" --budget-check none.txt
expect_out "no bin_bytes= line"
expect_rc 2 "$LINK" --budget-check missing.txt
expect_out "no size file missing.txt"

log "firmware-link checks its command line and the image budget as documented"
