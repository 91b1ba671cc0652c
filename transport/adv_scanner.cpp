#include "transport/adv_scanner.h"
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
// mgmt commands (BlueZ doc/mgmt-api.txt)
constexpr std::uint16_t kOpReadInfo = 0x0004;
constexpr std::uint16_t kOpAddDevice = 0x0033;
constexpr std::uint16_t kOpRemoveDevice = 0x0034;
constexpr std::uint16_t kOpReadMonitorFeatures = 0x0051;
constexpr std::uint16_t kOpAddPatternsMonitor = 0x0052;
constexpr std::uint16_t kOpRemoveMonitor = 0x0053;
// mgmt events
constexpr std::uint16_t kEvCommandComplete = 0x0001;
constexpr std::uint16_t kEvCommandStatus = 0x0002;
constexpr std::uint16_t kEvIndexAdded = 0x0004;
constexpr std::uint16_t kEvIndexRemoved = 0x0005;
constexpr std::uint16_t kEvNewSettings = 0x0006;
constexpr std::uint16_t kEvDeviceDisconnected = 0x000c;
constexpr std::uint16_t kEvDeviceFound = 0x0012;
constexpr std::uint16_t kEvDeviceRemoved = 0x001b;
constexpr std::uint16_t kEvMonitorRemoved = 0x0029;
constexpr std::uint16_t kEvMonitorDeviceFound = 0x002f;

constexpr std::uint8_t kLePublic = 1, kLeRandom = 2;  // mgmt address types
constexpr std::uint8_t kActionBackgroundScan = 0x00;
constexpr std::uint32_t kSettingPowered = 1u << 0;
constexpr std::uint32_t kMonitorOffloadOrPatterns = 1u << 0;  // supported_features
constexpr std::uint8_t kStatusInvalidIndex = 0x11;
constexpr std::size_t kHeader = 6;
constexpr std::size_t kDeviceFoundFixed = 14;  // address 6, type 1, rssi 1, flags 4, length 2

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0] | p[1] << 8 | p[2] << 16 | std::uint32_t(p[3]) << 24);
}

// mgmt carries addresses least significant byte first.
BdAddr from_wire(const std::uint8_t* p) {
  BdAddr a{};
  std::reverse_copy(p, p + 6, a.begin());
  return a;
}
void to_wire(const BdAddr& a, std::uint8_t* p) { std::reverse_copy(a.begin(), a.end(), p); }

std::string text(const BdAddr& a) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02X:%02X:%02X:%02X:%02X:%02X", a[0], a[1], a[2], a[3], a[4],
                a[5]);
  return buf;
}

const char* status_text(std::uint8_t status) {
  switch (status) {
    case 0x01:
      return "unknown command (kernel too old)";
    case 0x03:
      return "failed";
    case 0x07:
      return "no resources";
    case 0x0a:
      return "busy";
    case 0x0c:
      return "not supported";
    case 0x0d:
      return "invalid parameters";
    case 0x0f:
      return "adapter powered off";
    case kStatusInvalidIndex:
      return "no such adapter";
    case 0x14:
      return "permission denied";
    default:
      return "failed";
  }
}

const char* op_name(std::uint16_t op) {
  switch (op) {
    case kOpAddDevice:
      return "Add Device";
    case kOpRemoveDevice:
      return "Remove Device";
    case kOpReadMonitorFeatures:
      return "Read Advertisement Monitor Features";
    case kOpAddPatternsMonitor:
      return "Add Advertisement Patterns Monitor";
    case kOpRemoveMonitor:
      return "Remove Advertisement Monitor";
    default:
      return "Read Controller Information";
  }
}
}  // namespace

// Up to kBatch events per recvmmsg(): fewer back means the socket is drained (no second
// call ending in EAGAIN); a busy one is served kBatch * kBatchesPerWakeup at a time.
struct AdvScanner::Batch {
  static constexpr unsigned kBatch = 16;
  std::array<std::array<std::uint8_t, 4096>, kBatch> buffers;  // an extended report fits
  std::array<iovec, kBatch> iov;
  std::array<mmsghdr, kBatch> messages;
  Batch() {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {buffers[i].data(), buffers[i].size()};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
  }
};

AdvScanner::AdvScanner(EventLoop& loop, int adapter_index, StatusHandler on_status, OpenSocket open)
    : loop_(loop),
      index_(adapter_index),
      on_status_(std::move(on_status)),
      open_(std::move(open)) {}

AdvScanner::~AdvScanner() {
  if (!fd_) return;
  // Entries outlive the process that added them: leave the kernel as we found it.
  for (const auto& [address, entry] : entries_) {
    if (remove_device(address, entry.random_address))
      recorded_.erase({address, entry.random_address});
  }
  save_record();
  if (monitor_handle_ != 0) {
    const std::uint8_t p[2] = {static_cast<std::uint8_t>(monitor_handle_),
                               static_cast<std::uint8_t>(monitor_handle_ >> 8)};
    send(kOpRemoveMonitor, p);
  }
  loop_.unwatch(fd_.get());
}

