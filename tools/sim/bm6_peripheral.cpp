#include "tools/sim/bm6_peripheral.h"

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace bm6::sim {

namespace {

using att::Uuid;

std::vector<std::uint8_t> uuid_bytes(const Uuid& u) {
  std::vector<std::uint8_t> out;
  u.append_wire(out);
  return out;
}

const Uuid kTiOadService = *Uuid::parse("f000ffc0-0451-4000-b000-000000000000");
const Uuid kTiOadImage = *Uuid::parse("f000ffc1-0451-4000-b000-000000000000");

class DatabaseBuilder {
 public:
  void service(const Uuid& uuid) { add(att::kPrimaryService, uuid_bytes(uuid)); }
  // Declaration plus value; returns the value handle.
  std::uint16_t characteristic(const Uuid& uuid, std::uint8_t props,
                               std::vector<std::uint8_t> value, bool writable = false) {
    const std::uint16_t value_handle = static_cast<std::uint16_t>(next_ + 1);
    std::vector<std::uint8_t> decl{props};
    att::put_le16(decl, value_handle);
    uuid.append_wire(decl);
    add(att::kCharacteristic, decl);
    add(uuid, std::move(value), (props & att::kPropRead) != 0, writable);
    return value_handle;
  }
  std::uint16_t descriptor(const Uuid& uuid, std::vector<std::uint8_t> value, bool writable) {
    return add(uuid, std::move(value), true, writable);
  }
  std::vector<GattAttribute> take() { return std::move(attrs_); }

 private:
  std::uint16_t add(const Uuid& type, std::vector<std::uint8_t> value, bool readable = true,
                    bool writable = false) {
    attrs_.push_back({next_, type, std::move(value), readable, writable});
    return next_++;
  }
  std::uint16_t next_ = 1;
  std::vector<GattAttribute> attrs_;

 public:
  explicit DatabaseBuilder(std::uint16_t first) : next_(first) {}
};

}  // namespace

Bm6Reading reading_at(const SimDevice& device, std::chrono::steady_clock::duration elapsed) {
  if (device.cycle.count() <= 0) return device.reading;
  const double phase = 2 * M_PI * std::chrono::duration<double>(elapsed).count() /
                       std::chrono::duration<double>(device.cycle).count();
  Bm6Reading r = device.reading;
  r.centivolts = static_cast<std::uint16_t>(std::max(0.0, r.centivolts + 40 * std::sin(phase)));
  r.soc_percent =
      static_cast<std::uint8_t>(std::clamp(r.soc_percent + 15 * std::sin(phase), 0.0, 100.0));
  r.state = std::cos(phase) > 0 ? Bm6State::kCharging : r.state;
  return r;
}

const char* to_string(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kDropAtMtu:
      return "drop-at-mtu";
    case Fault::kDropAtDiscovery:
      return "drop-at-discovery";
    case Fault::kDropAfterCccd:
      return "drop-after-cccd";
    case Fault::kDropMidStream:
      return "drop-mid-stream";
    case Fault::kSilent:
      return "silent";
    case Fault::kGarbage:
      return "garbage";
    case Fault::kErrorDiscovery:
      return "error-discovery";
    case Fault::kErrorCccd:
      return "error-cccd";
    case Fault::kErrorCommand:
      return "error-command";
    case Fault::kPeerRequests:
      return "peer-requests";
    case Fault::kFirmwareUpdate:
      return "firmware-update";
    case Fault::kFlood:
      return "flood";
    case Fault::kLate:
      return "late";
    case Fault::kNeverAccept:
      return "never-accept";
  }
  return "?";
}

bool parse_fault(const std::string& name, Fault& fault) {
  for (int f = 0; f <= static_cast<int>(Fault::kNeverAccept); ++f) {
    if (name == to_string(static_cast<Fault>(f))) {
      fault = static_cast<Fault>(f);
      return true;
    }
  }
  return false;
}

