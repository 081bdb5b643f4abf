# shellcheck shell=bash
# `./ctl.sh demo`: a local cluster of N spored nodes on loopback until Ctrl-C or --for SECONDS.
# Parse and check the options, start the nodes (tools/ctl/spored.sh), wait until they answer and
# form one cluster, print how to use it, supervise, stop every node on exit.

demo_usage() {
  cat <<'USAGE'
Usage: ./ctl.sh demo [options]

Starts a local SPORE cluster: N spored nodes on 127.0.0.2 .. 127.0.0.(N+1), HTTP port 8080 each,
UDP port 4210, discovering each other by broadcast (no addresses configured). Waits until the
first node sees all N ACTIVE, prints its members table, the URLs, logs and API token, then runs
until Ctrl-C (or --for SECONDS) and stops every node cleanly (graceful leave).

The cluster is keyed: every node gets the cluster key SPORE_CLUSTER_KEY from the environment, else
from .env (the caller's, else this repository's; $SPORE_ENV_FILE names another). Without one, the
first demo generates a random key into that .env (mode 0600) and later demos reuse it; the key is
never printed. Open mode (no key: anyone on the network can forge members) only when asked for,
with --open or SPORE_CLUSTER_KEY=open (docs/security.md "Keys").

Options:
  --nodes N          number of nodes, 1..200 (default 5)
  --profile P        lan (seed timings: INACTIVE after 10 s, DEAD after 60 s), fast, esp8266
                     (default lan)
  --for SECONDS      stop after SECONDS instead of waiting for Ctrl-C
  --wait SECONDS     how long to wait for the cluster to form (default 30)
  --base-ip IP       address of node 1, within 127.0.0.0/8 (default 127.0.0.2)
  --http-port PORT   HTTP port of every node (default 8080)
  --udp-port PORT    UDP port of the cluster (default 4210)
  --dir DIR          state directories and logs (default build/demo)
  --open             open mode: no cluster key (seed compatibility), whatever .env says

Environment: SPORED, SPORE: use these binaries instead of building build/dev.
USAGE
}


DEMO_PIDS=()
DEMO_DIR=""

# Stops every node the demo started: SIGTERM (graceful leave), then SIGKILL after 10 s.
demo_stop() {
  local pid alive=() deadline
  for pid in "${DEMO_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && alive+=("$pid")
  done
  if [ ${#alive[@]} -gt 0 ]; then
    printf '\nstopping %d node(s) (SIGTERM: graceful leave)...\n' "${#alive[@]}"
    kill -TERM "${alive[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$deadline" ]; do
      local still=()
      for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
      alive=("${still[@]+"${still[@]}"}")
      [ ${#alive[@]} -eq 0 ] && break
      sleep 0.1
    done
    if [ ${#alive[@]} -gt 0 ]; then
      echo "still running after 10 s, sending SIGKILL to: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
    fi
  fi
  for pid in "${DEMO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ ${#DEMO_PIDS[@]} -gt 0 ]; then
    echo "all ${#DEMO_PIDS[@]} node(s) stopped; logs in $(rel_path "$DEMO_DIR")/"
  fi
  DEMO_PIDS=()
  [ -n "$DEMO_DIR" ] && rm -f "$DEMO_DIR/pids"
  return 0
}

# A path relative to the repository when it is inside it, for shorter messages.

demo_show_log() {
  local log="$1"
  echo "---- last lines of $(rel_path "$log") ----" >&2
  tail -n 20 "$log" >&2 || true
  echo "----" >&2
}

# Sets the DEMO_* options from the command line (defaults as demo_usage says).
demo_parse_args() {
  DEMO_NODES=5 DEMO_PROFILE=lan DEMO_FOR_S="" DEMO_WAIT_S=30 DEMO_BASE_IP=127.0.0.2
  DEMO_HTTP_PORT=8080 DEMO_UDP_PORT=4210 DEMO_DIR="$ROOT/build/demo" DEMO_OPEN=0
  while [ $# -gt 0 ]; do
    local opt="$1" val=""
    case "${opt%%=*}" in
      -h | --help) demo_usage; exit 0 ;;
      --open) DEMO_OPEN=1; shift; continue ;;
      --nodes | --profile | --for | --wait | --base-ip | --http-port | --udp-port | --dir) ;;
      *) usage_die "demo: unknown argument '$opt' (./ctl.sh demo --help)" ;;
    esac
    case "$opt" in
      --*=*) val="${opt#*=}"; opt="${opt%%=*}"; shift ;;
      --*)
        [ $# -ge 2 ] || usage_die "demo: $opt needs a value (./ctl.sh demo --help)"
        val="$2"; shift 2 ;;
    esac
    case "$opt" in
      --nodes) DEMO_NODES="$val" ;;
      --profile) DEMO_PROFILE="$val" ;;
      --for) DEMO_FOR_S="$val" ;;
      --wait) DEMO_WAIT_S="$val" ;;
      --base-ip) DEMO_BASE_IP="$val" ;;
      --http-port) DEMO_HTTP_PORT="$val" ;;
      --udp-port) DEMO_UDP_PORT="$val" ;;
      --dir) DEMO_DIR="$val" ;;
    esac
  done
}