UniqueFd AdvScanner::open_mgmt_socket(std::string& error) {
  return mgmt::open_control_socket(error,
                                   "passive mode needs CAP_NET_ADMIN (the kernel's Bluetooth "
                                   "management interface); collectd runs as root by default");
}

void AdvScanner::start() {
  if (fd_) return;
  std::string error;
  UniqueFd fd = open_(error);
  if (!fd) return error_once("hci" + std::to_string(index_) + ": " + error);
  if (!loop_.watch(fd.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); }))
    return error_once(std::string("watching the mgmt socket: ") + std::strerror(errno));
  fd_ = std::move(fd);
  remove_stale_registrations();
  send(kOpReadInfo, {});
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
    const std::uint8_t p[2] = {static_cast<std::uint8_t>(monitor_handle_),
                               static_cast<std::uint8_t>(monitor_handle_ >> 8)};
    send(kOpRemoveMonitor, p);
    monitor_handle_ = 0;
  }
}

bool AdvScanner::send(std::uint16_t opcode, std::span<const std::uint8_t> params) {
  std::uint8_t pkt[kHeader + 64];
  if (!fd_ || params.size() > sizeof pkt - kHeader) return false;
  pkt[0] = static_cast<std::uint8_t>(opcode);
  pkt[1] = static_cast<std::uint8_t>(opcode >> 8);
  pkt[2] = static_cast<std::uint8_t>(index_);
  pkt[3] = static_cast<std::uint8_t>(index_ >> 8);
  pkt[4] = static_cast<std::uint8_t>(params.size());
  pkt[5] = 0;
  std::copy(params.begin(), params.end(), pkt + kHeader);
  ++stats_.commands;
  loop_.note_syscalls();
  const auto n = ::send(fd_.get(), pkt, kHeader + params.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(kHeader + params.size())) return true;
  error_once(std::string(op_name(opcode)) + " could not be sent: " + std::strerror(errno));
  return false;
}

void AdvScanner::add_device(const BdAddr& address, bool random_address) {
  std::uint8_t p[8];
  to_wire(address, p);
  p[6] = random_address ? kLeRandom : kLePublic;
  p[7] = kActionBackgroundScan;
  send(kOpAddDevice, p);
}

bool AdvScanner::remove_device(const BdAddr& address, bool random_address) {
  std::uint8_t p[7];
  to_wire(address, p);
  p[6] = random_address ? kLeRandom : kLePublic;
  return send(kOpRemoveDevice, p);
}

void AdvScanner::add_monitor() {
  if (monitor_unusable_ || monitor_pending_ || monitor_handle_ != 0 || entries_.empty()) return;
  monitor_pending_ = true;
  send(kOpReadMonitorFeatures, {});  // the answer decides whether the monitor is added
}

void AdvScanner::register_all() {
  if (!record_path_.empty()) {  // one write for them all
    const std::size_t before = recorded_.size();
    for (const auto& [address, entry] : entries_) recorded_.insert({address, entry.random_address});
    if (recorded_.size() != before) save_record();
  }
  for (const auto& [address, entry] : entries_) add_device(address, entry.random_address);
  add_monitor();
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
    const int n = ::recvmmsg(fd_.get(), batch_->messages.data(), Batch::kBatch,
                             MSG_DONTWAIT | MSG_TRUNC, nullptr);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        error_once(std::string("reading the mgmt socket: ") + std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      const mmsghdr& m = batch_->messages[static_cast<std::size_t>(i)];
      ++stats_.events;
      // MSG_TRUNC: msg_len is the event's real size; a cut one is not parsed.
      if (m.msg_len == 0 || m.msg_len > batch_->buffers[0].size() ||
          (m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        ++stats_.malformed;
        continue;
      }
      handle({batch_->buffers[static_cast<std::size_t>(i)].data(), m.msg_len});
      if (!fd_) return;
    }
    if (n < static_cast<int>(Batch::kBatch)) return;
  }
}

