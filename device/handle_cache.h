// The handles a monitor's earlier link discovered, remembered for its next links as
// bluetoothd's GATT cache does: a reconnect then costs the CCCD write and the command (one
// round trip when they are pipelined: device/bm6_link.h), not the 6 requests of a discovery. Owned
// by the device, outlives its links; loop thread only.
//
// Cheap checks instead of asking again: a cached link that gets an ATT error on a cached
// handle, a notification on another handle before its first reading, or no frame at all in
// its first window drops the cache and discovers on the same link. Service Changed drops it,
// and so does another model answering at the address (the device tells the cache). A cache
// is filled only by a discovery whose link then delivered a reading.
#pragma once

#include <cstdint>
#include <optional>

namespace bm6 {

struct CachedHandles {
  std::uint16_t command = 0;  // FFF3's value
  bool command_with_response = true;
  std::uint16_t data = 0;                 // FFF4's value
  std::uint16_t cccd = 0;                 // FFF4's CCCD
  bool command_without_response = false;  // FFF3 takes a Write Command too
  // The unit took the pipelined set-up (CCCD write and command in one round trip); false
  // once a link saw it ignore that form and answer the one-at-a-time form.
  bool pipelined = true;
  bool operator==(const CachedHandles&) const = default;
};

class HandleCache {
 public:
  struct Stats {
    std::uint64_t hits = 0;     // links set up from the cache
    std::uint64_t misses = 0;   // links that discovered (nothing cached)
    std::uint64_t dropped = 0;  // entries dropped (checks failed, Service Changed, model)
  };

  // What to use for a new link, counted as a hit or a miss.
  std::optional<CachedHandles> take_for_link() {
    ++(handles_ ? stats_.hits : stats_.misses);
    return handles_;
  }
  const std::optional<CachedHandles>& handles() const { return handles_; }
  void remember(const CachedHandles& handles) { handles_ = handles; }
  // The unit ignored the pipelined set-up: later links write one step at a time.
  void refuse_pipelining() {
    if (handles_) handles_->pipelined = false;
  }
  void drop() {
    if (handles_) ++stats_.dropped;
    handles_.reset();
  }
  const Stats& stats() const { return stats_; }

 private:
  std::optional<CachedHandles> handles_;
  Stats stats_;
};

}  // namespace bm6
