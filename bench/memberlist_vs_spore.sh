#!/usr/bin/env bash
# SPORE against its HashiCorp memberlist anchor (issue 6, item 4(b); DESIGN.md §4), side by side in
# one run, real processes on loopback inside a private network namespace:
#   - spored with its `fast` and `lan` (seed thresholds) profiles,
#   - bench/memberlist/peer.go, memberlist 0.2.2 (Debian) with memberlist.DefaultLANConfig().
# For each cluster size N and each round: N-1 nodes converge; then
#   join    ms from launching an N-th process until all N list all N alive (ACTIVE);
#   traffic packets and IP bytes per node per second over STEADY_S s of steady state (from 2 s after
#           the join for spored, 62 s for memberlist, whose periodic push/pull starts late), read
#           from the namespace's kernel counters (nothing else runs there, nobody polls meanwhile);
#   crash   ms from SIGKILL of that node until all N-1 others list it suspect/INACTIVE (or already
#           dead), then until all list it dead/DEAD.
# Prints a Markdown table of medians (also written to build/bench/memberlist_vs_spore.md).
#
# Usage: bench/memberlist_vs_spore.sh [--update-docs] [-n "5 10"] [-r ROUNDS] [-s STEADY_S]
#   --update-docs: also replace the text between <!-- memberlist:begin --> and
#   <!-- memberlist:end --> in docs/benchmarks.md with the table (bench/all.sh uses this).
#   STEADY_S defaults to 30: memberlist's LAN push/pull (TCP) runs every 30 s per node, so a 30 s
#   window holds exactly one per node and the figure is its true average, not a sampling accident.
#   needs root (ip netns), build/dev/spored (./ctl.sh build) and Go with Debian's memberlist:
#   apt-get install golang-go golang-github-hashicorp-memberlist-dev (the peer is built here).
# About 4 minutes per size and round (the lan profile waits out the seed's 60 s DEAD).
#
# Why a namespace: its loopback carries nothing but the set under test, so /proc/net/dev and
# /proc/net/netstat measure both systems the same way, with no cooperation from either, and
# addresses and ports cannot collide with anything else on the machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/bench/memberlist_vs_spore.sh"
export SPORED="${SPORED:-$ROOT/build/dev/spored}" SPORE="${SPORE:-$ROOT/build/dev/spore}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
ML_PEER="${ML_PEER:-$ROOT/build/bench/memberlist-peer}"
OUT="$ROOT/build/bench/memberlist_vs_spore.md"

usage() {
  echo "usage: $0 [--update-docs] [-n \"SIZES\"] [-r ROUNDS] [-s STEADY_S]   (defaults: -n \"5 10\" -r 3 -s 30)" >&2
  exit 2
}

INSIDE=0 UPDATE_DOCS=0
if [ "${1:-}" = "--inside" ]; then
  INSIDE=1
  shift
fi
if [ "${1:-}" = "--update-docs" ]; then
  UPDATE_DOCS=1
  shift
fi
SIZES="5 10" ROUNDS=3 STEADY_S=30
while getopts "n:r:s:" opt; do
  case "$opt" in
    n) SIZES="$OPTARG" ;;
    r) ROUNDS="$OPTARG" ;;
    s) STEADY_S="$OPTARG" ;;
    *) usage ;;
  esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$STEADY_S" =~ ^[1-9][0-9]*$ ]] || usage
for n in $SIZES; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 3 ] || [ "$n" -gt 200 ]; then usage; fi
done
ARGS=(-n "$SIZES" -r "$ROUNDS" -s "$STEADY_S")
CMDLINE="bench/memberlist_vs_spore.sh -n \"$SIZES\" -r $ROUNDS -s $STEADY_S"

# Whole-run limit for the watchdog: per size and round about 35 s per set of N starts plus the
# waits (lan DEAD 60 s, memberlist dead ~10 s), with a wide margin.
sum_n=0
for n in $SIZES; do sum_n=$((sum_n + n)); done
LIMIT_S=$(((3 * (STEADY_S + 10) + 150 + 70) * ROUNDS * $(wc -w <<<"$SIZES") + 3 * sum_n * ROUNDS + 120))

