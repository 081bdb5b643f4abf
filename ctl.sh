#!/usr/bin/env bash
# ctl.sh: the one entry point for building, testing and running SPORE; see `./ctl.sh help`.
# A dispatcher: each verb lives in tools/ctl/ (deps, build, firmware, demo, cli; spored.sh is the
# one way every script starts a spored node).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_PWD="$PWD"
cd "$ROOT"

for part in common usage deps dotenv build firmware spored demo cli; do
  # shellcheck source=/dev/null
  source "$ROOT/tools/ctl/$part.sh"
done
unset part

verb="${1:-help}"
shift || true
case "$verb" in
  test) verb_test "$@" ;;
  deps) ensure_deps ;;
  build | build-firmware) verb_build "$verb" "$@" ;;
  flash) verb_flash "$@" ;;
  monitor) verb_monitor "$@" ;;
  package) exec "$ROOT/tools/arduino-package.sh" "$@" ;;
  unit) verb_unit ;;
  asan) verb_asan ;;
  fuzz) verb_fuzz "$@" ;;
  lx106) verb_lx106 "$@" ;;
  firmware-link) cd "$CALLER_PWD" && exec "$ROOT/tools/firmware-link.sh" "$@" ;;
  esp8266-host) verb_esp8266_host "$@" ;;
  help | -h | --help) usage ;;
  demo) verb_demo "$@" ;;
  cluster | node | events) verb_spore "$verb" "$@" ;;
  discover) verb_spore discover "$@" ;;
  ota) verb_ota "$@" ;;
  keygen | sign | verify) verb_spore "$verb" "$@" ;;
  *) usage >&2; die "unknown verb '$verb'" ;;
esac
