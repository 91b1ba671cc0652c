#include "tools/ctl/commands.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "device/bm6_link.h"
#include "device/history_download.h"
#include "tools/ctl/collectd_conf.h"
#include "tools/ctl/decode.h"
#include "tools/ctl/format.h"
#include "tools/ctl/text.h"
#include "transport/address.h"
#include "transport/connector.h"
#include "transport/l2cap_connector.h"
#include "transport/mgmt_scan.h"

namespace bm6::ctl {

namespace {

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

void print_line(const std::string& line) { std::fputs((line + "\n").c_str(), stdout); }

// Named as a monitor of some family is (FamilyTraits::advertised_names), or advertising the
// monitors' service FFF0.
bool looks_like_bm6(const scan::FoundDevice& d) {
  for (const Family f : kAllFamilies) {
    const auto names = traits(f).advertised_names;
    if (std::find(names.begin(), names.end(), d.advert.name) != names.end()) return true;
  }
  return std::find(d.advert.uuids16.begin(), d.advert.uuids16.end(), 0xfff0) !=
         d.advert.uuids16.end();
}

enum class Probe { kListening, kNotListening, kNoPermission, kNotSeqpacket };

// Whether something accepts SEQPACKET connections at `path`: a non-blocking connect, which
// on a Unix socket completes or fails at once (EAGAIN: listening, backlog full).
Probe probe_socket(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) return Probe::kNotListening;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Probe::kNotListening;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0)
    return Probe::kListening;
  switch (errno) {
    case EAGAIN:
    case EINPROGRESS:
      return Probe::kListening;
    case EACCES:
    case EPERM:
      return Probe::kNoPermission;
    case EPROTOTYPE:
      return Probe::kNotSeqpacket;
    default:
      return Probe::kNotListening;
  }
}

int scan_unix(const Command& cmd, const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    const int err = errno;
    print_error("cannot list " + dir + ": " + std::strerror(err));
    return err == EACCES || err == EPERM ? kExitNotPermitted : kExitFailed;
  }
  const std::string prefix = dir.back() == '/' ? dir : dir + "/";
  std::vector<std::string> paths;
  while (const dirent* e = ::readdir(d)) {
    const std::string path = prefix + e->d_name;
    struct stat st {};
    if (e->d_type == DT_SOCK ||
        (e->d_type == DT_UNKNOWN && ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)))
      paths.push_back(path);
  }
  ::closedir(d);
  std::sort(paths.begin(), paths.end());
  int shown = 0;
  for (const auto& path : paths) {
    switch (probe_socket(path)) {
      case Probe::kListening:
        break;
      case Probe::kNoPermission:
        print_error("skipping " + path + ": not permitted to connect to it");
        continue;
      default:
        continue;  // a socket left behind, or not a simulator's
    }
    ++shown;
    print_line(scan_socket_row(DeviceAddress::unix_socket(path).text(), cmd.json));
  }
  if (shown == 0) print_error("no socket in " + dir + " that something listens on");
  return shown > 0 ? kExitOk : kExitFailed;
}

}  // namespace

int failed_exit(FailureKind kind) {
  return kind == FailureKind::kPermission ? kExitNotPermitted : kExitFailed;
}

void print_error(const std::string& message) {
  std::fflush(stdout);
  std::fputs(("bm6ctl: " + terminal_safe(message) + "\n").c_str(), stderr);
}

int run_scan(const Command& cmd) {
  LinkError error;
  if (DeviceAddress::names_socket(cmd.adapter)) {  // unix:DIR, which the parser checked
    std::string why;
    const auto dir = DeviceAddress::parse(cmd.adapter, why);
    if (!dir) {
      print_error("--adapter " + why);
      return kExitUsage;
    }
    return scan_unix(cmd, dir->path());
  }
  const int id = resolve_adapter(AdapterId::parse(cmd.adapter), error);
  if (id < 0) {
    print_error(error.detail);
    return failed_exit(failure_kind(error));
  }
  std::map<std::string, scan::FoundDevice> found;
  if (!scan::discover(id, cmd.timeout(), found, error)) {
    print_error(error.detail);
    return failed_exit(failure_kind(error));
  }
  int shown = 0;
  if (!cmd.json) print_line(scan_header());
  for (const auto& entry : found) {
    std::string why;
    if (!cmd.all && !looks_like_bm6(entry.second) && !decode_found(entry.second, why)) continue;
    ++shown;
    print_line(scan_row(entry.second, cmd.json));
  }
  if (shown == 0)
    print_error(std::string(cmd.all ? "no LE device" : "no BM6") + " found in " +
                format_seconds(cmd.timeout_s) + " s");
  return shown > 0 ? kExitOk : kExitFailed;
}

