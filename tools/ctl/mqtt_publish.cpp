#include "tools/ctl/mqtt_publish.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport/unique_fd.h"

namespace bm6::ctl {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint8_t kConnect = 0x10, kConnack = 0x20, kPublish = 0x30, kPuback = 0x40,
                       kDisconnect = 0xe0;
constexpr std::uint8_t kQos1 = 0x02, kRetain = 0x01;

// A UTF-8 string as MQTT writes it: two bytes of length, big-endian, then the bytes.
bool put_string(std::string& out, const std::string& s) {
  if (s.size() > 0xffff) return false;
  out += static_cast<char>(s.size() >> 8);
  out += static_cast<char>(s.size() & 0xff);
  out += s;
  return true;
}

// The fixed header: the type and flags, then the remaining length, 7 bits a byte.
std::optional<std::string> packet(std::uint8_t first, const std::string& body) {
  if (body.size() > 268435455) return std::nullopt;  // the most four length bytes hold
  std::string out(1, static_cast<char>(first));
  std::size_t n = body.size();
  do {
    std::uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    out += static_cast<char>(b);
  } while (n > 0);
  return out + body;
}

struct Session {
  UniqueFd fd;
  Clock::time_point deadline;
  std::string peer;  // "host:port", for messages
  std::string error;
  std::string in;  // bytes read and not yet taken

  int ms_left() const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
  }
  bool fail(const std::string& what) {
    if (error.empty()) error = peer + ": " + what;
    return false;
  }
  bool wait(short events) {
    pollfd p{fd.get(), events, 0};
    const int n = ::poll(&p, 1, ms_left());
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return fail(n == 0 ? "no answer in time" : std::strerror(errno));
    return true;
  }
  bool send_all(const std::string& data);
  bool read_packet(std::uint8_t& first, std::string& body);
  bool connect_to(const MqttOptions& o);
};

bool Session::send_all(const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait(POLLOUT)) return false;
    } else {
      return fail(std::string("sending failed: ") + std::strerror(errno));
    }
  }
  return true;
}

bool Session::read_packet(std::uint8_t& first, std::string& body) {
  for (;;) {
    // A whole packet buffered: the type, up to four length bytes, the body.
    std::size_t length = 0, at = 1;
    bool complete_length = false;
    for (unsigned shift = 0; at < in.size() && at <= 4; ++at, shift += 7) {
      const auto b = static_cast<std::uint8_t>(in[at]);
      length |= static_cast<std::size_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        complete_length = true;
        ++at;
        break;
      }
    }
    if (!complete_length && in.size() > 5) return fail("a malformed packet from the broker");
    if (complete_length && in.size() >= at + length) {
      first = static_cast<std::uint8_t>(in[0]);
      body = in.substr(at, length);
      in.erase(0, at + length);
      return true;
    }
    if (!wait(POLLIN)) return false;
    char buf[512];
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) return fail("the broker closed the connection");
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return fail(std::string("receiving failed: ") + std::strerror(errno));
    if (n > 0) in.append(buf, static_cast<std::size_t>(n));
  }
}

// A TCP connection to the first of the host's addresses that answers in time.
bool Session::connect_to(const MqttOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(o.port);
  if (const int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return fail(std::string("cannot resolve the host: ") + ::gai_strerror(rc));
  std::string last = "no address";
  for (const addrinfo* a = found; a; a = a->ai_next) {
    fd.reset(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, ms_left()) == 1 &&
          ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
        break;
      last = err ? std::strerror(err) : "no answer in time";
    } else {
      last = std::strerror(errno);
    }
    fd.reset();
  }
  ::freeaddrinfo(found);
  if (!fd) return fail("cannot connect: " + last);
  return true;
}

}  // namespace

std::string connack_reason(unsigned code) {
  switch (code) {
    case 1:
      return "it does not speak MQTT 3.1.1";
    case 2:
      return "it rejected the client id";
    case 3:
      return "the MQTT service is unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorised";
    default:
      return "return code " + std::to_string(code);
  }
}

std::optional<std::string> mqtt_connect_packet(const MqttOptions& o) {
  std::string body;
  put_string(body, "MQTT");
  body += '\x04';             // protocol level: 3.1.1
  std::uint8_t flags = 0x02;  // clean session
  if (o.username) flags |= 0x80;
  if (o.username && o.password) flags |= 0x40;
  body += static_cast<char>(flags);
  body += std::string("\x00\x3c", 2);  // keep-alive 60 s: the session is far shorter
  if (!put_string(body, o.client_id)) return std::nullopt;
  if (o.username && !put_string(body, *o.username)) return std::nullopt;
  if (o.username && o.password && !put_string(body, *o.password)) return std::nullopt;
  return packet(kConnect, body);
}

std::optional<std::string> mqtt_publish_packet(const MqttMessage& m, std::uint16_t id) {
  std::string body;
  if (m.topic.empty() || !put_string(body, m.topic)) return std::nullopt;
  body += static_cast<char>(id >> 8);
  body += static_cast<char>(id & 0xff);
  body += m.payload;
  return packet(kPublish | kQos1 | (m.retain ? kRetain : 0), body);
}

MqttOutcome mqtt_publish(const MqttOptions& o, const std::vector<MqttMessage>& messages) {
  Session s;
  s.deadline = Clock::now() + o.timeout;
  s.peer = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
           std::to_string(o.port);
  MqttOutcome out;
  const auto failed = [&](MqttOutcome::Kind kind = MqttOutcome::Kind::kFailed) {
    out.kind = kind;
    out.error = s.error;
    return out;
  };
  const auto connect = mqtt_connect_packet(o);
  if (!connect) return s.fail("a client id, user name or password too long"), failed();
  if (!s.connect_to(o) || !s.send_all(*connect)) return failed();
  std::uint8_t first = 0;
  std::string body;
  if (!s.read_packet(first, body)) return failed();
  if (first != kConnack || body.size() != 2)
    return s.fail("answered CONNECT with no CONNACK"), failed();
  if (const unsigned code = static_cast<std::uint8_t>(body[1]); code != 0) {
    s.fail("the broker refused the connection: " + connack_reason(code));
    return failed(code == 4 || code == 5 ? MqttOutcome::Kind::kRefused
                                         : MqttOutcome::Kind::kFailed);
  }
  std::uint16_t id = 0;
  for (const auto& m : messages) {
    id = static_cast<std::uint16_t>(id % 0xffff + 1);  // 1-65535; 0 is not an identifier
    const auto publish = mqtt_publish_packet(m, id);
    if (!publish) return s.fail("topic \"" + m.topic + "\" is empty or too long"), failed();
    if (!s.send_all(*publish) || !s.read_packet(first, body)) return failed();
    if ((first & 0xf0) != kPuback || body.size() != 2 ||
        static_cast<std::uint16_t>(static_cast<std::uint8_t>(body[0]) << 8 |
                                   static_cast<std::uint8_t>(body[1])) != id)
      return s.fail("answered PUBLISH with no PUBACK for it"), failed();
    ++out.acked;
  }
  // A clean end: the broker then does not publish a will, and logs no lost client.
  if (!s.send_all(std::string{static_cast<char>(kDisconnect), '\0'})) return failed();
  return out;
}

}  // namespace bm6::ctl
