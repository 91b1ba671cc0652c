#include "tools/sim/bm6_peripheral.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "transport/address.h"

namespace bm6::sim {

namespace {

using att::Uuid;

const Uuid kTiOadService = *Uuid::parse("f000ffc0-0451-4000-b000-000000000000");
const Uuid kTiOadImage = *Uuid::parse("f000ffc1-0451-4000-b000-000000000000");

AttBearer::Options bearer_options(const SimDevice& device) {
  AttBearer::Options options;
  options.rx_mtu = device.mtu;
  return options;
}

// The live frame `device` sends now; one its model's frame cannot carry (a cycle swinging past
// a BM2's 40.95 V) is sent as the configured reading.
Block live_frame_of(const SimDevice& device) {
  const Reading now = reading_at(device, std::chrono::steady_clock::now() - device.epoch);
  const auto encoded = encode_live(device.model, now);
  return encoded ? *encoded : encode_live(device.model, device.reading).value();
}

}  // namespace

Reading reading_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed) {
  if (device.cycle.count() <= 0) return device.reading;
  const double phase = 2 * M_PI * std::chrono::duration<double>(elapsed).count() /
                       std::chrono::duration<double>(device.cycle).count();
  Reading r = device.reading;
  r.centivolts = static_cast<std::uint16_t>(std::max(0.0, r.centivolts + 40 * std::sin(phase)));
  r.soc_percent =
      static_cast<std::uint8_t>(std::clamp(r.soc_percent + 15 * std::sin(phase), 0.0, 100.0));
  r.state = std::cos(phase) > 0 ? State::kCharging : r.state;
  return r;
}

std::string gap_name(Family model) { return std::string(traits(model).advertised_names.front()); }

Bm6Database make_bm6_database(std::uint16_t first_handle, const std::string& name) {
  DatabaseBuilder b(first_handle);
  Bm6Database db;
  b.service(Uuid(0x1800));
  b.characteristic(Uuid(0x2a00), att::kPropRead,
                   std::vector<std::uint8_t>(name.begin(), name.end()));
  b.characteristic(Uuid(0x2a01), att::kPropRead, {0x00, 0x00});
  b.service(att::kGattService);
  db.service_changed = b.characteristic(att::kServiceChanged, att::kPropIndicate, {0, 0, 0, 0});
  db.service_changed_cccd = b.descriptor(att::kClientCharacteristicConfig, {0, 0}, true);
  b.service(kTiOadService);
  b.characteristic(kTiOadImage, att::kPropWriteWithoutResponse | att::kPropNotify, {}, true);
  b.descriptor(att::kClientCharacteristicConfig, {0, 0}, true);
  b.service(Uuid(0xfff0));
  b.characteristic(Uuid(0xfff1), att::kPropRead | att::kPropNotify, {0x00});
  b.descriptor(att::kClientCharacteristicConfig, {0, 0}, true);
  b.characteristic(Uuid(0xfff2), att::kPropRead | att::kPropWrite, {0x00}, true);
  db.command =
      b.characteristic(Uuid(0xfff3), att::kPropWrite | att::kPropWriteWithoutResponse, {}, true);
  db.data = b.characteristic(Uuid(0xfff4), att::kPropNotify, {});
  b.descriptor(att::kCharacteristicUserDescription, {'D', 'a', 't', 'a'}, false);
  db.data_cccd = b.descriptor(att::kClientCharacteristicConfig, {0, 0}, true);
  b.characteristic(Uuid(0xfff5), att::kPropRead, {0x01});
  db.attributes = b.take();
  return db;
}

// --- one connection ---

// --- the stored history ---

SimHistory::SimHistory(EventLoop& loop, const SimDevice& device) : device_(device), timer_(loop) {
  const auto now = std::chrono::steady_clock::now();
  const auto seed = std::min<std::size_t>(device.history_seed, kSimHistoryCapacity);
  for (std::size_t k = 0; k < seed; ++k)
    stored_.push_back(record_at(now - device.record_period * static_cast<std::int64_t>(k)));
  if (device.record_period.count() > 0) timer_.start(device.record_period, [this] { take(); });
}

