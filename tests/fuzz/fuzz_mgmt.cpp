// libFuzzer: mgmt events into the AdvScanner and on to a PassiveDevice (Model auto), as the
// kernel would deliver them. Input: a selector byte; odd: an event code (2 bytes) and
// parameters that get a correct header for controller 0, so parsing goes past the header
// checks (Device Found with arbitrary address, lengths and AD; command replies; index and
// settings events); even: the rest sent as it is. Nothing may crash or hang; the scanner's
// counters stay consistent.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "device/passive_device.h"
#include "tests/mgmt_fake.h"

namespace {

struct Rig {
  bm6::EventLoop loop;
  bm6::test::FakeMgmt kernel;
  bm6::AdvScanner scanner{loop, 0, nullptr, kernel.opener()};
  std::shared_ptr<bm6::ReadingSlot> slot = std::make_shared<bm6::ReadingSlot>();
  std::unique_ptr<bm6::PassiveDevice> device;
  Rig() {
    bm6::DeviceOptions o;
    o.name = "fuzz";
    o.address = bm6::DeviceAddress::bluetooth(*bm6::parse_bdaddr(
        "50:54:7B:80:2C:3C"));  // the address a Device Found's first bytes reverse to
    o.passive = true;
    o.passive_timeout = std::chrono::hours(1);
    device = std::make_unique<bm6::PassiveDevice>(loop, o, scanner, slot, nullptr);
    device->start();
    scanner.start();
    loop.run_once(std::chrono::milliseconds(0));
    kernel.info(0, true);
    loop.run_once(std::chrono::milliseconds(0));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Rig rig;
  if (size == 0 || size > 4000) return 0;
  std::vector<std::uint8_t> packet;
  if ((data[0] & 1) != 0 && size >= 3) {
    const std::size_t len = size - 3;
    packet = {data[1],
              data[2],
              0,
              0,
              static_cast<std::uint8_t>(len),
              static_cast<std::uint8_t>(len >> 8)};
    packet.insert(packet.end(), data + 3, data + size);
  } else {
    packet.assign(data + 1, data + size);
  }
  if (packet.empty()) return 0;
  const auto events = rig.scanner.stats().events;
  rig.kernel.raw(packet);
  rig.loop.run_once(std::chrono::milliseconds(0));
  rig.kernel.commands();  // what it sent in answer: drained, so the pair never fills
  const auto& s = rig.scanner.stats();
  if (s.events != events + 1 || s.malformed > s.events || s.delivered > s.reports) __builtin_trap();
  (void)rig.slot->take(std::chrono::system_clock::time_point{});
  return 0;
}
