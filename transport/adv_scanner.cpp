#include "transport/adv_scanner.h"
#include "transport/advertising_data.h"
#include "transport/mgmt_codec.h"
#include "transport/mgmt_socket.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bm6 {

namespace {

std::string text(const BdAddr& a) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", a[0], a[1], a[2], a[3], a[4],
                a[5]);
  return buf;
}

}  // namespace

AdvScanner::AdvScanner(EventLoop& loop, int adapter_index, StatusHandler on_status, OpenSocket open)
    : loop_(loop),
      index_(adapter_index),
      on_status_(std::move(on_status)),
      open_(std::move(open)) {}

AdvScanner::~AdvScanner() {
  if (!fd_) return;
  // Entries outlive the process that added them: leave the kernel as we found it.
  for (const auto& [address, random_address] : entries_in_address_order()) {
    if (remove_device(address, random_address)) recorded_.erase({address, random_address});
  }
  save_record();
  if (monitor_handle_ != 0) send(mgmt::encode_remove_monitor(index_, monitor_handle_));
  loop_.unwatch(fd_.get());
}

UniqueFd AdvScanner::open_mgmt_socket(LinkError& error) {
  return mgmt::open_control_socket(error,
                                   "passive mode needs CAP_NET_ADMIN (the kernel's Bluetooth "
                                   "management interface); collectd runs as root by default");
}

void AdvScanner::start() {
  if (fd_) return;
  LinkError error;
  UniqueFd fd = open_(error);
  if (!fd) return error_once("hci" + std::to_string(index_) + ": " + error.detail);
  if (!loop_.watch(fd.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); }))
    return error_once(std::string("watching the mgmt socket: ") + std::strerror(errno));
  fd_ = std::move(fd);
  remove_stale_registrations();
  send(mgmt::encode_command(mgmt::kOpReadInfo, index_));
}

// What a previous run recorded and nobody here wants: removed now (Remove Device needs no
// powered adapter). What is still wanted stays recorded and is registered again as usual.
void AdvScanner::remove_stale_registrations() {
  if (record_path_.empty()) return;
  std::string text, error;
  if (!read_registration_file(record_path_, text, error))
    return error_once("registration record " + record_path_ + ": " + error +
                      ": addresses a killed collectd registered are not removed");
  recorded_ = parse_registration_record(text);
  const std::size_t before = recorded_.size();
  std::erase_if(recorded_, [this](const RegisteredAddress& r) {
    const auto it = entries_.find(r.address);
    const bool wanted = it != entries_.end() && it->second.random_address == r.random_address;
    return !wanted && remove_device(r.address, r.random_address);
  });
  if (recorded_.size() != before) save_record();
}

// Into the record before Add Device goes out, out of it after Remove Device did.
void AdvScanner::record(const BdAddr& address, bool random_address, bool registered) {
  if (record_path_.empty()) return;
  const bool changed = registered ? recorded_.insert({address, random_address}).second
                                  : recorded_.erase({address, random_address}) > 0;
  if (changed) save_record();
}

void AdvScanner::save_record() {
  if (record_path_.empty()) return;
  std::string error;
  if (!write_registration_file(record_path_, format_registration_record(recorded_), error))
    error_once("registration record " + record_path_ + ": " + error +
               ": if collectd is killed, its registered addresses stay with the kernel");
}

AdvScanner::SubscriptionId AdvScanner::subscribe(const BdAddr& address, bool random_address,
                                                 ReportHandler on_report) {
  const SubscriptionId id = next_id_++;
  auto [it, fresh] = entries_.try_emplace(address);
  it->second.random_address = random_address;
  it->second.subscribers.push_back({id, std::move(on_report)});
  by_id_[id] = address;
  if (fresh && up_) {
    record(address, random_address, true);
    add_device(address, random_address);
    if (monitor_handle_ == 0) add_monitor();
  }
  return id;
}

