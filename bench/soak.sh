#!/usr/bin/env bash
# Soak test (issue 9, "Load and soak"): real spored nodes, one per network namespace on a bridge
# (the bed of tests/cluster/netns.sh), for a long run under packet loss, churn and garbage, with
# verdicts: 0 crashes, 0 false DEAD, flat memory, garbage refused, everyone ACTIVE at the end.
#
#   nodes     --nodes N spored processes, profile --profile (default lan: INACTIVE after 10 s,
#             DEAD after 60 s of silence, the seed's), discovery by broadcast as in every netns test.
#   loss      --loss PCT % of the UDP datagrams every node receives are dropped (nftables, ns_loss)
#             for the whole run, the observer's HTTP excepted (TCP).
#   churn     a schedule drawn from --seed by bench/soak_plan.py: SIGKILL a node and restart it
#             after --down-min..--down-max s; SIGTERM (graceful LEAVE) and restart likewise; cut
#             1..--part-size nodes off from all others for --part-min..--part-max s (longer than
#             DEAD), then heal. At most --max-disturbed nodes down or cut off at once; nodes
#             1..--keep never disturbed; nothing in the last --settle s. Every action is logged
#             with its time (events.tsv). A node that exits by itself is a crash: logged with
#             its last log lines, counted, and restarted so the run goes on.
#   garbage   bench/soak_garbage.py in the hub namespace sends --garbage-rate datagrams/s to UDP
#             4210, --garbage-broadcast % broadcast (every node), the rest unicast: random bytes
#             and SPORE-looking datagrams with one defect each (header or body); counted by kind.
#   observe   bench/soak_observe.py in the hub namespace reads every --interval s each node's
#             /api/cluster/members and /metrics, and each spored's VmRSS and open fds from /proc.
#   verdicts  bench/soak_report.py, from the events, the observations and the nodes' logs (spored
#             logs every status change it makes, so the log check is complete, not sampled):
#             - crashes: nodes that exited without being killed, core dumps, fatal log lines,
#               SIGTERMs not obeyed within 15 s: must be 0;
#             - false DEAD: an observer logging or listing a node DEAD (or left) that was not
#               stopped or cut off from it in the relevant window: must be 0. Justified: a
#               SIGTERMed node from its stop (LEAVE) to its restart + --grace s; a SIGKILLed or
#               cut-off node from dead-inactive (50 s) after the kill/cut to its restart/heal +
#               --grace s; disturbances of one pair that overlap (a restart while the observer
#               is still cut off) are one unbroken silence. A restart is no DEAD: peers update
#               the entry (larger incarnation);
#             - false INACTIVE: the same test for INACTIVE (justified from the disturbance's start),
#               reported, not a verdict; likewise recoveries;
#             - membership anomalies (a stranger or duplicate in a member list, a node missing
#               from a list longer than --grace s after the observer started): must be 0;
#             - memory: per spored process, VmRSS first sample --warmup s after its start, last
#               sample, max; flat = growth <= max(--rss-bound-kib, --rss-bound-pct % of first),
#               checked for processes observed >= --rss-min-life s after warm-up (nodes 1..keep
#               live through the whole run); open fds likewise must not grow by more than 8;
#             - garbage: datagrams sent by kind, spore_datagrams_rejected_total summed over nodes
#               (each process' last scrape: before it is stopped, and at the end) by reason; must
#               be 0.85..1.15 x what the running nodes should have received (datagrams within 508
#               bytes: broadcasts x nodes + unicasts, less the loss, x the nodes' uptime fraction;
#               larger ones spored's socket drops unread, outside /metrics);
#             - the end: within --final-wait s after the run, every node lists all N, ACTIVE.
#
# Usage: bench/soak.sh [--update-docs] [--OPTION VALUE ...]   (defaults in brackets)
#   --nodes N [20]  --duration S [1800]  --loss PCT [10]  --profile P [lan]  --seed N [1]
#   --every S [30] mean time between churn actions   --max-disturbed N [3]   --keep N [2]
#   --down-min S [3]  --down-max S [2 x DEAD]  --part-size N [3]  --part-min S [1.25 x DEAD]
#   --part-max S [2.5 x DEAD]  --settle S [1.5 x DEAD]  --interval S [5]  --grace S [20]
#   --garbage-rate N [40]  --garbage-broadcast PCT [50]  --warmup S [120]  --rss-bound-kib N [1024]
#   --rss-bound-pct N [10]  --rss-min-life S [600]  --final-wait S [120]
#   --inactive-ms MS, --dead-ms MS: override the profile's thresholds (passed to spored)
#   --update-docs: write the section between <!-- soak:begin --> and <!-- soak:end --> of
#   docs/reliability.md (bench/doc_section.py). Output also in $SPORE_TEST_TMP/soak.md and
#   soak.json; logs, events and observations in $SPORE_TEST_TMP/soak/ (default build/bench).
# Exit status: 0 when every verdict holds, 1 otherwise (or on a failure of the bed itself).
# Needs root, iproute2, nftables, curl, jq, python3, util-linux. SPORED (environment) is the binary;
# by default build/release/spored, brought up to date (cmake --preset release). Bounded by a
# watchdog at duration + 15 minutes; every process and namespace is removed on every exit path
# (netns.sh's trap and watchdog; the helpers run in the hub namespace under --pdeathsig).
# Example, a 2-minute check: bench/soak.sh --nodes 6 --duration 120 --profile fast --every 8
# shellcheck disable=SC2015,SC2317,SC2046  # A && B || fail is meant; functions are called via ns_wait; $(ns_all) splits on purpose
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/bench/soak.sh"
export SPORED="${SPORED:-$ROOT/build/release/spored}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-2}"
}

