// Hostile-peer benchmark: what a peer that floods the link costs the plugin's I/O thread.
// One device (the plugin's Bm6Device: link, bearer, reconnect backoff) connects to a peer
// in another thread that sets up like a BM6 and then sends PDUs as fast as the socket takes
// them: random notifications on the data handle, indications, or Exchange MTU requests
// (each of which needs an answer). Reports the I/O thread's CPU over the run, as a share of
// one core, and how the links ended, with the flood guard on (the default) and off.
//   bm6-bench-hostile [--seconds S]
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "device/bm6_engine.h"
#include "tests/scripted_bm6.h"

namespace {

using namespace std::chrono_literals;
using bm6::test::Bytes;

double thread_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

enum class Attack { kNotifications, kIndications, kMtuRequests };
const char* name(Attack a) {
  switch (a) {
    case Attack::kNotifications:
      return "random notifications";
    case Attack::kIndications:
      return "indications";
    case Attack::kMtuRequests:
      return "MTU requests";
  }
  return "?";
}

// The peer: serves connections one after the other until `stop`; each is set up as the
// minimal BM6 database and then flooded.
void attacker(int listen_fd, Attack attack, std::atomic<bool>& stop, std::atomic<int>& links) {
  std::minstd_rand rng(42);
  while (!stop) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    links.fetch_add(1);
    bool flooding = false;
    std::uint8_t buf[600];
    while (!stop) {
      // Answer whatever the central asks; once it has written the command, flood.
      for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) goto closed;
        if (n < 0) {
          if (errno == EAGAIN) break;
          goto closed;
        }
        const Bytes pdu(buf, buf + n);
        if (pdu[0] == bm6::att::kExchangeMtuReq) {
          const Bytes rsp{bm6::att::kExchangeMtuRsp, 23, 0};
          ::send(fd, rsp.data(), rsp.size(), MSG_NOSIGNAL);
          continue;
        }
        for (const auto& rsp : bm6::test::minimal_bm6(pdu, bm6::att::kPropWrite))
          ::send(fd, rsp.data(), rsp.size(), MSG_NOSIGNAL);
        if (pdu[0] == bm6::att::kWriteReq && bm6::att::get_le16(&pdu[1]) == 3) flooding = true;
      }
      if (!flooding) {
        pollfd q{fd, POLLIN, 0};
        ::poll(&q, 1, 10);
        continue;
      }
      Bytes out;
      switch (attack) {
        case Attack::kNotifications:
          out = {bm6::att::kHandleValueNotification, 5, 0};
          for (int i = 0; i < 16; ++i) out.push_back(static_cast<std::uint8_t>(rng()));
          break;
        case Attack::kIndications:
          out = {bm6::att::kHandleValueIndication, 9, 0, 1};
          break;
        case Attack::kMtuRequests:
          out = {bm6::att::kExchangeMtuReq, 23, 0};
          break;
      }
      if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        if (errno != EAGAIN) break;
        pollfd q{fd, POLLIN | POLLOUT, 0};
        ::poll(&q, 1, 10);
      }
    }
  closed:
    ::close(fd);
  }
}

struct Row {
  double cpu_percent = 0;
  int links = 0;
  unsigned losses = 0, failures = 0;
};

Row run(Attack attack, unsigned guard, double seconds) {
  char dir[] = "/tmp/bm6-hostile-XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  const std::string path = std::string(dir) + "/peer.sock";
  const int lfd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0 || ::listen(lfd, 4) != 0)
    std::abort();
  std::atomic<bool> stop{false};
  std::atomic<int> links{0};
  std::thread peer(attacker, lfd, attack, std::ref(stop), std::ref(links));

  bm6::DeviceOptions o;
  o.name = "hostile";
  o.address = bm6::DeviceAddress::unix_socket(path);
  o.reconnect_min = 1000ms;  // the defaults
  o.reconnect_max = 60000ms;
  o.peer_pdu_limit = guard;
  Row row;
  unsigned losses = 0, failures = 0;
  bm6::Bm6Engine engine({o}, {}, [&](const bm6::DeviceOptions&, const bm6::DeviceReport& r) {
    losses += r.event == bm6::DeviceEvent::kLinkLost;
    failures += r.event == bm6::DeviceEvent::kConnectFailed;
  });
  double cpu = 0;
  std::thread io([&] {
    const double c0 = thread_cpu_seconds();
    engine.run();
    cpu = thread_cpu_seconds() - c0;
  });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  engine.stop();
  io.join();
  stop = true;
  peer.join();
  ::close(lfd);
  ::unlink(path.c_str());
  ::rmdir(dir);
  row.cpu_percent = 100.0 * cpu / seconds;
  row.links = links;
  row.losses = losses;
  row.failures = failures;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  const unsigned guard = bm6::DeviceOptions{}.peer_pdu_limit;
  std::printf("hostile peer, %.0f s per run, reconnect backoff 1 s .. 60 s (the defaults)\n",
              seconds);
  std::printf("%-22s %-14s %10s %7s %12s\n", "attack", "flood guard", "io cpu%", "links",
              "links ended");
  double worst_guarded = 0;
  for (Attack a : {Attack::kNotifications, Attack::kIndications, Attack::kMtuRequests}) {
    for (unsigned g : {0u, guard}) {
      const Row r = run(a, g, seconds);
      char label[32];
      std::snprintf(label, sizeof label, g ? "%u PDUs/s" : "off", g);
      std::printf("%-22s %-14s %9.1f%% %7d %12u\n", name(a), label, r.cpu_percent, r.links,
                  r.losses + r.failures);
      if (g) worst_guarded = std::max(worst_guarded, r.cpu_percent);
    }
  }
  std::printf("budget: hostile peer costs %.1f %% of a core with the guard (<= 5 %%): %s\n",
              worst_guarded, worst_guarded <= 5 ? "PASS" : "FAIL");
  return 0;
}