void AdvScanner::unsubscribe(SubscriptionId id) {
  const auto found = by_id_.find(id);
  if (found == by_id_.end()) return;
  const BdAddr address = found->second;
  by_id_.erase(found);
  auto it = entries_.find(address);
  if (it == entries_.end()) return;
  std::erase_if(it->second.subscribers, [id](const Subscriber& s) { return s.id == id; });
  if (!it->second.subscribers.empty()) return;
  if (fd_ && remove_device(address, it->second.random_address))
    record(address, it->second.random_address, false);
  entries_.erase(it);
  if (entries_.empty() && monitor_handle_ != 0 && fd_) {
    send(mgmt::encode_remove_monitor(index_, monitor_handle_));
    monitor_handle_ = 0;
  }
}

bool AdvScanner::send(const std::vector<std::uint8_t>& packet) {
  if (!fd_) return false;
  ++stats_.commands;
  loop_.note_syscalls();
  const auto n = ::send(fd_.get(), packet.data(), packet.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(packet.size())) return true;
  error_once(mgmt::op_name(mgmt::le16(packet.data())) +
             " could not be sent: " + std::strerror(errno));
  return false;
}

void AdvScanner::add_device(const BdAddr& address, bool random_address) {
  send(mgmt::encode_add_device(index_, address, random_address, mgmt::kActionBackgroundScan));
}

bool AdvScanner::remove_device(const BdAddr& address, bool random_address) {
  return send(mgmt::encode_remove_device(index_, address, random_address));
}

void AdvScanner::add_monitor() {
  if (monitor_unusable_ || monitor_pending_ || monitor_handle_ != 0 || entries_.empty()) return;
  monitor_pending_ = true;
  send(mgmt::encode_command(mgmt::kOpReadMonitorFeatures,
                            index_));  // the answer decides whether the monitor is added
}

void AdvScanner::register_all() {
  if (!record_path_.empty()) {  // one write for them all
    const std::size_t before = recorded_.size();
    for (const auto& [address, entry] : entries_) recorded_.insert({address, entry.random_address});
    if (recorded_.size() != before) save_record();
  }
  for (const auto& [address, random_address] : entries_in_address_order())
    add_device(address, random_address);
  add_monitor();
}

// The table is hashed for the reports' look-ups; the kernel is told in address order, the
// same on every run.
std::vector<std::pair<BdAddr, bool>> AdvScanner::entries_in_address_order() const {
  std::vector<std::pair<BdAddr, bool>> out;
  out.reserve(entries_.size());
  for (const auto& [address, entry] : entries_) out.emplace_back(address, entry.random_address);
  std::sort(out.begin(), out.end());
  return out;
}

void AdvScanner::set_up(bool up, const std::string& why_down) {
  const bool first = !state_known_;
  state_known_ = true;
  // A scanner nobody subscribed to only cleans up a registration record: its adapter's
  // state concerns no device, and is not said.
  const StatusHandler say = entries_.empty() ? nullptr : on_status_;
  if (up) {
    const bool was_up = up_;
    up_ = true;
    register_all();  // also when already up: power on after a quick cycle, Index Added
    const std::string listening = "listening for advertisements on hci" + std::to_string(index_) +
                                  " for " + std::to_string(entries_.size()) + " device(s)";
    if (!was_up && down_said_) {
      down_said_ = false;
      said_scanning_ = true;
      if (say) say(Status::kAdapterUp, "hci" + std::to_string(index_) + " is up: " + listening);
    } else if (!said_scanning_) {
      said_scanning_ = true;
      if (say) say(Status::kScanning, listening);
    }
    return;
  }
  if (!up_ && !first) return;
  up_ = false;
  monitor_pending_ = false;
  if (!down_said_) {
    down_said_ = true;
    if (say) say(Status::kAdapterDown, why_down);
  }
}

void AdvScanner::error_once(const std::string& message) {
  // Bounded: a kernel (or a fake one) answering with ever new errors costs no memory.
  constexpr std::size_t kMaxErrorsSaid = 32;
  if (errors_said_.size() >= kMaxErrorsSaid || !errors_said_.insert(message).second) return;
  if (on_status_) on_status_(Status::kError, message);
}

