// bm6-sim's own pieces: the socket path it serves, its command line, and the faults that act
// before the BM6 protocol starts (never-accept:N, discovery).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/sim/bm6_peripheral.h"
#include "tools/sim/cli.h"

namespace bm6::sim {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bm6-sim-test.XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  return sun;
}

// A blocking client socket connected to `path`, or an invalid one.
UniqueFd connect_to(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const auto sun = unix_address(path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) return {};
  return fd;
}

// Sends `pdu` on `fd` and runs the loop until an answer comes (returned) or `wait` passes
// (nullopt); an empty answer means the link closed.
std::optional<Bytes> ask(EventLoop& loop, int fd, const Bytes& pdu,
                         std::chrono::milliseconds wait = 300ms) {
  ::send(fd, pdu.data(), pdu.size(), MSG_NOSIGNAL);
  std::optional<Bytes> answer;
  loop.run_until(
      [&] {
        std::uint8_t buf[600];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n >= 0) answer = Bytes(buf, buf + n);
        return answer.has_value();
      },
      wait);
  return answer;
}

const Bytes kMtuReq{att::kExchangeMtuReq, 0x17, 0x00};
const Bytes kServicesReq{att::kReadByGroupTypeReq, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// --- the socket path ---

TEST(SimSocketPath, RegularFileIsRefusedAndLeftAlone) {
  TempDir dir;
  const auto path = dir / "van.sock";
  std::ofstream(path) << "precious";
  EventLoop loop;
  try {
    Bm6SimServer server(loop, path, {});
    FAIL() << "a regular file was replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("regular file"), std::string::npos) << e.what();
  }
  std::stringstream content;
  content << std::ifstream(path).rdbuf();
  EXPECT_EQ(content.str(), "precious");
}

TEST(SimSocketPath, DirectoryIsRefused) {
  TempDir dir;
  const auto path = dir / "sub";
  std::filesystem::create_directory(path);
  EventLoop loop;
  try {
    Bm6SimServer server(loop, path, {});
    FAIL() << "a directory was replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

TEST(SimSocketPath, LiveSocketIsRefusedAndKeepsServing) {
  TempDir dir;
  const auto path = dir / "van.sock";
  EventLoop loop;
  Bm6SimServer first(loop, path, {});
  try {
    Bm6SimServer second(loop, path, {});
    FAIL() << "a second simulator took the socket over";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("live socket"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(exists(path)) << "the refused simulator removed the first one's socket";
  // The refused one's probe came and went.
  loop.run_until([&] { return first.connections() > 0 && !first.peripheral(); }, 500ms);
  auto fd = connect_to(path);
  ASSERT_TRUE(fd);
  const auto answer = ask(loop, fd.get(), kMtuReq);
  ASSERT_TRUE(answer && !answer->empty());
  EXPECT_EQ((*answer)[0], att::kExchangeMtuRsp);
}

TEST(SimSocketPath, AppearsOnlyOnceListening) {
  // bind() makes the file before listen(): a client that waits for the file could find a
  // socket that refuses it. The socket is bound under another name and moved to the path
  // once it listens, so the path is never created in place, and nothing else is left.
  TempDir dir;
  const auto path = dir / "van.sock";
  UniqueFd watch(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(watch);
  ASSERT_GE(::inotify_add_watch(watch.get(), (dir / "").c_str(), IN_CREATE | IN_MOVED_TO), 0);
  EventLoop loop;
  Bm6SimServer server(loop, path, {});
  bool created = false, moved_in = false;
  alignas(inotify_event) char buf[4096];
  const ssize_t n = ::read(watch.get(), buf, sizeof buf);
  for (ssize_t at = 0; at < n;) {
    const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
    if (ev->len > 0 && std::string(ev->name) == "van.sock") {
      created |= (ev->mask & IN_CREATE) != 0;
      moved_in |= (ev->mask & IN_MOVED_TO) != 0;
    }
    at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
  }
  EXPECT_FALSE(created) << "the path was made by bind(), before listen()";
  EXPECT_TRUE(moved_in);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir / ""))
    names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"van.sock"});
  EXPECT_TRUE(connect_to(path));
}

TEST(SimSocketPath, SymlinkIsRefusedAndLeftAlone) {
  TempDir dir;
  const auto path = dir / "van.sock";
  const auto target = dir / "target";
  std::ofstream(target) << "precious";
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  EventLoop loop;
  try {
    Bm6SimServer server(loop, path, {});
    FAIL() << "a symbolic link was replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_symlink(path));
  std::stringstream content;
  content << std::ifstream(target).rdbuf();
  EXPECT_EQ(content.str(), "precious");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / ""),
                          std::filesystem::directory_iterator{}),
            2)
      << "the temporary socket was left behind";
}

