# shellcheck shell=bash
# Sourced by tools/firmware-link.sh and tools/esp8266-host/build.sh, which define fail().
# run_all LISTFILE WHAT JOBS: runs LISTFILE's shell commands (one per line) JOBS at a time; the
# compilers' output goes to LISTFILE.log (the core's own warnings are many). On a failure, prints
# the errors with their context and calls fail "WHAT (compiler output: LISTFILE.log)".
run_all() {
  if ! xargs -P "$3" -d '\n' -I{} bash -c '{}' <"$1" 2>"$1.log"; then
    grep -B2 -A6 -E 'error|Error' "$1.log" | head -60 >&2
    fail "$2 (compiler output: $1.log)"
  fi
}
