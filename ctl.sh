#!/usr/bin/env bash
# ctl.sh: the one entry point for building, testing and (as they land) running SPORE.
# Keeps the seed's verbs; see `./ctl.sh help`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_PWD="$PWD"
cd "$ROOT"

# Debian packages the host build and tests need (DESIGN.md §6). The xtensa ones compile core for
# the ESP8266 target; gcc-12-source provides the libstdc++ headers that toolchain lacks.
HOST_PACKAGES=(cmake ninja-build g++ libgtest-dev libgmock-dev nlohmann-json3-dev libbearssl-dev
  clang libclang-rt-14-dev gcc-xtensa-lx106 picolibc-xtensa-lx106-elf gcc-12-source xz-utils make
  pkg-config libcpp-httplib-dev libmicrohttpd-dev libcli11-dev jq curl procps iproute2 nftables libssl-dev openssl python3
  chromium libmosquitto-dev mosquitto mosquitto-clients)
# The dashboard's browser test (tests/integration/dashboard_browser_test.sh) also needs Node.js and
# npm: Debian's nodejs + npm unless a node / npm is already on PATH (e.g. NodeSource's nodejs, which
# bundles npm and conflicts with Debian's npm package).
BROWSER_TOOLS=(node:nodejs npm:npm)

JOBS="${SPORE_JOBS:-$(nproc)}"

usage() {
  cat <<'USAGE'
Usage: ./ctl.sh <verb> [args]

Verbs:
  test              install missing Debian packages, then build and run everything CI runs:
                    unit tests, the same tests under ASan+UBSan, the fuzz smoke run and the
                    ESP8266 (xtensa-lx106) compile of core with its size budget
  deps              only install missing Debian packages (needs root or sudo)
  build [all|host|firmware] [--env esp01_1m|esp01s]
                    build the host tree (build/dev) and the ESP-01 firmware with PlatformIO
                    (pio run -d firmware -e ENV); without PlatformIO the firmware is skipped with
                    a notice (exit 0), `build firmware` fails instead (exit 1)
  build-firmware [--env ENV]             the firmware only (= build firmware)
  flash [--env ENV] [--port /dev/ttyUSB0]
                    upload the firmware over serial (pio run -t upload)
  monitor [--port P] [--baud 115200]     the board's serial console (pio device monitor)
                    WIFI_SSID / WIFI_PASSWORD (build, flash): the environment, else .env; each
                    of these verbs has --help
  package [--out DIR] [--no-zip]         the Arduino IDE library: build/arduino/SPORE/ and
                    build/arduino/SPORE-<version>.zip (tools/arduino-package.sh)
  unit              build and run the unit tests only (quick edit loop)
  asan              build and run the unit tests under AddressSanitizer + UBSan
  fuzz [SECONDS]    build the libFuzzer targets and run each for SECONDS (default 30 under CI, else 20)
  lx106 [DIR]       compile core for the ESP8266 and report sizes (docs/footprint.md; default DIR build/lx106)
  firmware-link [--env ENV]... ARDUINO AWS ATCP NEWLIB MQTT
                    link esp01_1m, esp01s and esp01_1m_mqtt as PlatformIO would, from source trees
                    you supply (never downloads), check the images (allocator in IRAM, headers,
                    checksums, CRC) and the 440 KiB image budget, print the footprint
                    (tools/firmware-link.sh; needs SPORE_LINK_HAL; --help for the trees)
  esp8266-host build ARDUINO AWS ATCP LWIP BEARSSL | bed SCENARIO [BOARDS [LINUX]] | --help
                    the real ESP-01 firmware as a Linux program on lwIP over TAP (emulated board),
                    and the bed that runs boards and spored nodes as one cluster in network
                    namespaces (tools/esp8266-host/; needs source trees, root; docs/esp8266-runtime.md)
  demo [--nodes N] [--profile lan|fast|esp8266] [--for SECONDS]
                    a local cluster of N spored nodes (default 5) on 127.0.0.2.. until Ctrl-C
                    (./ctl.sh demo --help for every option)
  cluster members [--json] [--watch S]   the membership table as one node sees it
  node status [--json]                   resources and endpoints of one node
  node restart [--token-file F]          restart one node (needs its API token)
  discover [--timeout S] [--json]        list the nodes heard on the LAN (UDP broadcasts)
  events publish TOPIC DATA [--token-file F]
                                         publish a cluster event to every node (DATA - = stdin)
  events watch [--topic T] [--json] [--count N] [--timeout S]
                                         print the cluster's events live until Ctrl-C
  ota update IP [FILE] [spore options]   update one node: upload with progress, wait until it is
                                         back ACTIVE with the new image
  ota all [FILE] [--canary N] [--parallel K] [--timeout S] [spore options]
                                         update every node the API node lists: canary, then waves
                    FILE defaults to $SPORE_FIRMWARE, else build/dev/spored (the Linux node,
                    built if missing); an ESP-01 image is given explicitly. Without --token,
                    --token-file or --token-map, a running ./ctl.sh demo's per-node tokens
                    (build/demo/node-K/api_token) are passed as a --token-map.
  keygen [--out DIR]                     private.key + public.key (RSA-2048 PEM) for signed updates
  sign FILE --key private.key [--out F]  append the signature (ESP8266 core's signed format)
                    these run build/dev/spore (built if missing); the node is --node
                    HOST[:PORT], else $SPORE_NODE, else $API_NODE, else API_NODE in .env
                    (the current directory's, else this repository's)
  help              this text

Environment: SPORE_JOBS (parallel build jobs, default: all cores); SPORED, SPORE (use these
binaries instead of building build/dev); SPORE_FIRMWARE (default image for ota); SPORE_PIO (the
PlatformIO command; default pio, platformio, then ~/.platformio/penv/bin/pio);
SPORE_SKIP_HOST_BUILD=1 (build: skip the host tree, for tests); SPORE_ENV_FILE (the .env to read).
Exit status: 0 success, 1 failure, 2 bad command line.
USAGE
}

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'ctl.sh: %s\n' "$*" >&2; exit 1; }

