# shellcheck shell=bash
# shellcheck disable=SC2034  # IT_ROOT, IT_LAST_EXIT, IT_NODE_ARGS are used by the scripts
# Helpers for tests/integration/*_test.sh: real spored processes on loopback, checked with curl + jq.
#
# Every script calls `it_init K` first, with a K of its own (1..999): its nodes then bind
# 127.0.K.2, 127.0.K.3, ... (K > 255: 127.(K/256).(K%256).2, ...) and use UDP port 20000+K and
# HTTP port 21000+K, so scripts never hear each other and ctest -j can run them side by side.
# Whatever a script starts is stopped by the EXIT trap, on success, failure, time-out or Ctrl-C.
# Waits poll a condition until a generous deadline: the tests assert behaviour, never speed.
#
# ctest passes SPORED, SPORE (binaries) and SPORE_TEST_TMP (scratch directory).

set -euo pipefail

: "${SPORED:?set SPORED to the spored binary (ctest does)}"
: "${SPORE:?set SPORE to the spore binary (ctest does)}"
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is required" >&2; exit 1; }

IT_NAME="$(basename "$0" .sh)"
IT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tools/ctl/spored.sh
source "$IT_ROOT/tools/ctl/spored.sh"  # spawn_spored, spored_command
IT_TMP="${SPORE_TEST_TMP:-${TMPDIR:-/tmp}/spore-integration}/$IT_NAME"
IT_NET=""
IT_UDP_PORT=""
IT_HTTP_PORT=""
# Arguments every node gets after the per-node ones (tests may change them before start_node).
IT_NODE_ARGS=(--profile fast)
declare -A IT_PID=()
IT_EXTRA_PIDS=()
IT_WATCHDOG=""
IT_LAST_EXIT=""
IT_STARTED=$SECONDS

log() { printf '[%s +%ss] %s\n' "$IT_NAME" $((SECONDS - IT_STARTED)) "$*" >&2; }

it_fail() {
  log "FAIL: $*"
  exit 1
}

# it_init K [LIMIT_SECONDS]: claim the address range and ports for K; the whole script is
# stopped (and cleaned up) after LIMIT_SECONDS (default 150, below ctest's 180 s).
it_init() {
  local k="$1" limit="${2:-150}"
  [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le 999 ] || it_fail "it_init: K must be 1..999"
  IT_NET="127.$((k / 256)).$((k % 256))"
  IT_UDP_PORT=$((20000 + k))
  IT_HTTP_PORT=$((21000 + k))
  rm -rf "$IT_TMP"
  mkdir -p "$IT_TMP"
  trap it_cleanup EXIT
  trap 'it_fail "interrupted"' INT
  trap 'it_fail "stopped: time limit of the script reached, or SIGTERM"' TERM
  (
    sleep "$limit" &
    sleeper=$!
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    wait "$sleeper"
    kill -TERM $$ 2>/dev/null || true
  ) &
  IT_WATCHDOG=$!
  log "nodes on $IT_NET.2.., UDP port $IT_UDP_PORT, HTTP port $IT_HTTP_PORT, scratch $IT_TMP"
}

# it_tool_missing WHAT HINT: a tool the test needs is missing: skipped (exit 77) with WHAT and HINT
# (how to install it), or failed under CI (CI=true), so CI never passes without running the test.
it_tool_missing() {
  if [ "${CI:-}" = true ]; then
    echo "$IT_NAME: FAIL: $1 (CI must run this test: ./ctl.sh test installs what it needs)" >&2
    exit 1
  fi
  echo "$IT_NAME: SKIPPED: $1 ($2)" >&2
  exit 77
}

# it_npm_ci DIR PACKAGE: installs DIR's npm packages as DIR/package-lock.json pins them (npm ci,
# no install scripts) unless PACKAGE is already there at its pinned version; a missing node or npm,
# or no access to the registry, is it_tool_missing.
it_npm_ci() {
  local dir="$1" pkg="$2" wanted installed
  command -v node >/dev/null || it_tool_missing "no node (Node.js)" "apt-get install nodejs npm"
  wanted="$(jq -r --arg p "node_modules/$pkg" '.packages[$p].version' "$dir/package-lock.json")"
  installed="$(jq -r .version "$dir/node_modules/$pkg/package.json" 2>/dev/null || true)"
  [ "$installed" != "$wanted" ] || return 0
  command -v npm >/dev/null || it_tool_missing "no npm to install $pkg" "apt-get install nodejs npm"
  echo "$IT_NAME: installing $pkg $wanted (npm ci in ${dir#"$IT_ROOT"/})" >&2
  # Node.js trusts its own CA bundle only; add the system's, so a registry reached through a
  # proxy whose CA the machine trusts (/usr/local/share/ca-certificates) works too.
  [ -n "${NODE_EXTRA_CA_CERTS:-}" ] || [ ! -r /etc/ssl/certs/ca-certificates.crt ] ||
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  (cd "$dir" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund >&2) ||
    it_tool_missing "npm ci in ${dir#"$IT_ROOT"/} failed (no access to the npm registry?)" "apt-get install nodejs npm"
}

