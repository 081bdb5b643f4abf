# shellcheck shell=bash
# shellcheck disable=SC2034,SC2015,SC2046  # NS_* are read by the tests; A && B || fail is meant; $(ns_all) splits on purpose
# Helpers for tests/integration/netns_*_test.sh: real spored processes, one per Linux network
# namespace, on one bridge, one IPv4 address each. Needs root (CI is root); otherwise, or when
# `ip netns` does not work here, the script prints "skipped: needs root and ip netns" and exits 77,
# which ctest reports as skipped (SKIP_RETURN_CODE in CMakeLists.txt).
#
# Topology of a run (every name carries the unique prefix spore-<pid of the test script>):
#
#   namespace spore-<pid>-hub : bridge br0 10.231.0.254/24, veth ends v1..vN (no host link at all)
#   namespace spore-<pid>-<i> : eth0 10.231.0.<i>/24 (broadcast 10.231.0.255), lo; runs spored nI
#
# Nothing is created in the host's (root) namespace: no link, route, address or firewall rule.
# The hub's own address is only there so the test can query every node's REST API from the hub
# (curl inside the hub namespace). Packet loss and partitions are nftables rules inside the node
# namespaces (tables "spore_loss" and "spore_part"); the kernel has no netem.
#
# Cleanup: an EXIT trap kills every spored and deletes every namespace of the run (hence its veths
# and bridge), on success, failure, time-out, Ctrl-C or SIGTERM. A watchdog process stops the script
# after its time limit and, should the script itself be SIGKILLed, removes the namespaces anyway;
# spored runs with a parent-death signal (setpriv --pdeathsig KILL), so it cannot outlive the script.
#
# ctest passes SPORED, SPORE (binaries) and SPORE_TEST_TMP (scratch directory).

set -euo pipefail
# shellcheck source=tools/ctl/spored.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/ctl/spored.sh"  # spawn_spored

NS_SKIP_CODE=77
NS_NAME="$(basename "$0" .sh)"
NS_T0="${EPOCHREALTIME/./}"
NS_PREFIX="spore-$$"
NS_HUB="$NS_PREFIX-hub"
NS_NET="10.231.0"
NS_HUB_IP="$NS_NET.254"
NS_RUN_DIR=/run/netns # where ip netns keeps its namespaces (iproute2's NETNS_RUN_DIR)
NS_UDP_PORT=4210
NS_HTTP_PORT=8080
NS_N=0
NS_TMP=""
NS_READY=""
NS_WATCHDOG=""
# Arguments every node gets after the per-node ones (tests may change them before ns_start).
NS_NODE_ARGS=(--profile fast)
declare -A NS_PID=()
# Filled by ns_snapshot: NS_VIEW["OBS HOST"]=STATUS as node OBS lists HOSTNAME nHOST,
# NS_ANSWERED[OBS]=1 when OBS answered, NS_ENTRIES[OBS]=number of members OBS lists.
declare -A NS_VIEW=() NS_ANSWERED=() NS_ENTRIES=()

# Milliseconds since the script started.
ns_ms() { echo $(((${EPOCHREALTIME/./} - NS_T0) / 1000)); }
log() {
  local ms
  ms="$(ns_ms)"
  printf '[%s +%d.%03ds] %s\n' "$NS_NAME" $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
ns_fail() {
  log "FAIL: $*"
  exit 1
}
ns_skip() {
  echo "[$NS_NAME] skipped: needs root and ip netns ($*)" >&2
  exit "$NS_SKIP_CODE"
}

ns_name() { printf '%s-%s' "$NS_PREFIX" "$1"; }
ns_ip() { printf '%s.%s' "$NS_NET" "$1"; }
ns_url() { printf 'http://%s:%s' "$(ns_ip "$1")" "$NS_HTTP_PORT"; }
ns_log() { printf '%s/node-%s.log' "$NS_TMP" "$1"; }
ns_dir() { printf '%s/node-%s' "$NS_TMP" "$1"; }
ns_all() { seq 1 "$NS_N"; }

# The namespaces of this run that exist right now (exact names only: never anybody else's).
ns_list_ours() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NS_PREFIX}-(hub|[0-9]+)\$" || true
}

