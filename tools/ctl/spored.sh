# shellcheck shell=bash
# shellcheck disable=SC2034  # SPAWN_CMD and SPAWN_PID are for the callers
# The one way scripts start a spored node: `./ctl.sh demo`, the integration tests
# (tests/integration/lib.sh), the network-namespace bed (tests/cluster/netns.sh) and the benches.
# Sourced; defines functions only and changes no shell option.
#
#   spored_command [NAME=VALUE]... [-- FLAG...]    sets SPAWN_CMD, the command line of one node
#   spawn_spored log=FILE [NAME=VALUE]... [-- FLAG...]
#                                                  starts it in the background, output appended to
#                                                  FILE (new_log=FILE: FILE emptied first); its pid
#                                                  in SPAWN_PID
# (SPAWN_*, not SPORED_*: spored reads SPORED_* variables from its environment.)
#
# NAME=VALUE, each optional, the flags in the order given:
#   hostname=H  --hostname H       bind=IP       --bind IP          state_dir=DIR  --state-dir DIR
#   http_port=N --http-port N      udp_port=N    --udp-port N       profile=P      --profile P
#   token_file=F --api-token-file F                                 key_file=F     --ota-public-key-file F
#   bin=PATH    the spored binary (default $SPORED)
#   prefix=WORDS  a command in front of spored, split at blanks (so no word may contain one), e.g.
#               "timeout 10" or "nsenter --net=/run/netns/NS setpriv --pdeathsig KILL"; for
#               spawn_spored it must exec spored, so that SPAWN_PID is spored's own pid
# FLAGs after -- follow them unchanged (spored's other options).

spored_command() {
  local bin="${SPORED:-}" prefix=() flags=() name value
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    [[ "$1" == ?*=* ]] || { echo "spored_command: expected NAME=VALUE or --, got '$1'" >&2; return 2; }
    name="${1%%=*}" value="${1#*=}"
    shift
    case "$name" in
      hostname | bind | http_port | udp_port | state_dir | profile) flags+=("--${name//_/-}" "$value") ;;
      token_file) flags+=(--api-token-file "$value") ;;
      key_file) flags+=(--ota-public-key-file "$value") ;;
      bin) bin="$value" ;;
      prefix) read -r -a prefix <<<"$value" ;;
      *) echo "spored_command: unknown NAME '$name'" >&2; return 2 ;;
    esac
  done
  [ $# -eq 0 ] || shift
  [ -n "$bin" ] || { echo "spored_command: no spored binary (bin=PATH or \$SPORED)" >&2; return 2; }
  SPAWN_CMD=("${prefix[@]}" "$bin" "${flags[@]}" "$@")
}

spawn_spored() {
  local log="" new_log=0 named=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case "$1" in
      log=*) log="${1#log=}" new_log=0 ;;
      new_log=*) log="${1#new_log=}" new_log=1 ;;
      *) named+=("$1") ;;
    esac
    shift
  done
  [ -n "$log" ] || { echo "spawn_spored: log=FILE or new_log=FILE is required" >&2; return 2; }
  spored_command "${named[@]}" "$@" || return
  # A simple command run in the background: bash forks and the child execs it (and a prefix
  # execs spored in turn), so $! is spored's pid and this shell is its parent.
  if [ "$new_log" -eq 1 ]; then
    "${SPAWN_CMD[@]}" >"$log" 2>&1 &
  else
    "${SPAWN_CMD[@]}" >>"$log" 2>&1 &
  fi
  SPAWN_PID=$!
}
