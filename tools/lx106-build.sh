#!/usr/bin/env bash
# Compile the portable core for the ESP8266 (xtensa-lx106) and check its flash footprint.
#
# Usage: tools/lx106-build.sh [OUTDIR]      (default build/lx106, relative to the repo root)
# Env:   SPORE_LX106_BUDGET_BYTES           .text+.rodata budget of the engine, default 61440 (60 KB; DESIGN.md §4 said 48 KB)
#        SPORE_LX106_DEVICE_BUDGET_BYTES    .text+.rodata budget of the ESP8266 device logic, default 16384
#        SPORE_LX106_INTEGRATIONS_BUDGET_BYTES  .text+.rodata budget of the integrations, default 12288
#        SPORE_LX106_COMPOSITION_BUDGET_BYTES  .text+.rodata budget of the composition root, default 2048
#        SPORE_LX106_OPTIONAL_BUDGET_BYTES      .text+.rodata budget of the optional modules, default 14336
#        SPORE_LX106_AUTH_BUDGET_BYTES          .text+.rodata budget of the request-proof modules, default 7168
#
# Exits non-zero if a core header or source fails to compile, or if .text+.rodata exceeds the
# budget. Writes OUTDIR/size.txt (key=value) for CI and docs/footprint.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-build/lx106}"
"$ROOT/tools/lx106-setup.sh" "$OUT"
OUT="$(cd "$OUT" && pwd)"
BUDGET="${SPORE_LX106_BUDGET_BYTES:-61440}"
[[ $BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_BUDGET_BYTES must be a number" >&2; exit 2; }
DEVICE_BUDGET="${SPORE_LX106_DEVICE_BUDGET_BYTES:-16384}"
[[ $DEVICE_BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_DEVICE_BUDGET_BYTES must be a number" >&2; exit 2; }
INTEGRATIONS_BUDGET="${SPORE_LX106_INTEGRATIONS_BUDGET_BYTES:-12288}"
[[ $INTEGRATIONS_BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_INTEGRATIONS_BUDGET_BYTES must be a number" >&2; exit 2; }
COMPOSITION_BUDGET="${SPORE_LX106_COMPOSITION_BUDGET_BYTES:-2048}"
[[ $COMPOSITION_BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_COMPOSITION_BUDGET_BYTES must be a number" >&2; exit 2; }
OPTIONAL_BUDGET="${SPORE_LX106_OPTIONAL_BUDGET_BYTES:-14336}"
[[ $OPTIONAL_BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_OPTIONAL_BUDGET_BYTES must be a number" >&2; exit 2; }
AUTH_BUDGET="${SPORE_LX106_AUTH_BUDGET_BYTES:-7168}"
[[ $AUTH_BUDGET =~ ^[0-9]+$ ]] || { echo "lx106-build: SPORE_LX106_AUTH_BUDGET_BYTES must be a number" >&2; exit 2; }
# Budget groups come from core/CMakeLists.txt: one `spore_module(FOLDER GROUP [HOST_ONLY file...])`
# line per module folder of core/spore. Why each group has its own budget:
# - engine: DESIGN.md §4's 48 KB, set for the portable engine (cluster, REST, OTA, events); 52 KB
#   since issue 20 (wire protocol v2 against a hostile LAN peer): the destination-bound header, the
#   admission handshake with cookies, replay state per member slot, receive limits per member and the
#   anti-amplification credit took it from 49,052 B (with 100 B left) to ~51.8 KB. The image budget
#   (440 KiB, tools/firmware-link.sh), which is what binds on a 1 MB ESP-01, had 40 KB to spare.
#   55 KB since issue 21 (the user surface, on the ESP8266 too): DISCOVER answers (+0.3 KB), CORS
#   preflight on every route (+0.3 KB), the one JSON shape and naming rule (+0.3 KB), forget a DEAD
#   member and the WiFi RSSI in status (+0.6 KB) took it from 52,473 B to ~54.2 KB; the image had
#   ~34 KB to spare.
#   57 KB since issue 22: the DIGEST and DIGEST_REQ codec and the evidence an ESP8266 takes from a
#   DIGEST (+1.4 KB) and the join as fast as the seed's design (answer slots, the scheduler's
#   run_by, +0.5 KB) took it from 54,559 B to ~56.7 KB; the image had ~29 KB to spare.
#   60 KB since the ESP8266 runs the DIGEST chain too (SPORE_DIGEST_LIVENESS 1 on every build, a
#   board's `liveness=` setting): the chain took the engine from 57,096 B to 60,420 B; without the
#   ROSTER_DIGEST code, which a 32-member table never uses (SPORE_ROSTER_DIGEST 0 on the ESP8266,
#   core/spore/base/limits.h), 59,554 B. Again the image budget (440 KiB, tools/firmware-link.sh)
#   is what binds on a 1 MB ESP-01, not this one: the esp01_1m image is 425,872 B with the chain,
#   24,688 B under it. The esp01_1m_mqtt image is built without the chain (-DSPORE_DIGEST_LIVENESS=0
#   in platformio.ini and tools/firmware-link.sh): Arduino core 3.1.2's hand-written `j
#   postmortem_report` in __wrap_system_restart_local reaches 128 KiB (131,072 B), and with the
#   chain the link places 132,796 B of code between the two ("dangerous relocation: j: cannot
#   encode"; 130,020 B before issue 22's chain). Not a budget matter: docs/footprint.md.
# - device: the ESP8266 platform layer's decisions, moved into core so the host tests reach them;
#   only the ESP8266 firmware links them. 16 KB since issue 16 (12 KB before): HTTP admission before
#   the body (+1.4 KB), the boot counter's flash log, the settings policy and the token DRBG's
#   seeding (+2.3 KB), the staged-image read-back (+0.4 KB) took it from 10,883 B to 14,866 B.
# - integrations: what connects a node to outside tools (Prometheus /metrics, the REST and SSE side
#   of cluster events); issue 8 added them on top of the engine.
# - optional: off by default and linked only by its own firmware environment (the MQTT bridge:
#   PlatformIO env esp01_1m_mqtt, docs/mqtt.md). 14 KB since issue 18 (12 KB before): command
#   proofs, the RETAIN follower under arduino-mqtt and the command budget (10,071 B -> 12,417 B).
# - auth: request proofs (issue 15), the version a signed image carries (issue 18, downgrade
#   protection) and the keyed MAC all of them rest on (issue 18's attack fixes). 7 KB since then.
# - composition: spore::Node (core/spore/node/node_root.cpp), the one receive path and the loop pass
#   monitor, which spored, the ESP8266 node and the simulator share since issue 19 (the wiring each
#   platform did itself before, and the ESP8266's intake and monitor from the device group):
#   1,669 B then. Not engine: the engine budget is the protocol's, and this code only calls it.
#   Files join it by a GROUP list on their folder's line (`GROUP composition file...`).
# - host only: compiled for the target (core must build there) but not linked by the firmware, so in
#   no budget: the multipart parser (SPORE_OTA_MULTIPART=0 there; ESPAsyncWebServer parses multipart).
# docs/footprint.md ("Budget") has the history of each figure. The firmware image budget (440 KiB,
# tools/firmware-link.sh) covers whatever the default image links.
MODULES_FILE=core/CMakeLists.txt
declare -A GROUP_OF_FOLDER=() HOST_ONLY=() GROUP_OF_FILE=()
while read -r folder group rest; do
  GROUP_OF_FOLDER[$folder]=$group
  # After the group: `HOST_ONLY file...` and/or `GROUP <group> file...` (files in another group).
  mode="" file_group=""
  for word in $rest; do
    case $mode:$word in
      *:HOST_ONLY) mode=host ;;
      *:GROUP) mode=group ;;
      host:*) HOST_ONLY[$folder/$word]=1 ;;
      group:*) file_group=$word mode=group_files ;;
      group_files:*) GROUP_OF_FILE[$folder/$word]=$file_group ;;
    esac
  done
done < <(sed -n 's/^spore_module(\([^)]*\)).*/\1/p' "$MODULES_FILE")
[[ ${#GROUP_OF_FOLDER[@]} -gt 0 ]] || { echo "lx106-build: no spore_module() lines in $MODULES_FILE" >&2; exit 2; }

TARGET=xtensa-lx106-elf
mapfile -t INCFLAGS <"$OUT/cxxflags"
# The flags of DESIGN.md §2; -ffunction/-fdata-sections as the Arduino core builds with them.
CXXFLAGS=(-std=gnu++17 -Os -fno-exceptions -fno-rtti -mlongcalls -mtext-section-literals
  -ffunction-sections -fdata-sections -Wall -Wextra -Werror -fmax-errors=20)
CC=("$TARGET-g++" "${CXXFLAGS[@]}" "${INCFLAGS[@]}" -Icore)

OBJ="$OUT/obj"
rm -rf "$OBJ" "$OUT/size.txt"
mkdir -p "$OBJ"
failed=()

# The full libstdc++ headers are installed, so the target compile alone would accept <vector> or a
# throw. Enforce the core rules of DESIGN.md §2 by name.
if grep -nE '#include *[<"](Arduino\.h|ESP8266|WiFi|lwip/|sys/|unistd\.h|netinet/|arpa/|pthread\.h|vector>|string>|map>|unordered_map>|functional>|memory>|list>|deque>|iostream|sstream|thread>|mutex>)' core/spore/*.h core/spore/*/*; then
  echo "lx106-build: core includes a platform or allocating header (DESIGN.md §2)" >&2
  failed+=("core rules")
fi
if grep -nwE 'throw|try|catch|dynamic_cast|typeid|malloc|new\[\]' core/spore/*.h core/spore/*/*; then
  echo "lx106-build: core uses exceptions, RTTI or the heap (DESIGN.md §2)" >&2
  failed+=("core rules")
fi

# Every header must stand alone under the target compiler, even ones no .cpp includes yet (and
# core/spore/hal.h, which includes every port's header, with them).
for h in core/spore/*.h core/spore/*/*.h; do
  [[ -e $h ]] || continue
  if ! printf '#include "%s"\n' "${h#core/}" | "${CC[@]}" -x c++ -fsyntax-only -; then
    failed+=("$h")
  fi
done

objs=()
engine_objs=()
device_objs=()
integration_objs=()
composition_objs=()
optional_objs=()
auth_objs=()
host_only_objs=()
for src in core/spore/*/*.cpp; do
  [[ -e $src ]] || continue
  rel="${src#core/spore/}"
  folder="${rel%%/*}"
  name="$(basename "$src" .cpp)"
  o="$OBJ/$folder-$name.o"
  group="${GROUP_OF_FOLDER[$folder]:-}"
  if [[ -z $group ]]; then
    failed+=("core/spore/$folder has no spore_module() line in $MODULES_FILE")
    continue
  fi
  group="${GROUP_OF_FILE[$folder/$name]:-$group}"
  [[ -z ${HOST_ONLY[$folder/$name]:-} ]] || group=host-only
  if "${CC[@]}" -c "$src" -o "$o"; then
    objs+=("$o")
    case $group in
      engine) engine_objs+=("$o") ;;
      device) device_objs+=("$o") ;;
      integrations) integration_objs+=("$o") ;;
      composition) composition_objs+=("$o") ;;
      optional) optional_objs+=("$o") ;;
      auth) auth_objs+=("$o") ;;
      host-only) host_only_objs+=("$o") ;;
      *) failed+=("$MODULES_FILE: unknown budget group $group for $folder") ;;
    esac
  else
    failed+=("$src")
  fi
done
for key in "${!GROUP_OF_FILE[@]}"; do
  [[ -e core/spore/$key.cpp ]] || failed+=("$MODULES_FILE puts $key in a group, but core/spore/$key.cpp does not exist")
done
for key in "${!HOST_ONLY[@]}"; do
  [[ -e core/spore/$key.cpp ]] || failed+=("$MODULES_FILE lists HOST_ONLY $key, but core/spore/$key.cpp does not exist")
done

# Bucket `size -A` sections. With -mtext-section-literals literal pools sit in .text*. .xt.prop,
# .xt.lit, .xtensa.info and .comment are assembler/linker metadata and never reach the chip.
# Constant strings core keeps in flash (SPORE_FLASH / SPORE_FSTR, core/spore/base/flash_string.h) are in
# `.irom.text.spore.*` sections, which the ESP8266 linker script maps into flash like code: they
# count as text here, not rodata. So `rodata` is what the Arduino core would put in DRAM (less the
# vtables, `.rodata._ZTV*`, which the firmware's -DVTABLES_IN_FLASH moves to flash).
measure() { # prints: text rodata data bss
  "$TARGET-size" -A "$1" | awk 'NR > 2 {
    if ($1 ~ /^\.(text|literal|irom|iram)/) t += $2
    else if ($1 ~ /^\.(rodata|init_array|fini_array|ctors|dtors)/) r += $2
    else if ($1 ~ /^\.s?data/) d += $2
    else if ($1 ~ /^\.s?bss/) b += $2
  } END { printf "%d %d %d %d\n", t, r, d, b }'
}
row() { printf '%-32s %8s %8s %8s %8s %12s\n' "$@"; }

row file text rodata data bss text+rodata
for o in "${objs[@]}"; do
  read -r t r d b < <(measure "$o")
  row "$(basename "$o" .o | sed "s|-|/|").cpp" "$t" "$r" "$d" "$b" $((t + r))
done

# A partial link merges the inline/template copies (COMDAT groups) each object carries, which
# summing per-file figures would count several times. It does not garbage-collect, so this is
# an upper bound of what a final --gc-sections link keeps.
partial() { # OUTPUT LABEL OBJECTS... -> prints the row; sets PT PR PD PB
  PT=0 PR=0 PD=0 PB=0
  local out="$1" label="$2"
  shift 2
  [[ $# -gt 0 ]] || return 0
  "$TARGET-ld" -r -o "$out" "$@"
  read -r PT PR PD PB < <(measure "$out")
  row "$label" "$PT" "$PR" "$PD" "$PB" $((PT + PR))
}
partial "$OUT/spore-engine.o" "engine (ld -r)" "${engine_objs[@]}"
ETR=$((PT + PR))
partial "$OUT/spore-device.o" "device logic (ld -r)" "${device_objs[@]}"
DTR=$((PT + PR))
partial "$OUT/spore-integrations.o" "integrations (ld -r)" "${integration_objs[@]}"
ITR=$((PT + PR))
partial "$OUT/spore-composition.o" "composition (ld -r)" "${composition_objs[@]}"
CTR=$((PT + PR))
partial "$OUT/spore-optional.o" "optional (ld -r)" "${optional_objs[@]}"
OTR=$((PT + PR))
partial "$OUT/spore-auth.o" "request proofs (ld -r)" "${auth_objs[@]}"
ATR=$((PT + PR))
partial "$OUT/spore-host-only.o" "host only (ld -r)" "${host_only_objs[@]}"
partial "$OUT/spore-core.o" "total (ld -r)" "${objs[@]}"
T=$PT R=$PR D=$PD B=$PB
TR=$((T + R))
FLASH_STRINGS=0
if [[ -e "$OUT/spore-core.o" ]]; then
  FLASH_STRINGS=$("$TARGET-size" -A "$OUT/spore-core.o" | awk '$1 ~ /^\.irom\.text\.spore\./ { s += $2 } END { print s + 0 }')
fi

# RAM: core has no globals; a node's RAM is the objects the platform creates. Measure them on the
# target ABI by emitting one array per type whose size is sizeof(type) and reading it with nm.
# NODE_PARTS is what one running node is made of (their sum is the node RAM checked against the
# budget; a composition root replaces the list with itself); DETAIL_PARTS are parts of them, shown
# for the arithmetic. Each type is spore::<name>, declared by one of PROBE_HEADERS.
NODE_PARTS=(Node)
DETAIL_PARTS=(NodeContext Membership RestApi OtaSession OtaUploadHandler Metrics EventApi UdpIntake MemberTable Member EventBus
  ApiRegistry ClusterEvents ReplayWindow)
PROBE_HEADERS=(node/node_root.h cluster/membership.h node/node_context.h ota/ota.h ota/ota_upload.h wire/replay_window.h
  http/rest_api.h integrations/metrics.h integrations/event_api.h node/udp_intake.h)
{
  for h in "${PROBE_HEADERS[@]}"; do printf '#include "spore/%s"\n' "$h"; done
  echo '#define SPORE_PROBE(name) extern "C" const char spore_sizeof_##name[sizeof(spore::name)] = {};'
  for k in "${NODE_PARTS[@]}" "${DETAIL_PARTS[@]}"; do echo "SPORE_PROBE($k)"; done
} >"$OUT/ram_probe.cpp"
# The probe is compiled at the configured member count and at twice it: the difference is what
# each member costs (every per-member table scales with SPORE_MAX_MEMBERS), the rest is fixed.
# shellcheck disable=SC2034 # `sizes` is a name reference: it fills the caller's array
probe_sizes() { # ARRAY_NAME EXTRA_FLAGS... -> fills the associative array with sizeof per name
  local -n sizes=$1
  shift
  "${CC[@]}" "$@" -c "$OUT/ram_probe.cpp" -o "$OUT/ram_probe.o" || return 1
  while read -r _ size _ name; do sizes[${name#spore_sizeof_}]=$((16#$size)); done \
    < <("$TARGET-nm" -S "$OUT/ram_probe.o" | grep ' spore_sizeof_')
}
declare -A RAM=() RAM2=()
members=$(printf '#include "spore/base/limits.h"\nSPORE_MAX_MEMBERS\n' | "${CC[@]}" -x c++ -E -P - | tail -n1)
if probe_sizes RAM2 -DSPORE_MAX_MEMBERS=$((2 * members)) && probe_sizes RAM; then
  RAM_BUDGET=$((4096 + 64 * members))
  node_ram=0 node_ram2=0
  for k in "${NODE_PARTS[@]}"; do node_ram=$((node_ram + RAM[$k])) node_ram2=$((node_ram2 + RAM2[$k])); done
  echo
  printf '%-16s %8s %12s %8s\n' object bytes "per member" fixed
  for k in "${NODE_PARTS[@]}" "${DETAIL_PARTS[@]}"; do
    per=$(((RAM2[$k] - RAM[$k]) / members))
    printf '%-16s %8s %12s %8s\n' "$k" "${RAM[$k]}" "$per" $((RAM[$k] - per * members))
  done
  node_ram_per_member=$(((node_ram2 - node_ram) / members))
  echo "node RAM (${NODE_PARTS[*]}, ${members} members): ${node_ram} B" \
    "= $((node_ram - node_ram_per_member * members)) B fixed + ${node_ram_per_member} B x ${members} members;" \
    "budget 4096 + 64 x ${members} = ${RAM_BUDGET} B: $([[ $node_ram -le $RAM_BUDGET ]] && echo within || echo OVER)"
else
  failed+=("ram_probe.cpp")
fi

status=ok
[[ $ETR -le $BUDGET && $DTR -le $DEVICE_BUDGET && $ITR -le $INTEGRATIONS_BUDGET && $CTR -le $COMPOSITION_BUDGET &&
  $OTR -le $OPTIONAL_BUDGET &&
  $ATR -le $AUTH_BUDGET ]] ||
  status=over_budget
[[ ${#failed[@]} -eq 0 ]] || status=compile_failed
cat >"$OUT/size.txt" <<EOF
gcc_version=$("$TARGET-g++" -dumpfullversion)
objects=${#objs[@]}
text_bytes=$T
rodata_bytes=$R
flash_string_bytes=$FLASH_STRINGS
text_rodata_bytes=$TR
engine_text_rodata_bytes=$ETR
device_text_rodata_bytes=$DTR
integrations_text_rodata_bytes=$ITR
composition_text_rodata_bytes=$CTR
optional_text_rodata_bytes=$OTR
auth_text_rodata_bytes=$ATR
data_bytes=$D
bss_bytes=$B
static_ram_bytes=$((D + B))
node_context_bytes=${RAM[NodeContext]:-0}
member_bytes=${RAM[Member]:-0}
replay_window_bytes=${RAM[ReplayWindow]:-0}
membership_bytes=${RAM[Membership]:-0}
rest_api_bytes=${RAM[RestApi]:-0}
node_ram_bytes=${node_ram:-0}
node_ram_per_member_bytes=${node_ram_per_member:-0}
spore_node_bytes=${RAM[Node]:-0}
node_ram_budget_bytes=${RAM_BUDGET:-0}
budget_text_rodata_bytes=$BUDGET
budget_device_text_rodata_bytes=$DEVICE_BUDGET
budget_integrations_text_rodata_bytes=$INTEGRATIONS_BUDGET
budget_composition_text_rodata_bytes=$COMPOSITION_BUDGET
budget_optional_text_rodata_bytes=$OPTIONAL_BUDGET
budget_auth_text_rodata_bytes=$AUTH_BUDGET
status=$status
EOF

echo "upper bound: unreferenced functions are dropped by a real final link (--gc-sections)."
echo "constant strings kept in flash (.irom.text.spore.*, counted in text): $FLASH_STRINGS B; rodata $R B would sit in DRAM"
echo "engine text+rodata $ETR / $BUDGET B ($((ETR * 100 / (BUDGET > 0 ? BUDGET : 1)))%);" \
  "ESP8266 device logic $DTR / $DEVICE_BUDGET B ($((DTR * 100 / (DEVICE_BUDGET > 0 ? DEVICE_BUDGET : 1)))%);" \
  "integrations $ITR / $INTEGRATIONS_BUDGET B ($((ITR * 100 / (INTEGRATIONS_BUDGET > 0 ? INTEGRATIONS_BUDGET : 1)))%);" \
  "composition $CTR / $COMPOSITION_BUDGET B ($((CTR * 100 / (COMPOSITION_BUDGET > 0 ? COMPOSITION_BUDGET : 1)))%);" \
  "optional $OTR / $OPTIONAL_BUDGET B ($((OTR * 100 / (OPTIONAL_BUDGET > 0 ? OPTIONAL_BUDGET : 1)))%);" \
  "request proofs $ATR / $AUTH_BUDGET B ($((ATR * 100 / (AUTH_BUDGET > 0 ? AUTH_BUDGET : 1)))%); total $TR B"
echo "static RAM data+bss $((D + B)) B (budget 4096 B + 64 B/member; the ESP8266 Arduino core also keeps .rodata in DRAM)"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "lx106-build: FAILED to compile: ${failed[*]}" >&2
  exit 1
fi
if [[ $status == over_budget ]]; then
  echo "lx106-build: FAILED: text+rodata over budget: engine $ETR / $BUDGET B, device logic $DTR / $DEVICE_BUDGET B, integrations $ITR / $INTEGRATIONS_BUDGET B, composition $CTR / $COMPOSITION_BUDGET B, optional $OTR / $OPTIONAL_BUDGET B, request proofs $ATR / $AUTH_BUDGET B" >&2
  exit 1
fi
echo "lx106-build: ok (${#objs[@]} objects, summary in ${OUT#"$ROOT"/}/size.txt)"