HistoryRecord SimHistory::record_at(std::chrono::steady_clock::time_point t) const {
  const Reading r = reading_at(device_, t - device_.epoch);
  HistoryRecord h;
  h.centivolts = static_cast<std::uint16_t>(std::min<int>(r.centivolts, 0xfff));
  h.soc_percent = r.soc_percent;
  // Below 0 C the record's coding is not known: such a record says "unknown".
  if (r.temperature_c && *r.temperature_c >= 0) h.temperature_c = r.temperature_c;
  return h;
}

void SimHistory::take() {
  const HistoryRecord r = record_at(std::chrono::steady_clock::now());
  stored_.push_front(r);
  if (stored_.size() > kSimHistoryCapacity) stored_.pop_back();
  timer_.start(device_.record_period, [this] { take(); });
  if (observer_) observer_(r, std::chrono::system_clock::now());
}

std::vector<HistoryRecord> SimHistory::records() const {
  std::vector<HistoryRecord> out(stored_.begin(), stored_.end());
  for (std::size_t i = 0; i < out.size(); ++i) out[i].slot = static_cast<std::uint32_t>(i);
  return out;
}

// --- one connection ---

Bm6Peripheral::Bm6Peripheral(EventLoop& loop, UniqueFd conn, const SimDevice& device,
                             std::function<void()> on_closed, const SimHistory* history)
    : device_(device),
      history_(history),
      codec_(device.model),
      plan_(device.fault),
      on_closed_(std::move(on_closed)),
      db_(make_bm6_database(device.first_handle, gap_name(device.model))),
      server_(db_.attributes),
      bearer_(loop, std::move(conn), bearer_options(device)),
      stream_timer_(loop),
      late_answer_(loop),
      history_pause_(loop) {
  server_.set_write_hook([this](const GattAttribute& a, std::span<const std::uint8_t> value) {
    return on_write(a, value);
  });
  bearer_.set_request_handler([this](std::uint8_t opcode, std::span<const std::uint8_t> params) {
    on_request(opcode, params);
  });
  bearer_.set_command_handler([this](std::uint8_t opcode, std::span<const std::uint8_t> params) {
    if (plan_.answers_nothing()) return;
    if (plan_.ignores_pipelined() && pipelined(opcode, params)) {
      ++stats_.ignored_commands;
      return;
    }
    server_.command(opcode, params);
  });
  // Runs from the loop, never for a destroyed peripheral (the bearer goes with it).
  bearer_.set_closed_handler([this](const LinkError&) {
    stream_timer_.cancel();
    late_answer_.cancel();
    history_pause_.cancel();
    if (auto closed = std::move(on_closed_)) closed();  // may destroy this peripheral
  });
}

bool Bm6Peripheral::pipelined(std::uint8_t opcode, std::span<const std::uint8_t> params) const {
  if (opcode != att::kWriteCmd) return false;
  return late_answer_.armed() ||
         (params.size() >= 2 && att::get_le16(params.data()) == db_.data_cccd);
}

void Bm6Peripheral::close(const std::string& why) {
  stream_timer_.cancel();
  late_answer_.cancel();
  history_pause_.cancel();
  bearer_.close(why);
}

void Bm6Peripheral::on_request(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  if (plan_.answers_nothing()) return;  // the central's transaction times out
  ++stats_.requests;
  const auto delay = plan_.answer_delay();
  if (delay.count() > 0) {
    // The bearer keeps the request pending until then; a client that gave up has closed
    // the link, and the answer goes nowhere.
    late_answer_.start(
        delay, [this, opcode, copy = std::vector<std::uint8_t>(params.begin(), params.end())] {
          answer(opcode, copy);
        });
    return;
  }
  answer(opcode, params);
}

