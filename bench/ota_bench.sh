#!/usr/bin/env bash
# OTA benchmarks on real spored processes (loopback), each side by side with its anchor in one run:
#
#  (a) upload + verify throughput of one Linux node: a large ELF image (a copy of spored with its
#      version slot patched, padded with random bytes to IMAGE_MB MiB; padding after the ELF's
#      contents keeps it a valid executable) sent by `curl -F firmware=@FILE` to a plain HTTP sink
#      that discards the body (bench/http_sink.py: the limit of loopback + curl + an HTTP server),
#      by the same curl to spored's POST /api/node/update (streamed to disk, SHA-256, ELF check,
#      fsync, rename: the node's whole pipeline until its 200 answer), and by
#      `spore ota update --no-wait` (multipart, and --raw). MB/s = 10^6 bytes per second.
#  (b) fleet update of FLEET_N nodes (default 20): `spore ota all` in waves (--parallel 4, the
#      default; --canary 1 --parallel N-1: the canary, then everyone else) against one by one
#      (--parallel 1, what the seed's `ota all` did), and the time of one node alone
#      (`spore ota update`, to the same point: back ACTIVE with the new image). Wall-clock seconds
#      of the whole command, including hashing the file and every wait.
#
# Usage: bench/ota_bench.sh [ROUNDS] [IMAGE_MB] [FLEET_N]   (defaults 3, 32, 20; needs build/dev)
# Prints Markdown tables (docs/benchmarks.md, section OTA). Takes a few minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SPORED="${SPORED:-$ROOT/build/dev/spored}" SPORE="${SPORE:-$ROOT/build/dev/spore}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
ROUNDS="${1:-3}"
IMAGE_MB="${2:-32}"
FLEET_N="${3:-20}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] && [[ "$IMAGE_MB" =~ ^[1-9][0-9]*$ ]] && [[ "$FLEET_N" =~ ^[1-9][0-9]*$ ]] &&
  [ "$FLEET_N" -ge 2 ] && [ "$FLEET_N" -le 100 ] || { echo "usage: $0 [ROUNDS] [IMAGE_MB] [FLEET_N 2..100]" >&2; exit 2; }
[ -x "$SPORED" ] && [ -x "$SPORE" ] || { echo "build first: ./ctl.sh build (missing $SPORED or $SPORE)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required (the HTTP sink)" >&2; exit 1; }
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
it_init 243 $((ROUNDS * 900 + 300))
IT_NODE_ARGS=(--profile fast)

BIN="$IT_TMP/images"
mkdir -p "$BIN"
now_ns() { date +%s%N; }
# seconds with 3 decimals from a nanosecond difference
secs() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e9 }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

