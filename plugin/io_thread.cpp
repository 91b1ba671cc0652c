#include "plugin/io_thread.h"

#include <exception>

#include "plugin/collectd_api.h"

namespace bm6::plugin {
namespace {

// No exception may end a thread: said, and the thread ends.
void* run(void* arg) {
  auto* engine = static_cast<Bm6Engine*>(arg);
  try {
    engine->run();
  } catch (const std::exception& e) {
    plugin_log(LOG_ERR, "bm6 plugin: I/O thread stopped: %s", e.what());
  } catch (...) {
    plugin_log(LOG_ERR, "bm6 plugin: I/O thread stopped");
  }
  return nullptr;
}

}  // namespace

bool IoThread::start(Bm6Engine& engine) {
  if (plugin_thread_create(&thread_, run, &engine, "bm6") != 0) return false;
  engine_ = &engine;
  return true;
}

void IoThread::stop() {
  if (engine_ == nullptr) return;
  engine_->stop();
  pthread_join(thread_, nullptr);
  engine_ = nullptr;
}

}  // namespace bm6::plugin
