#!/usr/bin/env bash
# Issue 18, finding 2, with real processes: a node whose boot count passes the old 16-bit limit
# (65,535 -> 65,536: incarnation 4294901760 -> 0) restarts. Its peer must take it as a restart
# (ACTIVE with incarnation 0) and deliver the events it publishes afterwards (a new stream, seq 1
# again), which the old code dropped as stale; `spore node restart --wait` must see it come back.
source "$(dirname "$0")/lib.sh"
it_init 219 120

d="$(node_dir 1)"
mkdir -p "$d"
chmod 700 "$d"
printf '65534\n' >"$d/boot_count"  # the next start is boot 65,535
start_node 1
start_node 2
wait_until "2 nodes converge" 60 converged 1 2
[ "$(field_at 2 n1 .incarnation)" = 4294901760 ] || it_fail "n1's incarnation at n2 is $(field_at 2 n1 .incarnation)"

start_extra curl -sN --max-time 100 "$(it_url 2)/api/cluster/events/stream" -o "$IT_TMP/stream-2.txt"
stream_open() { grep -q '^retry: 2000$' "$IT_TMP/stream-2.txt" 2>/dev/null; }
wait_until "stream at node 2 open" 10 stream_open
publish() {
  local code
  code="$(curl -s -o "$IT_TMP/answer.json" -w '%{http_code}' -H "Authorization: Bearer $(token_of 1)" \
    --data-binary "$1" "$(it_url 1)/api/cluster/events?topic=wrap")"
  [ "$code" = 202 ] || it_fail "publish $1 answered $code: $(cat "$IT_TMP/answer.json")"
}
# events_at_2: "epoch:seq:data" of the wrap events node 2 delivered, one per line.
events_at_2() { sed -n 's/^data: //p' "$IT_TMP/stream-2.txt" | jq -r 'select(.topic == "wrap") | "\(.epoch):\(.seq):\(.data)"'; }
has_events() { [ "$(events_at_2 | wc -l)" -ge "$1" ]; }
publish before-1
publish before-2
wait_until "2 events of the old life at node 2" 20 has_events 2

out="$("$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" node restart --token-file "$d/api_token" --wait 30 2>&1)" ||
  it_fail "spore node restart --wait did not see n1 come back across the wrap: $out"
# The CLI shows BOOT/SEQ: 4294901760 is 65535/0; 0 = boot 65,536 << 16 is 0/0, a refutation in
# the new run may add to the seq, never to the boot.
back="$(sed -n 's|^back with incarnation \(0/[0-9]*\) (was 65535/0)$|\1|p' <<<"$out")"
[ -n "$back" ] || it_fail "spore node restart said: $out"
[ "$(tr -d '\n' <"$d/boot_count")" = 65536 ] || it_fail "boot_count is $(cat "$d/boot_count"), expected 65536"
is_restarted() {
  local inc
  inc="$(field_at 2 n1 .incarnation)"
  [[ "$inc" =~ ^[0-9]+$ ]] && [ "$inc" -lt 65536 ] && [ "$(status_at 2 n1)" = ACTIVE ]
}
wait_until "n2 sees n1 ACTIVE with its new incarnation (0 + refutations)" 30 is_restarted

publish after-1
publish after-2
wait_until "2 events of the new life at node 2" 20 has_events 4
got="$(events_at_2 | tr '\n' ' ')"
[ "$got" = "4294901760:1:before-1 4294901760:2:before-2 0:1:after-1 0:2:after-2 " ] ||
  it_fail "node 2 delivered: $got"
log "PASS: n1 restarted from incarnation 4294901760 to $back, seen ACTIVE, its new stream delivered: $got"