# Kills whatever runs in our namespaces and deletes them (their veths and the bridge go with
# them). Idempotent; used by the EXIT trap and by the watchdog.
ns_teardown() {
  local ns pids
  for ns in $(ns_list_ours); do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  done
  for ns in $(ns_list_ours); do ip netns del "$ns" 2>/dev/null || true; done
}

# ns_require_nft: skips the test (77) when nft is missing (Debian package nftables).
ns_require_nft() {
  command -v nft >/dev/null || {
    echo "[$NS_NAME] skipped: needs nft (Debian package nftables)" >&2
    exit "$NS_SKIP_CODE"
  }
}

# ns_init N [LIMIT_SECONDS]: builds the hub and N node namespaces (nodes are not started). The
# whole script is stopped and cleaned up after LIMIT_SECONDS (default 150, below ctest's 180 s).
ns_init() {
  local n="$1" limit="${2:-150}" i ns err
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 250 ] || ns_fail "ns_init: N must be 2..250"
  [ "$(id -u)" -eq 0 ] || ns_skip "running as uid $(id -u)"
  command -v ip >/dev/null || ns_skip "no ip command (Debian package iproute2)"
  ip netns list >/dev/null 2>&1 || ns_skip "ip netns list fails"
  : "${SPORED:?set SPORED to the spored binary (ctest does)}"
  command -v curl >/dev/null || ns_fail "curl is required"
  command -v jq >/dev/null || ns_fail "jq is required"
  command -v setpriv >/dev/null && command -v nsenter >/dev/null || ns_fail "setpriv and nsenter are required (util-linux)"
  NS_N="$n"
  NS_TMP="${SPORE_TEST_TMP:-${TMPDIR:-/tmp}/spore-integration}/$NS_NAME"
  rm -rf "$NS_TMP"
  mkdir -p "$NS_TMP"
  trap ns_cleanup EXIT
  trap 'ns_fail "interrupted"' INT
  trap 'ns_fail "stopped: time limit of the script reached, or SIGTERM"' TERM

  if ! err="$(ip netns add "$NS_HUB" 2>&1)"; then
    # E.g. a chroot whose / is no mount point: iproute2 cannot set up /run/netns there. Remove
    # whatever half of it was made, then skip: this machine cannot run the test bed.
    ns_teardown
    ns_skip "ip netns add failed: $err"
  fi
  [ -e "$NS_RUN_DIR/$NS_HUB" ] || ns_fail "ip netns add did not create $NS_RUN_DIR/$NS_HUB"
  # Watchdog: stops the script after LIMIT seconds; if the script disappears without cleaning up
  # (SIGKILL), removes its namespaces. $$ is the script's pid here too.
  (
    trap - EXIT INT TERM
    deadline=$((SECONDS + limit))
    while kill -0 $$ 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        kill -TERM $$ 2>/dev/null || true
        deadline=$((SECONDS + 3600))
      fi
      sleep 0.5
    done
    ns_teardown
  ) </dev/null >/dev/null 2>&1 &
  NS_WATCHDOG=$!

  ns_in "$NS_HUB" ip link set lo up
  ns_in "$NS_HUB" ip link add br0 type bridge stp_state 0 forward_delay 0
  ns_in "$NS_HUB" ip addr add "$NS_HUB_IP/24" brd + dev br0
  ns_in "$NS_HUB" ip link set br0 up
  for i in $(ns_all); do
    ns="$(ns_name "$i")"
    ip netns add "$ns"
    ns_in "$NS_HUB" ip link add "v$i" type veth peer name eth0 netns "$ns"
    ns_in "$NS_HUB" ip link set "v$i" master br0 up
    ns_in "$ns" ip link set lo up
    ns_in "$ns" ip addr add "$(ns_ip "$i")/24" brd + dev eth0
    ns_in "$ns" ip link set eth0 up
  done
  NS_READY=1
  log "$n namespaces $NS_PREFIX-1..$n on bridge br0 in $NS_HUB, $NS_NET.1..$n/24, UDP $NS_UDP_PORT, HTTP $NS_HTTP_PORT, scratch $NS_TMP"
}