ensure_deps() {
  local missing=()
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  local t
  for t in "${BROWSER_TOOLS[@]}"; do
    command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}); run as root: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

PASSED=0
FAILED=0
SKIPPED=0

# Runs ctest for a preset and adds its counts to the totals.
run_ctest() {
  local preset="$1" out rc=0
  out="$(mktemp)"
  ctest --preset "$preset" -j "$JOBS" --timeout 300 2>&1 | tee "$out" || rc=$?
  local line total failed
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$out" | tail -n1 || true)"
  local skipped
  skipped="$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$out" || true)"
  rm -f "$out"
  if [ -z "$line" ]; then
    FAILED=$((FAILED + 1))
    return 1
  fi
  total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
  failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")"
  PASSED=$((PASSED + total - failed - skipped))
  FAILED=$((FAILED + failed))
  SKIPPED=$((SKIPPED + skipped))
  [ "$total" -gt 0 ] || { FAILED=$((FAILED + 1)); return 1; }
  return "$rc"
}

build_preset() {
  local preset="$1"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
}

verb_unit() {
  log "unit tests (build/dev, -Werror)"
  build_preset dev || { FAILED=$((FAILED + 1)); return 1; }
  run_ctest dev
}

verb_asan() {
  log "unit tests under ASan + UBSan (build/asan)"
  build_preset asan || { FAILED=$((FAILED + 1)); return 1; }
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest asan
}

