#pragma once
/// @file hal.h
/// Every port of core in one place (cf. ESPHome's esphome/core/hal.h): the abstract classes a
/// platform implements so that core reaches the clock, the network, flash and the radio without
/// including a platform header. Include this to see them all; each stays declared in the header of
/// the module that uses it, which documents its contract (units, when it is called, what a false
/// return means). A new port goes into this table in the same change.
///
/// | port           | header                      | what the platform implements                                  | implemented by                           |
/// | -------------- | --------------------------- | ------------------------------------------------------------- | ---------------------------------------- |
/// | Clock          | base/ports.h                | monotonic now_ms(), wrapping at 2^32                          | posix/clock.h, esp8266/system_ports.h, sim/sim_clock.h |
/// | Random         | base/ports.h                | next_u32() for jitter and probe order (not keys)              | posix/random.h, esp8266/system_ports.h, sim/sim_clock.h |
/// | LogSink        | base/ports.h                | write(level, line): stderr, Serial                            | posix/log_sink.h, esp8266/system_ports.h (sim: none, nullptr) |
/// | SystemInfo     | base/ports.h                | free heap, chip id, SDK version, CPU MHz, flash size          | posix/system_info.h, esp8266/system_ports.h, sim/sim_node.h |
/// | UdpPort        | base/ports.h                | send_to() and broadcast() of one datagram                     | posix/udp_socket.h, esp8266/udp.h, sim/sim_node.h |
/// | JsonOutput     | base/json_writer.h          | write() of a run of response bytes (core has BufferJsonOutput) | posix/http_server.h (StringJsonOutput)   |
/// | FlashTarget    | ota/ota.h                   | begin/write/commit/abort of a new image                       | posix/executable_flash_target.h, esp8266/updater_flash_target.h |
/// | MqttPort       | mqtt/mqtt_bridge.h          | connected(), publish(), subscribe() of an MQTT client         | posix/mqtt_client.h, esp8266/mqtt_client.h |
/// | DatagramSource | device/udp_intake.h         | next_datagram(), read(), the sender, the largest free block   | esp8266/udp.h                            |
/// | WifiPort       | device/wifi_manager.h       | station and access point on/off, status, IP, gratuitous ARP   | esp8266/wifi.h                           |
/// | SettingsStore  | device/device_settings.h    | load()/save() of the settings text                            | esp8266/config_store.h                   |
/// | SafeModeStore  | device/safe_mode.h          | load()/save() of a few words that survive a reset (RTC RAM)   | esp8266/system_ports.h                   |
/// | BootLogFlash   | device/boot_counter.h       | read/program/erase of the boot log's two flash sectors        | esp8266/system_ports.h                   |
/// | EntropySource  | device/token_drbg.h         | hardware_sample_u32() and micros_now() to seed the token DRBG | esp8266/system_ports.h                   |
///
/// Paths of the "implemented by" column are under platform/; tests/unit/fakes.h (and fakes beside
/// the tests of device/ and ota/) implement them for host tests. Not ports: CanonicalSink
/// (auth/http_target.h), abstract but implemented by core for itself, and the Delegate-typed
/// callbacks (AnswerSource, EventApi::Sink, MultipartParser::Sink), which are bound, not subclassed.

#include "spore/base/json_writer.h"
#include "spore/base/ports.h"
#include "spore/device/boot_counter.h"
#include "spore/device/device_settings.h"
#include "spore/device/safe_mode.h"
#include "spore/device/token_drbg.h"
#include "spore/device/udp_intake.h"
#include "spore/device/wifi_manager.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/ota/ota.h"