void AdvScanner::on_readable() {
  constexpr int kBatchesPerWakeup = 4;  // then let the loop serve other fds
  if (!batch_) batch_ = std::make_unique<Batch>();
  for (int round = 0; round < kBatchesPerWakeup; ++round) {
    loop_.note_syscalls();
    const int n = batch_->receive(fd_.get());
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        error_once(std::string("reading the mgmt socket: ") + std::strerror(errno));
      return;
    }
    if (n > 0) {
      ++stats_.receives;
      batch_received_ = std::chrono::system_clock::now();
      batch_received_steady_ = std::chrono::steady_clock::now();
    }
    for (int i = 0; i < n; ++i) {
      const auto event = (*batch_)[i];
      ++stats_.events;
      if (event.length == 0 || event.truncated) {  // a cut event is not parsed
        ++stats_.malformed;
        continue;
      }
      handle(event.bytes);
      if (!fd_) return;
    }
    if (n < static_cast<int>(Batch::kCount)) return;
  }
}

void AdvScanner::handle(std::span<const std::uint8_t> packet) {
  const auto event = mgmt::decode_event(packet);
  if (!event) {
    ++stats_.malformed;
    return;
  }
  if (event->index != index_) return;  // another adapter's, or the no-index ones
  const auto p = event->params;
  switch (event->code) {
    case mgmt::kEvCommandComplete:
    case mgmt::kEvCommandStatus: {
      const auto reply = mgmt::decode_command_reply(*event);
      if (!reply) break;
      on_command_done(reply->opcode, reply->status, reply->data);
      return;
    }
    case mgmt::kEvDeviceFound:
      return on_device_found(mgmt::decode_device_found(p));
    case mgmt::kEvMonitorDeviceFound:
      return on_device_found(mgmt::decode_monitor_device_found(p));
    case mgmt::kEvIndexAdded:
      send(mgmt::encode_command(mgmt::kOpReadInfo, index_));
      return;
    case mgmt::kEvIndexRemoved:
      monitor_handle_ = 0;  // gone with the adapter, like the entries
      return set_up(false, hci() + " was removed");
    case mgmt::kEvNewSettings: {
      if (p.size() < 4) break;
      const bool powered = mgmt::le32(&p[0]) & mgmt::kSettingPowered;
      if (powered != up_) set_up(powered, hci() + " was powered off");
      return;
    }
    case mgmt::kEvDeviceDisconnected:
    case mgmt::kEvDeviceRemoved: {
      if (p.size() < 7) break;
      const auto it = entries_.find(mgmt::address_from_wire(p.first<6>()));
      if (it == entries_.end() || !up_) return;
      // After a link ends the kernel leaves the entry in place but stops reporting the
      // device: only remove + add brings the reports back. A removed entry is just added.
      if (event->code == mgmt::kEvDeviceDisconnected)
        remove_device(it->first, it->second.random_address);
      add_device(it->first, it->second.random_address);
      return;
    }
    case mgmt::kEvMonitorRemoved:
      if (p.size() < 2) break;
      if (mgmt::le16(&p[0]) == monitor_handle_ && monitor_handle_ != 0) {
        monitor_handle_ = 0;
        if (up_) add_monitor();
      }
      return;
    default:
      return;  // events we have no use for
  }
  ++stats_.malformed;
}

