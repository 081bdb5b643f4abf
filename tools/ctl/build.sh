# shellcheck shell=bash
# Host builds and the test verbs (unit, asan, fuzz, lx106, test) on the CMake presets of
# CMakePresets.json; the counts of one `./ctl.sh test` run add up in PASSED / FAILED / SKIPPED.

JOBS="${SPORE_JOBS:-$(nproc)}"

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

# One libFuzzer target on a scratch copy of its seed corpus (the committed corpus stays small and
# reviewed); its exit status goes to build/fuzz/NAME.rc, its output to build/fuzz/NAME.log.
fuzz_one() { # TARGET SECONDS
  local target=$1 seconds=$2 name work rc=0
  name="$(basename "$target" _fuzz)"
  work="$(mktemp -d)"
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  "$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build/fuzz/${name}-" "$work" >"build/fuzz/${name}.log" 2>&1 || rc=$?
  rm -rf "$work"
  echo "$rc" >"build/fuzz/${name}.rc"
}

verb_fuzz() {
  local seconds="${1:-}"
  if [ -z "$seconds" ]; then
    # 30 s a target in CI keeps the whole run under its 30-minute budget as targets are added;
    # long runs are done by hand (`./ctl.sh fuzz 300`), their figures in docs/reliability.md.
    if [ "${CI:-}" = "true" ]; then seconds=30; else seconds=20; fi
  fi
  [[ "$seconds" =~ ^[0-9]+$ ]] || die "fuzz: SECONDS must be a whole number, got '$seconds'"
  # Each target runs on one core, so as many run at once as there are cores (SPORE_FUZZ_JOBS): the
  # same seconds per target, in half the wall time on two cores.
  local jobs="${SPORE_FUZZ_JOBS:-$(nproc)}"
  [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "fuzz: SPORE_FUZZ_JOBS must be a positive whole number, got '$jobs'"
  log "fuzz smoke: each libFuzzer target for ${seconds} s, ${jobs} at a time (build/fuzz)"
  build_preset fuzz || { FAILED=$((FAILED + 1)); return 1; }
  local target name rc ran=0 failed=0 targets=()
  for target in build/fuzz/*_fuzz; do
    [ -x "$target" ] && targets+=("$target")
  done
  rm -f build/fuzz/*.rc
  for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    fuzz_one "$target" "$seconds" &
  done
  wait
  for target in "${targets[@]}"; do
    name="$(basename "$target" _fuzz)"
    rc="$(cat "build/fuzz/${name}.rc" 2>/dev/null || echo missing)"
    if [ "$rc" != 0 ]; then
      tail -n 40 "build/fuzz/${name}.log"
      echo "fuzz target ${name}: FAILED (exit ${rc}; crash input saved as build/fuzz/${name}-*)"
      FAILED=$((FAILED + 1))
      failed=1
      continue
    fi
    echo "fuzz target ${name}: $(grep -E 'stat::number_of_executed_units' "build/fuzz/${name}.log" | awk '{print $2}') runs, 0 crashes"
    PASSED=$((PASSED + 1))
    ran=$((ran + 1))
  done
  [ "$failed" -eq 0 ] || return 1
  [ "$ran" -gt 0 ] || { echo "no fuzz targets were built"; FAILED=$((FAILED + 1)); return 1; }
}

verb_lx106() {
  log "core compiled for the ESP8266 (xtensa-lx106-elf-g++ -Os)"
  if tools/lx106-build.sh "$@"; then
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


# Paths of the programs: $SPORED / $SPORE when set (tests pass the binaries they built), else
# build/dev, built (with the Debian packages it needs) when missing or out of date.
build_programs() {
  ensure_deps
  [ -f build/dev/build.ninja ] || cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$JOBS" --target "$@"
}