TEST(SimSocketPath, StaleSocketIsReplaced) {
  TempDir dir;
  const auto path = dir / "van.sock";
  {
    UniqueFd stale(::socket(AF_UNIX, SOCK_SEQPACKET, 0));
    const auto sun = unix_address(path);
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  }  // closed without unlinking: nobody listens there now
  ASSERT_TRUE(exists(path));
  EventLoop loop;
  Bm6SimServer server(loop, path, {});
  auto fd = connect_to(path);
  ASSERT_TRUE(fd);
  const auto answer = ask(loop, fd.get(), kMtuReq);
  ASSERT_TRUE(answer && !answer->empty());
  EXPECT_EQ((*answer)[0], att::kExchangeMtuRsp);
}

TEST(SimSocketPath, RemovedOnExitOnlyIfStillOurs) {
  TempDir dir;
  const auto path = dir / "van.sock";
  EventLoop loop;
  {
    Bm6SimServer server(loop, path, {});
    ASSERT_TRUE(exists(path));
  }
  EXPECT_FALSE(exists(path)) << "our own socket is removed on exit";
  {
    Bm6SimServer server(loop, path, {});
    // Somebody else's file at the path by the time we stop: not ours to remove.
    ::unlink(path.c_str());
    std::ofstream(path) << "theirs";
  }
  EXPECT_TRUE(exists(path));
}

// --- faults before the BM6 protocol ---

TEST(SimFaults, NeverAcceptRefusesOnlyTheFirstNAttempts) {
  TempDir dir;
  const auto path = dir / "never.sock";
  EventLoop loop;
  SimDevice device;
  device.fault = Fault::kNeverAccept;
  device.fault_connections = 2;
  Bm6SimServer server(loop, path, device);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto fd = connect_to(path);
    ASSERT_TRUE(fd);
    EXPECT_FALSE(ask(loop, fd.get(), kMtuReq, 200ms)) << "attempt " << attempt << " answered";
  }  // the centrals give up
  loop.run_until([&] { return server.held() == 0; }, 500ms);
  EXPECT_EQ(server.held(), 0u) << "held links not closed when their central left";
  auto fd = connect_to(path);
  ASSERT_TRUE(fd);
  const auto answer = ask(loop, fd.get(), kMtuReq);
  ASSERT_TRUE(answer && !answer->empty()) << "the third attempt was not served";
  EXPECT_EQ((*answer)[0], att::kExchangeMtuRsp);
  EXPECT_EQ(server.never_answered(), 2u);
  EXPECT_EQ(server.connections(), 1u);
}

TEST(SimFaults, NeverAcceptWithoutCountNeverServes) {
  TempDir dir;
  const auto path = dir / "never.sock";
  EventLoop loop;
  SimDevice device;
  device.fault = Fault::kNeverAccept;
  Bm6SimServer server(loop, path, device);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto fd = connect_to(path);
    ASSERT_TRUE(fd);
    EXPECT_FALSE(ask(loop, fd.get(), kMtuReq, 100ms)) << "attempt " << attempt << " answered";
  }
  EXPECT_EQ(server.connections(), 0u);
}

TEST(SimFaults, DiscoveryFaults) {
  TempDir dir;
  EventLoop loop;
  SimDevice device;
  device.fault = Fault::kErrorDiscovery;
  Bm6SimServer erring(loop, dir / "err.sock", device);
  device.fault = Fault::kDropAtDiscovery;
  Bm6SimServer dropping(loop, dir / "drop.sock", device);

  auto fd = connect_to(dir / "err.sock");
  auto answer = ask(loop, fd.get(), kServicesReq);
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer,
            (Bytes{att::kErrorRsp, att::kReadByGroupTypeReq, 0x01, 0x00, att::kUnlikelyError}));

  fd = connect_to(dir / "drop.sock");
  EXPECT_EQ(ask(loop, fd.get(), kMtuReq).value_or(Bytes{}).at(0), att::kExchangeMtuRsp);
  answer = ask(loop, fd.get(), kServicesReq);
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->empty()) << "the link should drop at service discovery";
}

// --- the command line ---

ParseResult parse(std::vector<std::string> args) { return parse_command_line(args); }

TEST(SimCommandLine, ValueOptionsApplyToTheSocketsAfterThem) {
  const auto r =
      parse({"--voltage", "12.5", "--socket", "a", "--soc=40", "--socket=b", "--l2cap", "hci0"});
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& e = r.config->endpoints;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].address, "a");
  EXPECT_EQ(e[0].device.reading.centivolts, 1250);
  EXPECT_EQ(e[0].device.reading.soc_percent, 100);
  EXPECT_EQ(e[1].address, "b");
  EXPECT_EQ(e[1].device.reading.soc_percent, 40);
  EXPECT_EQ(e[2].kind, Endpoint::Kind::kL2cap);
  EXPECT_EQ(e[2].name(), "l2cap:hci0");
}

