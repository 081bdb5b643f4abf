#!/usr/bin/env bash
# Slow and hostile HTTP clients against one spored (issue 15, part C): how fast a fresh client's
# GET /api/node/status is answered while 64 slow clients hold connections, and the node's memory
# before and after each of 4 header floods. With --anchor, the same against another spored binary
# (main's before the server moved to libmicrohttpd), side by side.
#
# Usage: bench/http_abuse.sh [--requests N] [--flood-lines L] [--anchor PATH] [--update-docs]
#   --requests N      GET /api/node/status requests during the slow clients, one every 0.1 s,
#                     each from a new connection with a 3 s limit (default 50); after 3 in a row
#                     time out the rest are not tried
#   --flood-lines L   header lines each of the 4 flood connections sends (default 1000000)
#   --anchor PATH     also measure this spored binary
#   --update-docs     write the table into docs/reliability.md (<!-- http-abuse:begin/end -->)
# Env: SPORED  the spored measured (default: builds the `release` preset's)
#
# The 64 slow clients (tests/integration/http_attack.py slow --reconnect) come from 5 loopback
# addresses, send a request line and then one header line every 2 s, never ending the head, and
# reconnect at once when the server closes them, so 64 stay open all along. A flood is 4
# connections that each send a request line and then up to L header lines of 51 bytes as fast as
# the server reads them. Memory is the node's VmRSS. The node binds 127.0.247.2, HTTP 28247,
# UDP 29247.
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
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# measure LABEL BINARY: one table row.
measure() {
  local label="$1" bin="$2" dir="$WORK/$(basename "$2")-$$" pid
  rm -rf "$dir"
  mkdir -p "$dir"
  "$bin" --hostname abuse --bind "$IP" --http-port "$PORT" --udp-port 29247 --state-dir "$dir" >"$dir.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + 20))
  until curl -sf -o /dev/null --max-time 1 "http://$IP:$PORT/api/node/status"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "http_abuse.sh: $bin did not answer in 20 s" >&2; cat "$dir.log" >&2; exit 1; }
    sleep 0.2
  done
  rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

  # ---- latency while 64 slow clients hold connections
  "${ATTACK[@]}" slow "$IP" "$PORT" --sources "$SOURCES" --count 64 --interval 2 --reconnect \
    --duration $((REQUESTS / 10 + 3 * 4 + 10)) >"$dir.slow.json" &
  local slow=$! times=() t fails=0 streak=0
  sleep 1
  for _ in $(seq 1 "$REQUESTS"); do
    if t="$(curl -sf -o /dev/null --max-time 3 -w '%{time_total}' "http://$IP:$PORT/api/node/status")"; then
      times+=("$t")
      streak=0
    else
      fails=$((fails + 1))
      streak=$((streak + 1))
      [ "$streak" -lt 3 ] || break
    fi
    sleep 0.1
  done
  kill "$slow" 2>/dev/null || true
  wait "$slow" 2>/dev/null || true
  local tried=$((${#times[@]} + fails)) lat="-"
  if [ ${#times[@]} -gt 0 ]; then
    lat="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {printf "%.1f / %.1f", a[int((NR + 1) / 2)] * 1000, a[NR] * 1000}')"
  fi
  local answered="${#times[@]} of $tried"
  [ "$tried" -eq "$REQUESTS" ] || answered="$answered (stopped after 3 time-outs in a row)"

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
  kill -0 "$pid" 2>/dev/null || { echo "http_abuse.sh: $bin died" >&2; exit 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$answered" "$lat" "$base" \
    "${after[0]}" "${after[1]}" "${after[2]}" "${after[3]}"
}

LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
TABLE="$WORK/table.md"
{
  echo "| spored | status answers with 64 slow clients | p50 / max, ms | VmRSS before, KiB | after flood 1, KiB (lines each) | flood 2 | flood 3 | flood 4 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  measure "this build ($(git -C "$ROOT" rev-parse --short HEAD), libmicrohttpd)" "$SPORED"
  [ -z "$ANCHOR" ] || measure "anchor (\`$(basename "$ANCHOR")\`)" "$ANCHOR"
} >"$TABLE"

{
  echo "Measured $(date -u +%Y-%m-%d) with \`bench/http_abuse.sh --requests $REQUESTS --flood-lines $FLOOD_LINES${ANCHOR:+ --anchor $(basename "$ANCHOR")}\`"
  echo "($(nproc) cores shared by the clients and the node, load average $LOAD at the start; release build):"
  echo
  cat "$TABLE"
} >"$WORK/section.md"
cat "$WORK/section.md"
if [ "$UPDATE_DOCS" = 1 ]; then
  python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/reliability.md" http-abuse "$WORK/section.md"
  echo "docs/reliability.md updated"
fi
