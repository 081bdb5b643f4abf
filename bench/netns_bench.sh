#!/usr/bin/env bash
# SPORE against HashiCorp memberlist in the network-namespace test bed (issue 6, items 3 and 4(b)):
# real processes, one namespace and one IPv4 address per node on a bridge (tests/cluster/netns.sh),
# all three systems side by side in the SAME namespaces at the same time:
#   spore-fast      spored --profile fast --liveness broadcast  UDP 4210, HTTP 8080  (INACTIVE 1.5 s, DEAD 6 s)
#   spore-lan       spored --liveness broadcast (lan)         UDP 4211, HTTP 8081  (INACTIVE 10 s, DEAD 60 s: the seed's)
#   memberlist-lan  bench/memberlist peer   UDP+TCP 7946, HTTP 8082 (memberlist.DefaultLANConfig())
# and with -L "broadcast digest" also SPORE with liveness evidence by DIGEST chain (issue 22,
# docs/protocol.md §11.12; the hosts' default since it was measured here), the same profiles with
# `--liveness digest` (the broadcast rows pin `--liveness broadcast`, the design they measured):
#   spore-fast-digest  spored --profile fast --liveness digest  UDP 4212, HTTP 8083
#   spore-lan-digest   spored --liveness digest                 UDP 4213, HTTP 8084
# so every system meets the same kernel, bridge, loss and CPU contention.
#
# For each N (default 10 and 20), one fresh bed with N-1+ROUNDS namespaces; N-1 nodes converge,
# then ROUNDS rounds (default 3) in each of which a new node joins and is later killed:
#   join     the new node's three processes start at once (its own namespace, address and name);
#            ms until all N list all N alive (ACTIVE), per system. spored finds peers by broadcast; memberlist
#            peers are given node 1's address (-join), as memberlist needs.
#   traffic  (round 1) 62 s after that start (memberlist's first push/pull runs 30-60 s after a
#            start), STEADY_S s (default 30: one push/pull interval) of steady state, nobody polling: packets and IP
#            bytes sent and received per node per second, from nftables counters on each node's eth0
#            (by port: 4210, 4211, 7946 UDP and TCP; a node's own broadcasts looped back are not
#            counted as received);
#   cpu      over the same window: CPU time per node-second (sum of /proc/PID/task/*/schedstat run
#            time of the N processes of a system, / N / STEADY_S), and median resident memory;
#   loss     for each loss level (default 0 10 20 30 %): every IP packet from a peer arriving at a
#            node's eth0 is dropped with that probability (nftables numgen random; this kernel has no
#            netem), for LOSS_S s (default 60); the member lists of all nodes are sampled every
#            ~0.1 s and every alive -> suspect/INACTIVE and alive -> dead/DEAD/absent change of an
#            observer's view is a false alarm (nobody crashed). Reported per node-hour. The bed
#            then reconverges without loss before the next level;
#   crash    the new node's three processes are SIGKILLed at once; ms until all N-1 others list
#            it suspect/INACTIVE (or already dead), and until all list it dead/DEAD, per system.
#            (loss runs in round 1, before its crash.) Join and crash: median of the rounds, and range.
# Polling (bench/netns_poll.py in the hub namespace) reads all observers of all systems
# concurrently; a poll round takes ~0.1 s, the slack of the join and crash figures.
#
# Usage: bench/netns_bench.sh [--update-docs] [-n "10 20"] [-r ROUNDS] [-s STEADY_S] [-d LOSS_S] [-l "0 10 20 30"]
#                              [-L "broadcast digest"]
#   -L  the liveness modes SPORE runs in, side by side (default "broadcast": the systems above
#       without the digest ones, as before issue 22); "digest" alone leaves out spore-fast/-lan.
#   --update-docs replaces the text between <!-- netns:begin --> and <!-- netns:end --> of
#   docs/benchmarks.md with the tables (bench/all.sh uses it). Output also in build/bench/netns_bench.md
#   (table) and build/bench/netns_bench.json (every figure).
# Needs root, iproute2, nftables, curl, jq, python3, and Go with Debian's memberlist
# (apt-get install golang-go golang-github-hashicorp-memberlist-dev); builds build/release/spored
# (CMake preset `release`: CPU is measured on an optimised build, as Go's is) and the Go peer.
# Takes about 1.5 + 1.1 x ROUNDS + 1.1 x (number of loss levels) x LOSS_S / 60 minutes per N
# (about 20 minutes for the defaults).
# shellcheck disable=SC2015,SC2317  # A && B || fail is meant; functions are called via ns_wait
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/bench/netns_bench.sh"
export SPORED="${SPORED:-$ROOT/build/release/spored}"
export SPORE_TEST_TMP="${SPORE_TEST_TMP:-$ROOT/build/bench}"
ML_PEER="${ML_PEER:-$ROOT/build/bench/memberlist-peer}"
POLL="$ROOT/bench/netns_poll.py"
OUT_MD="$ROOT/build/bench/netns_bench.md"
OUT_JSON="$ROOT/build/bench/netns_bench.json"
ML_SETTLE_S=${BENCH_ML_SETTLE_S:-62}

