// What the device-level tests share: the events a device reported, and a connected socket to
// a simulator's Unix socket.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "device/bm6_device.h"
#include "transport/connector.h"
#include "transport/event_loop.h"

namespace bm6::test {

struct Events {
  std::vector<DeviceReport> seen;
  Bm6Device::EventHandler handler() {
    return [this](const DeviceOptions&, const DeviceReport& r) { seen.push_back(r); };
  }
  int count(DeviceEvent e) const {
    int n = 0;
    for (const auto& s : seen) n += s.event == e;
    return n;
  }
};

// Connects to the simulator at `path` on `loop`, within 2 s; invalid (and a test failure)
// when it cannot.
inline UniqueFd connect_unix(EventLoop& loop, const std::string& path) {
  std::string err;
  auto connector =
      make_connector(loop, {.address = DeviceAddress::unix_socket(path)}, nullptr, err);
  EXPECT_TRUE(connector) << err;
  if (!connector) return {};
  UniqueFd result;
  bool done = false;
  connector->connect([&](UniqueFd fd, const LinkError&) {
    result = std::move(fd);
    done = true;
  });
  loop.run_until([&] { return done; }, std::chrono::seconds(2));
  return result;
}

}  // namespace bm6::test