# ns_in NAMESPACE CMD...: runs CMD in a network namespace of this run. nsenter rather than
# `ip netns exec`: it only switches the network namespace (no private mount namespace, no sysfs
# remount, which may fail in a chroot) and exec()s CMD in place.
ns_in() {
  local ns="$1"
  shift
  nsenter --net="$NS_RUN_DIR/$ns" "$@"
}

# ns_hub CMD...: runs CMD in the hub namespace (where every node's REST API is reachable).
ns_hub() { ns_in "$NS_HUB" "$@"; }

# ns_spawn I [NAME=VALUE]... [-- FLAG...]: spawn_spored ($SPORED) in node I's namespace. nsenter
# and setpriv both exec(): SPAWN_PID is spored's pid, and spored's parent is this shell, whose
# death SIGKILLs it.
ns_spawn() {
  local i="$1"
  shift
  spawn_spored prefix="nsenter --net=$NS_RUN_DIR/$(ns_name "$i") setpriv --pdeathsig KILL" bin="$SPORED" "$@"
}

# ns_start I [spored args...]: starts node I (hostname nI) in its namespace; returns at once
# (ns_wait_answering waits for HTTP). Appends to the node's log, so a restart keeps the history.
ns_start() {
  local i="$1"
  shift
  mkdir -p "$(ns_dir "$i")"
  echo "==== start $(date -u +%FT%T.%3NZ) ====" >>"$(ns_log "$i")"
  ns_spawn "$i" log="$(ns_log "$i")" hostname="n$i" bind="$(ns_ip "$i")" udp_port="$NS_UDP_PORT" \
    http_port="$NS_HTTP_PORT" state_dir="$(ns_dir "$i")" -- "${NS_NODE_ARGS[@]}" "$@"
  NS_PID[$i]=$SPAWN_PID
  # Out of the job table: bash would otherwise print "Killed" when ns_kill crashes it on purpose.
  # (bash still reaps it; ns_kill and the cleanup poll the pid.)
  disown "$SPAWN_PID"
}

