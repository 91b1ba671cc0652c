// Tests only, never installed: an LD_PRELOAD stand-in for the kernel's Bluetooth management
// socket in the real collectd, so that public advertisements can reach bm6.so's passive mode.
// No radio can replay them: their encrypted block carries the original unit's address,
// which a virtual controller cannot take. The VM real-stack test covers the real mgmt path.
//
// socket(AF_BLUETOOTH, SOCK_RAW, BTPROTO_HCI) returns one end of a socketpair; bound to
// HCI_CHANNEL_CONTROL it is served by a thread playing a powered hci0
// (fake_mgmt_kernel.c), which, once a device is added, sends each advertisement of the
// capture in BM6_SHIM_CAPTURE as a Device Found, in order, round and round, one every
// BM6_SHIM_PERIOD seconds (default 0.2). Bound to another channel it becomes a real socket.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "shim/fake_mgmt_kernel.h"
#include "tools/capture/capture_file.h"

namespace {

struct Advertisement {
  std::uint8_t wire[6];  // least significant byte first
  std::int8_t rssi;
  std::vector<std::uint8_t> ad;
};

struct Socket {
  int plugin = -1, kernel = -1;
  ino_t inode = 0;  // the plugin end's: a number the plugin closed and got again is not it
  int type = 0;
  bool bound = false, scanning = false;
};

constexpr int kMaxSockets = 16;
// Plain data only: nothing here is destroyed at exit while the thread may still run.
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
Socket sockets[kMaxSockets];
bool thread_started = false;

bool parse_address(const std::string& text, std::uint8_t wire[6]) {
  unsigned b[6];
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4],
                  &b[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) wire[i] = static_cast<std::uint8_t>(b[5 - i]);
  return true;
}

std::vector<Advertisement> nothing_to_send(const std::string& why) {
  std::fprintf(stderr, "bm6_mgmt_shim: %s: no advertisement is sent\n", why.c_str());
  return {};
}

// The capture's advertisements as the kernel would report them: "data" as given, else Flags
// and each manufacturer data field. Errors go to collectd's stderr; then nothing is sent.
std::vector<Advertisement> load_capture() {
  const char* path = std::getenv("BM6_SHIM_CAPTURE");
  if (!path) return nothing_to_send("BM6_SHIM_CAPTURE is not set");
  const auto parsed = bm6::capture::read_capture(path);
  if (const auto* error = std::get_if<std::string>(&parsed)) return nothing_to_send(*error);
  const auto& capture = std::get<bm6::capture::Capture>(parsed);
  std::vector<Advertisement> out;
  for (const auto& r : capture.records) {
    if (r.type != bm6::capture::Record::Type::kAdvertisement) continue;
    Advertisement a{{}, static_cast<std::int8_t>(r.rssi.value_or(-70)), {}};
    if (!parse_address(r.address.value_or(capture.address.value_or("")), a.wire))
      return nothing_to_send("line " + std::to_string(r.line) + ": no address");
    if (r.data) {
      a.ad = *r.data;
    } else {
      a.ad = {0x02, 0x01, 0x06};
      for (const auto& field : r.manufacturer_data) {
        a.ad.push_back(static_cast<std::uint8_t>(field.size() + 1));
        a.ad.push_back(0xff);
        a.ad.insert(a.ad.end(), field.begin(), field.end());
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

void note_scanning(std::uint16_t opcode, const std::uint8_t*, std::size_t, void* socket) {
  if (opcode == kFakeMgmtOpAddDevice) static_cast<Socket*>(socket)->scanning = true;
}

// Answers each bound socket's commands; a socket the plugin closed is closed here too.
void serve_commands() {
  pthread_mutex_lock(&lock);
  for (auto& s : sockets) {
    if (!s.bound) continue;
    pollfd p{s.kernel, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) continue;
    if (p.revents & POLLIN) fake_mgmt_answer(s.kernel, note_scanning, &s);
    if (p.revents & (POLLHUP | POLLERR)) {
      ::close(s.kernel);
      s = Socket{};
    }
  }
  pthread_mutex_unlock(&lock);
}

void* kernel_thread(void*) {
  const auto& adverts = *new std::vector<Advertisement>(load_capture());  // never freed
  const char* period_text = std::getenv("BM6_SHIM_PERIOD");
  const auto period = std::chrono::duration<double>(period_text ? std::atof(period_text) : 0.2);
  auto next = std::chrono::steady_clock::now();
  for (std::size_t i = 0;;) {
    ::usleep(10000);
    serve_commands();
    if (adverts.empty() || std::chrono::steady_clock::now() < next) continue;
    next = std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    const Advertisement& a = adverts[i++ % adverts.size()];
    pthread_mutex_lock(&lock);
    for (const auto& s : sockets)
      if (s.bound && s.scanning)
        fake_mgmt_device_found(s.kernel, a.wire, a.rssi, a.ad.data(), a.ad.size());
    pthread_mutex_unlock(&lock);
  }
  return nullptr;
}

template <typename Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int socket(int domain, int type, int protocol) {
  static const auto real_socket = real<int (*)(int, int, int)>("socket");
  if (domain != kFakeMgmtPfBluetooth || protocol != kFakeMgmtBtprotoHci || (type & 0xf) != SOCK_RAW)
    return real_socket(domain, type, protocol);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0, sv) != 0)
    return -1;
  pthread_mutex_lock(&lock);
  for (auto& s : sockets)
    if (s.plugin == sv[0]) {  // closed by the plugin before it was bound: that number is reused
      ::close(s.kernel);
      s = Socket{};
    }
  struct stat st {};
  ::fstat(sv[0], &st);
  for (auto& s : sockets)
    if (s.plugin < 0) {
      s = Socket{sv[0], sv[1], st.st_ino, type, false, false};
      pthread_mutex_unlock(&lock);
      return sv[0];
    }
  pthread_mutex_unlock(&lock);
  ::close(sv[0]);
  ::close(sv[1]);
  return real_socket(domain, type, protocol);
}

// sockaddr_hci: family, device, channel (16 bits each).
extern "C" __attribute__((visibility("default"))) int bind(int fd, const sockaddr* addr,
                                                           socklen_t len) {
  static const auto real_bind = real<int (*)(int, const sockaddr*, socklen_t)>("bind");
  static const auto real_socket = real<int (*)(int, int, int)>("socket");
  struct stat st {};
  const bool ours = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  pthread_mutex_lock(&lock);
  for (auto& s : sockets) {
    if (!ours || s.plugin != fd || s.inode != st.st_ino || s.bound) continue;
    std::uint16_t hci[3] = {};
    if (len >= sizeof hci) __builtin_memcpy(hci, addr, sizeof hci);
    if (hci[2] == kFakeMgmtChannelControl) {
      s.bound = true;
      pthread_t thread;
      if (!thread_started && pthread_create(&thread, nullptr, kernel_thread, nullptr) == 0) {
        pthread_detach(thread);
        thread_started = true;
      }
      pthread_mutex_unlock(&lock);
      return 0;
    }
    // Not the management channel: the real socket after all, under the same number.
    const int type = s.type;
    ::close(s.kernel);
    s = Socket{};
    pthread_mutex_unlock(&lock);
    const int real_fd = real_socket(kFakeMgmtPfBluetooth, type, kFakeMgmtBtprotoHci);
    if (real_fd < 0) return -1;
    const int moved = ::dup3(real_fd, fd, (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0);
    ::close(real_fd);
    return moved < 0 ? -1 : real_bind(fd, addr, len);
  }
  pthread_mutex_unlock(&lock);
  return real_bind(fd, addr, len);
}