void AdvScanner::handle(std::span<const std::uint8_t> pkt) {
  if (pkt.size() < kHeader || kHeader + le16(&pkt[4]) != pkt.size()) {
    ++stats_.malformed;
    return;
  }
  const std::uint16_t event = le16(&pkt[0]);
  if (le16(&pkt[2]) != index_) return;  // another adapter's, or the no-index ones
  const auto p = pkt.subspan(kHeader);
  const std::string hci = "hci" + std::to_string(index_);
  switch (event) {
    case kEvCommandComplete:
    case kEvCommandStatus:
      if (p.size() < 3) break;
      on_command_done(le16(&p[0]), p[2], p.subspan(3));
      return;
    case kEvDeviceFound:
      return on_device_found(p);
    case kEvMonitorDeviceFound:
      if (p.size() < 2) break;
      return on_device_found(p.subspan(2));  // the monitor handle, then Device Found's fields
    case kEvIndexAdded:
      send(kOpReadInfo, {});
      return;
    case kEvIndexRemoved:
      monitor_handle_ = 0;  // gone with the adapter, like the entries
      return set_up(false, hci + " was removed");
    case kEvNewSettings: {
      if (p.size() < 4) break;
      const bool powered = le32(&p[0]) & kSettingPowered;
      if (powered != up_) set_up(powered, hci + " was powered off");
      return;
    }
    case kEvDeviceDisconnected:
    case kEvDeviceRemoved: {
      if (p.size() < 7) break;
      const auto it = entries_.find(from_wire(p.data()));
      if (it == entries_.end() || !up_) return;
      // After a link ends the kernel leaves the entry in place but stops reporting the
      // device: only remove + add brings the reports back. A removed entry is just added.
      if (event == kEvDeviceDisconnected) remove_device(it->first, it->second.random_address);
      add_device(it->first, it->second.random_address);
      return;
    }
    case kEvMonitorRemoved:
      if (p.size() < 2) break;
      if (le16(&p[0]) == monitor_handle_ && monitor_handle_ != 0) {
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
    case kOpReadInfo:
      if (status != 0)
        return set_up(false, status == kStatusInvalidIndex ? "there is no adapter " + hci
                                                           : hci + ": " + status_text(status));
      if (reply.size() < 16) return set_up(false, hci + ": short controller information");
      // address 6, version 1, manufacturer 2, supported settings 4, current settings 4
      return set_up(le32(&reply[13]) & kSettingPowered, hci + " is powered off");
    case kOpReadMonitorFeatures: {
      if (!monitor_pending_) return;
      if (status != 0 || reply.size() < 4 || (le32(&reply[0]) & kMonitorOffloadOrPatterns)) {
        monitor_pending_ = false;
        monitor_unusable_ = true;
        error_once(hci + ": no advertisement monitor (" +
                   (status != 0 ? std::string(status_text(status))
                                : std::string("the controller filters monitors itself")) +
                   "): the controller's duplicate filter may hide repeated advertisements");
        return;
      }
      // Without offload the kernel matches no pattern and reports every advertisement: any
      // valid pattern does. This one: manufacturer data (AD type 0xff) starting with 00.
      std::uint8_t p[1 + 3 + 31] = {};
      p[0] = 1;     // one pattern
      p[1] = 0xff;  // AD type
      p[2] = 0;     // offset
      p[3] = 1;     // length
      send(kOpAddPatternsMonitor, p);
      return;
    }
    case kOpAddPatternsMonitor:
      monitor_pending_ = false;
      if (status != 0 || reply.size() < 2) {
        monitor_unusable_ = true;
        error_once(hci + ": Add Advertisement Patterns Monitor: " + status_text(status) +
                   ": the controller's duplicate filter may hide repeated advertisements");
        return;
      }
      monitor_handle_ = le16(&reply[0]);
      if (entries_.empty() || !up_) {  // unsubscribed or went down meanwhile
        const std::uint8_t p[2] = {reply[0], reply[1]};
        send(kOpRemoveMonitor, p);
        monitor_handle_ = 0;
      }
      return;
    case kOpAddDevice:
      if (status != 0) {
        const std::string who = reply.size() >= 6 ? " " + text(from_wire(reply.data())) : "";
        error_once(hci + ": Add Device" + who + ": " + status_text(status));
      }
      return;
    default:
      return;  // Remove Device / Remove Monitor: nothing to do either way
  }
}

void AdvScanner::on_device_found(std::span<const std::uint8_t> p) {
  if (p.size() < kDeviceFoundFixed || kDeviceFoundFixed + le16(&p[12]) != p.size()) {
    ++stats_.malformed;
    return;
  }
  ++stats_.reports;
  if (p[6] != kLePublic && p[6] != kLeRandom) return;  // BR/EDR inquiry results
  if (on_heard_) on_heard_(from_wire(p.data()));
  const auto it = entries_.find(from_wire(p.data()));
  if (it == entries_.end()) return;
  AdvReport report;
  report.address = it->first;
  report.random_address = p[6] == kLeRandom;
  const auto rssi = static_cast<std::int8_t>(p[7]);
  if (rssi != 127) report.rssi_dbm = rssi;
  report.data = p.subspan(kDeviceFoundFixed);
  report.received = std::chrono::system_clock::now();
  // A handler may unsubscribe (itself or another): walk a copy of the ids.
  std::vector<SubscriptionId> ids;
  for (const auto& s : it->second.subscribers) ids.push_back(s.id);
  for (const auto id : ids) {
    const auto e = entries_.find(report.address);
    if (e == entries_.end()) return;
    for (auto& s : e->second.subscribers)
      if (s.id == id) {
        ++stats_.delivered;
        auto handler = s.on_report;  // survives its own unsubscribe
        handler(report);
        break;
      }
  }
}

}  // namespace bm6
