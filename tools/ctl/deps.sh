# shellcheck shell=bash
# The Debian packages ctl.sh installs (`./ctl.sh deps`, and first thing in `test`, `build`, `demo`):
# add every package the host build or a test needs here; CI installs only through ./ctl.sh test.

# Debian packages the host build and tests need (DESIGN.md §6). The xtensa ones compile core for
# the ESP8266 target; gcc-12-source provides the libstdc++ headers that toolchain lacks.
HOST_PACKAGES=(cmake ninja-build g++ libgtest-dev libgmock-dev nlohmann-json3-dev libbearssl-dev
  clang libclang-rt-14-dev gcc-xtensa-lx106 picolibc-xtensa-lx106-elf gcc-12-source xz-utils make
  pkg-config libcpp-httplib-dev libmicrohttpd-dev libcli11-dev jq curl procps iproute2 nftables libssl-dev openssl python3
  chromium libmosquitto-dev mosquitto mosquitto-clients zlib1g-dev)
# The dashboard's browser test (tests/integration/dashboard_browser_test.sh) and the OpenAPI
# validation (tests/integration/openapi_test.sh: npm ci of a pinned validator) also need Node.js and
# npm: Debian's nodejs + npm unless a node / npm is already on PATH (e.g. NodeSource's nodejs, which
# bundles npm and conflicts with Debian's npm package).
BROWSER_TOOLS=(node:nodejs npm:npm)

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