declare -A OPT=([nodes]=20 [duration]=1800 [loss]=10 [profile]=lan [seed]=1 [every]=30 [max-disturbed]=3
  [keep]=2 [down-min]=3 [down-max]="" [part-size]=3 [part-min]="" [part-max]="" [settle]="" [interval]=5
  [grace]=20 [garbage-rate]=40 [garbage-broadcast]=50 [warmup]=120 [rss-bound-kib]=1024 [rss-bound-pct]=10
  [rss-min-life]=600 [final-wait]=120 [inactive-ms]="" [dead-ms]="")
UPDATE_DOCS=0
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage 0 ;;
    --update-docs) UPDATE_DOCS=1; shift ;;
    --*)
      k="${1#--}"
      [ -n "${OPT[$k]+x}" ] && [ $# -ge 2 ] || { echo "soak.sh: unknown option or missing value: $1" >&2; usage; }
      OPT[$k]="$2"
      shift 2
      ;;
    *) echo "soak.sh: unexpected argument: $1" >&2; usage ;;
  esac
done
for k in "${!OPT[@]}"; do
  v="${OPT[$k]}"
  [ "$k" = profile ] && continue
  [ -z "$v" ] || [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "soak.sh: --$k wants a number, not '$v'" >&2; exit 2; }
done
case "${OPT[profile]}" in
  lan | default_lan | esp8266 | default_esp8266) INACTIVE_MS=10000 DEAD_MS=60000 ;;
  fast) INACTIVE_MS=1500 DEAD_MS=6000 ;;
  *) echo "soak.sh: --profile is lan, fast or esp8266" >&2; exit 2 ;;
