#!/usr/bin/env bash
# The emulated-board bed: B emulated ESP-01s (tools/esp8266-host/build.sh's spore-board) and L
# spored nodes in the network-namespace bed of tests/cluster/netns.sh, one cluster on one bridge.
# Each board runs in its own namespace on its own TAP device, bridged to that namespace's veth;
# lwIP holds the board's address (10.231.0.<i>), the namespace's kernel has none. No traffic leaves
# the namespaces. Results: docs/esp8266-runtime.md.
#
# usage: tools/esp8266-host/bed.sh SCENARIO [BOARDS [LINUX_NODES]]
#   join     boards and Linux nodes converge (every member ACTIVE at every member, once); the seed's
#            REST shapes, the dashboard, /metrics and the SSE stream from a board
#   restart  kill a board: INACTIVE then DEAD at every peer; start it again: one ACTIVE entry with a
#            higher incarnation (the boot counter in its flash)
#   heap     free heap, largest free block and fragmentation of every board at steady state, idle,
#            under 3 concurrent HTTP clients and under a UDP flood (default 3 boards + 29 Linux
#            nodes = 32 members)
#   ota      OTA of board 1 with `spore ota update` (multipart, then --raw) and the seed's curl -F
#            into its flash through the core's Updater; a truncated image refused, the old kept;
#            the heap's minimum during each upload
#   soak     SPORE_SOAK_SECONDS (default 1800) with 10 % UDP loss at every member and churn (every
#            60 s a board or a Linux node other than board 1 is killed and started again): no
#            board resets by itself, board 1's free heap shows no trend, all converge at the end
#   portal   board 1 runs the firmware built without WiFi credentials (SPORE_BOARD_NOCREDS) with
#            its soft AP on a second TAP, bridged to a "phone" namespace; the phone gets an address
#            from the board's DHCP server (udhcpc or busybox, else 192.168.4.2/24 static), GETs the
#            setup page, posts the credentials as the page's script does; board 1 joins the
#            cluster (ACTIVE at every member) and its AP goes down (192.168.4.1 unreachable)
# env: SPORE_BOARD (default build/esp8266-host/spore-board), SPORED (default build/release/apps/
#      spored/spored or build/dev/spored), SPORE_BOARD_IMAGE (default build/firmware-link/esp01_1m/
#      firmware.bin), SPORE_BED_SECONDS (time limit, default 600), SPORE_BED_SDK_RESERVE (bytes of heap
#      every board gives the SDK's WiFi before setup(), default 0: spore-board --sdk-reserve),
#      SPORE_BOARD_NOCREDS (portal:
#      default build/esp8266-host-nocreds/spore-board, built with empty credentials:
#      SPORE_HOST_WIFI_SSID= SPORE_HOST_WIFI_PASSWORD= tools/esp8266-host/build.sh ARDUINO AWS ATCP
#      LWIP BEARSSL build/esp8266-host-nocreds), SPORE_BED_PHONE_STATIC=1 (portal: the phone takes
#      192.168.4.2/24 without DHCP), SPORE_BED_LIVENESS (broadcast, the default, or digest: every board
#      is given the setting liveness=digest before its first boot, spore-board --settings, and every
#      spored runs --liveness digest; docs/protocol.md §11.12).
# Needs root, iproute2, curl, jq, util-linux (nsenter, setpriv); portal: udhcpc or busybox optional.
# shellcheck disable=SC2034,SC2046  # NS_* are read by netns.sh; $(ns_all) splits on purpose
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
case "${1:-}" in
  -h | --help | "")
    awk 'NR > 1 && /^#/ && !/shellcheck/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    [[ -n ${1:-} ]] && exit 0 || exit 2
    ;;
esac
SCENARIO="$1"
case $SCENARIO in join | restart | ota | portal) DEF_B=2 DEF_L=2 ;; heap) DEF_B=3 DEF_L=29 ;; soak) DEF_B=3 DEF_L=5 ;; *)
  echo "bed: unknown scenario $SCENARIO (join, restart, heap, ota, soak, portal)" >&2
  exit 2
  ;;
