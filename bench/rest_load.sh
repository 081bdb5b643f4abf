#!/usr/bin/env bash
# Load on spored's REST API with wrk (issue 9): requests per second, latency percentiles, errors
# and the node's memory, per endpoint and number of connections, on a 3-node loopback cluster.
#
# Usage: bench/rest_load.sh [--duration S] [--connections "8 16"] [--update-docs]
#   --duration S       seconds of load per run (default 15)
#   --connections L    client connections per run, space-separated, each 1..16 (default "8 16")
#   --update-docs      write the table into docs/reliability.md (<!-- rest-load:begin/end -->)
# Env: SPORED  a spored binary (default: builds the `release` preset's)
#
# Endpoints: GET /api/node/status, GET /api/cluster/members, GET /metrics, and POST
# /api/cluster/events (token, 16-byte payload) while 4 SSE clients watch the stream of the same
# node (the fan-out is part of the cost). Errors are wrk's socket errors (connect, read, write,
# timeout) plus every answer that is not 2xx. Memory: the loaded node's VmRSS before the run and
# after it, and its peak (VmHWM). Nodes bind 127.0.246.2-4, UDP 29246, HTTP 28246. wrk connects
# from 127.0.0.1, the bookkeeping client from 127.0.246.50, the 4 SSE clients from 127.0.246.50
# and .51: a node takes at most 16 connections and 2 event streams per client address
# (docs/reliability.md), so wrk's --connections stay <= 16.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/bench/lib.sh"
DURATION=15
CONNECTIONS="8 16"
UPDATE_DOCS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="${2:?--duration needs seconds}"; shift 2 ;;
    --connections) CONNECTIONS="${2:?--connections needs a list}"; shift 2 ;;
    --update-docs) UPDATE_DOCS=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rest_load.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "rest_load.sh: --duration must be a positive number of seconds" >&2; exit 2; }
