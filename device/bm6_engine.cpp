#include "device/bm6_engine.h"

#include <algorithm>
#include <stdexcept>

#include "device/link_errors.h"
#include "transport/l2cap_connector.h"

namespace bm6 {

namespace {
// MaxLinks 0: as good as none.
constexpr unsigned kNoLinkLimit = 1u << 20;
// A Bluetooth link stays up, idle, 2 s after its socket closes (the kernel's disconnect
// timeout), then until the peer acknowledges the disconnection (a few connection events on a
// radio; in the VM test the link outlived its reading by 2.05 s): the controller counts it
// that long, and a slot freed at 2 s sharp could overbook a controller at its limit.
constexpr std::chrono::milliseconds kKernelLinkLinger{2500};
}  // namespace

Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, const LinkLimits& limits,
                     Bm6Device::EventHandler on_event)
    : Bm6Engine(devices, limits, std::move(on_event), nullptr) {}

// Devices' links count against their adapter's budget (link_adapter): simulated (unix:)
// devices share the pseudo-adapter "unix", so budgets are testable without Bluetooth; devices
// with no Adapter use the first adapter that is up, as their connector does.
Bm6Engine::Bm6Engine(const std::vector<DeviceOptions>& devices, const LinkLimits& limits,
                     Bm6Device::EventHandler on_event, ScannerHandler on_scanner,
                     AdvScanner::OpenSocket open_mgmt, const std::string& record_dir) {
  if (const auto problems = link_limit_problems(devices, limits); !problems.empty())
    throw std::invalid_argument(problems.front());
  for (const auto& options : devices) {
    if (options.passive) continue;  // it takes no link
    const AdapterId adapter = link_adapter(options);
    if (budgets_.count(adapter)) continue;
    const unsigned max = limits.of(adapter);
    budgets_[adapter] = std::make_unique<LinkBudget>(
        loop_, adapter.text(), max == 0 ? kNoLinkLimit : max,
        adapter.is_simulated() ? std::chrono::seconds(0) : kKernelLinkLinger);
  }
  for (const auto& options : devices) {
    if (options.passive)
      add_passive(options, on_event, on_scanner, open_mgmt, record_dir);
    else
      add_connected(options, on_event);
  }
  if (!record_dir.empty()) clean_up_records(record_dir, on_scanner, open_mgmt);
  feed_heard();
}

// Its budget has room for it: link_limit_problems() found none.
void Bm6Engine::add_connected(const DeviceOptions& options,
                              const Bm6Device::EventHandler& on_event) {
  std::string error;
  const ConnectorOptions connector_options{
      .address = options.address, .adapter = options.adapter, .timeout = options.connect_timeout};
  auto connector = make_connector(loop_, connector_options, &adapters_, error);
  if (!connector) throw std::invalid_argument("device \"" + options.name + "\": " + error);
  const AdapterId adapter = link_adapter(options);
  auto& budget = *budgets_.at(adapter);
  if (options.link == LinkMode::kPersistent && !budget.reserve())
    throw std::logic_error("adapter " + adapter.text() + ": its budget is full");
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
                                                 watched(adapter, on_event)));
  devices_.back()->set_budget(&budget);
}

// A Bluetooth adapter is watched; the device's events go to `on_event` and to its watch.
Bm6Device::EventHandler Bm6Engine::watched(const AdapterId& adapter,
                                           Bm6Device::EventHandler on_event) {
  if (!adapter.is_simulated()) watched_[adapter];
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
  for (auto& [key, scanner] : scanners_) {
    if (!watched_.count(key)) continue;
    std::map<BdAddr, std::string> names;
    for (const auto& d : devices_)
      if (link_adapter(d->options()) == key && d->options().address.is_bluetooth())
        names[d->options().address.bdaddr()] = d->options().name;
    // A copy: clang before 16 cannot capture a structured binding.
    scanner->set_heard_handler([this, adapter = key, names](const BdAddr& address) {
      if (const auto it = names.find(address); it != names.end())
        watched_.at(adapter).watch.on_heard(AdapterWatch::Clock::now(), it->second);
    });
  }
}

void Bm6Engine::add_passive(const DeviceOptions& options, const Bm6Device::EventHandler& on_event,
                            const ScannerHandler& on_scanner,
                            const AdvScanner::OpenSocket& open_mgmt,
                            const std::string& record_dir) {
  if (!options.address.is_bluetooth())
    throw std::invalid_argument("device \"" + options.name +
                                "\": Mode \"passive\" needs a Bluetooth address");
  AdvScanner& scanner = scanner_for(link_adapter(options), on_scanner, open_mgmt, record_dir);
  auto slot = std::make_shared<ReadingSlot>();
  slots_[options.name] = slot;
  passive_.push_back(std::make_unique<PassiveDevice>(loop_, options, scanner, slot, on_event));
}

// The adapter's one scanner, made on first use.
AdvScanner& Bm6Engine::scanner_for(const AdapterId& adapter, const ScannerHandler& on_scanner,
                                   const AdvScanner::OpenSocket& open_mgmt,
                                   const std::string& record_dir) {
  auto& scanner = scanners_[adapter];
  if (scanner) return *scanner;
  const int index = adapter.index();
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
    scanner_for(AdapterId::hci(static_cast<std::uint16_t>(index)), on_scanner, open_mgmt,
                record_dir);
}

Bm6Engine::~Bm6Engine() = default;

const LinkBudget* Bm6Engine::budget(const AdapterId& adapter) const {
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

bool Bm6Engine::set_adapter_options(const AdapterId& adapter,
                                    const AdapterWatch::Options& options) {
  const auto it = watched_.find(adapter);
  if (it == watched_.end()) return false;
  it->second.watch = AdapterWatch(options);
  return true;
}

const AdapterWatch* Bm6Engine::adapter_watch(const AdapterId& adapter) const {
  const auto it = watched_.find(adapter);
  return it == watched_.end() ? nullptr : &it->second.watch;
}

// A connect that failed with nobody answering counts against the adapter; any other end
// of an attempt after the connect (busy, a set-up step failing) shows a link came up. The
// adapter down or missing, or no permission, says nothing about a stuck controller.
void Bm6Engine::on_adapter_event(const AdapterId& adapter, const std::string& device,
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

void Bm6Engine::handle_adapter_notes(const AdapterId& adapter,
                                     std::vector<AdapterWatch::Note> notes) {
  for (const auto& note : notes) {
    if (on_adapter_note_) on_adapter_note_(adapter, note);
    if (note.kind == AdapterWatch::Note::Kind::kReset) reset_adapter(adapter);
  }
}

void Bm6Engine::reset_adapter(const AdapterId& adapter) {
  WatchedAdapter& watched = watched_.at(adapter);
  LinkError error;
  UniqueFd fd = open_reset_socket_ ? open_reset_socket_(error) : UniqueFd();
  if (!fd) {
    if (error.detail.empty()) error.detail = "no management socket";
    return handle_adapter_notes(
        adapter, watched.watch.on_reset_done(AdapterWatch::Clock::now(), false, error.detail));
  }
  watched.reset = std::make_unique<MgmtPowerCycle>(
      loop_, adapter.index(), std::move(fd), [this, adapter](bool ok, const std::string& detail) {
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
