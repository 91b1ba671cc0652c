// The I/O thread: one collectd thread running the engine's loop, from init to shutdown.
#pragma once

#include <pthread.h>

#include "device/bm6_engine.h"

namespace bm6::plugin {

class IoThread {
 public:
  IoThread() = default;
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread() { stop(); }

  // Runs engine.run() on a collectd thread named "bm6"; false if it could not start. The
  // engine outlives the thread: stop() before destroying it.
  bool start(Bm6Engine& engine);
  // Stops the engine's loop and waits for the thread to end; nothing if it is not running.
  void stop();

 private:
  Bm6Engine* engine_ = nullptr;  // set while the thread runs
  pthread_t thread_{};
};

}  // namespace bm6::plugin
