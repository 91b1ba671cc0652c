#include "device/bm6_engine.h"

#include <algorithm>
#include <stdexcept>

#include "device/link_errors.h"
#include "protocol/advertisement.h"
#include "transport/l2cap_connector.h"

namespace bm6 {

namespace {
// Which budget a device's links count against: its adapter's. Simulated (unix:) devices
// share one pseudo-adapter, "unix", so budgets are testable without Bluetooth; devices
// with no Adapter use the first adapter that is up, as their connector does.
constexpr unsigned kNoLinkLimit = 1u << 20;  // MaxLinks 0: as good as none
constexpr std::chrono::seconds kKernelLinkLinger{2};

std::string budget_key(const DeviceOptions& o) {
  if (o.address.rfind("unix:", 0) == 0) return "unix";
  if (!o.adapter.empty()) return o.adapter;
  LinkError error;
  const int id = resolve_adapter("", error);
  return id >= 0 ? "hci" + std::to_string(id) : "the default adapter";
}
}  // namespace

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event)
    : Bm6Engine(devices, std::move(on_event), nullptr) {}

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, Bm6Device::EventHandler on_event,
                     ScannerHandler on_scanner, AdvScanner::OpenSocket open_mgmt,
                     const std::string& record_dir) {
  // One budget per adapter, with the smallest MaxLinks its devices give (devices with no
  // Adapter and with Adapter "hci0" may share hci0).
  std::map<std::string, unsigned> max_links;
  for (const auto& options : devices) {
    if (options.passive) continue;  // it takes no link
    const unsigned max = options.max_links == 0 ? kNoLinkLimit : options.max_links;
    const auto [it, added] = max_links.try_emplace(budget_key(options), max);
    if (!added) it->second = std::min(it->second, max);
  }
  // A Bluetooth link stays up, idle, about 2 s after its socket closes (the kernel's
  // disconnect timeout): the controller counts it that long.
  for (const auto& [key, max] : max_links)
    budgets_[key] = std::make_unique<LinkBudget>(
        loop_, key, max, key == "unix" ? std::chrono::seconds(0) : kKernelLinkLinger);
  for (const auto& options : devices) {
    if (options.passive) {
      add_passive(options, on_event, on_scanner, open_mgmt, record_dir);
      continue;
    }
    std::string error;
    const ConnectorOptions connector_options{.address = options.address,
                                             .adapter = options.adapter,
                                             .random_address = options.random_address,
                                             .timeout = options.connect_timeout};
    auto connector = make_connector(loop_, connector_options, &adapters_, error);
    if (!connector) throw std::invalid_argument("device \"" + options.name + "\": " + error);
    auto& budget = *budgets_.at(budget_key(options));
    if (options.link == LinkMode::kPersistent && !budget.reserve())
      throw std::invalid_argument(
          "adapter " + budget.adapter() + ": more persistent devices than MaxLinks " +
          std::to_string(budget.max_links()) + " (device \"" + options.name +
          "\" is one too many): raise MaxLinks, make some Link \"per-read\", or give some "
          "another Adapter");
    if (options.link == LinkMode::kPerRead) {
      // Said once, through the adapter's first per-read device: the handler wants one.
      if (budget.per_read_devices() == 0)
        budget.set_overbooked_handler([on_event, first = options](const std::string& text) {
          if (on_event) on_event(first, {DeviceEvent::kAdapterOverbooked, text});
        });
      budget.add_per_read(options.read_interval);
    }
    auto slot = std::make_shared<ReadingSlot>();
    slots_[options.name] = slot;
    devices_.push_back(std::make_unique<Bm6Device>(loop_, options, std::move(connector), slot,
                                                   watched(budget_key(options), on_event)));
    devices_.back()->set_budget(&budget);
  }
  if (!record_dir.empty()) clean_up_records(record_dir, on_scanner, open_mgmt);
  for (const auto& [key, budget] : budgets_)
    if (budget->per_read_devices() > 0 && budget->shared() == 0)
      throw std::invalid_argument("adapter " + key + ": its MaxLinks " +
                                  std::to_string(budget->max_links()) +
                                  " are all taken by persistent devices: none is left for its "
                                  "per-read devices (raise MaxLinks)");
  feed_heard();
}