esac
NODE_ARGS=(--profile "${OPT[profile]}")
[ -z "${OPT[inactive-ms]}" ] || { INACTIVE_MS="${OPT[inactive-ms]}"; NODE_ARGS+=(--inactive-after-ms "$INACTIVE_MS"); }
[ -z "${OPT[dead-ms]}" ] || { DEAD_MS="${OPT[dead-ms]}"; NODE_ARGS+=(--dead-after-ms "$DEAD_MS"); }
dead_x() { awk -v d="$DEAD_MS" -v f="$1" 'BEGIN { printf "%g", d * f / 1000 }'; }
: "${OPT[down-max]:=$(dead_x 2)}" "${OPT[part-min]:=$(dead_x 1.25)}" "${OPT[part-max]:=$(dead_x 2.5)}" "${OPT[settle]:=$(dead_x 1.5)}"
N="${OPT[nodes]}"
DURATION="${OPT[duration]%.*}"
[ "$N" -ge 3 ] && [ "$N" -le 200 ] || { echo "soak.sh: --nodes must be 3..200" >&2; exit 2; }
[ "${OPT[loss]%.*}" -le 90 ] || { echo "soak.sh: --loss must be 0..90" >&2; exit 2; }
CMDLINE="bench/soak.sh${ARGS[*]:+ ${ARGS[*]}}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_netns_prereqs
bench_build_release_spored "$ROOT" "$SPORED"
[ -x "$SPORED" ] || { echo "soak.sh: SPORED=$SPORED is not executable" >&2; exit 1; }
# What was soaked: the commit (+local when core, platform/posix or apps differ from it) and the
# binary's own SHA-256 prefix (spored logs the same at start), taken before the run.
REV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- core platform/posix apps 2>/dev/null || echo +local)"
SPORED_SHA="$(sha256sum "$SPORED" | cut -c1-8)"
mkdir -p "$SPORE_TEST_TMP"
OUT_MD="$SPORE_TEST_TMP/soak.md"
OUT_JSON="$SPORE_TEST_TMP/soak.json"
rm -f "$OUT_MD" "$OUT_JSON"

# shellcheck source=tests/cluster/netns.sh
source "$ROOT/tests/cluster/netns.sh"
NS_NAME=soak
ns_require_nft
ns_init "$N" $((DURATION + 900))
NS_NODE_ARGS=("${NODE_ARGS[@]}")
# Core dumps of a crashing spored land here (core_pattern permitting; counted at the end).
cd "$NS_TMP"
ulimit -c unlimited 2>/dev/null || true
mkdir -p pids metrics crashes
EVENTS="$NS_TMP/events.tsv"
: >"$EVENTS"
epoch_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
# ev KIND ARG [PID]: one line of events.tsv, "epoch_ms KIND ARG PID".
ev() { printf '%s\t%s\t%s\t%s\n' "$(epoch_ms)" "$1" "$2" "${3:-}" >>"$EVENTS"; }
in_hub() { nsenter --net="$NS_RUN_DIR/$NS_HUB" setpriv --pdeathsig KILL "$@"; }

start_node() {
  ns_start "$1"
  echo "${NS_PID[$1]}" >"pids/$1"
  ev start "$1" "${NS_PID[$1]}"
}
# scrape I: node I's /metrics into metrics/I-PID.prom (its counters die with the process).
scrape() { ns_hub curl -s --max-time 2 -o "metrics/$1-${NS_PID[$1]}.prom" "$(ns_url "$1")/metrics" || true; }
# stop_node I SIGNAL: scrape, signal, wait; a node that ignores SIGTERM for 15 s is a failure
# (recorded as "hang" and SIGKILLed), not the end of the run.
stop_node() {
  local i="$1" sig="$2" pid="${NS_PID[$1]}" t0 deadline
  scrape "$i"
  rm -f "pids/$i"
  ev "$([ "$sig" = KILL ] && echo kill || echo term)" "$i" "$pid"
  t0=$SECONDS deadline=$((SECONDS + 15))
  kill -"$sig" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      ev hang "$i" "$pid"
      log "node $i did not exit within 15 s of SIG$sig: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 3600))
    fi
    sleep 0.05
  done
  unset "NS_PID[$i]"
  log "node $i (pid $pid) stopped by SIG$sig after $((SECONDS - t0)) s"
}
# check_crashes: a node we did not stop that is gone crashed: record it, keep its last log lines,
# restart it so the soak goes on.
CRASHES=0
check_crashes() {
  local i pid
  for i in "${!NS_PID[@]}"; do
    ns_alive "$i" && continue
    pid="${NS_PID[$i]}"
    CRASHES=$((CRASHES + 1))
    ev crash "$i" "$pid"
    tail -n 40 "$(ns_log "$i")" >"crashes/$i-$pid.log" 2>/dev/null || true
    log "CRASH: node $i (pid $pid) exited by itself; last log lines in $NS_TMP/crashes/$i-$pid.log"
    unset "NS_PID[$i]"
    rm -f "pids/$i"
    start_node "$i"
  done
}