ns_alive() {
  local pid="${NS_PID[$1]:-}"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

ns_show_log() {
  local f
  f="$(ns_log "$1")"
  [ -f "$f" ] || return 0
  echo "---- last lines of node $1's log ($f) ----" >&2
  tail -n "${2:-20}" "$f" >&2 || true
}

# True once every node I... answers GET /api/node/status; fails at once if one exited.
ns_answering() {
  local i
  for i in "$@"; do
    if ! ns_alive "$i"; then
      ns_show_log "$i"
      ns_fail "node $i exited (see its log above)"
    fi
    ns_hub curl -sf -o /dev/null --max-time 2 "$(ns_url "$i")/api/node/status" || return 1
  done
}

# ns_start_all: starts nodes 1..N, then waits until each answers HTTP.
ns_start_all() {
  local i
  for i in $(ns_all); do ns_start "$i"; done
  ns_wait "all $NS_N nodes answer HTTP" 30 ns_answering $(ns_all)
}

# ns_kill I [SIGNAL]: signals node I (default KILL: a crash, no leave) and waits for it to exit.
ns_kill() {
  local i="$1" sig="${2:-KILL}" pid deadline
  pid="${NS_PID[$i]:-}"
  [ -n "$pid" ] || ns_fail "ns_kill: node $i is not running"
  kill -"$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || ns_fail "node $i did not exit within 15 s of SIG$sig"
    sleep 0.05
  done
  unset "NS_PID[$i]"
}

# ns_restart I: starts node I again from its state directory and waits until it answers.
ns_restart() {
  ns_start "$1"
  ns_wait "node $1 answers HTTP" 20 ns_answering "$1"
}

# ns_members I: GET /api/cluster/members of node I (fails when it does not answer).
ns_members() { ns_hub curl -sf --max-time 3 "$(ns_url "$1")/api/cluster/members"; }

# ns_snapshot: reads /api/cluster/members of every node at once (curl --parallel in the hub) and
# fills NS_VIEW, NS_ANSWERED and NS_ENTRIES. A node that is down, slow or answers garbage is just
# not in NS_ANSWERED. A hostname listed twice by one observer has status DUP.
ns_snapshot() {
  local dir="$NS_TMP/snapshot" args=() i obs host st
  mkdir -p "$dir"
  rm -f "$dir"/*.json
  for i in $(ns_all); do args+=(-o "$dir/$i.json" "$(ns_url "$i")/api/cluster/members"); done
  ns_hub curl -s --no-progress-meter --parallel --parallel-max 64 --connect-timeout 1 --max-time 2 "${args[@]}" 2>/dev/null || true
  NS_VIEW=()
  NS_ANSWERED=()
  NS_ENTRIES=()
  shopt -s nullglob
  local files=("$dir"/*.json)
  shopt -u nullglob
  [ ${#files[@]} -gt 0 ] || return 0
  # spored answers one line of JSON; a truncated or non-JSON answer is skipped (fromjson?).
  while read -r obs host st; do
    NS_ANSWERED[$obs]=1
    [ "$host" = "-" ] && continue
    NS_ENTRIES[$obs]=$((${NS_ENTRIES[$obs]:-0} + 1))
    if [ -n "${NS_VIEW["$obs $host"]:-}" ]; then NS_VIEW["$obs $host"]=DUP; else NS_VIEW["$obs $host"]="$st"; fi
  done < <(awk '{ n = FILENAME; sub(".*/", "", n); sub("[.]json$", "", n); print n " " $0 }' "${files[@]}" |
    jq -R -r 'capture("^(?<o>[0-9]+) (?<j>.*)$") | .o as $o | (.j | fromjson? // empty)
      | select(.members | type == "array")
      | "\($o) - -", (.members[] | "\($o) \(.hostname | sub("^n"; "")) \(.status)")' 2>/dev/null)
}

# ns_status OBS HOST: HOST's status as OBS listed it in the last snapshot (ERROR: OBS did not
# answer; ABSENT: not listed).
ns_status() {
  [ -n "${NS_ANSWERED[$1]:-}" ] || {
    echo ERROR
    return 0
  }
  echo "${NS_VIEW["$1 $2"]:-ABSENT}"
}

# ns_sees "OBS..." "HOST..." REGEX: in the last snapshot, every OBS lists every HOST (but itself)
# once, with a status matching REGEX (e.g. 'ACTIVE', 'INACTIVE|DEAD').
ns_sees() {
  local o h st
  for o in $1; do
    [ -n "${NS_ANSWERED[$o]:-}" ] || return 1
    for h in $2; do
      [ "$o" = "$h" ] && continue
      st="${NS_VIEW["$o $h"]:-ABSENT}"
      [[ "$st" =~ ^($3)$ ]] || return 1
    done
  done
}

# ns_converged I...: a fresh snapshot in which every node I lists exactly the nodes I..., all
# ACTIVE (itself included), once each.
ns_converged() {
  local o
  ns_snapshot
  for o in "$@"; do
    [ "${NS_ENTRIES[$o]:-0}" -eq $# ] || return 1
  done
  ns_sees "$*" "$*" ACTIVE
}

# ns_side_sees "OBS..." "HOST..." REGEX: ns_sees on a fresh snapshot.
ns_side_sees() {
  ns_snapshot
  ns_sees "$@"
}

# ns_wait DESCRIPTION TIMEOUT_S COMMAND [ARGS...]: polls COMMAND until it succeeds.
ns_wait() {
  local what="$1" limit="$2"
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || ns_fail "timed out after ${limit} s waiting for: $what"
    sleep 0.2
  done
}

# ---- nftables, inside the node namespaces only ---------------------------------------------

# ns_nft I COMMAND...: runs nft in node I's namespace.
ns_nft() {
  local i="$1"
  shift
  ns_in "$(ns_name "$i")" nft "$@"
}

# ns_partition "A..." "B...": nodes of A and nodes of B no longer exchange any IPv4 packet
# (dropped on input and output at both ends; the hub still reaches everyone). Heal with ns_heal.
ns_partition() {
  local a="$1" b="$2" i ips_a ips_b set
  ips_a="$(for i in $a; do printf '%s, ' "$(ns_ip "$i")"; done)"
  ips_b="$(for i in $b; do printf '%s, ' "$(ns_ip "$i")"; done)"
  for i in $a $b; do
    if [[ " $a " == *" $i "* ]]; then set="${ips_b%, }"; else set="${ips_a%, }"; fi
    ns_nft "$i" -f - <<EOF
table inet spore_part {
  chain input { type filter hook input priority 0; policy accept; iifname "eth0" ip saddr { $set } counter drop; }
  chain output { type filter hook output priority 0; policy accept; oifname "eth0" ip daddr { $set } counter drop; }
}
EOF
  done
  log "partition: {$a} | {$b}"
}

# ns_heal: removes every partition rule.
ns_heal() {
  local i
  for i in $(ns_all); do ns_nft "$i" delete table inet spore_part 2>/dev/null || true; done
  log "partition healed"
}

# ns_loss PERCENT [I...]: every UDP datagram arriving on eth0 of the nodes I... (default: all) is
# dropped with probability PERCENT/100 (nftables numgen random). Counters: see ns_loss_counts.
ns_loss() {
  local pct="$1" i
  shift
  [ $# -gt 0 ] || set -- $(ns_all)
  for i in "$@"; do
    ns_nft "$i" -f - <<EOF
table inet spore_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" meta l4proto udp counter
    iifname "eth0" meta l4proto udp numgen random mod 100 < $pct counter drop
  }
}
EOF
  done
  log "loss: ${pct} % of UDP datagrams dropped on input at nodes $*"
}

# ns_loss_counts I: "RECEIVED DROPPED" UDP datagram counts of node I's loss rules.
ns_loss_counts() {
  ns_nft "$1" -j list table inet spore_loss |
    jq -r '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | "\(.[0]) \(.[1])"'
}

# ns_no_loss: removes the loss rules.
ns_no_loss() {
  local i
  for i in $(ns_all); do ns_nft "$i" delete table inet spore_loss 2>/dev/null || true; done
  log "loss removed"
}

# ns_log_ms LINE: the log line's timestamp (2026-11-26T05:13:26.964Z ...) as ms since the epoch.
ns_log_ms() {
  local ts="${1%% *}"
  echo $(($(date -u -d "${ts%Z}" +%s%3N)))
}

# ---- cleanup -----------------------------------------------------------------------------

ns_cleanup() {
  local rc=$? i pid alive=() left f
  trap - EXIT INT TERM
  for i in "${!NS_PID[@]}"; do
    pid="${NS_PID[$i]}"
    kill -0 "$pid" 2>/dev/null && alive+=("$pid")
  done
  if [ ${#alive[@]} -gt 0 ]; then
    kill -TERM "${alive[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 3))
    for pid in "${alive[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  ns_teardown
  left="$(ns_list_ours | tr '\n' ' ')"
  if [ -n "$NS_WATCHDOG" ]; then
    kill -TERM "$NS_WATCHDOG" 2>/dev/null || true
    wait "$NS_WATCHDOG" 2>/dev/null || true
  fi
  if [ -n "$left" ]; then
    log "cleanup: could not delete namespaces $left"
    [ "$rc" -ne 0 ] || rc=1
  elif [ -n "$NS_READY" ]; then
    log "cleanup: spored processes stopped, namespaces $NS_PREFIX-* deleted"
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne "$NS_SKIP_CODE" ]; then
    for f in "$NS_TMP"/node-*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f ----" >&2
      tail -n 12 "$f" >&2 || true
    done
    log "FAILED (exit $rc)"
  elif [ "$rc" -eq 0 ]; then
    log "passed"
  fi
  exit "$rc"
}