it_ip() { printf '%s.%s' "$IT_NET" $(($1 + 1)); }
it_url() { printf 'http://%s:%s' "$(it_ip "$1")" "$IT_HTTP_PORT"; }
node_log() { printf '%s/node-%s.log' "$IT_TMP" "$1"; }
node_dir() { printf '%s/node-%s' "$IT_TMP" "$1"; }
node_pid() { printf '%s' "${IT_PID[$1]:-}"; }

node_alive() {
  local pid="${IT_PID[$1]:-}"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

show_log() {
  local f
  f="$(node_log "$1")"
  [ -f "$f" ] || return 0
  echo "---- last lines of node $1's log ($f) ----" >&2
  tail -n "${2:-25}" "$f" >&2 || true
}

# spawn_node K [spored args...]: starts node K (hostname nK) and returns at once, its pid in
# IT_PID[K]. Appends to the node's log, so a restarted node keeps the history.
spawn_node() {
  local k="$1"
  shift
  mkdir -p "$(node_dir "$k")"
  chmod 700 "$(node_dir "$k")"  # spored refuses a state dir others can write, whatever the umask
  echo "==== start $(date +%T) ====" >>"$(node_log "$k")"
  spawn_spored log="$(node_log "$k")" bin="$SPORED" hostname="n$k" bind="$(it_ip "$k")" http_port="$IT_HTTP_PORT" \
    udp_port="$IT_UDP_PORT" state_dir="$(node_dir "$k")" -- "${IT_NODE_ARGS[@]}" "$@"
  IT_PID[$k]=$SPAWN_PID
}

# start_node K [spored args...]: spawn_node, then waits until node K answers HTTP.
start_node() {
  spawn_node "$@"
  wait_until "node $1 answers HTTP" 20 node_answers "$1"
}

# True once node K answers GET /api/node/status; fails the test at once if it exited.
node_answers() {
  if ! node_alive "$1"; then
    show_log "$1"
    it_fail "node $1 exited (see its log above)"
  fi
  curl -sf -o /dev/null --max-time 2 "$(it_url "$1")/api/node/status"
}

# stop_node K [SIGNAL] [TIMEOUT_S]: signals node K (default TERM) and waits for it to exit;
# its exit status is left in IT_LAST_EXIT. Fails the test if it does not exit in time.
stop_node() {
  local k="$1" sig="${2:-TERM}" limit="${3:-15}" pid
  pid="${IT_PID[$k]:-}"
  [ -n "$pid" ] || it_fail "stop_node: node $k was not started"
  kill -"$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || it_fail "node $k did not exit within ${limit} s of SIG$sig"
    sleep 0.1
  done
  IT_LAST_EXIT=0
  wait "$pid" 2>/dev/null || IT_LAST_EXIT=$?
  unset "IT_PID[$k]"
}

# wait_until DESCRIPTION TIMEOUT_S COMMAND [ARGS...]: polls COMMAND until it succeeds.
wait_until() {
  local what="$1" limit="$2"
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || it_fail "timed out after ${limit} s waiting for: $what"
    sleep 0.2
  done
}

# GET /api/cluster/members of node K (empty output and failure when it does not answer).
members_of() { curl -sf --max-time 3 "$(it_url "$1")/api/cluster/members"; }

# status_at K HOSTNAME: STATUS of HOSTNAME as node K sees it, ABSENT when not listed, DUP when
# listed more than once, ERROR when K does not answer.
status_at() {
  local body
  body="$(members_of "$1")" || { echo ERROR; return 0; }
  jq -r --arg h "$2" '[.members[] | select(.hostname == $h)]
    | if length == 0 then "ABSENT" elif length > 1 then "DUP" else .[0].status end' <<<"$body"
}

# field_at K HOSTNAME JQ_PATH: a field of HOSTNAME's entry at node K, as JSON ("null" if absent).
field_at() {
  local body
  body="$(members_of "$1")" || { echo null; return 0; }
  jq -c --arg h "$2" "[.members[] | select(.hostname == \$h)][0] | $3" <<<"$body"
}

# all_see HOSTNAME STATUS K...: true when every observer K lists HOSTNAME once with STATUS.
all_see() {
  local host="$1" want="$2" k
  shift 2
  for k in "$@"; do
    [ "$(status_at "$k" "$host")" = "$want" ] || return 1
  done
}

# converged K...: every node K lists exactly the nodes K... (hostnames nK), all ACTIVE, once each.
converged() {
  local k body want
  want="$(printf 'n%s\n' "$@" | sort | jq -R . | jq -sc .)"
  for k in "$@"; do
    body="$(members_of "$k")" || return 1
    [ "$(jq -c '[.members[] | select(.status == "ACTIVE") | .hostname] | sort' <<<"$body")" = "$want" ] || return 1
    [ "$(jq '.members | length' <<<"$body")" -eq "$#" ] || return 1
  done
}

# The API token spored generated in node K's state directory.
token_of() {
  local f
  f="$(node_dir "$1")/api_token"
  [ -s "$f" ] || it_fail "no API token file at $f"
  tr -d ' \n\r\t' <"$f"
}

# Node K's id as spored keeps it in its state directory (8 hex digits): what token maps are keyed by.
node_id_of() {
  local f
  f="$(node_dir "$1")/node_id"
  [ -s "$f" ] || it_fail "no node_id file at $f"
  tr -d ' \n\r\t' <"$f"
}

# A --token-map for nodes 1..N: one "NODE_ID TOKEN" line per node.
token_map_of() {
  local k
  for k in $(seq 1 "$1"); do echo "$(node_id_of "$k") $(token_of "$k")"; done
}

# expect_rc CODE COMMAND...: runs COMMAND with its output (stdout and stderr) in $OUT; fails the
# test unless it exits CODE.
expect_rc() {
  local want="$1" rc
  shift
  set +e
  OUT="$("$@" 2>&1)"
  rc=$?
  set -e
  [ "$rc" -eq "$want" ] || it_fail "'$*' exited $rc, expected $want; output: $OUT"
}

# Runs a command in the background and remembers it for cleanup.
start_extra() {
  "$@" &
  IT_EXTRA_PIDS+=("$!")
}

it_cleanup() {
  local rc=$? k pid alive=()
  trap - EXIT INT TERM
  # A helper library may have processes to deal with first (ota_lib.sh: OTA guardians).
  if declare -F it_before_cleanup >/dev/null; then it_before_cleanup || true; fi
  for k in "${!IT_PID[@]}"; do
    pid="${IT_PID[$k]}"
    kill -0 "$pid" 2>/dev/null && alive+=("$pid")
  done
  for pid in "${IT_EXTRA_PIDS[@]+"${IT_EXTRA_PIDS[@]}"}"; do
    kill -0 "$pid" 2>/dev/null && alive+=("$pid")
  done
  if [ ${#alive[@]} -gt 0 ]; then
    kill -TERM "${alive[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 5))
    for pid in "${alive[@]}"; do
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  fi
  if [ -n "$IT_WATCHDOG" ]; then
    kill -TERM "$IT_WATCHDOG" 2>/dev/null || true
    wait "$IT_WATCHDOG" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    for f in "$IT_TMP"/node-*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f ----" >&2
      tail -n 15 "$f" >&2 || true
    done
    log "FAILED (exit $rc)"
  else
    log "passed"
  fi
  exit "$rc"
}

# spored_once DIR [ARGS...]: runs node 1 in the foreground on state dir DIR; `timeout` stops a
# spored that (wrongly) accepted what it was given and runs. Output in $OUT, exit code in $RC
# (124: it ran until stopped).
spored_once() {
  local dir="$1"
  shift
  spored_command prefix="timeout 10" bin="$SPORED" hostname=n1 bind="$(it_ip 1)" http_port="$IT_HTTP_PORT" \
    udp_port="$IT_UDP_PORT" state_dir="$dir" profile=fast -- "$@"
  set +e
  OUT="$("${SPAWN_CMD[@]}" 2>&1)"
  RC=$?
  set -e
}