# ---- bed up, converge --------------------------------------------------------------------------
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(ns_all); do start_node "$i"; done
ns_wait "all $N nodes answer HTTP" 60 ns_answering $(ns_all)
[ "${OPT[loss]}" = 0 ] || ns_loss "${OPT[loss]}"
ns_wait "all $N nodes see all $N ACTIVE" 180 ns_converged $(ns_all)
log "converged: $N nodes, profile ${OPT[profile]} (INACTIVE ${INACTIVE_MS} ms, DEAD ${DEAD_MS} ms), loss ${OPT[loss]} %"

python3 "$ROOT/bench/soak_plan.py" --seed "${OPT[seed]}" --nodes "$N" --duration "$DURATION" --settle "${OPT[settle]}" \
  --every "${OPT[every]}" --max-disturbed "${OPT[max-disturbed]}" --keep "${OPT[keep]}" --down-min "${OPT[down-min]}" \
  --down-max "${OPT[down-max]}" --part-size "${OPT[part-size]}" --part-min "${OPT[part-min]}" \
  --part-max "${OPT[part-max]}" >plan.txt
PLAN_AT=() PLAN_KIND=() PLAN_ARG=()
while read -r at kind arg; do PLAN_AT+=("$(awk -v s="$at" 'BEGIN { printf "%d", s * 1000 }')") PLAN_KIND+=("$kind") PLAN_ARG+=("${arg:-}"); done <plan.txt
log "plan: ${#PLAN_AT[@]} actions over $DURATION s (plan.txt)"

targets="$(for i in $(ns_all); do printf '%s,' "$(ns_ip "$i")"; done)"
in_hub python3 "$ROOT/bench/soak_observe.py" --nodes "$N" --url "http://$NS_NET.{i}:$NS_HTTP_PORT" --pid-dir "$NS_TMP/pids" \
  --interval "${OPT[interval]}" --out "$NS_TMP/observe.jsonl" >observe.log 2>&1 &
OBSERVER=$!
in_hub python3 "$ROOT/bench/soak_garbage.py" --bind "$NS_HUB_IP" --broadcast "$NS_NET.255" --targets "${targets%,}" \
  --port "$NS_UDP_PORT" --rate "${OPT[garbage-rate]}" --broadcast-pct "${OPT[garbage-broadcast]}" --seed "${OPT[seed]}" \
  --counts "$NS_TMP/garbage.json" >garbage.log 2>&1 &
GARBAGE=$!

# ---- the soak ------------------------------------------------------------------------------------
T0="$(epoch_ms)"
ev soak_start - ""
END=$((T0 + DURATION * 1000))
k=0
while [ "$(epoch_ms)" -lt "$END" ]; do
  while [ "$k" -lt "${#PLAN_AT[@]}" ] && [ $((T0 + PLAN_AT[k])) -le "$(epoch_ms)" ]; do
    arg="${PLAN_ARG[$k]}"
    case "${PLAN_KIND[$k]}" in
      kill | term)
        if [ -n "${NS_PID[$arg]:-}" ]; then stop_node "$arg" "$([ "${PLAN_KIND[$k]}" = kill ] && echo KILL || echo TERM)"; fi
        ;;
      start) [ -n "${NS_PID[$arg]:-}" ] || start_node "$arg" ;;
      part)
        side="${arg//,/ }"
        rest="$(for i in $(ns_all); do [[ " $side " == *" $i "* ]] || printf '%s ' "$i"; done)"
        ev part "$arg"
        ns_partition "$side" "${rest% }"
        ;;
      heal)
        ns_heal
        ev heal -
        ;;
    esac
    k=$((k + 1))
  done
  check_crashes
  kill -0 "$OBSERVER" 2>/dev/null || ns_fail "the observer exited (observe.log: $(tail -n 3 observe.log))"
  kill -0 "$GARBAGE" 2>/dev/null || ns_fail "the garbage sender exited (garbage.log: $(tail -n 3 garbage.log))"
  sleep 1
