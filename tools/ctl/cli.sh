# shellcheck shell=bash
# The spore CLI's verbs (cluster, node, discover, events, keygen, sign, verify) and `ota` on
# `spore ota`: run from the caller's directory, the node from --node, $SPORE_NODE, $API_NODE or
# API_NODE in .env (the spore CLI reads it; SPORE_ENV_FILE says which .env).

# cluster members / node status / node restart / discover: the seed's verbs, run by the spore CLI
# from the caller's directory (so relative paths in arguments work). The node address comes from
# the caller's .env if it has one, else from this repository's .env (the seed's "project root").
verb_spore() {
  local bin="${SPORE:-$ROOT/build/dev/spore}"
  if [ -z "${SPORE:-}" ] && [ ! -x "$bin" ]; then
    log "building the spore CLI (build/dev)" >&2
    build_programs spore >&2 || die "could not build spore; see the output above"
  fi
  [ -x "$bin" ] || die "spore binary not found at $bin"
  local envf
  envf="$(dotenv_file)"
  if [ -n "$envf" ] && [ -z "${SPORE_ENV_FILE:-}" ] && [ "$envf" != "$CALLER_PWD/.env" ]; then
    export SPORE_ENV_FILE="$envf"
  fi
  cd "$CALLER_PWD"
  exec "$bin" "$@"
}

# The image `ota` sends when no FILE is given (in OTA_IMAGE): $SPORE_FIRMWARE, else build/dev/spored,
# built when missing.
ota_default_image() {
  OTA_IMAGE="${SPORE_FIRMWARE:-}"
  if [ -z "$OTA_IMAGE" ]; then
    OTA_IMAGE="$ROOT/build/dev/spored"
    if [ ! -x "$OTA_IMAGE" ]; then
      log "building spored (build/dev), the default image for Linux nodes" >&2
      build_programs spored >&2 || die "could not build spored; see the output above"
    fi
  fi
  echo "ctl.sh: image: $(rel_path "$OTA_IMAGE")" >&2
}

# True when the spore options ARGS... name a token (--token, --token-file or --token-map).
has_token_option() {
  local a
  for a in "$@"; do
    case "$a" in --token | --token=* | --token-file | --token-file=* | --token-map | --token-map=*) return 0 ;; esac
  done
  return 1
}

# Writes build/demo/tokens.map from a local demo's state directories and prints which file it is.
# Keyed by node id (each node's state-dir node_id file): the CLI never picks a token by hostname.
demo_token_map() {
  local map="$1" f d
  (umask 077 && : >"$map")
  for f in "$ROOT"/build/demo/node-*/api_token; do
    d="${f%/api_token}"
    [ -s "$d/node_id" ] || continue
    printf '%s %s\n' "$(tr -d ' \n\r\t' <"$d/node_id")" "$(tr -d ' \n\r\t' <"$f")" >>"$map"
  done
  echo "ctl.sh: tokens of the local demo's nodes: --token-map $(rel_path "$map")" >&2
}

# ota update IP [FILE] / ota all [FILE]: the seed's verbs on `spore ota`. FILE is optional, as in
# the seed (which flashed the PlatformIO build): $SPORE_FIRMWARE, else build/dev/spored.
verb_ota() {
  local sub="${1:-}"
  shift || true
  case "$sub" in
    update | all) ;;
    "" | -h | --help) verb_spore ota --help ;;
    *) usage_die "ota: expected 'ota update IP [FILE]' or 'ota all [FILE]', got '$sub'" ;;
  esac
  local args=()
  if [ "$sub" = update ]; then
    [ $# -ge 1 ] && [[ "$1" != -* ]] || usage_die "ota update: give the node: ./ctl.sh ota update IP [FILE]"
    args+=("$1")
    shift
  fi
  local file=""
  if [ $# -ge 1 ] && [[ "$1" != -* ]]; then
    file="$1"
    shift
  fi
  if [ -z "$file" ]; then
    ota_default_image
    file="$OTA_IMAGE"
  fi
  args+=("$file")
  # The local demo gives every node its own token: pass them as a token map unless told otherwise.
  if ! has_token_option "$@" && [ -z "${SPORE_TOKEN:-}" ] && compgen -G "$ROOT/build/demo/node-*/api_token" >/dev/null; then
    demo_token_map "$ROOT/build/demo/tokens.map"
    args+=(--token-map "$ROOT/build/demo/tokens.map")
  fi
  verb_spore ota "$sub" "${args[@]}" "$@"
}