# Refuses bad options (exit 2); sets DEMO_IPS, the nodes' addresses.
demo_check_args() {
  local nodes="$DEMO_NODES" port a b c d k
  [[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 200 ] ||
    usage_die "demo: --nodes must be 1..200, got '$nodes'"
  case "$DEMO_PROFILE" in
    lan | fast | esp8266) ;;
    *) usage_die "demo: --profile must be lan, fast or esp8266, got '$DEMO_PROFILE'" ;;
  esac
  [ -z "$DEMO_FOR_S" ] || [[ "$DEMO_FOR_S" =~ ^[0-9]+$ ]] || usage_die "demo: --for must be whole seconds, got '$DEMO_FOR_S'"
  [[ "$DEMO_WAIT_S" =~ ^[0-9]+$ ]] && [ "$DEMO_WAIT_S" -ge 1 ] ||
    usage_die "demo: --wait must be whole seconds >= 1, got '$DEMO_WAIT_S'"
  for port in "$DEMO_HTTP_PORT" "$DEMO_UDP_PORT"; do
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
      usage_die "demo: ports must be 1..65535, got '$port'"
  done
  IFS=. read -r a b c d <<<"$DEMO_BASE_IP"
  [[ "$DEMO_BASE_IP" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] && [ "$b" -le 255 ] && [ "$c" -le 255 ] &&
    [ "$d" -ge 1 ] || usage_die "demo: --base-ip must be a loopback address 127.x.y.z, got '$DEMO_BASE_IP'"
  [ $((d + nodes - 1)) -le 254 ] || usage_die "demo: $nodes nodes from $DEMO_BASE_IP run past $a.$b.$c.254"
  DEMO_IPS=()
  for ((k = 0; k < nodes; k++)); do DEMO_IPS+=("$a.$b.$c.$((d + k))"); done
}

# DEMO_SPORED, DEMO_SPORE: $SPORED / $SPORE, else build/dev's (built).
demo_find_programs() {
  DEMO_SPORED="${SPORED:-}" DEMO_SPORE="${SPORE:-}"
  if [ -z "$DEMO_SPORED" ] || [ -z "$DEMO_SPORE" ]; then
    log "building spored and spore (build/dev)"
    build_programs spored spore || die "demo: the build failed; see the output above"
    DEMO_SPORED="${DEMO_SPORED:-$ROOT/build/dev/spored}"
    DEMO_SPORE="${DEMO_SPORE:-$ROOT/build/dev/spore}"
  fi
  [ -x "$DEMO_SPORED" ] || die "demo: spored not found at $DEMO_SPORED"
  [ -x "$DEMO_SPORE" ] || die "demo: spore not found at $DEMO_SPORE"
}

