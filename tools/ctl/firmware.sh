# shellcheck shell=bash
# The ESP-01 firmware with PlatformIO (build, build-firmware, flash, monitor: the WiFi and MQTT
# settings from the environment or .env) and the verbs over tools/ that work on firmware images
# (esp8266-host).

FW_DIR="$ROOT/firmware"

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
# carry ('-D...="${sysenv.X}"' in single quotes). Also exports SPORE_ENV_FILE, the .env where
# firmware/cluster_key.py reads the cluster key (or generates it).
fw_wifi_env() {
  local envf key val src
  envf="$(dotenv_file)"
  # The firmware's cluster key (firmware/cluster_key.py) from the same .env, generated there if absent.
  SPORE_ENV_FILE="$(dotenv_target)"
  export SPORE_ENV_FILE
  for key in WIFI_SSID WIFI_PASSWORD MQTT_HOST MQTT_PORT MQTT_USER MQTT_PASSWORD SPORE_CLUSTER MQTT_DISCOVERY_PREFIX; do
    val="${!key:-}"
    src="environment"
    if [ -z "$val" ]; then
      src="$(rel_path "$envf")"
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
Cluster key: SPORE_CLUSTER_KEY (32-64 hex digits) from the environment, else from that .env; when
neither has one, the build generates a random key into the .env (0600) and later builds reuse it.
Give the same key to every node (Linux: spored --cluster-key-file). SPORE_CLUSTER_KEY=open builds
an open-mode image (no key; the node warns at boot). docs/security.md "Keys".
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
    echo "firmware image: $(rel_path "$image") ($(wc -c <"$image") bytes); ./ctl.sh flash or ./ctl.sh ota update IP $(rel_path "$image")"
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

# esp8266-host build ... | bed ... | --help: the firmware as a Linux program and its netns bed.
verb_esp8266_host() {
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
  esac
}
