#!/usr/bin/env bash
# Slow and hostile HTTP clients against one spored (issue 15, part C and its red-team findings):
# how fast a fresh client's GET /api/node/status is answered while 64 slow clients hold
# connections, and the node's memory before and after each of 4 header floods (table 1); the same
# GET while 256 connections from 16 addresses (16 each, the per-address cap) hold the node full
# with slow heads or slow chunked bodies, reconnecting at once when cut off, and the node's memory
# before, at the peak of and 15 s after 256 connections that each send 64 KiB - 1 of a 64 KiB
# body (table 2). With --anchor, the same against another spored binary, side by side.
#
# Usage: bench/http_abuse.sh [--requests N] [--flood-lines L] [--anchor PATH] [--update-docs]
#   --requests N      GET /api/node/status requests during each attack, one every 0.1 s, each
#                     from a new connection with a 3 s limit (default 50); after 3 in a row fail
#                     (time-out or not 200) the rest are not tried
#   --flood-lines L   header lines each of the 4 flood connections sends (default 1000000)
#   --anchor PATH     also measure this spored binary
#   --update-docs     write the table into docs/reliability.md (<!-- http-abuse:begin/end -->)
# Env: SPORED  the spored measured (default: builds the `release` preset's)
#
# The 64 slow clients (tests/integration/http_attack.py slow --reconnect) come from 5 loopback
# addresses, send a request line and then one header line every 2 s, never ending the head, and
# reconnect at once when the server closes them, so 64 stay open all along. A flood is 4
# connections that each send a request line and then up to L header lines of 51 bytes as fast as
# the server reads them. The 256-connection floods (http_attack.py slow --reconnect --mode head /
# --mode chunked, one line or one 1-byte chunk of a POST /api/cluster/events body every 2 s) come
# from 127.0.248.1-16, the 64 KiB bodies (http_attack.py bodies) from 127.0.249.1-16. Memory is
# the node's VmRSS. The node binds 127.0.247.2, HTTP 28247, UDP 29247.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/bench/lib.sh"
REQUESTS=50
FLOOD_LINES=1000000
ANCHOR=""
UPDATE_DOCS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="${2:?--requests needs a number}"; shift 2 ;;
    --flood-lines) FLOOD_LINES="${2:?--flood-lines needs a number}"; shift 2 ;;
    --anchor) ANCHOR="${2:?--anchor needs a path}"; shift 2 ;;
    --update-docs) UPDATE_DOCS=1; shift ;;
    -h | --help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "http_abuse.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$REQUESTS" =~ ^[1-9][0-9]*$ ]] || { echo "http_abuse.sh: --requests must be a positive number" >&2; exit 2; }
[[ "$FLOOD_LINES" =~ ^[1-9][0-9]*$ ]] || { echo "http_abuse.sh: --flood-lines must be a positive number" >&2; exit 2; }
[ -z "$ANCHOR" ] || [ -x "$ANCHOR" ] || { echo "http_abuse.sh: --anchor $ANCHOR is not an executable" >&2; exit 2; }
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "http_abuse.sh: needs $tool" >&2; exit 1; }
done
if [ -z "${SPORED:-}" ]; then
  SPORED="$ROOT/build/release/spored"
  bench_build_release_spored "$ROOT" "$SPORED"
fi

bench_scratch http-abuse

IP=127.0.247.2
PORT=28247
ATTACK=(python3 "$ROOT/tests/integration/http_attack.py")
SOURCES="127.0.247.100,127.0.247.101,127.0.247.102,127.0.247.103,127.0.247.104"
FULL_SOURCES="$(seq -s, -f '127.0.248.%g' 1 16)"
BODY_SOURCES="$(seq -s, -f '127.0.249.%g' 1 16)"