# ---- outside: build, create the namespace, run this script inside it, remove the namespace ----
if [ "$INSIDE" = 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "$0: needs root (ip netns); nothing measured" >&2; exit 1; }
  [ -x "$SPORED" ] || { echo "build first: ./ctl.sh build (missing $SPORED)" >&2; exit 1; }
  for tool in ip jq curl timeout; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 1; }
  done
  if [ ! -x "$ML_PEER" ] || [ "$ROOT/bench/memberlist/peer.go" -nt "$ML_PEER" ]; then
    if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ]; then
      echo "$0: needs apt-get install golang-go golang-github-hashicorp-memberlist-dev" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$ML_PEER")"
    # GOPATH mode against Debian's packaged sources: no network, the version Debian ships.
    (cd "$ROOT" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="${GOCACHE:-$ROOT/build/bench/go-cache}" \
      go build -o "$ML_PEER" ./bench/memberlist)
  fi
  NS="spore-mlvs-$$"
  inner=""
  # shellcheck disable=SC2317  # called by the EXIT trap
  cleanup_outside() {
    local rc=$? pid
    trap - EXIT INT TERM
    [ -z "$inner" ] || kill -TERM "$inner" 2>/dev/null || true
    [ -z "$inner" ] || wait "$inner" 2>/dev/null || true
    # Anything still in the namespace was started by this script: nothing else can enter it.
    if ip netns list | grep -qw "$NS"; then
      for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$NS" 2>/dev/null || true
    fi
    exit "$rc"
  }
  trap cleanup_outside EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  timeout -k 20 $((LIMIT_S + 30)) ip netns exec "$NS" "$SELF" --inside "${ARGS[@]}" &
  inner=$!
  rc=0
  wait "$inner" || rc=$?
  inner=""
  if [ "$rc" -eq 0 ] && [ "$UPDATE_DOCS" = 1 ]; then
    python3 - "$ROOT/docs/benchmarks.md" "$OUT" <<'PY'
import sys
doc_path, table_path = sys.argv[1], sys.argv[2]
doc, table = open(doc_path).read(), open(table_path).read()
begin, end = "<!-- memberlist:begin -->", "<!-- memberlist:end -->"
i, j = doc.find(begin), doc.find(end)
if i < 0 or j < i:
    sys.exit(f"memberlist_vs_spore: {doc_path} lacks the markers {begin} ... {end}")
open(doc_path, "w").write(doc[: i + len(begin)] + "\n" + table.rstrip("\n") + "\n" + doc[j:])
PY
    echo "docs/benchmarks.md updated (between <!-- memberlist:begin/end -->)" >&2
  fi
  exit "$rc"
fi

# ---- inside the namespace ---------------------------------------------------------------------
[ -x "$ML_PEER" ] || { echo "missing $ML_PEER" >&2; exit 1; }
# shellcheck source=tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
it_init 250 "$LIMIT_S"  # nodes on 127.0.250.2.., process bookkeeping, cleanup trap, watchdog
# The namespace is private, but keep clear of the ports the integration tests use anyway.
IT_UDP_PORT=24250 IT_HTTP_PORT=24251
ML_PORT=24252 ML_HTTP_PORT=24253
ML_SETTLE_S=62  # see memberlist_round
log "in namespace: spored UDP $IT_UDP_PORT HTTP $IT_HTTP_PORT, memberlist $ML_PORT HTTP $ML_HTTP_PORT"

spore_urls() { local k; for k in "$@"; do printf 'http://%s:%s/api/cluster/members\n' "$(it_ip "$k")" "$IT_HTTP_PORT"; done; }
ml_urls() { local k; for k in "$@"; do printf 'http://%s:%s/members\n' "$(it_ip "$k")" "$ML_HTTP_PORT"; done; }
names_json() { printf 'n%s\n' "$@" | jq -R . | jq -sc .; }

# ml_launch K [JOIN_K]: starts memberlist peer K (name nK), joining peer JOIN_K if given.
ml_launch() {
  local k="$1" join=()
  [ -z "${2:-}" ] || join=(-join "$(it_ip "$2"):$ML_PORT")
  mkdir -p "$(node_dir "$k")"
  "$ML_PEER" -name "n$k" -bind "$(it_ip "$k")" -port "$ML_PORT" -http "$(it_ip "$k"):$ML_HTTP_PORT" \
    "${join[@]}" >>"$(node_log "$k")" 2>&1 &
  IT_PID[$k]=$!
}
ml_answers() {
  node_alive "$1" || { show_log "$1"; it_fail "memberlist peer $1 exited"; }
  curl -sf -o /dev/null --max-time 2 "$(ml_urls "$1")"
}