usage() {
  echo "usage: $0 [--update-docs] [-n \"SIZES\"] [-r ROUNDS] [-s STEADY_S] [-d LOSS_S] [-l \"LOSS%...\"] [-L \"broadcast digest\"]   (defaults: -n \"10 20\" -r 3 -s 30 -d 60 -l \"0 10 20 30\" -L broadcast)" >&2
  exit 2
}

ONE="" UPDATE_DOCS=0
case "${1:-}" in
  --one) ONE="$2"; shift 2 ;;  # internal: measure one size in a bed of its own (see the end)
  --update-docs) UPDATE_DOCS=1; shift ;;
  -h | --help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
SIZES="10 20" STEADY_S=30 LOSS_S=60 LOSSES="0 10 20 30" ROUNDS=3 LIVENESS="broadcast"
while getopts "n:s:d:l:r:L:" opt; do
  case "$opt" in
    r) ROUNDS="$OPTARG" ;;
    n) SIZES="$OPTARG" ;;
    s) STEADY_S="$OPTARG" ;;
    d) LOSS_S="$OPTARG" ;;
    l) LOSSES="$OPTARG" ;;
    L) LIVENESS="$OPTARG" ;;
    *) usage ;;
  esac
done
[ "$OPTIND" -gt "$#" ] || usage
[[ "$STEADY_S" =~ ^[1-9][0-9]*$ && "$LOSS_S" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9]$ ]] || usage
for n in $SIZES; do [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 3 ] && [ "$n" -le 100 ] || usage; done
for l in $LOSSES; do [[ "$l" =~ ^[0-9]+$ ]] && [ "$l" -le 90 ] || usage; done
[ -n "$SIZES" ] && [ -n "$LOSSES" ] || usage
# The systems of this run: SPORE's two profiles in each liveness mode asked for, then memberlist.
SYSTEMS=()
for mode in $LIVENESS; do
  case "$mode" in
    broadcast) SYSTEMS+=(spore-fast spore-lan) ;;
    digest) SYSTEMS+=(spore-fast-digest spore-lan-digest) ;;
    *) usage ;;
  esac
done
SYSTEMS+=(memberlist-lan)
[ "$(printf '%s\n' "${SYSTEMS[@]}" | sort -u | wc -l)" = "${#SYSTEMS[@]}" ] && [ "${#SYSTEMS[@]}" -gt 1 ] || usage
CMDLINE="bench/netns_bench.sh -n \"$SIZES\" -r $ROUNDS -s $STEADY_S -d $LOSS_S -l \"$LOSSES\""
[ "$LIVENESS" = broadcast ] || CMDLINE+=" -L \"$LIVENESS\""