Bm6Database make_bm6_database(std::uint16_t first_handle) {
  DatabaseBuilder b(first_handle);
  Bm6Database db;
  b.service(Uuid(0x1800));
  b.characteristic(Uuid(0x2a00), att::kPropRead, {'B', 'M', '6'});
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

Bm6Peripheral::Bm6Peripheral(EventLoop& loop, UniqueFd conn, Bm6Codec& codec,
                             const SimDevice& device, std::function<void()> on_closed)
    : loop_(loop),
      fd_(std::move(conn)),
      codec_(codec),
      device_(device),
      on_closed_(std::move(on_closed)),
      db_(make_bm6_database(device.first_handle)) {
  if (!loop_.watch(fd_.get(), EPOLLIN, [this](std::uint32_t ev) { on_events(ev); }))
    throw std::system_error(errno, std::generic_category(), "epoll_ctl simulator connection");
}

Bm6Peripheral::~Bm6Peripheral() {
  if (stream_timer_ != 0) loop_.cancel_timer(stream_timer_);
  if (fd_) loop_.unwatch(fd_.get());
}

void Bm6Peripheral::close() {
  if (!fd_) return;
  if (stream_timer_ != 0) loop_.cancel_timer(stream_timer_);
  stream_timer_ = 0;
  loop_.unwatch(fd_.get());
  fd_.reset();
  std::weak_ptr<int> alive = alive_;
  loop_.post([this, alive] {
    if (alive.expired() || !on_closed_) return;
    auto on_closed = std::move(on_closed_);  // it may destroy this peripheral
    on_closed();
  });
}

void Bm6Peripheral::on_events(std::uint32_t events) {
  if (events & EPOLLIN) {
    std::uint8_t buf[att::kMaxMtu + 1];
    for (int i = 0; i < 32 && fd_; ++i) {
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) return close();
      handle({buf, static_cast<std::size_t>(n)});
    }
  }
  if (!fd_) return;
  if (events & (EPOLLERR | EPOLLHUP)) return close();
  if (events & EPOLLOUT) flush();
}

void Bm6Peripheral::send(std::vector<std::uint8_t> pdu) {
  if (!fd_) return;
  out_.push_back(std::move(pdu));
  flush();
}