void Bm6Peripheral::answer(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  if (!bearer_.is_open()) return;
  if (opcode == att::kExchangeMtuReq) {
    if (plan_.drops_at(Step::kMtuExchange)) return close("fault: dropped at the MTU exchange");
    if (!att::decode_mtu(params)) {
      bearer_.respond_error(att::kInvalidPdu);
      return;
    }
    bearer_.respond(att::encode_mtu(att::kExchangeMtuRsp, bearer_.rx_mtu()));
    return;
  }
  if (opcode == att::kReadByGroupTypeReq || opcode == att::kFindByTypeValueReq) {
    if (plan_.drops_at(Step::kServiceDiscovery))
      return close("fault: dropped at service discovery");
    if (const std::uint8_t err = plan_.error_at(Step::kServiceDiscovery)) {
      bearer_.respond_error(err, params.size() >= 2 ? att::get_le16(params.data()) : 0);
      return;
    }
  }
  const bool cccd_write = opcode == att::kWriteReq && params.size() >= 2 &&
                          att::get_le16(params.data()) == db_.data_cccd;
  auto rsp = server_.answer(opcode, params, bearer_.mtu());
  const bool written = rsp[0] == att::kWriteRsp;
  bearer_.respond(std::move(rsp));
  if (cccd_write && written && notify_ && bearer_.is_open()) {
    after_cccd_enabled();
    if (!traits(device_.model).needs_request && bearer_.is_open()) start_stream();  // unasked
  }
}

std::uint8_t Bm6Peripheral::on_write(const GattAttribute& a, std::span<const std::uint8_t> value) {
  if (a.handle == db_.data_cccd) {
    if (const std::uint8_t err = plan_.error_at(Step::kCccdWrite)) return err;
    notify_ = (value[0] & 0x01) != 0;
    return 0;
  }
  if (a.handle == db_.command) {
    if (value.size() != 16) return att::kInvalidAttributeValueLength;
    if (const std::uint8_t err = plan_.error_at(Step::kCommandWrite)) return err;
    if (++stats_.commands == 1) stats_.setup_requests = stats_.requests;
    Block cipher{};
    std::copy(value.begin(), value.end(), cipher.begin());
    on_command(codec_.decrypt(cipher));
  }
  return 0;
}

void Bm6Peripheral::start_stream() {
  if (!device_.streams) return;
  // The first reading comes soon, then one every period.
  stream_timer_.start(std::min(device_.period, std::chrono::milliseconds(100)),
                      [this] { on_period(); });
}

void Bm6Peripheral::on_command(const Block& plaintext) {
  // A family that streams unasked (BM2) answers no command (its history request is not
  // simulated); BM6 and BM7 decrypt under their own key, so a request under another
  // family's key is unknown to them.
  if (!traits(device_.model).needs_request) return;
  switch (classify_command(plaintext)) {
    case CommandKind::kLiveData: {
      if (!device_.streams) return;
      ++stats_.live_requests;
      since_request_ = 0;
      // A replay's acknowledgement, if any, is in the capture.
      if (!device_.replay) notify(encode_acknowledgement());
      // A unit that streams on ignores the repeat (its pace stays); one that stopped starts.
      if (!stream_timer_.armed()) start_stream();
      return;
    }
    case CommandKind::kVersion:
      notify(encode_version(Bm6Version{{0x01, 0x08, 0x00, 0x05, 0x00}}));
      return;
    case CommandKind::kHistory:
      if (history_) answer_history(plaintext[7]);
      return;
    default:
      return;  // unknown commands: a real unit stays quiet too
  }
}

void Bm6Peripheral::answer_history(std::uint8_t pages) {
  ++stats_.history_requests;
  if (!notify_ || !bearer_.is_open()) return;
  SimHistoryAnswer answer = make_history_answer(history_->records(), pages, plan_.history_answer(),
                                                device_.model, live_frame_of(device_));
  if (answer.pause_at >= answer.blocks.size()) return send_history(answer.blocks);
  std::vector<Block> rest(answer.blocks.begin() + static_cast<std::ptrdiff_t>(answer.pause_at),
                          answer.blocks.end());
  answer.blocks.resize(answer.pause_at);
  send_history(answer.blocks);
  // Silent altogether, live stream included, then the rest and the stream again.
  const bool streaming = stream_timer_.armed();
  stream_timer_.cancel();
  history_pause_.start(kHistoryPauseLength, [this, rest = std::move(rest), streaming] {
    send_history(rest);
    if (streaming && bearer_.is_open()) start_stream();
  });
}