verb_fuzz() {
  local seconds="${1:-}"
  if [ -z "$seconds" ]; then
    # 30 s a target in CI keeps the whole run under its 30-minute budget as targets are added;
    # long runs are done by hand (`./ctl.sh fuzz 300`), their figures in docs/reliability.md.
    if [ "${CI:-}" = "true" ]; then seconds=30; else seconds=20; fi
  fi
  [[ "$seconds" =~ ^[0-9]+$ ]] || die "fuzz: SECONDS must be a whole number, got '$seconds'"
  log "fuzz smoke: each libFuzzer target for ${seconds} s (build/fuzz)"
  build_preset fuzz || { FAILED=$((FAILED + 1)); return 1; }
  local target name corpus work rc ran=0
  for target in build/fuzz/*_fuzz; do
    [ -x "$target" ] || continue
    name="$(basename "$target" _fuzz)"
    corpus="tests/fuzz/corpus/$name"
    work="$(mktemp -d)"
    # Fuzz a scratch copy so the committed seed corpus stays small and reviewed.
    [ -d "$corpus" ] && cp -r "$corpus/." "$work/"
    rc=0
    "$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/${name}-" "$work" >"build/fuzz/${name}.log" 2>&1 || rc=$?
    rm -rf "$work"
    if [ "$rc" -ne 0 ]; then
      tail -n 40 "build/fuzz/${name}.log"
      echo "fuzz target ${name}: FAILED (crash input saved as build/fuzz/${name}-*)"
      FAILED=$((FAILED + 1))
      return 1
    fi
    echo "fuzz target ${name}: $(grep -E 'stat::number_of_executed_units' "build/fuzz/${name}.log" | awk '{print $2}') runs, 0 crashes"
    PASSED=$((PASSED + 1))
    ran=$((ran + 1))
  done
  [ "$ran" -gt 0 ] || { echo "no fuzz targets were built"; FAILED=$((FAILED + 1)); return 1; }
}

verb_lx106() {
  log "core compiled for the ESP8266 (xtensa-lx106-elf-g++ -Os)"
  if tools/lx106-build.sh "$@"; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    return 1
  fi
}

verb_test() {
  ensure_deps
  local status=0
  verb_unit || status=1
  verb_asan || status=1
  verb_fuzz "$@" || status=1
  verb_lx106 || status=1
  echo
  echo "ctl.sh test: unit + asan test cases, fuzz targets and the lx106 compile, counted together"
  echo "spore: ${PASSED} passed, ${FAILED} failed, ${SKIPPED} skipped"
  return "$status"
}

# ---- the spore CLI and the local demo cluster -------------------------------------------------

# Paths of the programs: $SPORED / $SPORE when set (tests pass the binaries they built), else
# build/dev, built (with the Debian packages it needs) when missing or out of date.
build_programs() {
  ensure_deps
  [ -f build/dev/build.ninja ] || cmake --preset dev >/dev/null
  cmake --build --preset dev -j "$JOBS" --target "$@"
}

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
    file="${SPORE_FIRMWARE:-}"
    if [ -z "$file" ]; then
      file="$ROOT/build/dev/spored"
      if [ ! -x "$file" ]; then
        log "building spored (build/dev), the default image for Linux nodes" >&2
        build_programs spored >&2 || die "could not build spored; see the output above"
      fi
    fi
    echo "ctl.sh: image: $(demo_rel "$file")" >&2
  fi
  args+=("$file")
  # The local demo gives every node its own token: pass them as a token map unless told otherwise.
  local a has_token=0
  for a in "$@"; do
    case "$a" in --token | --token=* | --token-file | --token-file=* | --token-map | --token-map=*) has_token=1 ;; esac
  done
  if [ "$has_token" -eq 0 ] && [ -z "${SPORE_TOKEN:-}" ] && compgen -G "$ROOT/build/demo/node-*/api_token" >/dev/null; then
    # Keyed by node id (each node's state-dir node_id file): the CLI never picks a token by hostname.
    local map="$ROOT/build/demo/tokens.map" f d
    (umask 077 && : >"$map")
    for f in "$ROOT"/build/demo/node-*/api_token; do
      d="${f%/api_token}"
      [ -s "$d/node_id" ] || continue
      printf '%s %s\n' "$(tr -d ' \n\r\t' <"$d/node_id")" "$(tr -d ' \n\r\t' <"$f")" >>"$map"
    done
    echo "ctl.sh: tokens of the local demo's nodes: --token-map $(demo_rel "$map")" >&2
    args+=(--token-map "$map")
  fi
  verb_spore ota "$sub" "${args[@]}" "$@"
}

demo_usage() {
  cat <<'USAGE'
Usage: ./ctl.sh demo [options]

Starts a local SPORE cluster: N spored nodes on 127.0.0.2 .. 127.0.0.(N+1), HTTP port 8080 each,
UDP port 4210, discovering each other by broadcast (no addresses configured). Waits until the
first node sees all N ACTIVE, prints its members table, the URLs, logs and API token, then runs
until Ctrl-C (or --for SECONDS) and stops every node cleanly (graceful leave).

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

Environment: SPORED, SPORE: use these binaries instead of building build/dev.
USAGE
}

usage_die() {
  printf 'ctl.sh: %s\n' "$*" >&2
  exit 2
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
    echo "all ${#DEMO_PIDS[@]} node(s) stopped; logs in $(demo_rel "$DEMO_DIR")/"
  fi
  DEMO_PIDS=()
  [ -n "$DEMO_DIR" ] && rm -f "$DEMO_DIR/pids"
  return 0
}

# A path relative to the repository when it is inside it, for shorter messages.
demo_rel() {
  case "$1" in
    "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
    *) printf '%s' "$1" ;;
  esac
}

demo_show_log() {
  local log="$1"
  echo "---- last lines of $(demo_rel "$log") ----" >&2
  tail -n 20 "$log" >&2 || true
  echo "----" >&2
}