void Bm6Peripheral::flush() {
  while (fd_ && !out_.empty()) {
    const auto& pdu = out_.front();
    const ssize_t n = ::send(fd_.get(), pdu.data(), pdu.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return close();
    out_.pop_front();
  }
  if (!fd_) return;
  const bool want = !out_.empty();
  if (want != want_write_) {
    want_write_ = want;
    loop_.modify(fd_.get(), want ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
  }
}

const GattAttribute* Bm6Peripheral::find(std::uint16_t handle) const {
  for (const auto& a : db_.attributes)
    if (a.handle == handle) return &a;
  return nullptr;
}

std::uint16_t Bm6Peripheral::group_end(std::size_t index) const {
  for (std::size_t i = index + 1; i < db_.attributes.size(); ++i)
    if (db_.attributes[i].type == att::kPrimaryService)
      return static_cast<std::uint16_t>(db_.attributes[i].handle - 1);
  return 0xffff;
}

void Bm6Peripheral::handle(std::span<const std::uint8_t> pdu) {
  const auto view = att::split(pdu);
  if (!view || device_.fault == Fault::kSilent) return;
  switch (att::classify(view->opcode)) {
    case att::PduKind::kRequest:
      ++stats_.requests;
      if (device_.fault == Fault::kLate) {
        std::vector<std::uint8_t> params(view->params.begin(), view->params.end());
        std::weak_ptr<int> alive = alive_;
        loop_.add_timer(std::chrono::milliseconds(1500),
                        [this, alive, opcode = view->opcode, params = std::move(params)] {
                          if (!alive.expired() && fd_) answer(opcode, params);
                        });
        return;
      }
      answer(view->opcode, view->params);
      return;
    case att::PduKind::kCommand:
      if (view->opcode == att::kWriteCmd) {
        if (const auto hv = att::decode_handle_value(view->params)) write(hv->handle, hv->value);
      }
      return;
    default:
      return;  // confirmations, and anything a client should not send us
  }
}

void Bm6Peripheral::answer(std::uint8_t opcode, std::span<const std::uint8_t> params) {
  switch (opcode) {
    case att::kExchangeMtuReq: {
      if (device_.fault == Fault::kDropAtMtu) return close();
      const auto mtu = att::decode_mtu(params);
      if (!mtu) return send(att::encode_error_rsp(opcode, 0, att::kInvalidPdu));
      send(att::encode_mtu(att::kExchangeMtuRsp, device_.mtu));
      mtu_ = std::max(att::kDefaultMtu, std::min(*mtu, device_.mtu));
      return;
    }
    case att::kReadByGroupTypeReq:
      return read_by_group_type(params);
    case att::kReadByTypeReq:
      return read_by_type(params);
    case att::kFindInformationReq:
      return find_information(params);
    case att::kFindByTypeValueReq:
      return find_by_type_value(params);
    case att::kReadReq:
      return read(params);
    case att::kWriteReq: {
      const auto hv = att::decode_handle_value(params);
      if (!hv) return send(att::encode_error_rsp(opcode, 0, att::kInvalidPdu));
      const std::uint8_t err = write(hv->handle, hv->value);
      if (err != 0) return send(att::encode_error_rsp(opcode, hv->handle, err));
      send(att::encode_empty(att::kWriteRsp));
      if (hv->handle == db_.data_cccd && notify_) after_cccd_enabled();
      return;
    }
    default:
      return send(att::encode_error_rsp(opcode, 0, att::kRequestNotSupported));
  }
}

void Bm6Peripheral::read_by_group_type(std::span<const std::uint8_t> params) {
  const auto req = att::decode_read_by_type_req(params);
  if (!req) return send(att::encode_error_rsp(att::kReadByGroupTypeReq, 0, att::kInvalidPdu));
  if (!(req->type == att::kPrimaryService))
    return send(att::encode_error_rsp(att::kReadByGroupTypeReq, req->range.start,
                                      att::kUnsupportedGroupType));
  std::vector<std::uint8_t> out{att::kReadByGroupTypeRsp, 0};
  std::size_t entry_len = 0;
  for (std::size_t i = 0; i < db_.attributes.size(); ++i) {
    const auto& a = db_.attributes[i];
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    if (!(a.type == att::kPrimaryService)) continue;
    const std::size_t len = 4 + a.value.size();
    if (entry_len == 0) entry_len = len;
    if (len != entry_len || out.size() + len > mtu_) break;  // one UUID size per response
    att::put_le16(out, a.handle);
    att::put_le16(out, group_end(i));
    out.insert(out.end(), a.value.begin(), a.value.end());
  }
  if (entry_len == 0)
    return send(
        att::encode_error_rsp(att::kReadByGroupTypeReq, req->range.start, att::kAttributeNotFound));
  out[1] = static_cast<std::uint8_t>(entry_len);
  send(std::move(out));
}

void Bm6Peripheral::read_by_type(std::span<const std::uint8_t> params) {
  const auto req = att::decode_read_by_type_req(params);
  if (!req) return send(att::encode_error_rsp(att::kReadByTypeReq, 0, att::kInvalidPdu));
  std::vector<std::uint8_t> out{att::kReadByTypeRsp, 0};
  std::size_t entry_len = 0;
  for (const auto& a : db_.attributes) {
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    if (!(a.type == *req->type)) continue;
    const std::size_t value_len = std::min<std::size_t>(a.value.size(), mtu_ - 4u);
    const std::size_t len = 2 + value_len;
    if (entry_len == 0) entry_len = len;
    if (len != entry_len || out.size() + len > mtu_) break;
    att::put_le16(out, a.handle);
    out.insert(out.end(), a.value.begin(), a.value.begin() + static_cast<long>(value_len));
  }
  if (entry_len == 0)
    return send(
        att::encode_error_rsp(att::kReadByTypeReq, req->range.start, att::kAttributeNotFound));
  out[1] = static_cast<std::uint8_t>(entry_len);
  send(std::move(out));
}

void Bm6Peripheral::find_information(std::span<const std::uint8_t> params) {
  const auto req = att::decode_find_information_req(params);
  if (!req) return send(att::encode_error_rsp(att::kFindInformationReq, 0, att::kInvalidPdu));
  std::vector<std::uint8_t> out{att::kFindInformationRsp, 0};
  std::size_t uuid_len = 0;
  for (const auto& a : db_.attributes) {
    if (a.handle < req->range.start || a.handle > req->range.end) continue;
    const std::size_t len = a.type.wire_size();
    if (uuid_len == 0) uuid_len = len;
    if (len != uuid_len || out.size() + 2 + len > mtu_) break;
    att::put_le16(out, a.handle);
    a.type.append_wire(out);
  }
  if (uuid_len == 0)
    return send(
        att::encode_error_rsp(att::kFindInformationReq, req->range.start, att::kAttributeNotFound));
  out[1] = uuid_len == 2 ? 0x01 : 0x02;
  send(std::move(out));
}

void Bm6Peripheral::find_by_type_value(std::span<const std::uint8_t> params) {
  if (params.size() < 6)
    return send(att::encode_error_rsp(att::kFindByTypeValueReq, 0, att::kInvalidPdu));
  const std::uint16_t start = att::get_le16(&params[0]);
  const std::uint16_t end = att::get_le16(&params[2]);
  const std::uint16_t type = att::get_le16(&params[4]);
  const auto value = params.subspan(6);
  if (start == 0 || start > end)
    return send(att::encode_error_rsp(att::kFindByTypeValueReq, start, att::kInvalidHandle));
  std::vector<std::uint8_t> out{att::kFindByTypeValueRsp};
  for (std::size_t i = 0; i < db_.attributes.size(); ++i) {
    const auto& a = db_.attributes[i];
    if (a.handle < start || a.handle > end || !(a.type == Uuid(type))) continue;
    if (!std::equal(a.value.begin(), a.value.end(), value.begin(), value.end())) continue;
    if (out.size() + 4 > mtu_) break;
    att::put_le16(out, a.handle);
    att::put_le16(out, a.type == att::kPrimaryService ? group_end(i) : a.handle);
  }
  if (out.size() == 1)
    return send(att::encode_error_rsp(att::kFindByTypeValueReq, start, att::kAttributeNotFound));
  send(std::move(out));
}

void Bm6Peripheral::read(std::span<const std::uint8_t> params) {
  if (params.size() != 2) return send(att::encode_error_rsp(att::kReadReq, 0, att::kInvalidPdu));
  const std::uint16_t handle = att::get_le16(params.data());
  const GattAttribute* a = find(handle);
  if (!a) return send(att::encode_error_rsp(att::kReadReq, handle, att::kInvalidHandle));
  if (!a->readable)
    return send(att::encode_error_rsp(att::kReadReq, handle, att::kReadNotPermitted));
  std::vector<std::uint8_t> out{att::kReadRsp};
  out.insert(
      out.end(), a->value.begin(),
      a->value.begin() + static_cast<long>(std::min<std::size_t>(a->value.size(), mtu_ - 1u)));
  send(std::move(out));
}

std::uint8_t Bm6Peripheral::write(std::uint16_t handle, std::span<const std::uint8_t> value) {
  auto it = std::find_if(db_.attributes.begin(), db_.attributes.end(),
                         [handle](const GattAttribute& a) { return a.handle == handle; });
  if (it == db_.attributes.end()) return att::kInvalidHandle;
  if (!it->writable) return att::kWriteNotPermitted;
  if (it->type == att::kClientCharacteristicConfig) {
    if (value.size() != 2) return att::kInvalidAttributeValueLength;
    if (handle == db_.data_cccd && device_.fault == Fault::kErrorCccd)
      return att::kWriteNotPermitted;
    it->value.assign(value.begin(), value.end());
    if (handle == db_.data_cccd) notify_ = (value[0] & 0x01) != 0;
    return 0;
  }
  if (handle == db_.command) {
    if (value.size() != 16) return att::kInvalidAttributeValueLength;
    if (device_.fault == Fault::kErrorCommand) return att::kUnlikelyError;
    ++stats_.commands;
    Block cipher{};
    std::copy(value.begin(), value.end(), cipher.begin());
    on_command(codec_.decrypt(cipher));
    return 0;
  }
  it->value.assign(value.begin(), value.end());
  return 0;
}

void Bm6Peripheral::on_command(const Block& plaintext) {
  switch (classify_command(plaintext)) {
    case CommandKind::kLiveData: {
      if (!device_.streams) return;
      notify(encode_acknowledgement());
      if (stream_timer_ != 0) loop_.cancel_timer(stream_timer_);
      // The first reading comes soon after the request, then one every period.
      auto tick = std::make_shared<std::function<void()>>();
      *tick = [this, weak_tick = std::weak_ptr<std::function<void()>>(tick)] {
        const auto next =
            device_.fault == Fault::kFlood ? std::chrono::milliseconds(10) : device_.period;
        on_period();
        if (!fd_) return;
        if (auto t = weak_tick.lock()) stream_timer_ = loop_.add_timer(next, *t);
      };
      stream_tick_ = tick;
      stream_timer_ =
          loop_.add_timer(std::min(device_.period, std::chrono::milliseconds(100)), *tick);
      return;
    }
    case CommandKind::kVersion:
      notify(encode_version(Bm6Version{{0x01, 0x08, 0x00, 0x05, 0x00}}));
      return;
    default:
      return;  // history and unknown commands: a real unit stays quiet too
  }
}

void Bm6Peripheral::on_period() {
  const Block frame =
      encode_live_frame(reading_at(device_, std::chrono::steady_clock::now() - device_.epoch));
  ++ticks_;
  switch (device_.fault) {
    case Fault::kDropMidStream:
      if (ticks_ > 3) return close();
      break;
    case Fault::kFirmwareUpdate:
      if (ticks_ == 3) indicate_service_changed();
      break;
    case Fault::kFlood:
      for (int i = 0; i < 50; ++i) notify(frame);  // 5,000 frames a second
      return;
    case Fault::kGarbage: {
      // Every other period a real frame; in between, one kind of garbage after another.
      if (ticks_ % 2 == 1) break;
      const Block cipher = codec_.encrypt(frame);
      switch ((ticks_ / 2) % 6) {
        case 0: {  // random bytes of the right length
          std::vector<std::uint8_t> junk(16);
          for (auto& b : junk) b = static_cast<std::uint8_t>(std::rand());
          send(att::encode_handle_value(att::kHandleValueNotification, db_.data, junk));
          return;
        }
        case 1:  // one byte short
          send(att::encode_handle_value(att::kHandleValueNotification, db_.data,
                                        std::span<const std::uint8_t>(cipher.data(), 15)));
          return;
        case 2: {  // well encrypted, impossible state of charge
          Block bad = frame;
          bad[6] = 150;
          notify(bad);
          return;
        }
        case 3:  // a real frame, on another characteristic's handle
          send(att::encode_handle_value(att::kHandleValueNotification,
                                        static_cast<std::uint16_t>(db_.data - 9), cipher));
          return;
        case 4:
          notify(encode_acknowledgement());
          return;
        default: {
          Block zero = encode_live_frame({0, 0, 0, Bm6State::kNormal});
          notify(zero);
          return;
        }
      }
    }
    default:
      break;
  }
  notify(frame);
}

void Bm6Peripheral::after_cccd_enabled() {
  if (device_.fault == Fault::kDropAfterCccd) return close();
  if (device_.fault != Fault::kPeerRequests) return;
  // A peripheral may ask things of its central too; every request needs its answer.
  send(att::encode_mtu(att::kExchangeMtuReq, device_.mtu));
  send({att::kReadReq, 0x01, 0x00});
  send({0x3f, 0x00});  // a request nobody knows
  std::vector<std::uint8_t> value{0x01};
  send(att::encode_handle_value(att::kHandleValueIndication,
                                static_cast<std::uint16_t>(db_.data - 9), value));
}

void Bm6Peripheral::notify(const Block& plaintext) {
  if (!notify_ || !fd_) return;
  const Block cipher = codec_.encrypt(plaintext);
  ++stats_.frames_sent;
  send(att::encode_handle_value(att::kHandleValueNotification, db_.data, cipher));
}

void Bm6Peripheral::indicate_service_changed() {
  std::vector<std::uint8_t> range;
  att::put_le16(range, 0x0001);
  att::put_le16(range, 0xffff);
  send(att::encode_handle_value(att::kHandleValueIndication, db_.service_changed, range));
}

Bm6SimServer::Bm6SimServer(EventLoop& loop, std::string path, SimDevice device)
    : loop_(loop), path_(std::move(path)), device_(device) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path_.size() >= sizeof sun.sun_path)
    throw std::system_error(ENAMETOOLONG, std::generic_category(), path_);
  std::memcpy(sun.sun_path, path_.c_str(), path_.size() + 1);
  listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_) throw std::system_error(errno, std::generic_category(), "socket");
  ::unlink(path_.c_str());  // a stale socket from an earlier run
  if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0)
    throw std::system_error(errno, std::generic_category(), "bind " + path_);
  unlink_path_ = true;
  if (::listen(listen_.get(), 64) != 0)
    throw std::system_error(errno, std::generic_category(), "listen " + path_);
  if (device_.fault == Fault::kNeverAccept) return;  // centrals queue up, unanswered
  if (!loop_.watch(listen_.get(), EPOLLIN, [this](std::uint32_t) { on_accept(); }))
    throw std::system_error(errno, std::generic_category(), "epoll_ctl " + path_);
}