void Bm6Peripheral::send_history(std::span<const Block> blocks) {
  // As many 16-byte blocks per notification as the MTU carries, each encrypted on its own;
  // all queued at once.
  const std::size_t per = std::max<std::size_t>(1, (bearer_.mtu() - 3u) / 16u);
  for (std::size_t i = 0; i < blocks.size() && bearer_.is_open(); i += per) {
    std::vector<std::uint8_t> value;
    for (std::size_t j = i; j < std::min(blocks.size(), i + per); ++j) {
      const Block c = codec_.encrypt(blocks[j]);
      value.insert(value.end(), c.begin(), c.end());
    }
    ++stats_.history_notifications;
    bearer_.send_notification(db_.data, value);
  }
}

void Bm6Peripheral::replay_period() {
  const auto& frames = *device_.replay;
  const ReplayFrame& frame = frames[replay_next_];
  replay_next_ = (replay_next_ + 1) % frames.size();
  const ReplayFrame& next = frames[replay_next_];
  if (notify_ && bearer_.is_open()) {
    ++stats_.frames_sent;
    bearer_.send_notification(db_.data, frame.value);
  }
  // The capture's own step, bounded (a capture spanning a night need not be waited out).
  std::chrono::milliseconds step = device_.period;
  if (!device_.period_given && replay_next_ != 0 && frame.t && next.t && *next.t >= *frame.t)
    step = std::chrono::milliseconds(
        std::clamp<long long>(std::llround((*next.t - *frame.t) * 1000), 10, 60000));
  if (bearer_.is_open()) stream_timer_.start(step, [this] { on_period(); });
}

void Bm6Peripheral::on_period() {
  if (device_.replay) return replay_period();
  // The CLI keeps readings within what the model's frame carries; one that is not (a cycle
  // swinging past a BM2's 40.95 V) is sent as the configured reading.
  const Reading now = reading_at(device_, std::chrono::steady_clock::now() - device_.epoch);
  const auto encoded = encode_live(device_.model, now);
  const Block frame = encoded ? *encoded : encode_live(device_.model, device_.reading).value();
  ++ticks_;
  switch (plan_.at_tick(ticks_)) {
    case TickAction::kDrop:
      return close("fault: dropped mid-stream");
    case TickAction::kIndicateChange:
      indicate_service_changed();
      notify(frame);
      break;
    case TickAction::kFlood:
      for (int i = 0; i < FaultPlan::kFloodBurst; ++i) notify(frame);
      break;
    case TickAction::kGarbage:
      send_garbage(FaultPlan::garbage_kind(ticks_), frame);
      break;
    case TickAction::kFrame:
      notify(frame);
      break;
  }
  // --stop-after: silent after that many periods, until the request comes again.
  if (device_.stop_after != 0 && ++since_request_ >= device_.stop_after) return;
  if (bearer_.is_open())
    stream_timer_.start(plan_.stream_period(device_.period), [this] { on_period(); });
}

void Bm6Peripheral::send_garbage(Garbage kind, const Block& frame) {
  const Block cipher = codec_.encrypt(frame);
  switch (kind) {
    case Garbage::kRandomBytes: {
      std::vector<std::uint8_t> junk(16);
      for (auto& b : junk) b = static_cast<std::uint8_t>(std::rand());
      bearer_.send_notification(db_.data, junk);
      return;
    }
    case Garbage::kShort:
      bearer_.send_notification(db_.data, std::span<const std::uint8_t>(cipher.data(), 15));
      return;
    case Garbage::kImpossibleValue: {
      Block bad = frame;
      bad[6] = 150;
      notify(bad);
      return;
    }
    case Garbage::kOtherHandle:
      bearer_.send_notification(static_cast<std::uint16_t>(db_.data - 9), cipher);
      return;
    case Garbage::kAcknowledgement:
      notify(encode_acknowledgement());
      return;
    case Garbage::kAllZero:
      notify(encode_live(device_.model, {0, 0, 0, State::kNormal}).value());
      return;
  }
}