TEST(SimCommandLine, BusyTakesPeriodAndDurationInSeconds) {
  const auto r = parse({"--busy", "20:5.5", "--socket", "a"});
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& d = r.config->endpoints[0].device;
  EXPECT_EQ(d.busy_period, std::chrono::milliseconds(20000));
  EXPECT_EQ(d.busy_duration, std::chrono::milliseconds(5500));
  EXPECT_TRUE(busy_at(d, std::chrono::milliseconds(45000)));         // 5 s into the third period
  EXPECT_FALSE(busy_at(d, std::chrono::milliseconds(46000)));        // 6 s into it
  EXPECT_FALSE(busy_at(SimDevice{}, std::chrono::milliseconds(0)));  // never, by default
  for (const char* bad : {"20", "20:30", "x:1", "20:-1", "0:0"}) {
    const auto e = parse({"--busy", bad, "--socket", "a"});
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.error.find("'--busy'"), std::string::npos) << e.error;
  }
}

TEST(SimCommandLine, HistoryOptions) {
  auto r = parse({"--socket", "a", "--record-period", "2", "--history-seed=40", "--socket", "b"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.record_period, std::chrono::seconds(120));
  EXPECT_EQ(r.config->endpoints[0].device.history_seed, 0u);
  EXPECT_EQ(r.config->endpoints[1].device.record_period, std::chrono::seconds(2));
  EXPECT_EQ(r.config->endpoints[1].device.history_seed, 40u);
  r = parse({"--record-period", "1.5", "--socket", "a"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("'--record-period': \"1.5\" is not a whole number"), std::string::npos)
      << r.error;
  r = parse({"--history-seed", "8193", "--socket", "a"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("from 0 to 8192"), std::string::npos) << r.error;
  r = parse({"--fault", "history-truncated:1", "--socket", "a"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.fault, Fault::kHistoryTruncated);
  EXPECT_EQ(r.config->endpoints[0].device.fault_connections, 1u);
  for (const char* name : {"history-interleaved", "history-ff-start", "history-end-mid-block",
                           "history-pause", "history-empty", "history-long", "no-pipelining"}) {
    r = parse({"--fault", name, "--socket", "a"});
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_STREQ(to_string(r.config->endpoints[0].device.fault), name);
  }
}

TEST(SimCommandLine, TrailingValueOptionIsRefusedByName) {
  const auto r = parse({"--socket", "a", "--voltage", "13.2", "--soc", "50"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("'--voltage'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("after the last --socket"), std::string::npos) << r.error;
}

TEST(SimCommandLine, UnknownOptionIsNamed) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--bogus", "1", "--socket", "a"},
                                                                {"--socket", "a", "--bogus=1"}}) {
    const auto r = parse(args);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error.find("unknown option '--bogus'"), std::string::npos) << r.error;
  }
  const auto stray = parse({"--socket", "a", "extra"});
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.error.find("'extra'"), std::string::npos) << stray.error;
}

TEST(SimCommandLine, BadAndMissingValues) {
  EXPECT_NE(parse({"--socket"}).error.find("'--socket' needs a value"), std::string::npos);
  EXPECT_NE(parse({"--soc", "101", "--socket", "a"}).error.find("'--soc'"), std::string::npos);
  EXPECT_NE(parse({"--mtu", "22", "--socket", "a"}).error.find("'--mtu'"), std::string::npos);
  EXPECT_NE(parse({"--state", "full", "--socket", "a"}).error.find("'--state'"), std::string::npos);
  EXPECT_NE(parse({"--fault", "gremlins", "--socket", "a"}).error.find("gremlins"),
            std::string::npos);
  EXPECT_NE(parse({"--fault", "late:x", "--socket", "a"}).error.find("count"), std::string::npos);
  EXPECT_NE(parse({"--socket", "a", "--socket", "a"}).error.find("twice"), std::string::npos);
  EXPECT_NE(parse({}).error.find("--socket PATH"), std::string::npos);
  const auto negative = parse({"--temperature", "-4", "--socket", "a"});
  ASSERT_TRUE(negative.ok()) << negative.error;
  EXPECT_EQ(negative.config->endpoints[0].device.reading.temperature_c, -4);
}

TEST(SimCommandLine, StopAfterTakesAWholeNumberOfReadings) {
  auto r = parse({"--socket", "a", "--stop-after", "5", "--socket", "b"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.stop_after, 0u);  // streams for ever
  EXPECT_EQ(r.config->endpoints[1].device.stop_after, 5u);
  r = parse({"--stop-after", "2.5", "--socket", "a"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("'--stop-after': \"2.5\" is not a whole number"), std::string::npos)
      << r.error;
  r = parse({"--model", "bm2", "--stop-after", "1", "--socket", "a"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("a BM2 streams without a request"), std::string::npos) << r.error;
}

TEST(SimCommandLine, ModelsAndTheirStates) {
  const auto r = parse({"--model", "bm2", "--state", "critical", "--socket", "a", "--model", "BM7",
                        "--state", "low", "--socket", "b", "--socket", "c"});
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& e = r.config->endpoints;
  EXPECT_EQ(e[0].device.model, Family::kBm2);
  EXPECT_EQ(e[0].device.reading.state, State::kCritical);
  EXPECT_EQ(e[1].device.model, Family::kBm7);
  EXPECT_EQ(e[2].device.model, Family::kBm7);
  EXPECT_EQ(parse({"--socket", "d"}).config->endpoints[0].device.model, Family::kBm6);
  // critical and floating are a BM2's, refused for the others whatever the order.
  const auto refused = parse({"--state", "floating", "--socket", "a"});
  EXPECT_NE(refused.error.find("a BM6 reports normal, low or charging; state floating is a "
                               "BM2's (give --model bm2 before --socket)"),
            std::string::npos)
      << refused.error;
  EXPECT_FALSE(parse({"--state", "critical", "--model", "bm7", "--socket", "a"}).ok());
  EXPECT_TRUE(parse({"--state", "critical", "--model", "bm2", "--socket", "a"}).ok());
  EXPECT_NE(parse({"--model", "bm8", "--socket", "a"}).error.find("'--model'"), std::string::npos);
  EXPECT_NE(parse({"--model", "bm2", "--voltage", "41", "--socket", "a"}).error.find("40.95 V"),
            std::string::npos);
}

TEST(SimCommandLine, Faults) {
  auto r = parse({"--fault", "never-accept:3", "--socket", "a"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.fault, Fault::kNeverAccept);
  EXPECT_EQ(r.config->endpoints[0].device.fault_connections, 3u);
  r = parse({"--fault", "never-accept", "--socket", "a", "--fault", "late:2", "--socket", "b"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.fault_connections, ~0ull);
  EXPECT_EQ(r.config->endpoints[1].device.fault, Fault::kLate);
  EXPECT_EQ(r.config->endpoints[1].device.fault_connections, 2u);
}

TEST(SimCommandLine, HelpAndVersion) {
  EXPECT_EQ(parse({"--socket", "a", "-h"}).config->action, SimConfig::Action::kHelp);
  EXPECT_EQ(parse({"--help"}).config->action, SimConfig::Action::kHelp);
  EXPECT_EQ(parse({"--version"}).config->action, SimConfig::Action::kVersion);
  EXPECT_NE(version_text().find(BM6_VERSION), std::string::npos);
  EXPECT_NE(usage_text().find("Exit status"), std::string::npos);
}

// --help and the parser come from one table: every option --help lists is one the parser
// knows, taking a value where --help shows one.
TEST(SimCommandLine, HelpListsWhatTheParserTakes) {
  std::istringstream help(usage_text());
  int listed = 0;
  for (std::string line; std::getline(help, line);) {
    if (line.rfind("  --", 0) != 0) continue;
    std::istringstream words(line.substr(0, 25));  // the names, before the text's column
    std::string name, argument;
    words >> name >> argument;
    const bool takes_value = !argument.empty();
    ++listed;
    const ParseResult r = parse({name});
    EXPECT_EQ(r.error.find("unknown option"), std::string::npos) << name << ": " << r.error;
    if (takes_value)
      EXPECT_NE(r.error.find(name + "' needs a value"), std::string::npos)
          << name << ": " << r.error;
    else
      EXPECT_TRUE(r.ok()) << name << ": " << r.error;
  }
  EXPECT_EQ(listed, 17);  // --socket, --l2cap, 14 value options, --version; -h, --help apart
  EXPECT_NE(usage_text().find("  -h, --help             this text\n"), std::string::npos);
}

// The command itself: exit status 2 and the option named on stderr.
TEST(SimCommandLine, CommandReportsUsageErrors) {
  TempDir dir;
  const auto err_path = dir / "stderr";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(err, 2);
    ::execl(BM6_SIM_PATH, "bm6-sim", "--bogus", "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kExitUsage);
  std::stringstream err;
  err << std::ifstream(err_path).rdbuf();
  EXPECT_NE(err.str().find("unknown option '--bogus'"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace bm6::sim
