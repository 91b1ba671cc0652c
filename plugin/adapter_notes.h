// What the plugin says about adapters rather than devices, from the I/O thread: the
// passive scanner's status and the stuck-adapter watch (device/adapter_watch.h), whose
// configured options it hands to the engine.
#pragma once

#include <string>

#include "device/adapter_watch.h"
#include "device/bm6_engine.h"
#include "device/link_log.h"
#include "plugin/bm6_config.h"

namespace bm6::plugin {

// Runs on the I/O thread: an adapter's advertisement scanner (passive devices), once per
// change: the adapter going down and coming back each say one line.
void on_scanner_status(int adapter, AdvScanner::Status status, const std::string& detail) noexcept;

// The configured watch options go to the engine, and what each adapter's watch says is
// logged; an <Adapter> with ResetAdapter that no connected device uses is said once.
void watch_adapters(Bm6Engine& engine, const PluginConfig& config);

}  // namespace bm6::plugin