std::unique_ptr<Connector> connector_for(const Command& cmd, EventLoop& loop, Adapters& adapters) {
  std::string error;
  const auto address = DeviceAddress::parse(cmd.address, error);  // as the parser checked it
  if (!address) {
    print_error(error);
    return nullptr;
  }
  ConnectorOptions options;
  options.address =
      address->with_type(cmd.random_address ? LeAddressType::kRandom : LeAddressType::kPublic);
  options.adapter = AdapterId::parse(cmd.adapter);
  options.timeout = cmd.timeout();
  auto connector = make_connector(loop, options, &adapters, error);
  if (!connector) print_error(cmd.address + ": " + error);
  return connector;
}

namespace {

// read --config: the <Device> named cmd.device, or with cmd.address; its Address normalised
// into `address`. An error says what is wrong, naming the file; `permission` is set when a
// file could not be read for lack of permission.
std::variant<ConfDevice, std::string> configured_device(const Command& cmd, std::string& address,
                                                        bool& permission) {
  std::string error;
  const auto conf = read_collectd_conf(cmd.config, error, permission);
  if (!conf) return error;
  auto devices = bm6_devices(*conf);
  if (auto* problem = std::get_if<std::string>(&devices)) return *problem;
  std::string ignored;
  const auto wanted = DeviceAddress::parse(cmd.address, ignored);
  for (auto& d : std::get<std::vector<ConfDevice>>(devices)) {
    const auto has = DeviceAddress::parse(d.address, ignored);
    const bool match = cmd.device.empty() ? (has && wanted && has->identity() == wanted->identity())
                                          : d.name == cmd.device;
    if (!match) continue;
    if (!has) return cmd.config + ": device \"" + d.name + "\" has no usable Address";
    address = has->text();
    return std::move(d);
  }
  return cmd.config + ": no <Device> " +
         (cmd.device.empty() ? "with Address " + cmd.address : "named \"" + cmd.device + "\"") +
         " in <Plugin bm6>";
}

int read_and_print(const Command& cmd, const std::optional<ConfDevice>& configured);

}  // namespace

int run_read(const Command& given) {
  if (given.config.empty()) return read_and_print(given, std::nullopt);
  Command cmd = given;
  bool permission = false;
  auto found = configured_device(given, cmd.address, permission);
  if (const auto* error = std::get_if<std::string>(&found)) {
    print_error(*error);
    return permission ? kExitNotPermitted : kExitFailed;
  }
  return read_and_print(cmd, std::get<ConfDevice>(found));
}

namespace {

int read_and_print(const Command& cmd, const std::optional<ConfDevice>& configured) {
  // --timeout bounds everything: the connect, the set-up, the reading and the RSSI.
  const auto limit = cmd.timeout();
  EventLoop loop;
  Adapters adapters(loop);
  auto connector = connector_for(cmd, loop, adapters);
  if (!connector) return kExitUsage;
  DeviceFailure error;
  std::unique_ptr<Bm6Link> link;
  std::optional<Reading> reading;
  std::optional<Family> model;
  std::optional<int> rssi;
  bool finished = false;
  Timer rssi_wait(loop);
  connector->connect([&](UniqueFd fd, const LinkError& e) {
    if (!fd) {
      error = connect_failed(e);
      finished = true;
      return;
    }
    Bm6Link::Handlers h;
    h.on_reading = [&](const Reading& r, std::chrono::system_clock::time_point) {
      if (reading) return;
      reading = r;
      model = link->family();
      // The signal strength too, where there is a radio; the answer takes a moment.
      const int link_fd = link->bearer().fd();
      if (!connector->read_rssi(link_fd, [&](int dbm) {
            rssi = dbm;
            finished = true;
          })) {
        if (!DeviceAddress::names_socket(cmd.address))
          print_error(std::string("reading the RSSI failed: ") + std::strerror(errno));
        finished = true;
      } else {
        rssi_wait.start(std::chrono::seconds(1), [&] { finished = true; });
      }
    };
    h.on_closed = [&](const DeviceFailure& why) {
      error = why;
      finished = true;
    };
    Bm6Link::Options link_options;
    link_options.family = cmd.model;  // unset: detected
    link = std::make_unique<Bm6Link>(loop, std::move(fd), link_options, h);
  });
  if (!loop.run_until([&] { return finished; }, limit) && !reading)
    error = {FailureKind::kSilent, {}, "no reading within " + format_seconds(cmd.timeout_s) + " s"};
  link.reset();
  connector.reset();
  if (!reading) {
    print_error(cmd.address + ": " + error.detail);
    return failed_exit(error.kind);
  }
  print_line(configured ? corrected_reading_line(cmd.address, *model, *reading, rssi, cmd.json,
                                                 configured->name, configured->corrections)
                        : reading_line(cmd.address, *model, *reading, rssi, cmd.json));
  return kExitOk;
}

}  // namespace

