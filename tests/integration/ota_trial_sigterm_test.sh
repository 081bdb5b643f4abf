#!/usr/bin/env bash
# SIGTERM during the trial run of an uploaded image (issue 18 ota-fix, after the attacker's
# /work/attack/ota/trial_hold_sigterm.sh; docs/ota.md §11): the trial (`<image> --self-test`) runs
# under the node's core mutex, up to the 5 s self-test timeout. An image whose self-test never
# answers (a program that pauses forever, built here with cc) is uploaded; while its trial runs the node gets
# SIGTERM. The trial is killed at once ("was cancelled: the node is stopping"), nothing is
# replaced, and the node leaves the cluster and exits 0. Before the fix the SIGTERM waited for the
# trial's timeout ("did not finish within 5000 ms"), with the node loop stopped meanwhile.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 234

printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' | cc -O2 -x c -o "$IT_TMP/hang" - ||
  it_fail "cannot build the hanging image with cc"
start_ota_node 1
token="$(token_of 1)"
before_sha="$(sha_of "$(exe_of 1)")"
pid="$(node_pid 1)"
start_extra curl -s --max-time 30 -o "$IT_TMP/upload.json" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/octet-stream' --data-binary "@$IT_TMP/hang" "$(it_url 1)/api/node/update"

# The trial is a child of spored running the staged image (.spored.update.<pid> beside the executable).
trial_running() {
  local child
  for child in $(pgrep -P "$pid"); do
    case "$(readlink "/proc/$child/exe" 2>/dev/null)" in */.spored.update.*) return 0 ;; esac
  done
  return 1
}
wait_until "the trial run of the uploaded image" 20 trial_running
stop_node 1 TERM 10
[ "$IT_LAST_EXIT" = 0 ] || it_fail "spored exited $IT_LAST_EXIT after SIGTERM during the trial"
grep -E "ota:|leaving|self-test" "$(node_log 1)" | cut -c1-220 | sed 's/^/  /' >&2
grep -q "was cancelled: the node is stopping" "$(node_log 1)" ||
  it_fail "the trial was not cancelled by SIGTERM (the node waited for it)"
grep -q "leaving the cluster" "$(node_log 1)" || it_fail "n1 did not leave the cluster"
[ "$(sha_of "$(exe_of 1)")" = "$before_sha" ] || it_fail "the executable was replaced"
leftovers="$(find "$IT_TMP/exe-1" -name '.spored.update.*' | head -3)"
[ -z "$leftovers" ] || it_fail "temporary files left: $leftovers"
log "PASS"
