// RSSI of live LE links through HCI Read RSSI on one adapter, without blocking the loop:
// the command goes out on a raw HCI socket and the Command Complete comes back through
// the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "transport/event_loop.h"
#include "transport/unique_fd.h"

namespace bm6 {

class HciRssi {
 public:
  using Done = std::function<void(int dbm)>;
  HciRssi(EventLoop& loop, int adapter_id) : loop_(loop), adapter_id_(adapter_id) {}
  ~HciRssi();
  HciRssi(const HciRssi&) = delete;
  HciRssi& operator=(const HciRssi&) = delete;

  // Asks for the RSSI of connection `handle`; `done` runs only if the controller answers
  // with success. One request per handle at a time; false if the socket cannot be opened.
  bool read(std::uint16_t handle, Done done);

  // Parses one HCI event packet (H4 type byte first). Returns true and sets handle and
  // dbm for a successful Read RSSI Command Complete; false for anything else.
  static bool parse_read_rssi_complete(const std::uint8_t* pkt, std::size_t len,
                                       std::uint16_t& handle, int& dbm);

 private:
  bool open();
  void on_readable();

  EventLoop& loop_;
  int adapter_id_;
  UniqueFd fd_;
  struct Pending {
    Done done;
    std::chrono::steady_clock::time_point since;
  };
  std::map<std::uint16_t, Pending> pending_;
};

}  // namespace bm6
