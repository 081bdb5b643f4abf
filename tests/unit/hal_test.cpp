// core/spore/hal.h: it compiles on its own and what it lists are interfaces a platform can
// implement (abstract, destructible through the base where core owns them through it).
#include "spore/hal.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace spore {
namespace {

template <typename... Ports>
constexpr bool all_abstract() {
  return (std::is_abstract_v<Ports> && ...);
}

static_assert(all_abstract<Clock, Random, LogSink, SystemInfo, UdpPort, JsonOutput, FlashTarget, MqttPort,
                           Watchdog, WifiPort, SettingsStore, SafeModeStore, BootLogFlash, EntropySource>(),
              "every port hal.h lists is an interface");
static_assert(std::has_virtual_destructor_v<Clock> && std::has_virtual_destructor_v<UdpPort> &&
                  std::has_virtual_destructor_v<FlashTarget>,
              "ports core may hold through the base delete through it");

TEST(Hal, ListsThePortsAsInterfaces) {
  // The checks are the static_asserts above; this test makes the file a ctest entry.
  EXPECT_TRUE((all_abstract<Clock, UdpPort, WifiPort>()));
}

}  // namespace
}  // namespace spore