esac
BOARDS="${2:-$DEF_B}"
LINUX="${3:-$DEF_L}"
BOARD_BIN="${SPORE_BOARD:-$ROOT/build/esp8266-host/spore-board}"
IMAGE="${SPORE_BOARD_IMAGE:-$ROOT/build/firmware-link/esp01_1m/firmware.bin}"
# The newer of the release and dev builds: a stale one would speak yesterday's protocol (a v1 spored
# against a v2 board joins nobody).
newest_of() {
  local f newest=""
  for f in "$@"; do [[ -x $f && ( -z $newest || $f -nt $newest ) ]] && newest="$f"; done
  echo "$newest"
}
SPORE_CLI="${SPORE:-$(newest_of "$ROOT/build/release/spore" "$ROOT/build/dev/spore")}"
SPORED="${SPORED:-$(newest_of "$ROOT/build/release/spored" "$ROOT/build/dev/spored")}"
[[ -x $BOARD_BIN ]] || { echo "bed: no $BOARD_BIN: build it with tools/esp8266-host/build.sh (./ctl.sh esp8266-host --help)" >&2; exit 1; }
NOCREDS_BIN="${SPORE_BOARD_NOCREDS:-$ROOT/build/esp8266-host-nocreds/spore-board}"
[[ $SCENARIO != portal || -x $NOCREDS_BIN ]] || {
  echo "bed: no $NOCREDS_BIN: build it without credentials (SPORE_HOST_WIFI_SSID= SPORE_HOST_WIFI_PASSWORD= tools/esp8266-host/build.sh ... build/esp8266-host-nocreds) or set SPORE_BOARD_NOCREDS" >&2
  exit 1
}
# A portal board left from an older build speaks an older firmware (after the wire protocol went to
# v2 a stale one was refused by every peer as v1): it must be at least as new as the main board.
[[ $SCENARIO != portal || ! $BOARD_BIN -nt $NOCREDS_BIN ]] || {
  echo "bed: $NOCREDS_BIN is older than $BOARD_BIN: build it again without credentials (SPORE_HOST_WIFI_SSID= SPORE_HOST_WIFI_PASSWORD= tools/esp8266-host/build.sh ... build/esp8266-host-nocreds)" >&2
  exit 1
}
[[ -f $IMAGE ]] || { echo "bed: no $IMAGE: run ./ctl.sh firmware-link first" >&2; exit 1; }
[[ -x ${SPORED:-} ]] || { echo "bed: no spored binary: ./ctl.sh build, or set SPORED" >&2; exit 1; }
export SPORED
# shellcheck source=../../tests/cluster/netns.sh
source "$ROOT/tests/cluster/netns.sh"
NS_NAME="bed-$SCENARIO"
NS_NODE_ARGS=(--profile esp8266)
LIVENESS="${SPORE_BED_LIVENESS:-broadcast}"
case $LIVENESS in broadcast | digest) ;; *)
  echo "bed: SPORE_BED_LIVENESS must be broadcast or digest, not '$LIVENESS'" >&2
  exit 2
  ;;
esac
[[ $LIVENESS == broadcast ]] || NS_NODE_ARGS+=(--liveness digest)
N=$((BOARDS + LINUX))
SOAK_S="${SPORE_SOAK_SECONDS:-1800}"
[[ $SCENARIO != soak ]] || : "${SPORE_BED_SECONDS:=$((SOAK_S + 600))}"
ns_init "$N" "${SPORE_BED_SECONDS:-600}"

is_board() { [ "$1" -le "$BOARDS" ]; }
url() { if is_board "$1"; then echo "http://$(ns_ip "$1")"; else ns_url "$1"; fi; }
get() { ns_hub curl -sf --max-time "${3:-3}" "$(url "$1")$2"; }