void Bm6Peripheral::after_cccd_enabled() {
  if (plan_.drops_at(Step::kCccdEnabled)) return close("fault: dropped after the CCCD write");
  if (!plan_.sends_peer_requests()) return;
  // A peripheral may ask things of its central too; every request needs its answer (the
  // bearer sends them one at a time, each after the previous one's answer).
  bearer_.send_request(att::encode_mtu(att::kExchangeMtuReq, device_.mtu), nullptr);
  bearer_.send_request({att::kReadReq, 0x01, 0x00}, nullptr);
  bearer_.send_request({0x3f, 0x00}, nullptr);  // a request nobody knows
  const std::vector<std::uint8_t> value{0x01};
  bearer_.send_indication(static_cast<std::uint16_t>(db_.data - 9), value);
}

void Bm6Peripheral::notify(const Block& plaintext) {
  if (!notify_ || !bearer_.is_open()) return;
  const Block cipher = codec_.encrypt(plaintext);
  ++stats_.frames_sent;
  bearer_.send_notification(db_.data, cipher);
}

void Bm6Peripheral::indicate_service_changed() {
  std::vector<std::uint8_t> range;
  att::put_le16(range, 0x0001);
  att::put_le16(range, 0xffff);
  bearer_.send_indication(db_.service_changed, range);
}

// --- the listening socket ---

namespace {
constexpr int kBacklog = 64;
}  // namespace

Bm6SimServer::Bm6SimServer(EventLoop& loop, std::string path, SimDevice device)
    : loop_(loop),
      path_(std::move(path)),
      device_(device),
      unix_(path_, kBacklog),
      history_(loop, device) {
  listen_fd_ = unix_.fd();
  watch_listener();
}

Bm6SimServer::Bm6SimServer(EventLoop& loop, UniqueFd listening, std::string name, SimDevice device)
    : loop_(loop),
      path_(std::move(name)),
      device_(device),
      listen_(std::move(listening)),
      history_(loop, device) {
  listen_fd_ = listen_.get();
  watch_listener();
}

void Bm6SimServer::watch_listener() {
  if (!loop_.watch(listen_fd_, EPOLLIN, [this](std::uint32_t) { on_accept(); }))
    throw std::system_error(errno, std::generic_category(), "epoll_ctl " + path_);
}

Bm6SimServer::~Bm6SimServer() {
  if (tally_) tally_->remove(this);
  peripheral_.reset();
  for (auto& [fd, conn] : held_) loop_.unwatch(fd);
  held_.clear();
  if (listen_fd_ >= 0) loop_.unwatch(listen_fd_);
}

UniqueFd listen_l2cap(const std::string& adapter) {
  const auto parsed = AdapterId::parse(adapter);
  const int id = parsed ? parsed->index() : -1;
  if (id < 0) throw std::system_error(ENODEV, std::generic_category(), "no adapter " + adapter);
  bdaddr_t local{};
  if (::hci_devba(id, &local) != 0)
    throw std::system_error(errno, std::generic_category(), "adapter " + adapter + " is not up");
  UniqueFd fd(::socket(AF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, BTPROTO_L2CAP));
  if (!fd) throw std::system_error(errno, std::generic_category(), "L2CAP socket");
  sockaddr_l2 addr{};
  addr.l2_family = AF_BLUETOOTH;
  addr.l2_cid = htobs(4);  // ATT
  addr.l2_bdaddr_type = BDADDR_LE_PUBLIC;
  bacpy(&addr.l2_bdaddr, &local);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::system_error(errno, std::generic_category(), "bind L2CAP ATT on " + adapter);
  if (::listen(fd.get(), 4) != 0)
    throw std::system_error(errno, std::generic_category(), "listen L2CAP ATT on " + adapter);
  return fd;
}

