#pragma once
/// @file hal.h
/// Every port of core in one place (cf. ESPHome's esphome/core/hal.h): the abstract classes a
/// platform implements so that core reaches the clock, the network, flash and the radio without
/// including a platform header. Include this to see them all; each stays declared in the header of
/// the module that uses it, which documents its contract (units, when it is called, what a false
/// return means). A new port goes into this table in the same change.
///
/// | port           | header                   | what a platform implements                   | implemented by      |
/// | -------------- | ------------------------ | -------------------------------------------- | ------------------- |
/// | Clock          | base/ports.h             | monotonic now_ms(), wrapping at 2^32         | posix, esp8266, sim |
/// | Random         | base/ports.h             | next_u32(): jitter and probe order, not keys | posix, esp8266, sim |
/// | LogSink        | base/ports.h             | write(level, line): stderr, Serial           | posix, esp8266      |
/// | SystemInfo     | base/ports.h             | heap, chip id, SDK, CPU MHz, flash size      | posix, esp8266, sim |
/// | UdpPort        | base/ports.h             | send and receive one datagram at a time      | posix, esp8266, sim |
/// | Watchdog       | base/ports.h             | feed(), once per loop pass                   | esp8266             |
/// | JsonOutput     | base/json_writer.h       | write() of a run of response bytes           | posix (core too)    |
/// | FlashTarget    | ota/ota.h                | begin, write, commit, abort of an image      | posix, esp8266      |
/// | MqttPort       | mqtt/mqtt_bridge.h       | connected(), publish(), subscribe()          | posix, esp8266      |
/// | WifiPort       | device/wifi_manager.h    | station and AP on/off, status, IP, ARP       | esp8266             |
/// | SettingsStore  | device/device_settings.h | load(), save() of the settings text          | esp8266             |
/// | SafeModeStore  | device/safe_mode.h       | load(), save() of words kept over a reset    | esp8266             |
/// | BootLogFlash   | device/boot_counter.h    | read, program, erase of 2 flash sectors      | esp8266             |
/// | EntropySource  | device/token_drbg.h      | hardware_sample_u32(), micros_now()          | esp8266             |
///
/// The classes, under platform/:
/// - Clock: posix/clock.h, esp8266/system_ports.h, sim/sim_clock.h
/// - Random: posix/random.h, esp8266/system_ports.h, sim/sim_clock.h
/// - LogSink: posix/log_sink.h, esp8266/system_ports.h
/// - SystemInfo: posix/system_info.h, esp8266/system_ports.h, sim/sim_node.h
/// - UdpPort: posix/udp_socket.h, esp8266/udp.h, sim/sim_node.h
/// - JsonOutput: posix/http_server.h; core's BufferJsonOutput
/// - FlashTarget: posix/executable_flash_target.h, esp8266/updater_flash_target.h
/// - MqttPort: posix/mqtt_client.h, esp8266/mqtt_client.h
/// - Watchdog: esp8266/watchdog.h (none on Linux and in the simulator)
/// - WifiPort: esp8266/wifi.h
/// - SettingsStore: esp8266/config_store.h
/// - SafeModeStore: esp8266/system_ports.h
/// - BootLogFlash: esp8266/system_ports.h
/// - EntropySource: esp8266/system_ports.h
///
/// tests/unit/fakes.h (and fakes beside the tests of device/ and ota/) implement them for host
/// tests. Not ports: CanonicalSink (auth/http_target.h), abstract but implemented by core for
/// itself, and the Delegate-typed callbacks (AnswerSource, EventApi::Sink, MultipartParser::Sink),
/// which are bound, not subclassed.

#include "spore/base/json_writer.h"
#include "spore/base/ports.h"
#include "spore/device/boot_counter.h"
#include "spore/device/device_settings.h"
#include "spore/device/safe_mode.h"
#include "spore/device/token_drbg.h"
#include "spore/device/wifi_manager.h"
#include "spore/mqtt/mqtt_bridge.h"
#include "spore/ota/ota.h"