# ==== one size: runs in a process of its own, so that each size gets a fresh bed ================
if [ -n "$ONE" ]; then
  N="$ONE"
  # shellcheck source=tests/cluster/netns.sh
  source "$ROOT/tests/cluster/netns.sh"
  NS_NAME="netns_bench_n$N"
  ns_require_nft
  ns_init $((N - 1 + ROUNDS)) $((600 + 5 * N + ($(wc -w <<<"$LOSSES") * (LOSS_S + 90)) + STEADY_S + 150 * ROUNDS))
  RES="$SPORE_TEST_TMP/netns_bench_n$N.json"
  declare -A BPID=()

  udp_port() {
    case "$1" in
      spore-fast) echo 4210 ;; spore-lan) echo 4211 ;; spore-fast-digest) echo 4212 ;; spore-lan-digest) echo 4213 ;;
      memberlist-lan) echo 7946 ;;
    esac
  }
  http_port() {
    case "$1" in
      spore-fast) echo 8080 ;; spore-lan) echo 8081 ;; spore-fast-digest) echo 8083 ;; spore-lan-digest) echo 8084 ;;
      memberlist-lan) echo 8082 ;;
    esac
  }

  # b_start SYSTEM I: starts SYSTEM's process of node I (hostname/name nI) in node I's namespace.
  b_start() {
    local sys="$1" i="$2" dir log ns profile
    dir="$(ns_dir "$i")/$sys" log="$(ns_dir "$i")/$sys.log" ns="$NS_RUN_DIR/$(ns_name "$i")"
    mkdir -p "$dir"
    case "$sys" in
      spore-*-digest)
        profile="${sys#spore-}"
        ns_spawn "$i" log="$log" hostname="n$i" bind="$(ns_ip "$i")" udp_port="$(udp_port "$sys")" \
          http_port="$(http_port "$sys")" state_dir="$dir" profile="${profile%-digest}" -- --liveness digest
        ;;
      spore-*)
        ns_spawn "$i" log="$log" hostname="n$i" bind="$(ns_ip "$i")" udp_port="$(udp_port "$sys")" \
          http_port="$(http_port "$sys")" state_dir="$dir" profile="${sys#spore-}" -- --liveness broadcast
        ;;
      memberlist-lan)
        local join=()
        [ "$i" = 1 ] || join=(-join "$(ns_ip 1):7946")
        nsenter --net="$ns" setpriv --pdeathsig KILL "$ML_PEER" -name "n$i" -bind "$(ns_ip "$i")" -port 7946 \
          -http "$(ns_ip "$i"):$(http_port "$sys")" "${join[@]}" >>"$log" 2>&1 &
        ;;
    esac
    BPID[$sys $i]=$!
    disown "$!"
  }
  # Fails the run when a process died; true once every process of nodes I... answers HTTP.
  b_answering() {
    local i sys path
    for i in "$@"; do
      for sys in "${SYSTEMS[@]}"; do
        if ! kill -0 "${BPID[$sys $i]}" 2>/dev/null; then
          tail -n 20 "$(ns_dir "$i")/$sys.log" >&2 || true
          ns_fail "$sys of node $i exited (log above)"
        fi
        case "$sys" in spore-*) path=/api/node/status ;; *) path=/members ;; esac
        ns_hub curl -sf -o /dev/null --max-time 2 "http://$(ns_ip "$i"):$(http_port "$sys")$path" || return 1
      done
    done
  }
  # systems_args I...: the SYSTEM arguments of netns_poll.py for observers I...
  systems_args() {
    local sys kind path urls i
    for sys in "${SYSTEMS[@]}"; do
      case "$sys" in spore-*) kind=spore path=/api/cluster/members ;; *) kind=memberlist path=/members ;; esac
      urls=""
      for i in "$@"; do urls+="${urls:+,}http://$(ns_ip "$i"):$(http_port "$sys")$path"; done
      printf '%s=%s@%s\n' "$sys" "$kind" "$urls"
    done
  }
  poll() { ns_hub /usr/bin/python3 "$POLL" "$@"; }
  names() { local i out=""; for i in "$@"; do out+="${out:+,}n$i"; done; echo "$out"; }
  epoch_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

  # spore_meter_rules input|output IP: one counter per SPORE system of the run, by its UDP port.
  spore_meter_rules() {
    local sys
    for sys in "${SYSTEMS[@]}"; do
      [[ "$sys" == spore-* ]] || continue
      if [ "$1" = input ]; then
        echo "    iifname \"eth0\" ip saddr != $2 udp dport $(udp_port "$sys") counter comment \"$sys\""
      else
        echo "    oifname \"eth0\" udp dport $(udp_port "$sys") counter comment \"$sys\""
      fi
    done
  }
  # Traffic meter: one nftables table per node namespace counting, per system, what crosses eth0
  # (priority -10: before any loss rule). Broadcasts a node sends are looped back to itself on eth0
  # by the kernel; `ip saddr != own` keeps them out of "received".
  meter_install() {
    local i ip
    for i in $(ns_all); do
      ip="$(ns_ip "$i")"
      ns_nft "$i" -f - <<EOF
table inet spore_meter {
  chain input {
    type filter hook input priority -10; policy accept;
$(spore_meter_rules input "$ip")
    iifname "eth0" ip saddr != $ip udp dport 7946 counter comment "memberlist-lan"
    iifname "eth0" tcp dport 7946 counter comment "memberlist-lan"
    iifname "eth0" tcp sport 7946 counter comment "memberlist-lan"
  }
  chain output {
    type filter hook output priority -10; policy accept;
$(spore_meter_rules output "$ip")
    oifname "eth0" udp dport 7946 counter comment "memberlist-lan"
    oifname "eth0" tcp dport 7946 counter comment "memberlist-lan"
    oifname "eth0" tcp sport 7946 counter comment "memberlist-lan"
  }
}
EOF
    done
  }
  # meter_read I...: one line per system, "SYSTEM rx_packets rx_bytes tx_packets tx_bytes" summed
  # over nodes I... (the running ones: an idle namespace still receives every broadcast).
  meter_read() {
    local i
    for i in "$@"; do ns_nft "$i" -j list table inet spore_meter; done |
      jq -rs '[.[].nftables[] | select(.rule) | .rule | {sys: .comment, dir: .chain,
                 p: ([.expr[] | select(.counter) | .counter.packets][0]),
                 b: ([.expr[] | select(.counter) | .counter.bytes][0])}]
              | group_by(.sys)[] | . as $g
              | "\($g[0].sys) \([$g[] | select(.dir == "input") | .p] | add) \([$g[] | select(.dir == "input") | .b] | add) \([$g[] | select(.dir == "output") | .p] | add) \([$g[] | select(.dir == "output") | .b] | add)"'
  }
  # cpu_ns SYSTEM I...: CPU time (ns) used so far by SYSTEM's processes on nodes I... (all threads).
  cpu_ns() {
    local sys="$1" i total=0 t f
    shift
    for i in "$@"; do
      for f in /proc/"${BPID[$sys $i]}"/task/*/schedstat; do
        read -r t _ <"$f" || continue
        total=$((total + t))
      done
    done
    echo "$total"
  }
  # rss_kib_median SYSTEM I...
  rss_kib_median() {
    local sys="$1" i
    shift
    for i in "$@"; do awk '/^VmRSS:/ { print $2 }' "/proc/${BPID[$sys $i]}/status"; done | sort -n |
      awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
  }
  # loss_on PCT / loss_off: drops PCT % of the IP packets a node receives from its peers on eth0
  # (not the hub's: the poller must see every node). All protocols: memberlist's TCP too.
  # loss_on PCT I... / loss_off I...
  loss_on() {
    local pct="$1" i
    shift
    for i in "$@"; do
      ns_nft "$i" -f - <<EOF
table inet spore_bench_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" ip saddr != { $NS_HUB_IP, $(ns_ip "$i") } numgen random mod 100 < $pct counter drop
  }
}
EOF
    done
  }
  loss_off() {
    local i
    for i in "$@"; do ns_nft "$i" delete table inet spore_bench_loss 2>/dev/null || true; done
  }

  meter_install
  peers=$(seq 1 $((N - 1)))
  # shellcheck disable=SC2086
  for i in $peers; do for sys in "${SYSTEMS[@]}"; do b_start "$sys" "$i"; done; done
  # shellcheck disable=SC2086
  ns_wait "nodes 1..$((N - 1)) answer HTTP" 60 b_answering $peers
  # shellcheck disable=SC2086,SC2046
  conv=$(poll until --t0-ms "$(epoch_ms)" --converged "$(names $peers)" --timeout-s 90 $(systems_args $peers))
  log "$((N - 1)) nodes converged (ms since asked, per system): $conv"
  [ "$(jq '[.[][] | select(. == null)] | length' <<<"$conv")" = 0 ] || ns_fail "the first $((N - 1)) nodes did not converge: $conv"

  # Rounds: in round r a fresh node J = N - 1 + r (its own namespace, address and name) joins the
  # N-1 peers, so every join is a new node's, then it is killed. Round 1 also measures steady state
  # and false alarms with those N nodes. Earlier victims stay listed as dead; "converged" asks only
  # that the live N are alive everywhere and nobody else is.
  joins="{}" crashes="{}" steady="{}" alarms="{}"
  for round in $(seq 1 "$ROUNDS"); do
    J=$((N - 1 + round))
    # shellcheck disable=SC2206
    live=($peers "$J")
    # ---- join ----
    t_start=$(epoch_ms)
    for sys in "${SYSTEMS[@]}"; do b_start "$sys" "$J"; done
    # shellcheck disable=SC2046
    join_ms=$(poll until --t0-ms "$t_start" --converged "$(names "${live[@]}")" --timeout-s 90 $(systems_args "${live[@]}"))
    log "round $round: join of n$J (ms until all $N list all $N alive): $join_ms"
    joins=$(jq -c --argjson j "$join_ms" '. as $a | reduce ($j | keys[]) as $k ($a; .[$k] += $j[$k])' <<<"$joins")

    if [ "$round" = 1 ]; then
      # ---- steady traffic, CPU, memory ----
      sleep $((ML_SETTLE_S - ($(epoch_ms) - t_start) / 1000 > 0 ? ML_SETTLE_S - ($(epoch_ms) - t_start) / 1000 : 0))
      declare -A CPU0=()
      for sys in "${SYSTEMS[@]}"; do CPU0[$sys]=$(cpu_ns "$sys" "${live[@]}"); done
      m0="$(meter_read "${live[@]}")"
      t0=$(epoch_ms)
      sleep "$STEADY_S"
      m1="$(meter_read "${live[@]}")"
      t1=$(epoch_ms)
      for sys in "${SYSTEMS[@]}"; do
        cpu=$(($(cpu_ns "$sys" "${live[@]}") - CPU0[$sys]))
        rss=$(rss_kib_median "$sys" "${live[@]}")
        read -r _ rp0 rb0 tp0 tb0 < <(grep "^$sys " <<<"$m0")
        read -r _ rp1 rb1 tp1 tb1 < <(grep "^$sys " <<<"$m1")
        steady=$(jq -c --arg s "$sys" --argjson n "$N" --argjson ms $((t1 - t0)) --argjson cpu "$cpu" --argjson rss "$rss" \
          --argjson rp $((rp1 - rp0)) --argjson rb $((rb1 - rb0)) --argjson tp $((tp1 - tp0)) --argjson tb $((tb1 - tb0)) \
          '. + {($s): {sent_pps: ($tp / $n / ($ms / 1000)), sent_Bps: ($tb / $n / ($ms / 1000)),
                       recv_pps: ($rp / $n / ($ms / 1000)), recv_Bps: ($rb / $n / ($ms / 1000)),
                       cpu_ms_per_node_s: ($cpu / 1e6 / $n / ($ms / 1000)), rss_kib: $rss}}' <<<"$steady")
      done
      log "steady state over $((t1 - t0)) ms: $steady"

      # ---- false alarms under loss ----
      for pct in $LOSSES; do
        [ "$pct" = 0 ] || loss_on "$pct" "${live[@]}"
        # shellcheck disable=SC2046
        w=$(poll watch --seconds "$LOSS_S" $(systems_args "${live[@]}"))
        loss_off "${live[@]}"
        log "loss $pct % for $LOSS_S s: $w"
        alarms=$(jq -c --arg p "$pct" --argjson w "$w" '. + {($p): $w}' <<<"$alarms")
        # shellcheck disable=SC2046
        again=$(poll until --t0-ms "$(epoch_ms)" --converged "$(names "${live[@]}")" --timeout-s 120 $(systems_args "${live[@]}"))
        [ "$(jq '[.[][] | select(. == null)] | length' <<<"$again")" = 0 ] || ns_fail "no reconvergence after $pct % loss: $again"
      done
    fi

    # ---- crash ----
    t_kill=$(epoch_ms)
    for sys in "${SYSTEMS[@]}"; do kill -KILL "${BPID[$sys $J]}"; done
    # shellcheck disable=SC2046,SC2086
    crash=$(poll until --t0-ms "$t_kill" --target "n$J" --stage suspect,dead --stage dead --timeout-s 120 $(systems_args $peers))
    log "round $round: crash of n$J (ms until all $((N - 1)) list it suspect/INACTIVE, dead/DEAD): $crash"
    crashes=$(jq -c --argjson c "$crash" '. as $a | reduce ($c | keys[]) as $k ($a; .[$k] += [$c[$k]])' <<<"$crashes")
  done

  jq -n --argjson n "$N" --argjson join "$joins" --argjson steady "$steady" --argjson alarms "$alarms" \
    --argjson crash "$crashes" --argjson loss_s "$LOSS_S" --argjson rounds "$ROUNDS" \
    '{n: $n, rounds: $rounds, join: $join, steady: $steady, alarms: $alarms, crash: $crash, loss_s: $loss_s}' >"$RES"
  log "results in $RES"
  exit 0
fi

# ==== outside: checks, builds, one run per size, the report ===================================
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_netns_prereqs
bench_build_release_spored "$ROOT" "$SPORED"
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
mkdir -p "$SPORE_TEST_TMP"
export ML_PEER
results=()
for n in $SIZES; do
  echo "netns_bench: N=$n" >&2
  rm -f "$SPORE_TEST_TMP/netns_bench_n$n.json"
  "$SELF" --one "$n" -n "$SIZES" -r "$ROUNDS" -s "$STEADY_S" -d "$LOSS_S" -l "$LOSSES" -L "$LIVENESS" ||
    { echo "netns_bench: N=$n failed (logs under $SPORE_TEST_TMP/netns_bench_n$n)" >&2; exit 1; }
  results+=("$SPORE_TEST_TMP/netns_bench_n$n.json")
done
jq -s . "${results[@]}" >"$OUT_JSON"
python3 "$ROOT/bench/netns_report.py" "$OUT_JSON" "$CMDLINE" >"$OUT_MD"
cat "$OUT_MD"
if [ "$UPDATE_DOCS" = 1 ]; then
  python3 "$ROOT/bench/doc_section.py" "$ROOT/docs/benchmarks.md" netns "$OUT_MD"
  echo "docs/benchmarks.md updated (between <!-- netns:begin/end -->)" >&2
fi