void AdvScanner::on_command_done(std::uint16_t opcode, std::uint8_t status,
                                 std::span<const std::uint8_t> reply) {
  const std::string hci = "hci" + std::to_string(index_);
  switch (opcode) {
    case mgmt::kOpReadInfo:
      if (status != mgmt::kStatusSuccess)
        return set_up(false, status == mgmt::kStatusInvalidIndex
                                 ? "there is no adapter " + hci
                                 : hci + ": " + mgmt::status_text(status));
      if (reply.size() < 16) return set_up(false, hci + ": short controller information");
      // address 6, version 1, manufacturer 2, supported settings 4, current settings 4
      return set_up(mgmt::le32(&reply[13]) & mgmt::kSettingPowered, hci + " is powered off");
    case mgmt::kOpReadMonitorFeatures: {
      if (!monitor_pending_) return;
      if (status != mgmt::kStatusSuccess || reply.size() < 4 ||
          (mgmt::le32(&reply[0]) & mgmt::kMonitorOffloadOrPatterns)) {
        monitor_pending_ = false;
        monitor_unusable_ = true;
        error_once(hci + ": no advertisement monitor (" +
                   (status != mgmt::kStatusSuccess
                        ? mgmt::status_text(status)
                        : std::string("the controller filters monitors itself")) +
                   "): the controller's duplicate filter may hide repeated advertisements");
        return;
      }
      // Without offload the kernel matches no pattern and reports every advertisement: any
      // valid pattern does. This one: manufacturer data starting with 00.
      const std::uint8_t zero = 0;
      send(mgmt::encode_add_patterns_monitor(index_, ad::kManufacturerData, 0, {&zero, 1}));
      return;
    }
    case mgmt::kOpAddPatternsMonitor:
      monitor_pending_ = false;
      if (status != mgmt::kStatusSuccess || reply.size() < 2) {
        monitor_unusable_ = true;
        error_once(hci + ": Add Advertisement Patterns Monitor: " + mgmt::status_text(status) +
                   ": the controller's duplicate filter may hide repeated advertisements");
        return;
      }
      monitor_handle_ = mgmt::le16(&reply[0]);
      if (entries_.empty() || !up_) {  // unsubscribed or went down meanwhile
        send(mgmt::encode_remove_monitor(index_, monitor_handle_));
        monitor_handle_ = 0;
      }
      return;
    case mgmt::kOpAddDevice:
      if (status != mgmt::kStatusSuccess) {
        const std::string who =
            reply.size() >= 6 ? " " + text(mgmt::address_from_wire(reply.first<6>())) : "";
        error_once(hci + ": Add Device" + who + ": " + mgmt::status_text(status));
      }
      return;
    default:
      return;  // Remove Device / Remove Monitor: nothing to do either way
  }
}

void AdvScanner::on_device_found(const std::optional<mgmt::DeviceFound>& found) {
  if (!found) {
    ++stats_.malformed;
    return;
  }
  ++stats_.reports;
  if (!found->le()) return;  // BR/EDR inquiry results
  if (on_heard_) on_heard_(found->address);
  auto it = entries_.find(found->address);
  if (it == entries_.end()) return;
  const AdvReport report{.address = it->first,
                         .random_address = found->random(),
                         .rssi_dbm = found->rssi_dbm(),
                         .data = found->data,
                         .received = batch_received_,
                         .received_steady = batch_received_steady_};
  // A handler may unsubscribe (itself or another) or subscribe (the table may rehash): walk
  // a copy of the ids, on the stack for the usual one or few, and look the entry up again
  // after each handler.
  constexpr std::size_t kOnStack = 4;
  const auto& subscribers = it->second.subscribers;
  std::array<SubscriptionId, kOnStack> few{};
  std::vector<SubscriptionId> many;
  std::span<const SubscriptionId> ids;
  if (subscribers.size() <= kOnStack) {
    for (std::size_t i = 0; i < subscribers.size(); ++i) few[i] = subscribers[i].id;
    ids = std::span<const SubscriptionId>(few.data(), subscribers.size());
  } else {
    for (const auto& s : subscribers) many.push_back(s.id);
    ids = many;
  }
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (k > 0 && (it = entries_.find(report.address)) == entries_.end()) return;
    for (auto& s : it->second.subscribers)
      if (s.id == ids[k]) {
        ++stats_.delivered;
        auto handler = s.on_report;  // survives its own unsubscribe
        handler(report);
        break;
      }
  }
}

}  // namespace bm6
