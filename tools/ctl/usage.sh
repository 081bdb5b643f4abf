# shellcheck shell=bash
# ctl.sh's top-level help (`./ctl.sh help`): every verb in one place. Sourced by ctl.sh.

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
  fuzz [SECONDS]    build the libFuzzer targets and run each for SECONDS (default 30 under CI, else 20), nproc at once (SPORE_FUZZ_JOBS)
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
  demo [--nodes N] [--profile lan|fast|esp8266] [--for SECONDS] [--open]
                    a local cluster of N spored nodes (default 5) on 127.0.0.2.. until Ctrl-C,
                    keyed with SPORE_CLUSTER_KEY from .env (generated there once); --open: no key
                    (./ctl.sh demo --help for every option)
  cluster members [--json] [--watch S]   the membership table as one node sees it
  node status [--json]                   resources and endpoints of one node
  node restart [--token-file F]          restart one node (needs its API token)
  discover [--timeout S] [--json] [--cluster-key-file F]
                                         ask the LAN which nodes are there (UDP broadcast, 2 s)
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
                    (the current directory's, else this repository's); without a PORT 8080
                    for this host (spored), 80 for another (an ESP-01)
  help              this text

Environment: SPORE_JOBS (parallel build jobs, default: all cores); SPORED, SPORE (use these
binaries instead of building build/dev); SPORE_FIRMWARE (default image for ota); SPORE_PIO (the
PlatformIO command; default pio, platformio, then ~/.platformio/penv/bin/pio);
SPORE_SKIP_HOST_BUILD=1 (build: skip the host tree, for tests); SPORE_ENV_FILE (the .env to read).
Exit status: 0 success, 1 failure, 2 bad command line.
USAGE
}

