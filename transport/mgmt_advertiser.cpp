#include "transport/mgmt_advertiser.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bm6 {

namespace mgmt {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

namespace {

void put_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}

std::vector<std::uint8_t> header(std::uint16_t opcode, std::uint16_t index, std::size_t length) {
  std::vector<std::uint8_t> p;
  p.reserve(6 + length);
  put_le16(p, opcode);
  put_le16(p, index);
  put_le16(p, static_cast<std::uint16_t>(length));
  return p;
}
}  // namespace

std::optional<std::vector<std::uint8_t>> encode_add_advertising(std::uint16_t index,
                                                                const AdvertisingInstance& i) {
  if (i.adv_data.size() > 255 || i.scan_rsp.size() > 255) return std::nullopt;
  // Instance, Flags (4), Duration (2), Timeout (2), Adv_Data_Len, Scan_Rsp_Len, the data.
  auto p = header(kOpAddAdvertising, index, 11 + i.adv_data.size() + i.scan_rsp.size());
  p.push_back(i.id);
  for (int shift = 0; shift < 32; shift += 8)
    p.push_back(static_cast<std::uint8_t>(i.flags >> shift));
  put_le16(p, 0);  // duration: the kernel's default rotation between instances (2 s)
  put_le16(p, i.timeout_s);
  p.push_back(static_cast<std::uint8_t>(i.adv_data.size()));
  p.push_back(static_cast<std::uint8_t>(i.scan_rsp.size()));
  p.insert(p.end(), i.adv_data.begin(), i.adv_data.end());
  p.insert(p.end(), i.scan_rsp.begin(), i.scan_rsp.end());
  return p;
}

std::vector<std::uint8_t> encode_remove_advertising(std::uint16_t index, std::uint8_t instance) {
  auto p = header(kOpRemoveAdvertising, index, 1);
  p.push_back(instance);
  return p;
}

std::optional<CommandReply> decode_command_reply(std::span<const std::uint8_t> packet) {
  if (packet.size() < 9) return std::nullopt;  // header and opcode + status
  const std::uint16_t event = le16(packet.data());
  if (event != kEvCommandComplete && event != kEvCommandStatus) return std::nullopt;
  if (6u + le16(packet.data() + 4) > packet.size()) return std::nullopt;
  return CommandReply{le16(packet.data() + 2), le16(packet.data() + 6), packet[8]};
}

std::string status_text(std::uint8_t status) {
  switch (status) {
    case 0x00:
      return "success";
    case 0x01:
      return "unknown command (kernel too old)";
    case 0x03:
      return "failed";
    case 0x07:
      return "no resources (too many advertising instances)";
    case 0x0a:
      return "busy";
    case 0x0b:
      return "rejected (LE off, or the adapter powered off)";
    case 0x0c:
      return "not supported by the adapter";
    case 0x0d:
      return "invalid parameters (data too long?)";
    case 0x11:
      return "invalid index (no such adapter)";
    case 0x14:
      return "permission denied";
    default:
      return "error status " + std::to_string(status);
  }
}

}  // namespace mgmt

namespace {
constexpr std::uint8_t kStatusBusy = 0x0a;
}  // namespace

MgmtAdvertiser::MgmtAdvertiser(EventLoop& loop, UniqueFd control, Options options, Source source,
                               ProblemHandler on_problem)
    : loop_(loop),
      fd_(std::move(control)),
      options_(options),
      source_(std::move(source)),
      on_problem_(std::move(on_problem)),
      refresh_(loop) {
  // The socket hears every management event (every Device Found of a scan, too): drain it.
  if (fd_ && !loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); }))
    fd_.reset();
}

MgmtAdvertiser::~MgmtAdvertiser() {
  refresh_.cancel();
  on_problem_ = nullptr;  // nothing is told from a destructor
  // The kernel handles a management command while it is written: no reply to wait for.
  remove_all();
  if (fd_) loop_.unwatch(fd_.get());
}

void MgmtAdvertiser::start() {
  if (started_) return;
  started_ = true;
  add_all();
}

void MgmtAdvertiser::stop() {
  if (!started_) return;
  started_ = false;
  refresh_.cancel();
  remove_all();
}

void MgmtAdvertiser::add_all() {
  const auto self = self_.ref();
  std::vector<std::uint8_t> now;
  for (const auto& instance : source_()) {
    const auto packet = mgmt::encode_add_advertising(options_.index, instance);
    if (!packet) {
      problem("advertising instance " + std::to_string(instance.id) + ": data over 255 bytes");
      if (!self.alive()) return;
      continue;
    }
    send(*packet, "Add Advertising");
    if (!self.alive()) return;
    now.push_back(instance.id);
  }
  // Instances the source no longer gives are removed.
  for (const std::uint8_t id : added_)
    if (std::find(now.begin(), now.end(), id) == now.end())
      send(mgmt::encode_remove_advertising(options_.index, id), "Remove Advertising");
  added_ = std::move(now);
  if (started_ && options_.refresh.count() > 0)
    refresh_.start(options_.refresh, [this] { add_all(); });
}

void MgmtAdvertiser::remove_all() {
  for (const std::uint8_t id : added_)
    send(mgmt::encode_remove_advertising(options_.index, id), "Remove Advertising");
  added_.clear();
}

void MgmtAdvertiser::send(const std::vector<std::uint8_t>& packet, const char* what) {
  if (mgmt::le16(packet.data()) == mgmt::kOpAddAdvertising)
    ++stats_.adds_sent;
  else
    ++stats_.removes_sent;
  if (!fd_) {
    ++stats_.failures;
    problem(std::string(what) + ": no management socket (it could not be watched, or closed)");
    return;
  }
  // MSG_NOSIGNAL: a peer that went (a test's) is an error here, not a SIGPIPE; the kernel's
  // management socket accepts it.
  if (::send(fd_.get(), packet.data(), packet.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
      static_cast<ssize_t>(packet.size())) {
    ++stats_.failures;
    problem(std::string(what) + ": " + std::strerror(errno));
  }
}

void MgmtAdvertiser::on_readable() {
  const auto self = self_.ref();
  std::uint8_t buf[1024];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The management socket went away (a test's peer hung up): nothing more to read.
      loop_.unwatch(fd_.get());
      fd_.reset();
      return;
    }
    const auto reply = mgmt::decode_command_reply({buf, static_cast<std::size_t>(n)});
    if (!reply || reply->index != options_.index) continue;
    if (reply->opcode != mgmt::kOpAddAdvertising && reply->opcode != mgmt::kOpRemoveAdvertising)
      continue;
    if (reply->status == 0) {
      if (reply->opcode == mgmt::kOpAddAdvertising) reported_ = false;
      continue;
    }
    ++stats_.failures;
    // A Remove that fails found the instance gone already (bluetoothd removes them all
    // when it starts): nothing to tell.
    if (reply->opcode == mgmt::kOpRemoveAdvertising) continue;
    // Busy: the controller refused for the moment (seen while a central's link was being
    // set up); the next refresh tries again.
    if (reply->status == kStatusBusy) continue;
    problem("Add Advertising on hci" + std::to_string(options_.index) + ": " +
            mgmt::status_text(reply->status));
    if (!self.alive()) return;
  }
}

void MgmtAdvertiser::problem(const std::string& text) {
  if (reported_) return;
  reported_ = true;
  if (on_problem_) on_problem_(text);
}

}  // namespace bm6