# Makes DEMO_DIR (absolute from here on); refuses to run beside a demo still running from it.
demo_prepare_dir() {
  mkdir -p "$DEMO_DIR"
  DEMO_DIR="$(cd "$DEMO_DIR" && pwd)"
  if [ -f "$DEMO_DIR/pids" ]; then
    local old running=()
    for old in $(cat "$DEMO_DIR/pids"); do kill -0 "$old" 2>/dev/null && running+=("$old"); done
    [ ${#running[@]} -eq 0 ] ||
      die "demo: a demo is already running from $(rel_path "$DEMO_DIR") (pids ${running[*]}); stop it first"
  fi
}

# Busy ports: an HTTP port already answering on a node's address (or on 0.0.0.0), or another
# cluster on the UDP port (nodes share it with SO_REUSEPORT, so ours would silently join it).
demo_check_ports() {
  local ip
  for ip in "${DEMO_IPS[@]}"; do
    if timeout 1 bash -c "exec 3<>/dev/tcp/$ip/$DEMO_HTTP_PORT" 2>/dev/null; then
      die "demo: TCP port $DEMO_HTTP_PORT on $ip is busy (another demo or program?). Stop it, or use --http-port / --base-ip."
    fi
  done
  if command -v ss >/dev/null && [ -n "$(ss -Hlun "sport = :$DEMO_UDP_PORT" 2>/dev/null)" ]; then
    ss -Hlunp "sport = :$DEMO_UDP_PORT" 2>/dev/null | sed 's/^/  /' >&2 || true
    die "demo: UDP port $DEMO_UDP_PORT is already in use on this host (another SPORE node or demo?). Stop it, or use --udp-port."
  fi
}

# DEMO_KEY_FILE: DIR/cluster.key, the key tools/cluster_key.py resolved (or generated into .env);
# empty in open mode. Says where the key came from, never the key.
demo_cluster_key() {
  local mode open=()
  [ "$DEMO_OPEN" -eq 0 ] || open=(--open)
  DEMO_KEY_FILE="$DEMO_DIR/cluster.key"
  mode="$(python3 "$ROOT/tools/cluster_key.py" --env-file "$(dotenv_target)" --key-file "$DEMO_KEY_FILE" "${open[@]}")" ||
    die "demo: no usable cluster key (the message above); fix SPORE_CLUSTER_KEY, or run with --open"
  [ "$mode" = keyed ] || DEMO_KEY_FILE=""
}

# Starts node K as demo-K on DEMO_IPS[K-1]: state in DIR/node-K, log DIR/node-K.log (new each run).
demo_start_nodes() {
  local k dir="$DEMO_DIR" key=()
  [ -z "$DEMO_KEY_FILE" ] || key=(--cluster-key-file "$DEMO_KEY_FILE")
  log "starting $DEMO_NODES spored node(s), profile $DEMO_PROFILE, UDP port $DEMO_UDP_PORT, $([ -n "$DEMO_KEY_FILE" ] && echo keyed || echo OPEN mode)"
  for ((k = 1; k <= DEMO_NODES; k++)); do
    mkdir -p "$dir/node-$k"
    chmod 700 "$dir/node-$k"  # a state dir others can write is refused (docs/security.md)
    spawn_spored new_log="$dir/node-$k.log" bin="$DEMO_SPORED" hostname="demo-$k" bind="${DEMO_IPS[$((k - 1))]}" \
      http_port="$DEMO_HTTP_PORT" udp_port="$DEMO_UDP_PORT" state_dir="$dir/node-$k" profile="$DEMO_PROFILE" \
      -- "${key[@]}"
    DEMO_PIDS+=("$SPAWN_PID")
  done
  printf '%s\n' "${DEMO_PIDS[@]}" >"$dir/pids"
}

# Every node must answer HTTP; one that exits shows its log.
demo_wait_answering() {
  local deadline=$((SECONDS + 20)) k ip pid
  for ((k = 1; k <= DEMO_NODES; k++)); do
    ip="${DEMO_IPS[$((k - 1))]}"
    pid="${DEMO_PIDS[$((k - 1))]}"
    until curl -sf -o /dev/null --max-time 2 "http://$ip:$DEMO_HTTP_PORT/api/node/status"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        demo_show_log "$DEMO_DIR/node-$k.log"
        die "demo: node $k (demo-$k on $ip) exited during start-up; its log is above"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        demo_show_log "$DEMO_DIR/node-$k.log"
        die "demo: node $k (demo-$k on $ip) does not answer on http://$ip:$DEMO_HTTP_PORT after 20 s"
      fi
      sleep 0.2
    done
  done
}

# Waits until node 1 sees every node ACTIVE (a progress line on a terminal), at most --wait s.
demo_wait_formed() {
  local nodes="$DEMO_NODES" first="http://${DEMO_IPS[0]}:$DEMO_HTTP_PORT" active=0 started=$SECONDS tty=0 deadline
  [ -t 1 ] && tty=1
  deadline=$((SECONDS + DEMO_WAIT_S))
  while :; do
    active="$(curl -sf --max-time 2 "$first/api/cluster/members" |
      jq '[.members[] | select(.status == "ACTIVE")] | length' 2>/dev/null || echo 0)"
    [ "$active" -ge "$nodes" ] && break
    if [ "$tty" -eq 1 ]; then
      printf '\r  waiting for the cluster to form: demo-1 sees %s of %s ACTIVE (%d s)   ' \
        "$active" "$nodes" $((SECONDS - started))
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      [ "$tty" -eq 1 ] && echo
      "$DEMO_SPORE" --node "${DEMO_IPS[0]}:$DEMO_HTTP_PORT" cluster members || true
      die "demo: after ${DEMO_WAIT_S} s demo-1 sees only $active of $nodes nodes ACTIVE; logs in $(rel_path "$DEMO_DIR")/node-*.log"
    fi
    sleep 0.3
  done
  [ "$tty" -eq 1 ] && printf '\r%*s\r' 72 ''
  echo "cluster formed: demo-1 sees all $nodes nodes ACTIVE after $((SECONDS - started)) s"
}

# The members table, the dashboard and REST URLs, logs, token and commands to try.
demo_print_info() {
  local nodes="$DEMO_NODES" port="$DEMO_HTTP_PORT" dir="$DEMO_DIR" k ip token_file="" spore
  local ips=("${DEMO_IPS[@]}")
  spore="$(rel_path "$DEMO_SPORE")"
  echo
  "$DEMO_SPORE" --node "${ips[0]}:$port" cluster members || true
  echo
  echo "web dashboard: http://${ips[0]}:$port/  (every node serves one; docs/dashboard.md)"
  echo
  echo "REST API (seed endpoints) of each node:"
  for ((k = 1; k <= nodes; k++)); do
    ip="${ips[$((k - 1))]}"
    echo "  demo-$k  http://$ip:$port/api/cluster/members   http://$ip:$port/api/node/status"
  done
  token_file="$(find "$dir/node-1" -maxdepth 1 -type f -name '*token*' 2>/dev/null | head -n 1 || true)"
  echo
  echo "logs:       $(rel_path "$dir")/node-K.log     state: $(rel_path "$dir")/node-K/"
  if [ -n "$DEMO_KEY_FILE" ]; then
    echo "cluster:    keyed (\"clusterAuth\": \"keyed\"): SPORE_CLUSTER_KEY in $(rel_path "$(dotenv_target)"), a copy in $(rel_path "$DEMO_KEY_FILE")"
  else
    echo "cluster:    OPEN mode (\"clusterAuth\": \"open\"; --open or SPORE_CLUSTER_KEY=open): no key, anyone on the network can forge members"
  fi
  if [ -n "$token_file" ]; then
    echo "API token:  $(rel_path "$token_file")  (each node has its own, in its state directory)"
    echo "try:        $spore --node ${ips[0]}:$port cluster members --watch 1"
    echo "            $spore --node ${ips[1]:-${ips[0]}}:$port node restart --token-file $(rel_path "${token_file/node-1/node-$((nodes > 1 ? 2 : 1))}")"
  else
    echo "API token:  in each node's state directory ($(rel_path "$dir")/node-K/; see the node's log)"
    echo "try:        $spore --node ${ips[0]}:$port cluster members --watch 1"
  fi
  if [ -n "$DEMO_KEY_FILE" ]; then
    echo "            $spore discover --udp-port $DEMO_UDP_PORT --cluster-key-file $(rel_path "$DEMO_KEY_FILE")"
  else
    echo "            $spore discover --udp-port $DEMO_UDP_PORT"
  fi
  echo "            kill one node (kill <pid> from $(rel_path "$dir")/pids) and watch it turn INACTIVE, then DEAD"
  echo
}

# Runs until Ctrl-C or --for; says so once if a node dies on its own.
demo_supervise() {
  if [ -n "$DEMO_FOR_S" ]; then
    echo "running for $DEMO_FOR_S s..."
  else
    echo "running; press Ctrl-C to stop every node"
  fi
  local end=$((SECONDS + ${DEMO_FOR_S:-0})) reported="" k pid
  while [ -z "$DEMO_FOR_S" ] || [ "$SECONDS" -lt "$end" ]; do
    for ((k = 1; k <= DEMO_NODES; k++)); do
      pid="${DEMO_PIDS[$((k - 1))]}"
      if ! kill -0 "$pid" 2>/dev/null && [[ " $reported " != *" $k "* ]]; then
        echo "note: node $k (demo-$k, pid $pid) is no longer running; see $(rel_path "$DEMO_DIR")/node-$k.log"
        reported="$reported $k"
      fi
    done
    sleep 1 &
    wait $! || true
  done
  return 0
}

verb_demo() {
  demo_parse_args "$@"
  demo_check_args
  command -v curl >/dev/null && command -v jq >/dev/null && command -v python3 >/dev/null || ensure_deps
  demo_find_programs
  demo_prepare_dir
  demo_cluster_key
  demo_check_ports
  trap demo_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  demo_start_nodes
  demo_wait_answering
  demo_wait_formed
  demo_print_info
  demo_supervise
}
