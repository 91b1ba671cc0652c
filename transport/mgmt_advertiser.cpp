#include "transport/mgmt_advertiser.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bm6 {

namespace {
// What a status usually means for Add Advertising in particular.
const char* advertising_hint(std::uint8_t status) {
  switch (status) {
    case mgmt::kStatusNoResources:
      return " (too many advertising instances)";
    case mgmt::kStatusInvalidParameters:
      return " (data too long?)";
    default:
      return "";
  }
}
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
    if (reply->status == mgmt::kStatusBusy) continue;
    problem("Add Advertising on hci" + std::to_string(options_.index) + ": " +
            mgmt::status_text(reply->status) + advertising_hint(reply->status));
    if (!self.alive()) return;
  }
}

void MgmtAdvertiser::problem(const std::string& text) {
  if (reported_) return;
  reported_ = true;
  if (on_problem_) on_problem_(text);
}

}  // namespace bm6