done
ev soak_end - ""
log "soak over; $CRASHES crashes seen; waiting up to ${OPT[final-wait]} s for all $N ACTIVE everywhere"

# ---- the end: convergence, last scrapes, helpers stopped -------------------------------------
t_end="$(epoch_ms)"
converged=0
deadline=$((SECONDS + ${OPT[final-wait]%.*}))
while [ "$SECONDS" -lt "$deadline" ]; do
  check_crashes
  if ns_converged $(ns_all); then converged=1; break; fi
  sleep 1
done
ev final "$converged" ""
log "final: converged=$converged after $(($(epoch_ms) - t_end)) ms"
for i in $(ns_all); do [ -z "${NS_PID[$i]:-}" ] || scrape "$i"; done
kill -TERM "$OBSERVER" "$GARBAGE" 2>/dev/null || true
wait "$OBSERVER" "$GARBAGE" 2>/dev/null || true
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
cores="$(find "$NS_TMP" -maxdepth 3 -name 'core*' -type f | wc -l)"
fatal="$(cat "$NS_TMP"/node-*.log | grep -c -E 'terminate called|Assertion|Segmentation fault|AddressSanitizer|runtime error:|Aborted' || true)"

jq -n --arg cmd "$CMDLINE" --argjson n "$N" --argjson duration "$DURATION" --argjson loss "${OPT[loss]}" \
  --arg profile "${OPT[profile]}" --argjson inactive_ms "$INACTIVE_MS" --argjson dead_ms "$DEAD_MS" \
  --argjson seed "${OPT[seed]}" --argjson grace "${OPT[grace]}" --argjson warmup "${OPT[warmup]}" \
  --argjson rss_bound_kib "${OPT[rss-bound-kib]}" --argjson rss_bound_pct "${OPT[rss-bound-pct]}" \
  --argjson rss_min_life "${OPT[rss-min-life]}" --argjson keep "${OPT[keep]}" --argjson interval "${OPT[interval]}" \
  --argjson garbage_rate "${OPT[garbage-rate]}" --argjson garbage_bcast "${OPT[garbage-broadcast]}" \
  --argjson max_disturbed "${OPT[max-disturbed]}" --argjson final_wait "${OPT[final-wait]}" \
  --argjson converged "$converged" --argjson cores "$cores" --argjson fatal "${fatal:-0}" \
  --arg load_start "$LOAD_START" --arg load_end "$LOAD_END" --argjson cpus "$(nproc)" \
  --arg rev "$REV" --arg sha "$SPORED_SHA" \
  --arg date "$(date -u +%F)" \
  '{cmd: $cmd, nodes: $n, duration_s: $duration, loss_pct: $loss, profile: $profile, inactive_ms: $inactive_ms,
    dead_ms: $dead_ms, seed: $seed, grace_s: $grace, warmup_s: $warmup, rss_bound_kib: $rss_bound_kib,
    rss_bound_pct: $rss_bound_pct, rss_min_life_s: $rss_min_life, keep: $keep, interval_s: $interval,
    garbage_rate: $garbage_rate, garbage_broadcast_pct: $garbage_bcast, max_disturbed: $max_disturbed,
    final_wait_s: $final_wait, converged: ($converged == 1), cores: $cores, fatal_log_lines: $fatal,
    load_start: $load_start, load_end: $load_end, cpus: $cpus, rev: $rev, spored_sha256: $sha, date: $date}' >params.json

rc=0
python3 "$ROOT/bench/soak_report.py" "$NS_TMP" "$OUT_MD" "$OUT_JSON" || rc=$?
cat "$OUT_MD"
if [ "$UPDATE_DOCS" = 1 ] && [ -s "$OUT_MD" ]; then
  python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/reliability.md" soak "$OUT_MD"
  log "docs/reliability.md updated (between <!-- soak:begin/end -->)"
fi
[ "$rc" = 0 ] && log "every verdict holds" || log "a verdict failed (see above; files in $NS_TMP)"
exit "$rc"