// The adapter "hciN" is watched; the device's events go to `on_event` and to its watch.
Bm6Device::EventHandler Bm6Engine::watched(const std::string& adapter,
                                           Bm6Device::EventHandler on_event) {
  const int index = AdvScanner::adapter_index(adapter);
  if (adapter.rfind("hci", 0) == 0 && index >= 0) watched_[adapter].index = index;
  return [this, on_event = std::move(on_event), adapter](const DeviceOptions& d,
                                                         const DeviceReport& report) {
    if (on_event) on_event(d, report);
    on_adapter_event(adapter, d.name, report);
  };
}

// Where passive devices' scanner listens on an adapter, it also tells the adapter's watch
// which of its connected devices are heard advertising (a monitor there, its connects
// failing: the adapter is the suspect).
void Bm6Engine::feed_heard() {
  for (auto& [index, scanner] : scanners_) {
    const std::string key = "hci" + std::to_string(index);
    if (!watched_.count(key)) continue;
    std::map<LeAddress, std::string> names;
    for (const auto& d : devices_)
      if (budget_key(d->options()) == key)
        if (const auto address = parse_bdaddr(d->options().address))
          names[*address] = d->options().name;
    scanner->set_heard_handler([this, key, names](const LeAddress& address) {
      if (const auto it = names.find(address); it != names.end())
        watched_.at(key).watch.on_heard(AdapterWatch::Clock::now(), it->second);
    });
  }
}

void Bm6Engine::add_passive(const DeviceOptions& options, const Bm6Device::EventHandler& on_event,
                            const ScannerHandler& on_scanner,
                            const AdvScanner::OpenSocket& open_mgmt,
                            const std::string& record_dir) {
  const int index = AdvScanner::adapter_index(options.adapter);
  if (index < 0)
    throw std::invalid_argument("device \"" + options.name + "\": \"" + options.adapter +
                                "\" is not an adapter name like \"hci0\"");
  AdvScanner& scanner = scanner_for(index, on_scanner, open_mgmt, record_dir);
  auto slot = std::make_shared<ReadingSlot>();
  slots_[options.name] = slot;
  passive_.push_back(std::make_unique<PassiveDevice>(loop_, options, scanner, slot, on_event));
}

// The adapter's one scanner, made on first use.
AdvScanner& Bm6Engine::scanner_for(int index, const ScannerHandler& on_scanner,
                                   const AdvScanner::OpenSocket& open_mgmt,
                                   const std::string& record_dir) {
  auto& scanner = scanners_[index];
  if (scanner) return *scanner;
  scanner = std::make_unique<AdvScanner>(
      loop_, index,
      [on_scanner, index](AdvScanner::Status s, const std::string& detail) {
        if (on_scanner) on_scanner(index, s, detail);
      },
      open_mgmt);
  if (!record_dir.empty())
    scanner->record_registrations_in(registration_record_path(record_dir, index));
  return *scanner;
}

// A record on an adapter that no passive device uses now (moved, or passive mode dropped
// since a run was killed): a scanner with no subscriber removes what it lists at start.
void Bm6Engine::clean_up_records(const std::string& record_dir, const ScannerHandler& on_scanner,
                                 const AdvScanner::OpenSocket& open_mgmt) {
  for (const int index : adapters_with_registrations(record_dir))
    scanner_for(index, on_scanner, open_mgmt, record_dir);
}

Bm6Engine::~Bm6Engine() = default;

const LinkBudget* Bm6Engine::budget(const std::string& adapter) const {
  const auto it = budgets_.find(adapter);
  return it == budgets_.end() ? nullptr : it->second.get();
}