Bm6SimServer::Bm6SimServer(EventLoop& loop, UniqueFd listening, std::string name, SimDevice device)
    : loop_(loop), path_(std::move(name)), device_(device), listen_(std::move(listening)) {
  if (!loop_.watch(listen_.get(), EPOLLIN, [this](std::uint32_t) { on_accept(); }))
    throw std::system_error(errno, std::generic_category(), "epoll_ctl " + path_);
}

UniqueFd listen_l2cap(const std::string& adapter) {
  const int id = ::hci_devid(adapter.c_str());
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

Bm6SimServer::~Bm6SimServer() {
  peripheral_.reset();
  if (listen_) {
    loop_.unwatch(listen_.get());
    if (unlink_path_) ::unlink(path_.c_str());
  }
}

void Bm6SimServer::on_accept() {
  for (;;) {
    UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) return;
    if (peripheral_) {
      ++turned_away_;
      if (observer_) observer_("turned away");
      continue;  // closed by UniqueFd: one central at a time
    }
    ++connections_;
    SimDevice device = device_;
    if (connections_ > device.fault_connections) device.fault = Fault::kNone;
    // A firmware update between connections: every handle moves.
    if (device_.fault == Fault::kFirmwareUpdate)
      device.first_handle = static_cast<std::uint16_t>(1 + 3 * (connections_ - 1));
    std::weak_ptr<int> alive = alive_;
    peripheral_ =
        std::make_unique<Bm6Peripheral>(loop_, std::move(conn), codec_, device, [this, alive] {
          if (alive.expired()) return;
          peripheral_.reset();
          if (observer_) observer_("disconnected");
        });
    if (observer_) observer_("connected");
  }
}

}  // namespace bm6::sim
