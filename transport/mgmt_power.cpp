#include "transport/mgmt_power.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace bm6 {

MgmtPowerCycle::MgmtPowerCycle(EventLoop& loop, std::uint16_t index, UniqueFd control, Done done,
                               std::chrono::milliseconds timeout)
    : loop_(loop),
      index_(index),
      fd_(std::move(control)),
      done_(std::move(done)),
      timeout_(timeout),
      deadline_(loop) {}

MgmtPowerCycle::~MgmtPowerCycle() {
  deadline_.cancel();
  if (watched_) loop_.unwatch(fd_.get());
}

void MgmtPowerCycle::start() {
  if (!fd_) return fail_later("no management socket");
  if (!loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); }))
    return fail_later(std::string("watching the management socket: ") + std::strerror(errno));
  watched_ = true;
  send_powered(false);
}

void MgmtPowerCycle::fail_later(const std::string& detail) {
  // `done` never runs inside start(): its caller may still be using the object.
  loop_.post([this, self = self_.ref(), detail] {
    if (self.alive()) finish(false, detail);
  });
}

void MgmtPowerCycle::send_powered(bool on) {
  const auto packet = mgmt::encode_set_powered(index_, on);
  if (::send(fd_.get(), packet.data(), packet.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
      static_cast<ssize_t>(packet.size()))
    return fail_later(std::string("Set Powered: ") + std::strerror(errno));
  deadline_.start(timeout_, [this, on] {
    finish(false, std::string("Set Powered ") + (on ? "on" : "off") + ": no answer");
  });
}

void MgmtPowerCycle::on_readable() {
  const auto self = self_.ref();
  std::uint8_t buf[512];
  // Every management event reaches this socket (Device Found of any scan among them):
  // read what is there, act on our answers only.
  for (int i = 0; i < 64 && self.alive() && !finished_; ++i) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return finish(false, "the management socket closed");
    const auto reply = mgmt::decode_command_reply({buf, static_cast<std::size_t>(n)});
    if (!reply || reply->index != index_ || reply->opcode != mgmt::kOpSetPowered) continue;
    const char* step = powering_on_ ? "Set Powered on" : "Set Powered off";
    if (reply->status != 0)
      return finish(false, std::string(step) + ": " + mgmt::status_text(reply->status));
    if (!powering_on_) {
      powering_on_ = true;
      send_powered(true);
      continue;
    }
    // Command Complete carries Current_Settings (4 octets) after opcode and status.
    const bool powered =
        reply->data.size() >= 4 && (mgmt::le32(reply->data.data()) & mgmt::kSettingPowered) != 0;
    return finish(powered, powered ? "" : "Set Powered on: the controller stayed off");
  }
}

void MgmtPowerCycle::finish(bool ok, const std::string& detail) {
  if (finished_) return;
  finished_ = true;
  deadline_.cancel();
  if (watched_) loop_.unwatch(fd_.get());
  watched_ = false;
  fd_.reset();
  auto done = std::move(done_);
  if (done) done(ok, detail);  // may destroy this
}

}  // namespace bm6