const Bm6Device* Bm6Engine::device(const std::string& name) const {
  for (const auto& d : devices_)
    if (d->options().name == name) return d.get();
  return nullptr;
}

std::shared_ptr<ReadingSlot> Bm6Engine::slot(const std::string& device) const {
  auto it = slots_.find(device);
  return it == slots_.end() ? nullptr : it->second;
}

void Bm6Engine::set_adapter_handler(AdapterHandler on_note, AdvScanner::OpenSocket open_mgmt) {
  on_adapter_note_ = std::move(on_note);
  open_reset_socket_ = std::move(open_mgmt);
}

bool Bm6Engine::set_adapter_options(const std::string& adapter,
                                    const AdapterWatch::Options& options) {
  const auto it = watched_.find(adapter);
  if (it == watched_.end()) return false;
  it->second.watch = AdapterWatch(options);
  return true;
}

const AdapterWatch* Bm6Engine::adapter_watch(const std::string& adapter) const {
  const auto it = watched_.find(adapter);
  return it == watched_.end() ? nullptr : &it->second.watch;
}

// A connect that failed with nobody answering counts against the adapter; any other end
// of an attempt after the connect (busy, a set-up step failing) shows a link came up. The
// adapter down or missing, or no permission, says nothing about a stuck controller.
void Bm6Engine::on_adapter_event(const std::string& adapter, const std::string& device,
                                 const DeviceReport& report) {
  const DeviceEvent event = report.event;
  const auto it = watched_.find(adapter);
  if (it == watched_.end()) return;
  AdapterWatch& watch = it->second.watch;
  const auto now = AdapterWatch::Clock::now();
  if (event == DeviceEvent::kFirstReading)
    return handle_adapter_notes(adapter, watch.on_link_up(now, device, true));
  if (event != DeviceEvent::kConnectFailed) return;
  switch (report.failure.kind) {
    case FailureKind::kUnreachable:
      return handle_adapter_notes(adapter, watch.on_connect_failed(now, device));
    case FailureKind::kAdapter:
    case FailureKind::kPermission:
    case FailureKind::kOther:
      return;
    default:
      return handle_adapter_notes(adapter, watch.on_link_up(now, device, false));
  }
}

void Bm6Engine::handle_adapter_notes(const std::string& adapter,
                                     std::vector<AdapterWatch::Note> notes) {
  for (const auto& note : notes) {
    if (on_adapter_note_) on_adapter_note_(adapter, note);
    if (note.kind == AdapterWatch::Note::Kind::kReset) reset_adapter(adapter);
  }
}

void Bm6Engine::reset_adapter(const std::string& adapter) {
  WatchedAdapter& watched = watched_.at(adapter);
  LinkError error;
  UniqueFd fd = open_reset_socket_ ? open_reset_socket_(error) : UniqueFd();
  if (!fd) {
    if (error.detail.empty()) error.detail = "no management socket";
    return handle_adapter_notes(
        adapter, watched.watch.on_reset_done(AdapterWatch::Clock::now(), false, error.detail));
  }
  watched.reset = std::make_unique<MgmtPowerCycle>(
      loop_, static_cast<std::uint16_t>(watched.index), std::move(fd),
      [this, adapter](bool ok, const std::string& detail) {
        WatchedAdapter& w = watched_.at(adapter);
        w.reset.reset();  // allowed from its own callback
        handle_adapter_notes(adapter,
                             w.watch.on_reset_done(AdapterWatch::Clock::now(), ok, detail));
      });
  watched.reset->start();
}

void Bm6Engine::run() {
  for (auto& d : devices_) d->start();
  // Subscribed first: the scanner registers every address with its first answer.
  for (auto& d : passive_) d->start();
  for (auto& [index, scanner] : scanners_) scanner->start();
  loop_.run();
  for (auto& d : devices_) d->stop();
  for (auto& d : passive_) d->stop();
}

}  // namespace bm6