# Board I: the namespace's eth0 loses its kernel address and joins a bridge with the board's TAP.
board_start() {
  local i="$1" ns
  ns="$(ns_name "$i")"
  if [ -z "${BED_NET_DONE[$i]:-}" ]; then
    ns_in "$ns" ip addr flush dev eth0
    ns_in "$ns" ip link add br0 type bridge stp_state 0 forward_delay 0
    ns_in "$ns" ip tuntap add tap0 mode tap
    ns_in "$ns" ip link set eth0 master br0
    ns_in "$ns" ip link set tap0 master br0
    ns_in "$ns" ip link set tap0 up
    ns_in "$ns" ip link set br0 up
    [ "$(portal_board)" != "$i" ] || phone_net "$i"
    BED_NET_DONE[$i]=1
  fi
  local bin="$BOARD_BIN" ap=() settings=()
  if [ "$(portal_board)" = "$i" ]; then bin="$NOCREDS_BIN" ap=(--ap-tap tap1); fi
  if [ "$LIVENESS" != broadcast ]; then
    # The board's credentials stay the build's (none stored: DeviceConfig::use_build_wifi).
    printf 'liveness=%s\n' "$LIVENESS" >"$NS_TMP/board-$i.settings"
    settings=(--settings "$NS_TMP/board-$i.settings")
  fi
  echo "==== start $(date -u +%FT%T.%3NZ) ====" >>"$(ns_log "$i")"
  nsenter --net="$NS_RUN_DIR/$ns" setpriv --pdeathsig KILL "$bin" --tap tap0 "${ap[@]}" --ip "$(ns_ip "$i")/24" \
    --flash "$NS_TMP/board-$i.flash" --image "$IMAGE" --chip-id "$((0x100000 + i))" --name "b$i" \
    --sdk-reserve "${SPORE_BED_SDK_RESERVE:-0}" "${settings[@]}" >>"$(ns_log "$i")" 2>&1 &
  NS_PID[$i]=$!
  disown "$!"
}
declare -A BED_NET_DONE=()

# The portal scenario's board without credentials (1), none otherwise.
portal_board() { if [ "$SCENARIO" = portal ]; then echo 1; fi; }
# The phone: namespace N+1 of this run (so the run's cleanup and watchdog delete it with the rest).
PHONE_NS="$(ns_name $((N + 1)))"
phone() { ns_in "$PHONE_NS" "$@"; }
# Board I's soft AP: TAP tap1 on bridge br1 with veth ph0, whose other end is the phone's eth0
# (the radio link between the board's AP and a phone next to it).
phone_net() {
  local ns
  ns="$(ns_name "$1")"
  ip netns add "$PHONE_NS"
  phone ip link set lo up
  ns_in "$ns" ip link add br1 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ns_in "$ns" ip tuntap add tap1 mode tap
  ns_in "$ns" ip link add ph0 type veth peer name eth0 netns "$PHONE_NS"
  # No IPv6 on the bed's own links of the AP side and no IGMP snooping on its bridge (the radio has
  # no bridge): their router solicitations and IGMP reports would reach the board from MACs that
  # are no station. The phone's own eth0 keeps both.
  local dev
  for dev in br1 tap1 ph0; do ns_in "$ns" sh -c "echo 1 >/proc/sys/net/ipv6/conf/$dev/disable_ipv6"; done
  ns_in "$ns" ip link set tap1 master br1
  ns_in "$ns" ip link set ph0 master br1
  ns_in "$ns" ip link set tap1 up
  ns_in "$ns" ip link set ph0 up
  ns_in "$ns" ip link set br1 up
  phone ip link set eth0 up
}

answering() {
  local i
  for i in "$@"; do
    ns_alive "$i" || { ns_show_log "$i"; ns_fail "member $i exited"; }
    get "$i" /api/node/status >/dev/null 2 || return 1
  done
}

# The member table of I as "IP-LAST-OCTET STATUS INCARNATION" lines (boards' hostnames are
# esp_<chip id>, spored's n<i>: members are named here by their address).
view() { get "$1" /api/cluster/members | jq -r '.members[] | "\(.ip | split(".")[3]) \(.status) \(.incarnation // 0)"'; }

# Every member lists every member once, ACTIVE.
converged() {
  local i v
  for i in $(ns_all); do
    v="$(view "$i" 2>/dev/null)" || return 1
    [ "$(grep -c ' ACTIVE ' <<<"$v")" -eq "$N" ] || return 1
    [ "$(cut -d' ' -f1 <<<"$v" | sort -u | wc -l)" -eq "$N" ] || return 1
  done
}

# Every member but J lists J with a status matching REGEX.
all_see() {
  local j="$1" re="$2" i st
  for i in $(ns_all); do
    [ "$i" = "$j" ] && continue
    st="$(view "$i" 2>/dev/null | awk -v j="$j" '$1 == j { print $2 }')" || return 1
    [[ $st =~ ^($re)$ ]] || return 1
  done
}

