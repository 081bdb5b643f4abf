#!/usr/bin/env bash
# Issue 18, findings 8 and 9, with the real spored: a state directory or state file another user
# can write is refused (the error names the path, the owner and the mode), a symlinked api_token
# is not followed, a secret file given by flag must be a regular file nobody else can write, a
# hard link planted at the temp file's name is never written through, and stale temp files of
# spored's own naming are removed at start. Every refusal must come before the node runs: spored
# exits at once and nothing is changed. Then a node that passed all that still works.
source "$(dirname "$0")/lib.sh"
it_init 218 90

# refused WHAT DIR PATTERN... [-- ARGS]: spored exits 1 or 2 (not 124: it ran) naming each PATTERN.
refused() {
  local what="$1" dir="$2" pattern
  shift 2
  local patterns=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    patterns+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  spored_once "$dir" "$@"
  { [ "$RC" -eq 1 ] || [ "$RC" -eq 2 ]; } || it_fail "$what: spored exited $RC (124: it ran), expected a refusal: $OUT"
  for pattern in "${patterns[@]}"; do
    grep -qF -- "$pattern" <<<"$OUT" || it_fail "$what: the error does not say '$pattern': $OUT"
  done
  log "refused, $what: $(head -n 1 <<<"$OUT")"
}

me="$(id -u)"

# ---- a 0777 state directory (created by spored earlier, then opened up)
d="$IT_TMP/open"
mkdir -m 700 "$d"
chmod 0777 "$d"
refused "0777 state dir" "$d" "$d" "owner uid $me" "mode 0777" "writable by group/others"
if [ -e "$d/node_id" ] || [ -e "$d/lock" ]; then it_fail "0777 state dir: spored wrote into it"; fi

# ---- a 0666 api_token in a private directory
d="$IT_TMP/token-0666"
mkdir -m 700 "$d"
printf 'planted-token\n' >"$d/api_token"
chmod 0666 "$d/api_token"
refused "0666 api_token" "$d" "$d/api_token" "owner uid $me" "mode 0666"
[ "$(cat "$d/api_token")" = planted-token ] || it_fail "0666 api_token: the file was changed"

# ---- a symlinked api_token: never followed
d="$IT_TMP/token-link"
mkdir -m 700 "$d" "$IT_TMP/elsewhere"
printf 'secret-elsewhere\n' >"$IT_TMP/elsewhere/secret"
chmod 0600 "$IT_TMP/elsewhere/secret"
ln -s "$IT_TMP/elsewhere/secret" "$d/api_token"
refused "symlinked api_token" "$d" "$d/api_token is a symbolic link"
[ "$(cat "$IT_TMP/elsewhere/secret")" = secret-elsewhere ] || it_fail "symlinked api_token: the target was changed"

# ---- secret files named by flag: a link or a file others can write is refused
printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$IT_TMP/cluster.key"
chmod 0600 "$IT_TMP/cluster.key"
ln -s "$IT_TMP/cluster.key" "$IT_TMP/cluster-link.key"
d="$IT_TMP/flag-secrets"
refused "symlinked --cluster-key-file" "$d" "$IT_TMP/cluster-link.key is a symbolic link" -- \
  --cluster-key-file "$IT_TMP/cluster-link.key"
chmod 0622 "$IT_TMP/cluster.key"
refused "group/other-writable --cluster-key-file" "$d" "$IT_TMP/cluster.key" "mode 0622" -- \
  --cluster-key-file "$IT_TMP/cluster.key"
chmod 0600 "$IT_TMP/cluster.key"

# ---- a hard link planted at the temp file's name, stale temp files: the node starts, the
# victim file is untouched, its own leftovers are gone, a live process's is kept.
d="$(node_dir 1)"
mkdir -m 700 "$d"
printf "victim's data\n" >"$IT_TMP/victim"
printf 'x' >"$d/node_id.tmp.999999999"
printf 'x' >"$d/boot_count.tmp.999999999.2"
printf 'x' >"$d/ota_trial.tmp.1"  # pid 1 runs: a live writer's, kept
# The subshell execs spored, so the link's pid is spored's own: exactly the name it writes
# boot_count through (old code opened it with O_TRUNC and wrote the count into the victim).
echo "==== start $(date +%T) ====" >>"$(node_log 1)"
spored_command bin="$SPORED" hostname=n1 bind="$(it_ip 1)" http_port="$IT_HTTP_PORT" udp_port="$IT_UDP_PORT" \
  state_dir="$d" -- "${IT_NODE_ARGS[@]}"
(
  ln "$IT_TMP/victim" "$d/boot_count.tmp.$BASHPID"
  exec "${SPAWN_CMD[@]}"
) >>"$(node_log 1)" 2>&1 &
IT_PID[1]=$!
wait_until "node 1 answers HTTP" 20 node_answers 1
[ "$(cat "$IT_TMP/victim")" = "victim's data" ] || it_fail "the victim behind the planted hard link was overwritten"
[ "$(tr -d '\n' <"$d/boot_count")" = 1 ] || it_fail "boot_count is '$(cat "$d/boot_count")', expected 1"
for f in node_id.tmp.999999999 boot_count.tmp.999999999.2 "boot_count.tmp.${IT_PID[1]}"; do
  [ ! -e "$d/$f" ] || it_fail "stale temp file $f was not removed"
done
[ -e "$d/ota_trial.tmp.1" ] || it_fail "a live process's temp file was removed"
grep -q "state: removed $d/node_id.tmp.999999999" "$(node_log 1)" || it_fail "the removal is not logged"
token="$(token_of 1)"
[ "${#token}" -eq 32 ] || it_fail "no generated token: '$token'"
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(it_url 1)/api/node/status")"
[ "$code" = 200 ] || it_fail "node 1 answers $code"
stop_node 1
log "PASS"