# measure LABEL BINARY: one row of each table.
measure() {
  local label="$1" bin="$2" dir="$WORK/$(basename "$2")-$$" pid
  rm -rf "$dir"
  mkdir -p "$dir"
  spawn_spored new_log="$dir.log" bin="$bin" hostname=abuse bind="$IP" http_port="$PORT" udp_port=29247 state_dir="$dir"
  pid=$SPAWN_PID
  PIDS+=("$pid")
  local deadline=$((SECONDS + 20))
  until curl -sf -o /dev/null --max-time 1 "http://$IP:$PORT/api/node/status"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "http_abuse.sh: $bin did not answer in 20 s" >&2; cat "$dir.log" >&2; exit 1; }
    sleep 0.2
  done
  rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

  # ---- memory after 256 connections with 64 KiB bodies (first, on a fresh node)
  local before peak after15 slow
  before="$(rss)"
  "${ATTACK[@]}" bodies "$IP" "$PORT" --sources "$BODY_SOURCES" --count 256 --hold 4 >/dev/null &
  slow=$!
  sleep 3
  peak="$(rss)"
  wait "$slow" 2>/dev/null || true
  sleep 15
  after15="$(rss)"

  # ---- latency while 64 slow clients hold connections
  "${ATTACK[@]}" slow "$IP" "$PORT" --sources "$SOURCES" --count 64 --interval 2 --reconnect \
    --duration $((REQUESTS / 10 + 3 * 4 + 10)) >"$dir.slow.json" &
  slow=$!
  sleep 1
  local latency
  latency="$(probe_latency)"
  kill "$slow" 2>/dev/null || true
  wait "$slow" 2>/dev/null || true

  # ---- header floods and memory
  sleep 1
  curl -sf -o /dev/null --max-time 3 "http://$IP:$PORT/api/node/status" || true
  local base after=() lines
  base="$(rss)"
  for round in 1 2 3 4; do
    lines="$("${ATTACK[@]}" flood "$IP" "$PORT" --connections 4 --lines "$FLOOD_LINES" --timeout 300 |
      jq '[.connections[].lines_sent] | add')"
    sleep 1
    after+=("$(rss) ($((lines / 4)))")
  done
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$latency" "$base" \
    "${after[0]}" "${after[1]}" "${after[2]}" "${after[3]}" >>"$TABLE"

  # ---- a node held full: 256 connections from 16 addresses
  local full=() mode
  for mode in head chunked; do
    sleep 1
    "${ATTACK[@]}" slow "$IP" "$PORT" --mode "$mode" --sources "$FULL_SOURCES" --count 256 --interval 2 --reconnect \
      --duration $((REQUESTS / 10 + 3 * 4 + 10)) >"$dir.full-$mode.json" &
    slow=$!
    sleep 3
    full+=("$(probe_latency)")
    kill "$slow" 2>/dev/null || true
    wait "$slow" 2>/dev/null || true
  done

  kill -0 "$pid" 2>/dev/null || { echo "http_abuse.sh: $bin died" >&2; exit 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  printf '| %s | %s | %s | %s / %s / %s |\n' "$label" "${full[0]}" "${full[1]}" "$before" "$peak" "$after15" >>"$TABLE2"
}

# probe_latency: REQUESTS GETs of the status from fresh connections, one every 0.1 s; prints
# "answered 200 of tried | p50 / max ms" (a table's two cells).
probe_latency() {
  local times=() t code fails=0 streak=0 others=()
  for _ in $(seq 1 "$REQUESTS"); do
    read -r code t < <(curl -s -o /dev/null --max-time 3 -w '%{http_code} %{time_total}\n' \
      "http://$IP:$PORT/api/node/status" || true)
    if [ "${code:-000}" = 200 ]; then
      times+=("$t")
      streak=0
    else
      fails=$((fails + 1))
      streak=$((streak + 1))
      others+=("${code:-000}")
      [ "$streak" -lt 3 ] || break
    fi
    sleep 0.1
  done
  local tried=$((${#times[@]} + fails)) lat="-" answered
  if [ ${#times[@]} -gt 0 ]; then
    lat="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {printf "%.1f / %.1f", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000}')"
  fi
  answered="${#times[@]} of $tried"
  [ "$fails" -eq 0 ] || answered="$answered (others: $(printf '%s\n' "${others[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), ($2 == "000" ? "no answer" : $2), $1}'))"
  [ "$tried" -eq "$REQUESTS" ] || answered="$answered, stopped after 3 failures in a row"
  printf '%s | %s' "$answered" "$lat"
}

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
TABLE="$WORK/table.md"
TABLE2="$WORK/table2.md"
{
  echo "| spored | status answers with 64 slow clients | p50 / max, ms | VmRSS before, KiB | after flood 1, KiB (lines each) | flood 2 | flood 3 | flood 4 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"
{
  echo "| spored | status answers, 256 slow heads | p50 / max, ms | status answers, 256 slow chunked bodies | p50 / max, ms | VmRSS before / peak / 15 s after 256 x 64 KiB bodies, KiB |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE2"
measure "this build ($(git -C "$ROOT" rev-parse --short HEAD))" "$SPORED"
[ -z "$ANCHOR" ] || measure "anchor (\`$(basename "$ANCHOR")\`)" "$ANCHOR"

{
  echo "Measured $(date -u +%Y-%m-%d) with \`bench/http_abuse.sh --requests $REQUESTS --flood-lines $FLOOD_LINES${ANCHOR:+ --anchor $(basename "$ANCHOR")}\`"
  echo "($(nproc) cores shared by the clients and the node, load average $LOAD at the start; release build):"
  echo
  cat "$TABLE"
  echo
  cat "$TABLE2"
} >"$WORK/section.md"
cat "$WORK/section.md"
if [ "$UPDATE_DOCS" = 1 ]; then
  python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/reliability.md" http-abuse "$WORK/section.md"
  echo "docs/reliability.md updated"
fi