heap_line() { # I LABEL: the board's own sample (board_main.cpp writes <flash>.heap every second)
  local m
  m="$(get "$1" /api/cluster/members | jq '.members | length')" || m="?"
  echo "board $1 $2 ($m members): $(cat "$NS_TMP/board-$1.flash.heap")"
}

# Board I's counter NAME from its /metrics (spore_datagrams_received_total: cluster datagrams handed to
# the protocol, own broadcast echoes excluded; docs/metrics.md).
metric() { get "$1" /metrics | awk -v m="$2" '$1 == m { print $2 }'; }

# SECONDS of cluster datagrams on the wire, counted once each at the hub port they enter by
# (vI: member I's link; the hub's own br0 and the frames it forwards out are skipped), by sender
# (board or spored) and message type (docs/protocol.md §3-4). Needs no tcpdump: a packet socket.
wire_census() {
  ns_hub python3 - "$1" "$BOARDS" <<'PY'
import collections, socket, struct, sys, time
secs, boards = float(sys.argv[1]), int(sys.argv[2])
names = {1: "ANNOUNCE", 2: "PING", 3: "ACK", 4: "PING_REQ", 5: "GOSSIP", 6: "LEAVE", 7: "INFO_REQ", 8: "INFO",
         9: "EVENT", 10: "EVENT_REQ", 11: "EVENT_DIGEST", 12: "DISCOVER", 13: "DIGEST", 14: "DIGEST_REQ",
         15: "ROSTER_DIGEST"}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.settimeout(0.2)
count = collections.Counter()
end = time.time() + secs
while time.time() < end:
    try:
        frame, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    ifname, pkttype = addr[0], addr[2]
    if pkttype == socket.PACKET_OUTGOING or not ifname.startswith("v") or len(frame) < 14 + 20 + 8 + 4:
        continue
    if struct.unpack("!H", frame[12:14])[0] != 0x0800 or frame[23] != 17:
        continue
    ihl = (frame[14] & 15) * 4
    udp = 14 + ihl
    if struct.unpack("!H", frame[udp + 2:udp + 4])[0] != 4210 or frame[udp + 8:udp + 10] != b"SP":
        continue
    member = int(ifname[1:])
    kind = "board" if member <= boards else "spored"
    t = frame[udp + 11]
    count[(kind, names.get(t, str(t)), frame[30:34] == b"\xff\xff\xff\xff" or frame[33] == 255)] += 1
for (kind, t, bcast), n in sorted(count.items()):
    print(f"  {kind:6} {t:13} {'broadcast' if bcast else 'unicast':9} {n:6} ({n / secs:.2f}/s)")
PY
}

# A new heap measurement window on board I (its two minima start afresh; board_main.cpp).
window() { kill -USR1 "${NS_PID[$1]}"; sleep 0.3; }
sha() { get "$1" /api/node/status | jq -r .imageSha256; }
token() { sed -n 's/.*new API token \([0-9a-f]*\).*/\1/p' "$(ns_log "$1")" | tail -1; }
udp_flood() { # I SECONDS: junk datagrams of 64..512 B to board I's UDP port, as fast as one core sends
  ns_hub python3 - "$(ns_ip "$1")" "$2" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    s.sendto(os.urandom(64 + n % 449), (sys.argv[1], 4210)); n += 1
print(n)
PY
}

# PCT % of the UDP datagrams to member I are dropped on arrival (0 removes the rule). A board's
# namespace bridges its veth to the TAP, so its rule is in the bridge's forward path.
loss() {
  local i="$1" pct="$2"
  if ! is_board "$i"; then
    if [ "$pct" -eq 0 ]; then ns_nft "$i" delete table inet spore_loss 2>/dev/null || true; else ns_loss "$pct" "$i"; fi
    return
  fi
  ns_nft "$i" delete table bridge spore_loss 2>/dev/null || true
  [ "$pct" -eq 0 ] && return
  ns_nft "$i" -f - <<EOF
table bridge spore_loss {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "eth0" oifname "tap0" meta l4proto udp numgen random mod 100 < $pct counter drop
  }
}
EOF
}

for i in $(ns_all); do if is_board "$i"; then board_start "$i"; else ns_start "$i"; fi; done
if [ "$SCENARIO" != portal ]; then
  ns_wait "all $N members answer HTTP" 60 answering $(ns_all)
  log "$BOARDS boards (1..$BOARDS, port 80) and $LINUX spored nodes ($((BOARDS + 1))..$N, port $NS_HTTP_PORT) answer; liveness $LIVENESS"
  ns_wait "every member lists all $N members ACTIVE" 120 converged
  log "converged: every member lists $N members, all ACTIVE"