int run_decode(const Command& cmd) {
  const auto advertiser = parse_bdaddr(cmd.address);  // normalised by the parser
  if (!advertiser) {
    print_error("--address " + cmd.address + ": not a Bluetooth address");
    return kExitUsage;
  }
  const DecodeResult result = decode_input(*advertiser, cmd.model, cmd.hex);
  if (const auto* why = std::get_if<std::string>(&result)) {
    print_error(*why);
    return kExitFailed;
  }
  print_line(decoded_json(cmd.address, std::get<Decoded>(result)));
  return kExitOk;
}

namespace {

// A history download over one link: its result, or why there is none.
struct HistoryRun {
  std::optional<HistoryResult> result;
  std::optional<Family> model;              // once the link has given a reading
  DeviceFailure error{FailureKind::kNone};  // why the link closed, or could not be made
};

HistoryRun download_history(const Command& cmd, EventLoop& loop, Connector& connector) {
  const auto limit = cmd.timeout();
  HistoryRun run;
  std::unique_ptr<Bm6Link> link;
  std::unique_ptr<HistoryDownload> download;
  bool finished = false;
  connector.connect([&](UniqueFd fd, const LinkError& e) {
    if (!fd) {
      run.error = connect_failed(e);
      finished = true;
      return;
    }
    Bm6Link::Handlers h;
    // The live stream first, as the monitor expects; its first reading starts the download.
    h.on_reading = [&](const Reading&, std::chrono::system_clock::time_point) {
      if (download || run.result) return;
      run.model = link->family();
      HistoryDownload::Options o;
      o.pages = static_cast<std::uint8_t>(cmd.pages);
      o.period = cmd.record_period;
      // The download's own bound, within the overall one: a truncated answer says so.
      o.timeout = std::min(HistoryDownload::timeout_for(o.pages), limit);
      download = std::make_unique<HistoryDownload>(loop, *link, o, [&](HistoryResult r) {
        run.result = std::move(r);
        finished = true;
      });
    };
    h.on_closed = [&](const DeviceFailure& why) {
      download.reset();  // before the link goes
      run.error = why;
      finished = true;
    };
    Bm6Link::Options link_options;
    link_options.family = cmd.model;  // unset: detected
    link = std::make_unique<Bm6Link>(loop, std::move(fd), link_options, h);
  });
  loop.run_until([&] { return finished; }, limit);
  download.reset();  // before the link goes
  return run;
}

void print_history(const Command& cmd, Family model,
                   const std::vector<TimedHistoryRecord>& records) {
  const auto format = cmd.json  ? HistoryFormat::kJson
                      : cmd.csv ? HistoryFormat::kCsv
                                : HistoryFormat::kText;
  if (format == HistoryFormat::kText)
    print_line(history_note(cmd.address, model, records.size(), cmd.record_period));
  if (format == HistoryFormat::kCsv) print_line(history_csv_header());
  for (const auto& r : records) print_line(history_row(cmd.address, r, cmd.record_period, format));
}

}  // namespace

int run_history(const Command& cmd) {
  // --timeout bounds everything: the connect, the set-up, the first reading, the download.
  EventLoop loop;
  Adapters adapters(loop);
  auto connector = connector_for(cmd, loop, adapters);
  if (!connector) return kExitUsage;
  HistoryRun run = download_history(cmd, loop, *connector);
  connector.reset();
  DeviceFailure& error = run.error;
  if (!run.result) {
    if (error.kind == FailureKind::kNone)
      error = {FailureKind::kSilent,
               {},
               std::string(run.model ? "no complete history answer" : "no reading") + " within " +
                   format_seconds(cmd.timeout_s) + " s"};
    print_error(cmd.address + ": " + error.detail);
    return failed_exit(error.kind);
  }
  if (!run.result->ok()) {
    print_error(cmd.address + ": history: " + run.result->error);
    return kExitFailed;
  }
  print_history(cmd, *run.model, run.result->records);
  return kExitOk;
}

}  // namespace bm6::ctl