patch_version() {
  local src="$1" dst="$2" version="$3" offsets
  cp "$src" "$dst"
  offsets="$(grep -obUa 'SPORE-VERSION-SLOT:' "$dst" | cut -d: -f1)"
  [ "$(wc -l <<<"$offsets")" -eq 1 ] && [ -n "$offsets" ] || it_fail "expected one version slot in $src"
  { printf 'SPORE-VERSION-SLOT:%s' "$version"; head -c $((48 - 19 - ${#version})) /dev/zero; } |
    dd of="$dst" bs=1 seek="$offsets" conv=notrunc status=none
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
field_of() { curl -sf --max-time 2 "$(it_url "$1")/api/node/status" | jq -r "$2" 2>/dev/null || true; }

# back K SHA OLD_INCARNATION: node K answers with SHA and another incarnation.
back() {
  local got
  got="$(field_of "$1" '.imageSha256 + " " + (.incarnation | tostring)')"
  [ -n "$got" ] && [ "${got% *}" = "$2" ] && [ "${got#* }" != "$3" ]
}

start_own_node() {
  local k="$1"
  mkdir -p "$IT_TMP/exe-$k"
  cp "$SPORED" "$IT_TMP/exe-$k/spored"
  SPORED="$IT_TMP/exe-$k/spored" start_node "$k"
}

# ---- (a) throughput ------------------------------------------------------------------------------
log "(a) upload + verify throughput, image of $IMAGE_MB MiB"
BIG="$BIN/spored-big"
patch_version "$SPORED" "$BIG" 8.0.0-big
pad=$((IMAGE_MB * 1024 * 1024 - $(stat -c %s "$BIG")))
[ "$pad" -gt 0 ] || it_fail "IMAGE_MB is smaller than spored"
head -c "$pad" /dev/urandom >>"$BIG"
BIG_BYTES=$(stat -c %s "$BIG")
BIG_SHA="$(sha_of "$BIG")"
start_own_node 1
TOKEN="$(token_of 1)"
SINK_IP="$(it_ip 30)"
start_extra python3 "$ROOT/bench/http_sink.py" "$SINK_IP" "$IT_HTTP_PORT" >/dev/null
wait_until "the HTTP sink listens" 10 curl -sf -o /dev/null -X POST --max-time 2 "http://$SINK_IP:$IT_HTTP_PORT/"

declare -A A_TIMES=()
for round in $(seq 1 "$ROUNDS"); do
  # 0. what the node's pipeline cannot avoid, locally: one SHA-256 pass (coreutils) and a write +
  #    fsync of the same bytes (the node hashes twice: while streaming, and re-reading the file
  #    from disk after its fsync before the rename).
  t0=$(now_ns)
  sha256sum "$BIG" >/dev/null
  A_TIMES[sha]+="$(secs $(($(now_ns) - t0))) "
  t0=$(now_ns)
  dd if="$BIG" of="$IT_TMP/exe-1/.bench-copy" bs=1M conv=fsync status=none
  A_TIMES[write]+="$(secs $(($(now_ns) - t0))) "
  rm -f "$IT_TMP/exe-1/.bench-copy"
  # 1. curl to the sink (the limit).
  t="$(curl -s -o /dev/null -H 'Expect:' -w '%{time_total}' -F "firmware=@$BIG" "http://$SINK_IP:$IT_HTTP_PORT/api/node/update")"
  A_TIMES[sink]+="$t "
  # 2. curl to spored: until its 200 answer (image written, hashed, checked, renamed).
  inc="$(field_of 1 .incarnation)"
  out="$(curl -s -o "$IT_TMP/curl-answer.json" -H 'Expect:' -H "Authorization: Bearer $TOKEN" \
    -w '%{time_total} %{http_code}' -F "firmware=@$BIG" "$(it_url 1)/api/node/update")"
  [ "${out#* }" = 200 ] || it_fail "curl upload to spored answered ${out#* }: $(cat "$IT_TMP/curl-answer.json")"
  A_TIMES[curl_spored]+="${out% *} "
  wait_until "node 1 back after the curl upload" 60 back 1 "$BIG_SHA" "$inc"
  # 3./4. spore ota update --no-wait (multipart, raw): the JSON's seconds (status GET + upload + answer).
  for mode in multipart raw; do
    inc="$(field_of 1 .incarnation)"
    extra=()
    [ "$mode" = raw ] && extra=(--raw)
    "$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" ota update "$BIG" --no-wait --force --json --token "$TOKEN" \
      "${extra[@]}" >"$IT_TMP/spore-$mode.json" 2>/dev/null || it_fail "spore ota update ($mode) failed: $(cat "$IT_TMP/spore-$mode.json")"
    A_TIMES[spore_$mode]+="$(jq -r .seconds "$IT_TMP/spore-$mode.json") "
    wait_until "node 1 back after spore ($mode)" 60 back 1 "$BIG_SHA" "$inc"
  done
  log "round $round (seconds so far): sink ${A_TIMES[sink]}| curl->spored ${A_TIMES[curl_spored]}| spore ${A_TIMES[spore_multipart]}| spore raw ${A_TIMES[spore_raw]}"
done
stop_node 1

# ---- (b) fleet ---------------------------------------------------------------------------------------
log "(b) fleet update of $FLEET_N nodes"
for k in $(seq 1 "$FLEET_N"); do start_own_node "$k"; done
wait_until "$FLEET_N nodes converge" 120 converged $(seq 1 "$FLEET_N")
MAP="$IT_TMP/tokens.map"
token_map_of "$FLEET_N" >"$MAP"
OBS="$(it_ip 1):$IT_HTTP_PORT"
LAST=$FLEET_N
CONFIGS=("one-node" "all-p1" "all-p4" "all-c1-p$((FLEET_N - 1))" "all-c0-p$FLEET_N")
declare -A B_TIMES=()
version=0
for round in $(seq 1 "$ROUNDS"); do
  for config in "${CONFIGS[@]}"; do
    version=$((version + 1))
    img="$BIN/spored-fleet-$version"
    patch_version "$SPORED" "$img" "8.1.$version"
    t0=$(now_ns)
    case "$config" in
      one-node)
        "$SPORE" ota update "$(it_ip "$LAST"):$IT_HTTP_PORT" "$img" --token-map "$MAP" --timeout 60 \
          >"$IT_TMP/b.out" 2>"$IT_TMP/b.err" || { cat "$IT_TMP/b.err" "$IT_TMP/b.out" >&2; it_fail "one-node update failed"; } ;;
      all-p1)
        "$SPORE" --node "$OBS" ota all "$img" --canary 1 --parallel 1 --token-map "$MAP" --timeout 60 \
          >"$IT_TMP/b.out" 2>"$IT_TMP/b.err" || { cat "$IT_TMP/b.err" "$IT_TMP/b.out" >&2; it_fail "$config failed"; } ;;
      all-p4)
        "$SPORE" --node "$OBS" ota all "$img" --canary 1 --parallel 4 --token-map "$MAP" --timeout 60 \
          >"$IT_TMP/b.out" 2>"$IT_TMP/b.err" || { cat "$IT_TMP/b.err" "$IT_TMP/b.out" >&2; it_fail "$config failed"; } ;;
      all-c0-p*)
        "$SPORE" --node "$OBS" ota all "$img" --canary 0 --parallel "$FLEET_N" --token-map "$MAP" --timeout 60 \
          >"$IT_TMP/b.out" 2>"$IT_TMP/b.err" || { cat "$IT_TMP/b.err" "$IT_TMP/b.out" >&2; it_fail "$config failed"; } ;;
      all-c1-p*)
        "$SPORE" --node "$OBS" ota all "$img" --canary 1 --parallel $((FLEET_N - 1)) --token-map "$MAP" --timeout 60 \
          >"$IT_TMP/b.out" 2>"$IT_TMP/b.err" || { cat "$IT_TMP/b.err" "$IT_TMP/b.out" >&2; it_fail "$config failed"; } ;;
    esac
    t="$(secs $(($(now_ns) - t0)))"
    B_TIMES[$config]+="$t "
    log "round $round: $config ${t} s ($(tail -n 1 "$IT_TMP/b.out"))"
    wait_until "all $FLEET_N ACTIVE at n1 again" 60 converged $(seq 1 "$FLEET_N")
  done