fi

case $SCENARIO in
  join)
    for path in /api/node/status /api/cluster/members / /metrics; do
      bytes="$(ns_hub curl -sf --max-time 5 -o /dev/null -w '%{size_download}' "$(url 1)$path")" ||
        ns_fail "board 1: GET $path failed"
      log "board 1: GET $path: $bytes B"
    done
    get 1 /api/node/status | jq -e '.freeHeap and .chipId and .sdkVersion and .cpuFreqMHz and .flashChipSize and .api' >/dev/null ||
      ns_fail "board 1: /api/node/status lacks a seed field"
    get 1 /api/cluster/members | jq -e '.members[0] | .hostname and .ip and .lastSeen != null and .status and .resources' >/dev/null ||
      ns_fail "board 1: /api/cluster/members lacks a seed field"
    sse="$(ns_hub curl -s -N --max-time 3 "$(url 1)/api/cluster/events/stream" || true)"
    log "board 1: SSE stream answered ${#sse} B in 3 s: $(head -c 120 <<<"$sse" | tr '\n' '|')"
    # spore discover from the hub, to the bridge's broadcast: every member answers its DISCOVER at
    # once, the boards too (core's answer, sent through lwIP). The bed's cluster is open.
    found="$(ns_hub env SPORE_CLUSTER_KEY=open "$SPORE_CLI" discover --target "$NS_NET.255" --json |
      jq '[.nodes[].nodeId] | unique | length')" || ns_fail "spore discover from the hub failed"
    [ "$found" = "$N" ] || ns_fail "spore discover --target $NS_NET.255 listed $found of $N members"
    log "hub: spore discover --target $NS_NET.255 listed all $N members, boards included"
    ;;
  restart)
    v="$(view 2)"
    inc_before="$(awk '$1 == 1 { print $3 }' <<<"$v")"
    if [ "$LIVENESS" = digest ]; then
      # The chain starts after 3 quiet periods (3.3 s each with the esp8266 thresholds): a kill
      # before then would test the broadcasts a node sends while it hears no chain.
      sleep 15
      log "15 s for the DIGEST chain to run"
    fi
    ns_kill 1
    log "board 1 killed (incarnation $inc_before at member 2)"
    ns_wait "every peer sees board 1 INACTIVE" 40 all_see 1 'INACTIVE|DEAD'
    log "board 1 INACTIVE (or DEAD) at every peer"
    ns_wait "every peer sees board 1 DEAD" 120 all_see 1 'DEAD'
    log "board 1 DEAD at every peer"
    board_start 1
    ns_wait "board 1 answers again" 30 answering 1
    ns_wait "every member lists all $N members ACTIVE again" 90 converged
    inc_after="$(view 2 | awk '$1 == 1 { print $3 }')"
    log "board 1 back: one ACTIVE entry at every member, incarnation $inc_before -> $inc_after"
    [ "$inc_after" -gt "$inc_before" ] || ns_fail "incarnation did not grow"
    ;;
  heap)
    sleep 10
    declare -A rx0=() tx0=() t0=()
    for i in $(seq 1 "$BOARDS"); do
      window "$i"
      t0[$i]="$(date +%s.%N)"
      rx0[$i]="$(metric "$i" spore_datagrams_received_total)" tx0[$i]="$(metric "$i" spore_datagrams_sent_total)"
    done
    census="$(wire_census 20)"
    for i in $(seq 1 "$BOARDS"); do
      rx="$(metric "$i" spore_datagrams_received_total)" tx="$(metric "$i" spore_datagrams_sent_total)"
      log "board $i idle, liveness $LIVENESS: $(awk -v a="${rx0[$i]}" -v b="$rx" -v c="${tx0[$i]}" -v d="$tx" \
        -v t0="${t0[$i]}" -v t1="$(date +%s.%N)" 'BEGIN { printf "%d datagrams received (%.1f/s), %d sent (%.1f/s) in %.1f s", b - a, (b - a) / (t1 - t0), d - c, (d - c) / (t1 - t0), t1 - t0 }')"
    done
    log "cluster datagrams on the wire in those 20 s, by sender kind, type and destination:"
    echo "$census" >&2
    for i in $(seq 1 "$BOARDS"); do log "$(heap_line "$i" "idle 20 s")"; done
    for i in $(seq 1 "$BOARDS"); do
      pids=()
      for c in 1 2 3; do
        (for _ in $(seq 1 20); do
          ns_hub curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$(url "$i")/api/cluster/members" || true
        done >"$NS_TMP/codes-$i-$c") &
        pids+=($!)
      done
      wait "${pids[@]}"
      sleep 1.2
      codes="$(cat "$NS_TMP"/codes-"$i"-* | sort | uniq -c | awk '{ printf "%s%s x %s", sep, $2, $1; sep = ", " }')"
      log "$(heap_line "$i" "after 3 clients x 20 GET /api/cluster/members (answers: $codes)")"
    done
    window 1
    sent="$(udp_flood 1 5)"
    sleep 1.2
    log "$(heap_line 1 "UDP flood, $sent junk datagrams in 5 s")"
    ;;
  ota)
    tok="$(token 1)"
    [ -n "$tok" ] || ns_fail "board 1 printed no API token"
    old="$(sha 1)"
    ota() { # LABEL IMAGE spore-ota-args...
      local label="$1" image="$2"
      shift 2
      window 1
      ns_hub "$SPORE_CLI" ota update "$(ns_ip 1):80" "$image" --token "$tok" --timeout 60 "$@" >&2 ||
        ns_fail "board 1: $label failed"
      log "board 1 heap during $label, up to its restart: $(cat "$NS_TMP/board-1.flash.heap.before-reset")"
    }
    NEW_IMAGE="${SPORE_BOARD_IMAGE2:-$ROOT/build/firmware-link/esp01_1m_mqtt/firmware.bin}"
    [ -f "$NEW_IMAGE" ] || ns_fail "no second image $NEW_IMAGE (./ctl.sh firmware-link builds esp01_1m_mqtt)"
    ota "spore ota update (multipart), esp01_1m_mqtt image" "$NEW_IMAGE"
    now="$(sha 1)"
    [ "$now" = "$(sha256sum "$NEW_IMAGE" | cut -d' ' -f1)" ] || ns_fail "board 1 runs $now, not the new image"
    log "board 1 runs the new image (imageSha256 $now, was $old)"
    ota "spore ota update --raw, esp01_1m image back" "$IMAGE" --raw
    [ "$(sha 1)" = "$old" ] || ns_fail "board 1 did not go back to the first image"
    log "board 1 back on the first image by --raw"
    head -c 1000 "$IMAGE" >"$NS_TMP/truncated.bin"
    window 1
    code="$(ns_hub curl -s -o "$NS_TMP/bad.json" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $tok" \
      -F "file=@$NS_TMP/truncated.bin" "$(url 1)/api/node/update")" || true
    log "board 1: curl -F of a 1,000 B truncated image: HTTP $code $(cat "$NS_TMP/bad.json")"
    [[ $code == 4* ]] || ns_fail "the truncated image was not refused"
    sleep 2
    [ "$(sha 1)" = "$old" ] || ns_fail "board 1 changed image after a refused upload"
    log "board 1 kept its image and answers"
    window 1
    code="$(ns_hub curl -s -o "$NS_TMP/curl.json" -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $tok" \
      -F "file=@$NEW_IMAGE" "$(url 1)/api/node/update")" || true
    log "board 1: the seed's curl -F with the esp01_1m_mqtt image: HTTP $code $(cat "$NS_TMP/curl.json")"
    [ "$code" = 200 ] || ns_fail "curl -F upload refused"
    want="$(sha256sum "$NEW_IMAGE" | cut -d' ' -f1)"
    runs_new() { [ "$(sha 1 2>/dev/null)" = "$want" ]; }
    ns_wait "board 1 back with the new image" 60 runs_new
    log "board 1 heap during the curl -F upload, up to its restart: $(cat "$NS_TMP/board-1.flash.heap.before-reset")"
    ;;
  portal)
    ns_wait "members 2..$N answer HTTP" 60 answering $(seq 2 "$N")
    log "members 2..$N answer; board 1 runs $NOCREDS_BIN (no credentials) with its soft AP on tap1"
    # The phone's address: from the board's DHCP server (the core's LwipDhcpServer) when a client
    # is installed, else the first address of the SDK's default pool range, static.
    script="$NS_TMP/udhcpc.script"
    # Only the phone's eth0 is configured (no resolv.conf, no route: nothing outside the namespace).
    # shellcheck disable=SC2016  # the script's own variables, expanded by udhcpc's shell
    printf '#!/bin/sh\n[ "$1" = bound ] || [ "$1" = renew ] || exit 0\nip addr add "$ip/${mask:-24}" dev "$interface"\necho "$ip" >"%s"\n' \
      "$NS_TMP/phone.ip" >"$script"
    chmod +x "$script"
    dhcp=()
    if [ -n "${SPORE_BED_PHONE_STATIC:-}" ]; then :; elif command -v udhcpc >/dev/null; then dhcp=(udhcpc)
    elif command -v busybox >/dev/null; then dhcp=(busybox udhcpc); fi
    ap_up() { grep -q 'soft AP up' "$(ns_log 1)"; }
    ns_wait "board 1 opens its soft AP" 30 ap_up
    if [ ${#dhcp[@]} -gt 0 ]; then
      phone timeout 30 "${dhcp[@]}" -i eth0 -s "$script" -q -n -f -t 10 -T 2 >"$NS_TMP/udhcpc.log" 2>&1 ||
        { cat "$NS_TMP/udhcpc.log" >&2; ns_fail "the phone got no DHCP lease from board 1"; }
      log "phone: address $(cat "$NS_TMP/phone.ip") by DHCP (${dhcp[*]}) from board 1's soft AP"
    else
      phone ip addr add 192.168.4.2/24 dev eth0
      why="no udhcpc or busybox here"
      [ -z "${SPORE_BED_PHONE_STATIC:-}" ] || why="SPORE_BED_PHONE_STATIC is set"
      log "phone: 192.168.4.2/24 static, no DHCP ($why)"
    fi
    mac="$(phone ip -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')"
    joined() { grep -q "soft AP: station $mac join" "$(ns_log 1)"; }
    ns_wait "board 1 counts the phone ($mac) as a station of its AP" 10 joined
    log "board 1: $(grep -o "soft AP: station $mac join.*" "$(ns_log 1)" | head -1)"
    stations() { grep -o 'soft AP: station [0-9a-f:]*' "$(ns_log 1)" | sort -u; }
    # The captive portal's DNS (DNSServer on the AP, platform/esp8266/wifi.cpp): any name is the AP.
    dns_a="$(phone python3 - <<'PY'
import socket, struct
q = struct.pack(">HHHHHH", 0x5350, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "connectivitycheck.example.com".split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, ("192.168.4.1", 53))
r = s.recv(512)
print(".".join(str(b) for b in r[-4:]) if struct.unpack(">H", r[6:8])[0] >= 1 else "no answer")
PY
)" || ns_fail "the phone got no DNS answer from 192.168.4.1"
    [ "$dns_a" = 192.168.4.1 ] || ns_fail "the AP's DNS answered $dns_a, not 192.168.4.1"
    log "phone: DNS connectivitycheck.example.com at 192.168.4.1: A $dns_a (captive portal)"
    page() { phone curl -sf --max-time 3 http://192.168.4.1/ >"$NS_TMP/portal.html"; }
    ns_wait "the phone gets the setup page from 192.168.4.1" 30 page
    grep -q 'SPORE setup' "$NS_TMP/portal.html" || ns_fail "GET / on the AP is not the setup page"
    log "phone: GET http://192.168.4.1/: $(wc -c <"$NS_TMP/portal.html") B, the setup page"
    # Captive portal: any other path outside /api/ is the page too (phones' connectivity probes).
    phone curl -sf --max-time 3 http://192.168.4.1/generate_204 | grep -q 'SPORE setup' ||
      ns_fail "GET /generate_204 on the AP is not the setup page"
    sleep 1.2  # the board writes its heap sample every second
    log "board 1 heap with the portal open and the phone on it: $(cat "$NS_TMP/board-1.flash.heap")"
    # The form as the page's script posts it (portal.cpp kFormStart): every named field in form
    # order, name=encodeURIComponent(value) joined by '&', Content-Type application/x-spore-setup-form.
    for want in 'name="ssid"' 'name="password"' "'Content-Type':'application/x-spore-setup-form'"; do
      grep -qF "$want" "$NS_TMP/portal.html" || ns_fail "the setup page changed: no $want in it (update the bed's form post)"
    done
    enc() { jq -rn --arg v "$1" '$v | @uri'; }
    body="ssid=$(enc spore-bed)&password=$(enc spore-bed-pass)"
    if grep -q 'name="token"' "$NS_TMP/portal.html"; then
      tok="$(token 1)"
      [ -n "$tok" ] || ns_fail "the page asks for the API token and board 1 printed none"
      body="$body&token=$(enc "$tok")"
      log "the page asks for the API token: the one board 1 printed at first boot"
    fi
    code="$(phone curl -s -o "$NS_TMP/saved.html" -w '%{http_code}' --max-time 5 -X POST \
      -H 'Content-Type: application/x-spore-setup-form' --data-binary "$body" http://192.168.4.1/wifi)" || true
    if [ "$code" != 200 ] || ! grep -q 'Saved' "$NS_TMP/saved.html"; then
      ns_fail "POST /wifi: HTTP $code $(head -c 300 "$NS_TMP/saved.html")"
    fi
    log "phone: POST /wifi with the credentials: HTTP 200, the page says saved"
    ns_wait "every member lists all $N members ACTIVE (board 1 joined)" 120 converged
    log "converged: board 1 joined, every member lists $N members, all ACTIVE"
    ap_gone() { ! phone curl -s --max-time 2 -o /dev/null http://192.168.4.1/; }
    ns_wait "board 1's AP is down (the phone no longer reaches 192.168.4.1)" 30 ap_gone
    grep -q 'soft AP down' "$(ns_log 1)" || ns_fail "board 1 did not take its soft AP down"
    [ "$(stations)" = "soft AP: station $mac" ] || ns_fail "board 1 heard stations other than the phone: $(stations | tr '\n' ' ')"
    log "board 1's soft AP is down: the phone no longer reaches 192.168.4.1"
    log "$(heap_line 1 "after joining")"
    ;;
  soak)
    ns_require_nft
    [ "$BOARDS" -ge 2 ] && [ "$LINUX" -ge 1 ] || ns_fail "soak needs 2 boards and a Linux node at least"
    for i in $(ns_all); do loss "$i" 10; done
    log "10 % UDP loss at every member; churn every 60 s for $SOAK_S s"
    window 1
    start=$SECONDS round=0 first_free=""
    while [ $((SECONDS - start)) -lt "$SOAK_S" ]; do
      sleep 60
      round=$((round + 1))
      # Churn: a board (2..BOARDS) and a Linux node in turn, killed (a crash) and started again.
      if [ $((round % 2)) -eq 1 ]; then v=$((2 + (round / 2) % (BOARDS - 1))); else v=$((BOARDS + 1 + (round / 2) % LINUX)); fi
      ns_kill "$v"
      if is_board "$v"; then board_start "$v"; else ns_start "$v"; fi
      h="$(cat "$NS_TMP/board-1.flash.heap")"
      [ -n "$first_free" ] || first_free="$(sed 's/.* free=\([0-9]*\).*/\1/' <<<"$h")"
      log "round $round: member $v killed and started again; board 1: $h"
    done
    drops="$(ns_nft 1 list table bridge spore_loss | sed -n 's/.*counter packets \([0-9]*\).*drop.*/\1/p')"
    log "board 1: $drops UDP datagrams dropped on their way to it"
    for i in $(ns_all); do loss "$i" 0; done
    ns_wait "every member lists all $N members ACTIVE after the soak" 180 converged
    last="$(cat "$NS_TMP/board-1.flash.heap")"
    last_free="$(sed 's/.* free=\([0-9]*\).*/\1/' <<<"$last")"
    log "converged after $round rounds; board 1 free heap $first_free B after the first minute, $last_free B at the end: $last"
    [ "$last_free" -ge $((first_free - 256)) ] || ns_fail "board 1's free heap fell by more than 256 B over the soak"
    ;;
esac
for i in $(seq 1 "$BOARDS"); do
  # Reason 4 is a software restart (ESP.restart() after an OTA); 1-3 are watchdog and exceptions.
  grep -E 'reset \(reason [1-3]\)' "$(ns_log "$i")" >&2 && ns_fail "board $i reset (see its log)"
done
log "PASS: $SCENARIO"
