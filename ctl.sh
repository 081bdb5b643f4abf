#!/usr/bin/env bash
# ctl.sh: the one entry point for building, testing and (as they land) running SPORE.
# Keeps the seed's verbs; see `./ctl.sh help`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# Debian packages the host build and tests need (DESIGN.md §6). The xtensa ones compile core for
# the ESP8266 target; gcc-12-source provides the libstdc++ headers that toolchain lacks.
HOST_PACKAGES=(cmake ninja-build g++ libgtest-dev libgmock-dev nlohmann-json3-dev libbearssl-dev
  clang libclang-rt-14-dev gcc-xtensa-lx106 picolibc-xtensa-lx106-elf gcc-12-source xz-utils make
  pkg-config libcpp-httplib-dev libcli11-dev jq curl procps iproute2)

JOBS="${SPORE_JOBS:-$(nproc)}"

usage() {
  cat <<'USAGE'
Usage: ./ctl.sh <verb> [args]

Verbs:
  test              install missing Debian packages, then build and run everything CI runs:
                    unit tests, the same tests under ASan+UBSan, the fuzz smoke run and the
                    ESP8266 (xtensa-lx106) compile of core with its size budget
  deps              only install missing Debian packages (needs root or sudo)
  build             configure and build the host tree (build/dev)
  unit              build and run the unit tests only (quick edit loop)
  asan              build and run the unit tests under AddressSanitizer + UBSan
  fuzz [SECONDS]    build the libFuzzer targets and run each for SECONDS (default 60 under CI, else 20)
  lx106             compile core for the ESP8266 and report sizes (docs/footprint.md)
  help              this text

Coming with later issues (see `issues`): demo, cluster members, node status, ota update/all,
build/flash/monitor for the ESP-01 firmware.

Environment: SPORE_JOBS (parallel build jobs, default: all cores).
USAGE
}

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'ctl.sh: %s\n' "$*" >&2; exit 1; }

ensure_deps() {
  local missing=()
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}); run as root: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PASSED=0
FAILED=0
SKIPPED=0

# Runs ctest for a preset and adds its counts to the totals.
run_ctest() {
  local preset="$1" out rc=0
  out="$(mktemp)"
  ctest --preset "$preset" -j "$JOBS" --timeout 300 2>&1 | tee "$out" || rc=$?
  local line total failed
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n1 || true)"
  local skipped
  skipped="$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$out" || true)"
  rm -f "$out"
  if [ -z "$line" ]; then
    FAILED=$((FAILED + 1))
    return 1
  fi
  total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
  failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")"
  PASSED=$((PASSED + total - failed - skipped))
  FAILED=$((FAILED + failed))
  SKIPPED=$((SKIPPED + skipped))
  [ "$total" -gt 0 ] || { FAILED=$((FAILED + 1)); return 1; }
  return "$rc"
}

build_preset() {
  local preset="$1"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
}

verb_unit() {
  log "unit tests (build/dev, -Werror)"
  build_preset dev || { FAILED=$((FAILED + 1)); return 1; }
  run_ctest dev
}

verb_asan() {
  log "unit tests under ASan + UBSan (build/asan)"
  build_preset asan || { FAILED=$((FAILED + 1)); return 1; }
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest asan
}

verb_fuzz() {
  local seconds="${1:-}"
  if [ -z "$seconds" ]; then
    if [ "${CI:-}" = "true" ]; then seconds=60; else seconds=20; fi
  fi
  [[ "$seconds" =~ ^[0-9]+$ ]] || die "fuzz: SECONDS must be a whole number, got '$seconds'"
  log "fuzz smoke: each libFuzzer target for ${seconds} s (build/fuzz)"
  build_preset fuzz || { FAILED=$((FAILED + 1)); return 1; }
  local target name corpus work rc ran=0
  for target in build/fuzz/*_fuzz; do
    [ -x "$target" ] || continue
    name="$(basename "$target" _fuzz)"
    corpus="tests/fuzz/corpus/$name"
    work="$(mktemp -d)"
    # Fuzz a scratch copy so the committed seed corpus stays small and reviewed.
    [ -d "$corpus" ] && cp -r "$corpus/." "$work/"
    rc=0
    "$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/${name}-" "$work" >"build/fuzz/${name}.log" 2>&1 || rc=$?
    rm -rf "$work"
    if [ "$rc" -ne 0 ]; then
      tail -n 40 "build/fuzz/${name}.log"
      echo "fuzz target ${name}: FAILED (crash input saved as build/fuzz/${name}-*)"
      FAILED=$((FAILED + 1))
      return 1
    fi
    echo "fuzz target ${name}: $(grep -E 'stat::number_of_executed_units' "build/fuzz/${name}.log" | awk '{print $2}') runs, 0 crashes"
    PASSED=$((PASSED + 1))
    ran=$((ran + 1))
  done
  [ "$ran" -gt 0 ] || { echo "no fuzz targets were built"; FAILED=$((FAILED + 1)); return 1; }
}

verb_lx106() {
  log "core compiled for the ESP8266 (xtensa-lx106-elf-g++ -Os)"
  if tools/lx106-build.sh; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    return 1
  fi
}

verb_test() {
  ensure_deps
  local status=0
  verb_unit || status=1
  verb_asan || status=1
  verb_fuzz "$@" || status=1
  verb_lx106 || status=1
  echo
  echo "ctl.sh test: unit + asan test cases, fuzz targets and the lx106 compile, counted together"
  echo "spore: ${PASSED} passed, ${FAILED} failed, ${SKIPPED} skipped"
  return "$status"
}

verb="${1:-help}"
shift || true
case "$verb" in
  test) verb_test "$@" ;;
  deps) ensure_deps ;;
  build) ensure_deps; build_preset dev ;;
  unit) verb_unit ;;
  asan) verb_asan ;;
  fuzz) verb_fuzz "$@" ;;
  lx106) verb_lx106 ;;
  help | -h | --help) usage ;;
  demo | cluster | node | ota | flash | monitor)
    die "'$verb' is not built yet: it arrives with the Linux node (issue 3), OTA (issue 4) and firmware (issue 5) work. See ./ctl.sh help." ;;
  *) usage >&2; die "unknown verb '$verb'" ;;
esac