done

# ---- report ---------------------------------------------------------------------------------------
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
sink_s=$(med "${A_TIMES[sink]}")
curl_s=$(med "${A_TIMES[curl_spored]}")
mp_s=$(med "${A_TIMES[spore_multipart]}")
raw_s=$(med "${A_TIMES[spore_raw]}")
sink_mb=$(mbps "$BIG_BYTES" "$sink_s")
echo
echo "### (a) upload + verify, $BIG_BYTES-byte ELF image, median of $ROUNDS"
echo
echo "| sender -> receiver | seconds (median) | MB/s | vs the sink |"
echo "| --- | ---: | ---: | ---: |"
echo "| curl -F -> HTTP sink (bench/http_sink.py, discards) | $sink_s | $sink_mb | 1.00 |"
for row in "sha256sum FILE (one hash pass, for scale)|$(med "${A_TIMES[sha]}")" \
  "dd conv=fsync FILE (write + fsync beside the node's executable, for scale)|$(med "${A_TIMES[write]}")" \
  "curl -F -> spored /api/node/update|$curl_s" "spore ota update --no-wait (multipart) -> spored|$mp_s" \
  "spore ota update --no-wait --raw -> spored|$raw_s"; do
  s="${row#*|}"
  m=$(mbps "$BIG_BYTES" "$s")
  echo "| ${row%|*} | $s | $m | $(ratio "$m" "$sink_mb") |"
done
echo
echo "### (b) fleet of $FLEET_N nodes, image $(stat -c %s "$BIN/spored-fleet-1") bytes, median of $ROUNDS"
echo
one=$(med "${B_TIMES[one-node]}")
echo "| command | seconds (median) | rounds | x one node |"
echo "| --- | ---: | --- | ---: |"
for config in "${CONFIGS[@]}"; do
  m=$(med "${B_TIMES[$config]}")
  case "$config" in
    one-node) what="spore ota update (one node)" ;;
    all-p1) what="spore ota all --canary 1 --parallel 1 (one by one, the seed's ota all)" ;;
    all-p4) what="spore ota all --canary 1 --parallel 4 (default)" ;;
    all-c0-p*) what="spore ota all --canary 0 --parallel $FLEET_N (one wave, no canary)" ;;
    *) what="spore ota all --canary 1 --parallel $((FLEET_N - 1)) (the canary, then all the others)" ;;
  esac
  echo "| $what | $m | ${B_TIMES[$config]% } | $(ratio "$m" "$one") |"
done
echo
echo "one by one / --parallel 4: $(ratio "$(med "${B_TIMES[all-p1]}")" "$(med "${B_TIMES[all-p4]}")")x;" \
  "one by one / canary + all: $(ratio "$(med "${B_TIMES[all-p1]}")" "$(med "${B_TIMES[all-c1-p$((FLEET_N - 1))]}")")x;" \
  "one by one / one wave: $(ratio "$(med "${B_TIMES[all-p1]}")" "$(med "${B_TIMES[all-c0-p$FLEET_N]}")")x"