# Kernel counters of this namespace: loopback packets and bytes (IP headers included; each
# packet crosses lo once), broadcasts among them (received by every other node, not just one).
traffic_snapshot() {
  local lo bc
  lo="$(awk '$1 == "lo:" { print $11, $10 }' /proc/net/dev)"  # tx packets, tx bytes
  bc="$(awk '/^IpExt:/ { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 } else print $col["OutBcastPkts"], $col["OutBcastOctets"] }' /proc/net/netstat)"
  echo "$lo $bc"
}
# traffic_rates N SECONDS BEFORE... AFTER...: "sent_pps sent_Bps recv_pps recv_Bps" per node.
traffic_rates() {
  local n="$1" secs="$2"
  shift 2
  awk -v n="$n" -v t="$secs" -v p0="$1" -v b0="$2" -v bp0="$3" -v bb0="$4" -v p1="$5" -v b1="$6" -v bp1="$7" -v bb1="$8" 'BEGIN {
    p = p1 - p0; b = b1 - b0; bp = bp1 - bp0; bb = bb1 - bb0
    # a unicast packet reaches one node, a broadcast reaches the n-1 others
    rp = (p - bp) + bp * (n - 1); rb = (b - bb) + bb * (n - 1)
    printf "%.2f %.0f %.2f %.0f\n", p / n / t, b / n / t, rp / n / t, rb / n / t }'
}

# measure_steady N SETTLE_S: waits SETTLE_S s for the join to settle, then counts STEADY_S s;
# prints the rates.
measure_steady() {
  local before after
  sleep "$2"
  # shellcheck disable=SC2207
  before=($(traffic_snapshot))
  sleep "$STEADY_S"
  # shellcheck disable=SC2207
  after=($(traffic_snapshot))
  traffic_rates "$1" "$STEADY_S" "${before[@]}" "${after[@]}"
}

declare -A RES=()  # "N system metric" -> space-separated values of all rounds
record() {
  local key="$1 $2" metric values=("${@:3}")
  for metric in join suspect dead spps sBps rpps rBps; do
    RES[$key $metric]="${RES[$key $metric]:-} ${values[0]}"
    values=("${values[@]:1}")
  done
}

# spore_round PROFILE N
spore_round() {
  local profile="$1" n="$2" k join_ms suspect_ms dead_ms rates
  local peers=() urls peer_urls
  for ((k = 1; k < n; k++)); do peers+=("$k"); done
  IT_NODE_ARGS=(--profile "$profile")
  rm -rf "$IT_TMP"/node-*
  for k in "${peers[@]}"; do start_node "$k"; done
  mapfile -t peer_urls < <(spore_urls "${peers[@]}")
  wait_until "$((n - 1)) spored converge" 60 \
    cluster_holds "$BENCH_NORM_SPORE" "$(bench_cond_converged "$(names_json "${peers[@]}")")" "${peer_urls[@]}"
  mapfile -t urls < <(spore_urls "${peers[@]}" "$n")
  local t0
  t0=$(now_ms)
  mkdir -p "$(node_dir "$n")"
  "$SPORED" --hostname "n$n" --bind "$(it_ip "$n")" --http-port "$IT_HTTP_PORT" --udp-port "$IT_UDP_PORT" \
    --state-dir "$(node_dir "$n")" "${IT_NODE_ARGS[@]}" >>"$(node_log "$n")" 2>&1 &
  IT_PID[$n]=$!
  disown "${IT_PID[$n]}"  # SIGKILLed below on purpose; no "Killed" notice from bash
  join_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_SPORE" \
    "$(bench_cond_converged "$(names_json "${peers[@]}" "$n")")" "${urls[@]}")
  # spored's periodic traffic starts with the process (only the start jitter, <= 1 s, delays it).
  rates=$(measure_steady "$n" 2)
  t0=$(now_ms)
  kill -KILL "${IT_PID[$n]}"
  suspect_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_SPORE" "$(bench_cond_all_in "n$n" '["suspect","dead"]')" "${peer_urls[@]}")
  dead_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_SPORE" "$(bench_cond_all_in "n$n" '["dead"]')" "${peer_urls[@]}")
  unset "IT_PID[$n]"
  for k in "${peers[@]}"; do stop_node "$k"; done
  log "N=$n spore-$profile: join $join_ms ms, INACTIVE $suspect_ms ms, DEAD $dead_ms ms; sent/recv per node: $rates (pkt/s B/s pkt/s B/s)"
  # shellcheck disable=SC2086
  record "$n" "spore-$profile" "$join_ms" "$suspect_ms" "$dead_ms" $rates
}