verb_demo() {
  local nodes=5 profile=lan for_s="" wait_s=30 base_ip=127.0.0.2 http_port=8080 udp_port=4210
  local dir="$ROOT/build/demo"
  while [ $# -gt 0 ]; do
    local opt="$1" val=""
    case "${opt%%=*}" in
      -h | --help) demo_usage; return 0 ;;
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
      --nodes) nodes="$val" ;;
      --profile) profile="$val" ;;
      --for) for_s="$val" ;;
      --wait) wait_s="$val" ;;
      --base-ip) base_ip="$val" ;;
      --http-port) http_port="$val" ;;
      --udp-port) udp_port="$val" ;;
      --dir) dir="$val" ;;
    esac
  done
  [[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 200 ] ||
    usage_die "demo: --nodes must be 1..200, got '$nodes'"
  case "$profile" in lan | fast | esp8266) ;; *) usage_die "demo: --profile must be lan, fast or esp8266, got '$profile'" ;; esac
  [ -z "$for_s" ] || [[ "$for_s" =~ ^[0-9]+$ ]] || usage_die "demo: --for must be whole seconds, got '$for_s'"
  [[ "$wait_s" =~ ^[0-9]+$ ]] && [ "$wait_s" -ge 1 ] || usage_die "demo: --wait must be whole seconds >= 1, got '$wait_s'"
  local port
  for port in "$http_port" "$udp_port"; do
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
      usage_die "demo: ports must be 1..65535, got '$port'"
  done
  local a b c d
  IFS=. read -r a b c d <<<"$base_ip"
  [[ "$base_ip" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] && [ "$b" -le 255 ] && [ "$c" -le 255 ] &&
    [ "$d" -ge 1 ] || usage_die "demo: --base-ip must be a loopback address 127.x.y.z, got '$base_ip'"
  [ $((d + nodes - 1)) -le 254 ] || usage_die "demo: $nodes nodes from $base_ip run past $a.$b.$c.254"
  command -v curl >/dev/null && command -v jq >/dev/null || ensure_deps

  local spored="${SPORED:-}" spore="${SPORE:-}"
  if [ -z "$spored" ] || [ -z "$spore" ]; then
    log "building spored and spore (build/dev)"
    build_programs spored spore || die "demo: the build failed; see the output above"
    spored="${spored:-$ROOT/build/dev/spored}"
    spore="${spore:-$ROOT/build/dev/spore}"
  fi
  [ -x "$spored" ] || die "demo: spored not found at $spored"
  [ -x "$spore" ] || die "demo: spore not found at $spore"

  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  DEMO_DIR="$dir"
  if [ -f "$dir/pids" ]; then
    local old running=()
    for old in $(cat "$dir/pids"); do kill -0 "$old" 2>/dev/null && running+=("$old"); done
    [ ${#running[@]} -eq 0 ] ||
      die "demo: a demo is already running from $(demo_rel "$dir") (pids ${running[*]}); stop it first"
  fi

  local ips=() k
  for ((k = 0; k < nodes; k++)); do ips+=("$a.$b.$c.$((d + k))"); done

  # Busy ports: an HTTP port already answering on a node's address (or on 0.0.0.0), or another
  # cluster on the UDP port (nodes share it with SO_REUSEPORT, so ours would silently join it).
  local ip
  for ip in "${ips[@]}"; do
    if timeout 1 bash -c "exec 3<>/dev/tcp/$ip/$http_port" 2>/dev/null; then
      die "demo: TCP port $http_port on $ip is busy (another demo or program?). Stop it, or use --http-port / --base-ip."
    fi
  done
  if command -v ss >/dev/null && [ -n "$(ss -Hlun "sport = :$udp_port" 2>/dev/null)" ]; then
    ss -Hlunp "sport = :$udp_port" 2>/dev/null | sed 's/^/  /' >&2 || true
    die "demo: UDP port $udp_port is already in use on this host (another SPORE node or demo?). Stop it, or use --udp-port."
  fi

  trap demo_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  log "starting $nodes spored node(s), profile $profile, UDP port $udp_port"
  for ((k = 1; k <= nodes; k++)); do
    ip="${ips[$((k - 1))]}"
    mkdir -p "$dir/node-$k"
    chmod 700 "$dir/node-$k"  # a state dir others can write is refused (docs/security.md)
    "$spored" --hostname "demo-$k" --bind "$ip" --http-port "$http_port" --udp-port "$udp_port" \
      --state-dir "$dir/node-$k" --profile "$profile" >"$dir/node-$k.log" 2>&1 &
    DEMO_PIDS+=("$!")
  done
  printf '%s\n' "${DEMO_PIDS[@]}" >"$dir/pids"

  # Every node must answer HTTP; one that exits shows its log.
  local deadline=$((SECONDS + 20)) pid
  for ((k = 1; k <= nodes; k++)); do
    ip="${ips[$((k - 1))]}"
    pid="${DEMO_PIDS[$((k - 1))]}"
    until curl -sf -o /dev/null --max-time 2 "http://$ip:$http_port/api/node/status"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        demo_show_log "$dir/node-$k.log"
        die "demo: node $k (demo-$k on $ip) exited during start-up; its log is above"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        demo_show_log "$dir/node-$k.log"
        die "demo: node $k (demo-$k on $ip) does not answer on http://$ip:$http_port after 20 s"
      fi
      sleep 0.2
    done
  done

  # Wait until node 1 sees every node ACTIVE.
  local first="http://${ips[0]}:$http_port" active=0 started=$SECONDS tty=0
  [ -t 1 ] && tty=1
  deadline=$((SECONDS + wait_s))
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
      "$spore" --node "${ips[0]}:$http_port" cluster members || true
      die "demo: after ${wait_s} s demo-1 sees only $active of $nodes nodes ACTIVE; logs in $(demo_rel "$dir")/node-*.log"
    fi
    sleep 0.3
  done
  [ "$tty" -eq 1 ] && printf '\r%*s\r' 72 ''
  echo "cluster formed: demo-1 sees all $nodes nodes ACTIVE after $((SECONDS - started)) s"
  echo
  "$spore" --node "${ips[0]}:$http_port" cluster members || true
  echo
  echo "web dashboard: http://${ips[0]}:$http_port/  (every node serves one; docs/dashboard.md)"
  echo
  echo "REST API (seed endpoints) of each node:"
  for ((k = 1; k <= nodes; k++)); do
    ip="${ips[$((k - 1))]}"
    echo "  demo-$k  http://$ip:$http_port/api/cluster/members   http://$ip:$http_port/api/node/status"
  done
  local token_file=""
  token_file="$(find "$dir/node-1" -maxdepth 1 -type f -name '*token*' 2>/dev/null | head -n 1 || true)"
  echo
  echo "logs:       $(demo_rel "$dir")/node-K.log     state: $(demo_rel "$dir")/node-K/"
  if [ -n "$token_file" ]; then
    echo "API token:  $(demo_rel "$token_file")  (each node has its own, in its state directory)"
    echo "try:        $(demo_rel "$spore") --node ${ips[0]}:$http_port cluster members --watch 1"
    echo "            $(demo_rel "$spore") --node ${ips[1]:-${ips[0]}}:$http_port node restart --token-file $(demo_rel "${token_file/node-1/node-$((nodes > 1 ? 2 : 1))}")"
  else
    echo "API token:  in each node's state directory ($(demo_rel "$dir")/node-K/; see the node's log)"
    echo "try:        $(demo_rel "$spore") --node ${ips[0]}:$http_port cluster members --watch 1"
  fi
  echo "            $(demo_rel "$spore") discover --udp-port $udp_port"
  echo "            kill one node (kill <pid> from $(demo_rel "$dir")/pids) and watch it turn INACTIVE, then DEAD"
  echo
  if [ -n "$for_s" ]; then
    echo "running for $for_s s..."
  else
    echo "running; press Ctrl-C to stop every node"
  fi

  # Run until Ctrl-C or --for; say so once if a node dies on its own.
  local end=$((SECONDS + ${for_s:-0})) reported=""
  while [ -z "$for_s" ] || [ "$SECONDS" -lt "$end" ]; do
    for ((k = 1; k <= nodes; k++)); do
      pid="${DEMO_PIDS[$((k - 1))]}"
      if ! kill -0 "$pid" 2>/dev/null && [[ " $reported " != *" $k "* ]]; then
        echo "note: node $k (demo-$k, pid $pid) is no longer running; see $(demo_rel "$dir")/node-$k.log"
        reported="$reported $k"
      fi
    done
    sleep 1 &
    wait $! || true
  done
  return 0
}

# ---- the ESP-01 firmware (PlatformIO) and the Arduino IDE package -----------------------------

FW_DIR="$ROOT/firmware"

# The .env of the seed ("project root"): $SPORE_ENV_FILE when set, else the caller's ./.env, else
# this repository's .env; empty when there is none. The spore CLI reads API_NODE from it,
# build/flash read WIFI_SSID / WIFI_PASSWORD from it.
dotenv_file() {
  if [ -n "${SPORE_ENV_FILE:-}" ]; then
    printf '%s' "$SPORE_ENV_FILE"
  elif [ -f "$CALLER_PWD/.env" ]; then
    printf '%s' "$CALLER_PWD/.env"
  elif [ -f "$ROOT/.env" ]; then
    printf '%s' "$ROOT/.env"
  fi
}

# dotenv_get FILE KEY: prints KEY's value in FILE and succeeds, or fails when KEY is not assigned.
# The same format as the spore CLI's reader (apps/spore/cli_logic.h, parse_env_value): lines
# KEY=value or export KEY=value, blank lines and # comments, values optionally in single or double
# quotes, an unquoted value ends at " #", the last assignment wins. Read as text, never run by a
# shell: no expansion, no command substitution.
dotenv_get() {
  local file="$1" key="$2" line name value found=0 result="" i
  [ -n "$file" ] && [ -f "$file" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
    if [[ "$line" =~ ^export[[:space:]] ]]; then
      line="${line:6}"
      line="${line#"${line%%[![:space:]]*}"}"
    fi
    [[ "$line" == *=* ]] || continue
    name="${line%%=*}"
    name="${name%"${name##*[![:space:]]}"}"
    [ "$name" = "$key" ] || continue
    value="${line#*=}"
    value="${value#"${value%%[![:space:]]*}"}"
    if [ "${value:0:1}" = '"' ] || [ "${value:0:1}" = "'" ]; then
      local quote="${value:0:1}" rest="${value:1}"
      result="${rest%%"$quote"*}"
    else
      result="$value"
      for ((i = 0; i < ${#value}; i++)); do
        if [ "${value:i:1}" = "#" ] && { [ "$i" -eq 0 ] || [[ "${value:i-1:1}" =~ [[:space:]] ]]; }; then
          result="${value:0:i}"
          break
        fi
      done
      result="${result%"${result##*[![:space:]]}"}"
    fi
    found=1
  done <"$file"
  [ "$found" -eq 1 ] || return 1
  printf '%s' "$result"
}

# The PlatformIO command: $SPORE_PIO when set (tests point it at a fake, or at nothing), else pio
# or platformio on PATH, else the installer's ~/.platformio/penv/bin/pio. Empty when missing.
find_pio() {
  if [ -n "${SPORE_PIO+x}" ]; then
    if [ -n "$SPORE_PIO" ] && [ -x "$SPORE_PIO" ]; then printf '%s' "$SPORE_PIO"; fi
    return 0
  fi
  local c
  for c in pio platformio; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  if [ -x "${HOME:-/nonexistent}/.platformio/penv/bin/pio" ]; then
    printf '%s' "$HOME/.platformio/penv/bin/pio"
  fi
  return 0
}

pio_missing_message() {
  cat >&2 <<'MSG'
ctl.sh: PlatformIO is not installed (no `pio` or `platformio` on PATH, no ~/.platformio/penv/bin/pio).
  The ESP-01 firmware is built, flashed and monitored with PlatformIO Core. Install it with one of:
    python3 -m venv ~/.platformio/penv && ~/.platformio/penv/bin/pip install platformio
    pipx install platformio
    curl -fsSL -o get-platformio.py https://raw.githubusercontent.com/platformio/platformio-core-installer/master/get-platformio.py && python3 get-platformio.py
  then run this command again (ctl.sh also finds ~/.platformio/penv/bin/pio without PATH changes).
  The first firmware build downloads the pinned ESP8266 platform and libraries (firmware/platformio.ini).
MSG
}

# The environments of firmware/platformio.ini ([env:NAME] sections).
fw_envs() { sed -n 's/^\[env:\([^]]*\)\].*/\1/p' "$FW_DIR/platformio.ini"; }

fw_check_env() {
  local e
  for e in $(fw_envs); do [ "$e" = "$1" ] && return 0; done
  usage_die "unknown firmware environment '$1'; firmware/platformio.ini has: $(fw_envs | tr '\n' ' ')"
}

# Exports WIFI_SSID / WIFI_PASSWORD, and the MQTT settings of the esp01_1m_mqtt env (MQTT_HOST,
# MQTT_PORT, MQTT_USER, MQTT_PASSWORD, SPORE_CLUSTER, MQTT_DISCOVERY_PREFIX; docs/mqtt.md), for
# the PlatformIO build (platformio.ini reads them with ${sysenv.*}): the environment's when set and
# not empty, else the .env's. Never prints a password. Refuses characters the build flag cannot
# carry ('-D...="${sysenv.X}"' in single quotes).
fw_wifi_env() {
  local envf key val src
  envf="$(dotenv_file)"
  for key in WIFI_SSID WIFI_PASSWORD MQTT_HOST MQTT_PORT MQTT_USER MQTT_PASSWORD SPORE_CLUSTER MQTT_DISCOVERY_PREFIX; do
    val="${!key:-}"
    src="environment"
    if [ -z "$val" ]; then
      src="$(demo_rel "$envf")"
      val="$(dotenv_get "$envf" "$key")" || { val=""; src=""; }
    fi
    case "$val" in
      *[\"\'\\\$]*)
        die "$key (from $src) contains a character the PlatformIO build flags cannot carry (\" ' \\ \$); the firmware would get a wrong value. Change it, or set the credentials in code." ;;
    esac
    export "$key=$val"
    if [[ $key == MQTT_* || $key == SPORE_CLUSTER ]]; then
      [ -z "$val" ] || [ "$key" = MQTT_PASSWORD ] || echo "ctl.sh: MQTT: $key '$val' (from $src)" >&2
      [ -z "$val" ] || [ "$key" != MQTT_PASSWORD ] || echo "ctl.sh: MQTT: MQTT_PASSWORD set (from $src, not shown)" >&2
    elif [ "$key" = WIFI_SSID ]; then
      if [ -n "$val" ]; then
        echo "ctl.sh: WiFi: WIFI_SSID '$val' (from $src)" >&2
      else
        echo "ctl.sh: warning: WIFI_SSID is not set (environment or .env): the image builds but joins no network" >&2
      fi
    else
      if [ -n "$val" ]; then
        echo "ctl.sh: WiFi: WIFI_PASSWORD set (from $src, not shown)" >&2
      else
        echo "ctl.sh: WiFi: WIFI_PASSWORD empty (open network)" >&2
      fi
    fi
  done
}

build_usage() {
  cat <<'USAGE'
Usage: ./ctl.sh build [all|host|firmware] [--env ENV]
       ./ctl.sh build-firmware [--env ENV]          (= build firmware)

Builds the host tree (build/dev: spored, spore, the tests) and the ESP-01 firmware with PlatformIO
(pio run -d firmware -e ENV; the image is firmware/.pio/build/ENV/firmware.bin).
  all        (default) both; without PlatformIO the host tree is built, the firmware is skipped
             with a notice saying how to install PlatformIO, and the exit status is 0
  host       the host tree only
  firmware   the firmware only; exit status 1 when PlatformIO is missing
  --env ENV  PlatformIO environment: esp01_1m (ESP-01, default), esp01s (ESP-01S, LED on GPIO2) or
             esp01_1m_mqtt (ESP-01 with the MQTT bridge)

WiFi credentials: WIFI_SSID and WIFI_PASSWORD from the environment, else from .env (the caller's,
else this repository's; read as text, not run). The password is never printed. The MQTT image
(--env esp01_1m_mqtt) reads MQTT_HOST, MQTT_PORT, MQTT_USER, MQTT_PASSWORD, SPORE_CLUSTER and
MQTT_DISCOVERY_PREFIX the same way (docs/mqtt.md).
Environment: SPORE_PIO (the PlatformIO command to use), SPORE_SKIP_HOST_BUILD=1 (skip the host
part of `build all`; the tests use it), SPORE_JOBS.
Exit status: 0 built (or firmware skipped in `build all`), 1 a build failed or PlatformIO is
missing for `build firmware`, 2 bad command line.
USAGE
}

flash_usage() {
  cat <<'USAGE'
Usage: ./ctl.sh flash [--env ENV] [--port PORT]

Builds (if needed) and uploads the firmware over the serial port:
pio run -d firmware -e ENV -t upload [--upload-port PORT]. Put the ESP-01 in flash mode first
(GPIO0 to GND at power-up); upload speed 115200, flash mode DOUT (firmware/platformio.ini).
  --env ENV     esp01_1m (default) or esp01s
  --port PORT   serial port, e.g. /dev/ttyUSB0 (default: PlatformIO picks one)
WiFi credentials as for ./ctl.sh build. Exit status: pio's; 1 when PlatformIO is missing; 2 bad
command line. Nodes already on the network are updated with ./ctl.sh ota instead.
USAGE
}

monitor_usage() {
  cat <<'USAGE'
Usage: ./ctl.sh monitor [--port PORT] [--baud BAUD]

The serial console of a board: pio device monitor -d firmware -b BAUD [-p PORT]; Ctrl-C quits.
  --port PORT   serial port, e.g. /dev/ttyUSB0 (default: PlatformIO picks one)
  --baud BAUD   default 115200 (the firmware's Serial speed)
Exit status: pio's; 1 when PlatformIO is missing; 2 bad command line.
USAGE
}

# fw_parse VERB ALLOWED_OPTIONS... -- ARGS...: sets FW_ENV / FW_PORT / FW_BAUD / FW_WHAT.
FW_ENV=esp01_1m
FW_PORT=""
FW_BAUD=115200
FW_WHAT=all
fw_parse() {
  local verb="$1" allowed=" " opt val
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do allowed+="$1 "; shift; done
  shift
  while [ $# -gt 0 ]; do
    opt="$1"
    case "$opt" in
      -h | --help) "${verb}_usage"; exit 0 ;;
      all | host | firmware)
        [[ "$allowed" == *" target "* ]] || usage_die "$verb: unexpected argument '$opt' (./ctl.sh $verb --help)"
        FW_WHAT="$opt"; shift; continue ;;
      --*=*) val="${opt#*=}"; opt="${opt%%=*}"; shift ;;
      --*)
        [[ "$allowed" == *" $opt "* ]] || usage_die "$verb: unknown option '$opt' (./ctl.sh $verb --help)"
        [ $# -ge 2 ] || usage_die "$verb: $opt needs a value (./ctl.sh $verb --help)"
        val="$2"; shift 2 ;;
      *) usage_die "$verb: unexpected argument '$opt' (./ctl.sh $verb --help)" ;;
    esac
    [[ "$allowed" == *" $opt "* ]] || usage_die "$verb: unknown option '$opt' (./ctl.sh $verb --help)"
    [ -n "$val" ] || usage_die "$verb: $opt needs a value (./ctl.sh $verb --help)"
    case "$opt" in
      --env) fw_check_env "$val"; FW_ENV="$val" ;;
      --port) FW_PORT="$val" ;;
      --baud) [[ "$val" =~ ^[1-9][0-9]*$ ]] || usage_die "$verb: --baud must be a number, got '$val'"; FW_BAUD="$val" ;;
    esac
  done
}

# Runs PlatformIO's build of the firmware; fails (status 1) when PlatformIO is missing.
fw_build() {
  local pio
  pio="$(find_pio)"
  [ -n "$pio" ] || { pio_missing_message; return 1; }
  fw_wifi_env
  log "firmware: pio run -d firmware -e $FW_ENV"
  "$pio" run -d "$FW_DIR" -e "$FW_ENV" || { echo "ctl.sh: the firmware build failed (pio's output above)" >&2; return 1; }
  local image="$FW_DIR/.pio/build/$FW_ENV/firmware.bin"
  if [ -f "$image" ]; then
    echo "firmware image: $(demo_rel "$image") ($(wc -c <"$image") bytes); ./ctl.sh flash or ./ctl.sh ota update IP $(demo_rel "$image")"
  fi
}

verb_build() {
  local verb="$1"
  shift
  if [ "$verb" = build-firmware ]; then
    fw_parse build --env -- "$@"
    FW_WHAT=firmware
  else
    fw_parse build target --env -- "$@"
  fi
  if [ "$FW_WHAT" != firmware ]; then
    if [ "${SPORE_SKIP_HOST_BUILD:-0}" = 1 ]; then
      echo "ctl.sh: SPORE_SKIP_HOST_BUILD=1: host tree not built" >&2
    else
      ensure_deps
      log "host tree (build/dev)"
      build_preset dev
    fi
  fi
  [ "$FW_WHAT" = host ] && return 0
  if [ "$FW_WHAT" = all ] && [ -z "$(find_pio)" ]; then
    pio_missing_message
    echo "ctl.sh: firmware skipped: PlatformIO is missing (the host tree is built). ./ctl.sh build firmware fails instead of skipping." >&2
    return 0
  fi
  fw_build
}

verb_flash() {
  fw_parse flash --env --port -- "$@"
  local pio args=(run -d "$FW_DIR" -e "$FW_ENV" -t upload)
  pio="$(find_pio)"
  [ -n "$pio" ] || { pio_missing_message; exit 1; }
  [ -z "$FW_PORT" ] || args+=(--upload-port "$FW_PORT")
  fw_wifi_env
  log "flash: pio ${args[*]}"
  exec "$pio" "${args[@]}"
}

verb_monitor() {
  fw_parse monitor --port --baud -- "$@"
  local pio args=(device monitor -d "$FW_DIR" -b "$FW_BAUD")
  pio="$(find_pio)"
  [ -n "$pio" ] || { pio_missing_message; exit 1; }
  [ -z "$FW_PORT" ] || args+=(-p "$FW_PORT")
  exec "$pio" "${args[@]}"
}

verb="${1:-help}"
shift || true
case "$verb" in
  test) verb_test "$@" ;;
  deps) ensure_deps ;;
  build | build-firmware) verb_build "$verb" "$@" ;;
  flash) verb_flash "$@" ;;
  monitor) verb_monitor "$@" ;;
  package) exec "$ROOT/tools/arduino-package.sh" "$@" ;;
  unit) verb_unit ;;
  asan) verb_asan ;;
  fuzz) verb_fuzz "$@" ;;
  lx106) verb_lx106 "$@" ;;
  firmware-link) cd "$CALLER_PWD" && exec "$ROOT/tools/firmware-link.sh" "$@" ;;
  esp8266-host)
    case "${1:-}" in
      build) shift && cd "$CALLER_PWD" && exec "$ROOT/tools/esp8266-host/build.sh" "$@" ;;
      bed) shift && exec "$ROOT/tools/esp8266-host/bed.sh" "$@" ;;
      -h | --help | "")
        echo "usage: ./ctl.sh esp8266-host build ARDUINO AWS ATCP LWIP BEARSSL [OUTDIR]"
        echo "       ./ctl.sh esp8266-host bed SCENARIO [BOARDS [LINUX_NODES]]"
        echo
        "$ROOT/tools/esp8266-host/build.sh" --help
        echo
        "$ROOT/tools/esp8266-host/bed.sh" --help
        [[ -n ${1:-} ]] && exit 0 || exit 2 ;;
      *) echo "ctl.sh esp8266-host: unknown command '$1' (build, bed, --help)" >&2 && exit 2 ;;
    esac ;;
  help | -h | --help) usage ;;
  demo) verb_demo "$@" ;;
  cluster | node | events) verb_spore "$verb" "$@" ;;
  discover) verb_spore discover "$@" ;;
  ota) verb_ota "$@" ;;
  keygen | sign | verify) verb_spore "$verb" "$@" ;;
  *) usage >&2; die "unknown verb '$verb'" ;;
esac