for c in $CONNECTIONS; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] && [ "$c" -le 16 ] || { echo "rest_load.sh: connection counts are 1..16 (the per-address cap), got '$c'" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "rest_load.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "rest_load.sh: needs jq" >&2; exit 1; }

if [ -z "${SPORED:-}" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target spored >/dev/null
  SPORED="$ROOT/build/release/spored"
fi
bench_scratch rest-load

ip_of() { echo "127.0.246.$(($1 + 1))"; }
url_of() { echo "http://$(ip_of "$1"):28246"; }
echo "rest-load-token-$$" >"$WORK/token"
chmod 600 "$WORK/token"
for k in 1 2 3; do
  mkdir -p "$WORK/n$k"
  spawn_spored new_log="$WORK/n$k.log" bin="$SPORED" hostname="load$k" bind="$(ip_of "$k")" http_port=28246 \
    udp_port=29246 state_dir="$WORK/n$k" token_file="$WORK/token"
  PIDS+=("$SPAWN_PID")
done
NODE_PID="${PIDS[0]}"
deadline=$((SECONDS + 30))
until [ "$(curl -sf "$(url_of 1)/api/cluster/members" | jq '[.members[] | select(.status == "ACTIVE")] | length' 2>/dev/null)" = 3 ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "rest_load.sh: the 3 nodes did not converge in 30 s" >&2; exit 1; }
  sleep 0.2
done

cat >"$WORK/publish.lua" <<EOF
wrk.method = "POST"
wrk.body = "0123456789abcdef"
wrk.headers["Authorization"] = "Bearer $(cat "$WORK/token")"
wrk.headers["Content-Type"] = "application/octet-stream"
EOF

rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$NODE_PID/status"; }
# wrk_row NAME PATH CONNECTIONS [LUA]: one table row.
wrk_row() {
  local name="$1" path="$2" conns="$3" lua="${4:-}" out rss0 rss1 hwm rps p50 p90 p99 sock non2xx
  # The previous run's connections are closed first: a node counts a connection against its
  # client address's 16 until it has cleaned it up.
  sleep 1
  rss0="$(rss_kb VmRSS)"
  out="$(wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 5s --latency ${lua:+-s "$lua"} "$(url_of 1)$path" 2>&1)"
  rss1="$(rss_kb VmRSS)"
  hwm="$(rss_kb VmHWM)"
  rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")"
  lat() { awk -v p="$1%" '$1 == p { print $2 }' <<<"$out"; }
  p50="$(lat 50)" p90="$(lat 90)" p99="$(lat 99)"
  sock="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")"
  printf '| `%s` | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$name" "$conns" "${rps:-?}" "${p50:-?}" "${p90:-?}" \
    "${p99:-?}" "${sock:-0}" "${non2xx:-0}" "$((rss0 / 1024))" "$((rss1 / 1024))" "$((hwm / 1024))"
  kill -0 "$NODE_PID" 2>/dev/null || { echo "rest_load.sh: spored died under load" >&2; cat "$WORK/n1.log" >&2; exit 1; }
}

# The seq of a fresh publish: how many events node 1 has published so far, plus one.
last_seq() {
  curl -sf --interface 127.0.246.50 -X POST -H "Authorization: Bearer $(cat "$WORK/token")" --data-binary x \
    "$(url_of 1)/api/cluster/events?topic=mark" | jq .seq
}
NOTES=()
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
TABLE="$WORK/table.md"
{
  echo "| request | connections | requests/s | p50 | p90 | p99 | socket errors | non-2xx | RSS before / after / peak, MiB |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$TABLE"
for c in $CONNECTIONS; do
  wrk_row "GET /api/node/status" /api/node/status "$c" >>"$TABLE"
  wrk_row "GET /api/cluster/members" /api/cluster/members "$c" >>"$TABLE"
  wrk_row "GET /metrics" /metrics "$c" >>"$TABLE"
  sse=()
  for s in 1 2 3 4; do
    # Two per address: a node takes at most 2 event streams from one (HttpServer::Limits).
    curl -sN --interface "127.0.246.$((49 + (s + 1) / 2))" --max-time $((DURATION + 10)) "$(url_of 1)/api/cluster/events/stream" \
      -o "$WORK/stream$c-$s.txt" &
    PIDS+=($!)
    sse+=($!)
  done
  sleep 0.5
  seq0="$(last_seq)"
  wrk_row "POST /api/cluster/events (4 SSE clients)" "/api/cluster/events?topic=load" "$c" "$WORK/publish.lua" >>"$TABLE"
  published=$(($(last_seq) - seq0 - 1))
  sleep 1
  kill "${sse[@]}" 2>/dev/null || true
  per_client="$(for s in 1 2 3 4; do grep -c '^data: {"topic":"load"' "$WORK/stream$c-$s.txt" || true; done | sort -n | tr '\n' ' ')"
  NOTES+=("At $c connections $published events were published; the 4 SSE clients received $(echo $per_client | sed 's/ /, /g') of them.")
done

{
  echo "Measured $(date -u +%Y-%m-%d) with \`bench/rest_load.sh --duration $DURATION --connections \"$CONNECTIONS\"\`:"
  echo "wrk 2 threads, ${DURATION} s per row, against node 1 of a 3-node loopback cluster (release build;"
  echo "$(nproc) cores shared by wrk, the 3 nodes and the SSE clients; load average $LOAD at the start)."
  echo
  cat "$TABLE"
  echo
  for n in "${NOTES[@]}"; do echo "$n"; done
} >"$WORK/section.md"
cat "$WORK/section.md"
alive=1
for p in "${PIDS[@]:0:3}"; do kill -0 "$p" 2>/dev/null || alive=0; done
[ "$alive" = 1 ] || { echo "rest_load.sh: a node died" >&2; exit 1; }
if [ "$UPDATE_DOCS" = 1 ]; then
  python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/reliability.md" rest-load "$WORK/section.md"
  echo "docs/reliability.md updated"
fi