# memberlist_round N
memberlist_round() {
  local n="$1" k join_ms suspect_ms dead_ms rates
  local peers=() urls peer_urls
  for ((k = 1; k < n; k++)); do peers+=("$k"); done
  rm -rf "$IT_TMP"/node-*
  ml_launch 1
  wait_until "memberlist peer 1 answers" 20 ml_answers 1
  for k in "${peers[@]:1}"; do
    ml_launch "$k" 1
    wait_until "memberlist peer $k answers" 20 ml_answers "$k"
  done
  mapfile -t peer_urls < <(ml_urls "${peers[@]}")
  wait_until "$((n - 1)) memberlist peers converge" 60 \
    cluster_holds "$BENCH_NORM_MEMBERLIST" "$(bench_cond_converged "$(names_json "${peers[@]}")")" "${peer_urls[@]}"
  mapfile -t urls < <(ml_urls "${peers[@]}" "$n")
  local t0
  t0=$(now_ms)
  ml_launch "$n" 1
  disown "${IT_PID[$n]}"
  join_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_MEMBERLIST" \
    "$(bench_cond_converged "$(names_json "${peers[@]}" "$n")")" "${urls[@]}")
  # memberlist's periodic push/pull (TCP, full state) first runs 30-60 s after a node starts (a
  # random 0-30 s stagger, then one whole interval): wait until every node is past it, or the
  # window would miss that part of its steady traffic.
  rates=$(measure_steady "$n" "$ML_SETTLE_S")
  t0=$(now_ms)
  kill -KILL "${IT_PID[$n]}"
  suspect_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_MEMBERLIST" "$(bench_cond_all_in "n$n" '["suspect","dead"]')" "${peer_urls[@]}")
  dead_ms=$(time_until "$t0" cluster_holds "$BENCH_NORM_MEMBERLIST" "$(bench_cond_all_in "n$n" '["dead"]')" "${peer_urls[@]}")
  unset "IT_PID[$n]"
  for k in "${peers[@]}"; do stop_node "$k"; done
  log "N=$n memberlist-lan: join $join_ms ms, suspect $suspect_ms ms, dead $dead_ms ms; sent/recv per node: $rates (pkt/s B/s pkt/s B/s)"
  # shellcheck disable=SC2086
  record "$n" memberlist-lan "$join_ms" "$suspect_ms" "$dead_ms" $rates
}

SYSTEMS=(spore-fast spore-lan memberlist-lan)
# Rounds outermost, so a slow spell of the shared machine spreads over all systems alike.
for round in $(seq 1 "$ROUNDS"); do
  for n in $SIZES; do
    log "round $round, N=$n"
    spore_round fast "$n"
    spore_round lan "$n"
    memberlist_round "$n"
  done
done

describe() {
  case "$1" in
    spore-fast) echo "SPORE \`fast\` | INACTIVE after 1.5 s, DEAD after 6 s of silence" ;;
    spore-lan) echo "SPORE \`lan\` (default) | INACTIVE after 10 s, DEAD after 60 s of silence (seed)" ;;
    memberlist-lan) echo "memberlist LAN | probe 1 s (timeout 0.5 s), suspect -> dead after 4-24 s (4 x max(1, log10 N) s, shortened by confirmations)" ;;
  esac
}
{
  echo "Medians of $ROUNDS rounds; traffic over $STEADY_S s of steady state per round (from 2 s after the join for spored, $ML_SETTLE_S s for memberlist). Reproduce with:"
  echo
  echo '```bash'
  echo "$CMDLINE"
  echo '```'
  echo
  echo "| N | system | detection settings | new node alive at all N (ms) | killed node suspect/INACTIVE at all N-1 (ms) | dead/DEAD at all N-1 (ms) | sent per node (packets/s) | sent per node (B/s) | received per node (packets/s) | received per node (B/s) |"
  echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for n in $SIZES; do
    for sys in "${SYSTEMS[@]}"; do
      row="| $n | $(describe "$sys")"
      for metric in join suspect dead spps sBps rpps rBps; do
        # shellcheck disable=SC2086
        row+=" | $(median ${RES[$n $sys $metric]:-})"
      done
      echo "$row |"
    done
  done
  echo
  echo "Every round ($ROUNDS per size), same columns (join, suspect, dead, sent pkt/s, sent B/s, recv pkt/s, recv B/s):"
  echo
  for n in $SIZES; do
    for sys in "${SYSTEMS[@]}"; do
      line="- N=$n $sys:"
      for metric in join suspect dead spps sBps rpps rBps; do line+=" $metric [${RES[$n $sys $metric]# }]"; done
      echo "$line"
    done
  done
} | tee "$OUT"
log "table written to $OUT"
