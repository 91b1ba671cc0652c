// libFuzzer: the <Plugin bm6> parser on configuration trees built from arbitrary bytes
// (keys from the plugin's vocabulary and some it does not know, values of every type).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/bm6_config.h"
#include "transport/address.h"

namespace {

const char* const kKeys[] = {"Device",        "Address",         "AddressType",  "Adapter",
                             "Interval",      "ConnectTimeout",  "ReconnectMin", "ReconnectMax",
                             "StreamTimeout", "ResponseTimeout", "Bogus",        "",
                             "Backfill",      "BackfillMax",     "RecordPeriod", "StateDir",
                             "Model"};

// Address-like strings, so that two devices often name one socket or monitor in two ways.
const char* const kAddresses[] = {"unix:/tmp/a.sock",
                                  "unix:/tmp/./a.sock",
                                  "unix://tmp//a.sock",
                                  "unix:/tmp/x/../a.sock",
                                  "unix:a.sock",
                                  "unix:./a.sock",
                                  "AA:BB:CC:DD:EE:FF",
                                  "aa:bb:cc:dd:ee:ff",
                                  "unix:/",
                                  "unix:.."};

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() { return n ? (--n, *p++) : 0; }
  std::string text() {
    std::size_t len = byte() % 24;
    std::string s;
    while (len-- && n) s.push_back(static_cast<char>(byte()));
    return s;
  }
};

void build(Reader& r, oconfig_item_t& item, int depth) {
  item.key = ::strdup(kKeys[r.byte() % (sizeof kKeys / sizeof *kKeys)]);
  item.values_num = r.byte() % 3;
  item.values =
      static_cast<oconfig_value_t*>(::calloc(item.values_num + 1, sizeof(oconfig_value_t)));
  for (int i = 0; i < item.values_num; ++i) {
    auto& v = item.values[i];
    switch (r.byte() % 3) {
      case 0: {
        v.type = OCONFIG_TYPE_STRING;
        const std::uint8_t pick = r.byte();
        v.value.string = pick < 64
                             ? ::strdup(kAddresses[pick % (sizeof kAddresses / sizeof *kAddresses)])
                             : ::strdup(r.text().c_str());
        break;
      }
      case 1: {
        v.type = OCONFIG_TYPE_NUMBER;
        std::int64_t raw = 0;
        for (int b = 0; b < 8; ++b) raw = raw << 8 | r.byte();
        std::memcpy(&v.value.number, &raw, sizeof raw);  // any double, NaN and inf too
        break;
      }
      default:
        v.type = OCONFIG_TYPE_BOOLEAN;
        v.value.boolean = r.byte() & 1;
    }
  }
  item.children_num = depth < 2 ? r.byte() % 5 : 0;
  item.children =
      static_cast<oconfig_item_t*>(::calloc(item.children_num + 1, sizeof(oconfig_item_t)));
  for (int i = 0; i < item.children_num; ++i) {
    item.children[i].parent = &item;
    build(r, item.children[i], depth + 1);
  }
}

void release(oconfig_item_t& item) {
  for (int i = 0; i < item.values_num; ++i)
    if (item.values[i].type == OCONFIG_TYPE_STRING) ::free(item.values[i].value.string);
  ::free(item.values);
  for (int i = 0; i < item.children_num; ++i) release(item.children[i]);
  ::free(item.children);
  ::free(item.key);
}

// The address parser on the raw bytes: what it accepts reads back the same from its text.
void check_address_round_trip(const std::uint8_t* data, std::size_t size) {
  std::string error;
  const auto parsed =
      bm6::DeviceAddress::parse(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!parsed) return;
  std::string again_error;
  const auto again = bm6::DeviceAddress::parse(parsed->text(), again_error);
  if (!again || *again != *parsed) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_address_round_trip(data, size);
  Reader r{data, size};
  oconfig_item_t root{};
  build(r, root, 0);
  bm6::plugin::PluginConfig config;
  std::vector<std::string> errors;
  bm6::plugin::parse_plugin_block(root, config, errors);
  // Either a configuration or errors, never both half-way.
  if (!errors.empty() && !config.devices.empty()) __builtin_trap();
  std::set<std::string> addresses;
  for (const auto& d : config.devices) {
    if (d.options.name.empty() || d.options.address.empty()) __builtin_trap();
    // No two devices on one monitor, however the address is spelled.
    if (!addresses.insert(d.options.address.identity()).second) __builtin_trap();
  }
  release(root);
  return 0;
}