void Bm6SimServer::on_accept() {
  const auto self = self_.ref();
  for (;;) {
    UniqueFd conn(::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) return;
    ++attempts_;
    if (device_.fault == Fault::kNeverAccept && attempts_ <= device_.fault_connections) {
      ++never_answered_;
      hold(std::move(conn));
      tell("never answered");
      if (!self.alive()) return;
      continue;
    }
    if (peripheral_ || !in_range_ ||
        busy_at(device_, std::chrono::steady_clock::now() - device_.epoch)) {
      if (!peripheral_ && in_range_) ++busy_refusals_;  // the phone holds it
      ++turned_away_;
      tell("turned away");
      if (!self.alive()) return;
      continue;  // closed by UniqueFd: one central at a time
    }
    ++connections_;
    SimDevice device = device_;
    if (device.fault == Fault::kNeverAccept || connections_ > device.fault_connections)
      device.fault = Fault::kNone;
    // A firmware update between connections: every handle moves.
    if (device_.fault == Fault::kFirmwareUpdate)
      device.first_handle = static_cast<std::uint16_t>(1 + 3 * (connections_ - 1));
    // A BM2's history protocol is not simulated: it ignores the request.
    peripheral_ = std::make_unique<Bm6Peripheral>(
        loop_, std::move(conn), device,
        [this, self = self_.ref()] {
          if (!self.alive()) return;
          last_link_ = peripheral_->stats_now();
          peripheral_.reset();
          tell("disconnected");
        },
        traits(device.model).has_history ? &history_ : nullptr);
    tell("connected");
    if (!self.alive()) return;
  }
}

bool busy_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed) {
  if (device.busy_period.count() <= 0) return false;
  return elapsed % device.busy_period < device.busy_duration;
}

bool Bm6SimServer::link_up() const {
  if (!peripheral_ || !peripheral_->bearer().is_open()) return false;
  pollfd p{peripheral_->bearer().fd(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void Bm6SimServer::set_tally(LinkTally* tally) {
  tally_ = tally;
  if (tally_) tally_->add(this);
}

void LinkTally::remove(const Bm6SimServer* server) { std::erase(servers_, server); }

unsigned LinkTally::count() {
  unsigned n = 0;
  for (const auto* s : servers_) n += s->link_up() ? 1 : 0;
  max_ = std::max(max_, n);
  return n;
}

void Bm6SimServer::set_in_range(bool in_range) {
  if (in_range == in_range_) return;
  in_range_ = in_range;
  if (!in_range_ && peripheral_) peripheral_->drop("out of range");
  if (unix_.fd() < 0) return;  // L2CAP: turned away (on_accept)
  if (in_range_)
    unplug_backlog();
  else
    plug_backlog();
}

void Bm6SimServer::plug_backlog() {
  loop_.unwatch(listen_fd_);
  // Room for one connection nobody accepts: ours. A central's connect then finds the
  // backlog full (EAGAIN) until it gives up, as a radio's connect to a monitor out of range.
  ::listen(listen_fd_, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  const std::string& path = unix_.path();
  if (path.size() >= sizeof sun.sun_path) return;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  for (int attempt = 0; attempt < 8 && !plug_; ++attempt) {
    // Centrals waiting already are turned away, as the link of one that had come up drops.
    while (UniqueFd conn{::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)})
      ++turned_away_;
    UniqueFd plug(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (plug && ::connect(plug.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0)
      plug_ = std::move(plug);  // else a central came first: turn it away, try again
  }
}

void Bm6SimServer::unplug_backlog() {
  if (plug_) {
    UniqueFd ours(::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    plug_.reset();
  }
  ::listen(listen_fd_, kBacklog);
  watch_listener();
}

void Bm6SimServer::hold(UniqueFd conn) {
  const int fd = conn.get();
  if (!loop_.watch(fd, EPOLLIN, [this, fd](std::uint32_t) { on_held_event(fd); })) return;
  held_.emplace(fd, std::move(conn));
}

void Bm6SimServer::on_held_event(int fd) {
  // Whatever the central sends goes unanswered; the link closes when it gives up.
  std::uint8_t buf[att::kMaxMtu + 1];
  for (int i = 0; i < 32; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    loop_.unwatch(fd);  // hung up, or the link failed
    held_.erase(fd);
    return;
  }
}

}  // namespace bm6::sim
