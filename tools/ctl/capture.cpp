#include "tools/ctl/capture.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>

#include "device/bm6_link.h"
#include "protocol/advertisement.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/decode.h"
#include "tools/ctl/text.h"
#include "transport/adv_scanner.h"
#include "transport/advertising_data.h"

#ifndef BM6_VERSION
#error "BM6_VERSION must be defined (the project version, from CMake)"
#endif

namespace bm6::ctl {

namespace {

void print_line(const std::string& line) { std::fputs((line + "\n").c_str(), stdout); }

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ISO 8601, UTC, milliseconds.
std::string utc_time(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t s = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count() % 1000));
  return out;
}

std::string reading_object(const Reading& r) {
  std::string out = "{\"voltage\":" + fixed(r.volts(), 2);
  if (r.temperature_c) out += ",\"temperature\":" + std::to_string(*r.temperature_c);
  return out + ",\"soc\":" + std::to_string(r.soc_percent) + ",\"state\":\"" + to_string(r.state) +
         "\"}";
}

std::string model_json(std::optional<Family> f) {
  return f ? std::string("\"") + to_string(*f) + "\"" : "null";
}

// The time members of a line: "t" (seconds since the capture began) and "time".
struct Clock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string members(std::chrono::system_clock::time_point now) const {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return "\"t\":" + fixed(t, 3) + ",\"time\":\"" + utc_time(now) + "\"";
  }
};

}  // namespace

std::string notification_members(std::optional<Family> family,
                                 std::span<const std::uint8_t> ciphertext, std::size_t* readings) {
  std::string out = ",\"model\":" + model_json(family);
  if (!family) return out + ",\"reason\":\"no family's frame under any key\"";
  FamilyCodec codec(*family);
  const auto plain = codec.decrypt(ciphertext);
  if (!plain)
    return out + ",\"reason\":\"" + std::to_string(ciphertext.size()) +
           " bytes; frames are 16-byte blocks\"";
  out += ",\"plaintext\":\"" + hex(*plain) + "\"";
  if (plain->size() != 16)
    return out + ",\"reason\":\"" + std::to_string(plain->size()) +
           " bytes: not a live frame (16)\"";
  const LiveDecode d = decode_live(*family, *plain);
  if (const auto* r = std::get_if<Reading>(&d)) {
    if (readings) ++*readings;
    return out + ",\"reading\":" + reading_object(*r);
  }
  return out + ",\"reason\":" + json_string(to_string(std::get<LiveRejection>(d)));
}

std::vector<std::string> advertisement_decodes(const std::string& address,
                                               std::optional<Family> model,
                                               const std::vector<capture::Bytes>& fields,
                                               std::size_t* readings) {
  std::vector<std::string> out;
  const auto advertiser = parse_bdaddr(address);
  for (const auto& field : fields) {
    if (!advertiser) {
      out.push_back("{\"reason\":\"no advertiser address to check the data against\"}");
      continue;
    }
    const DecodeResult r = decode_input(*advertiser, model, {field});
    const auto* d = std::get_if<Decoded>(&r);
    if (!d || d->source == Decoded::Source::kNotification) {
      // An advertisement is never a notification, whatever its 16 bytes decrypt to.
      out.push_back("{\"reason\":" +
                    json_string(d ? "not a reading: as manufacturer data, no key fits"
                                  : std::get<std::string>(r)) +
                    "}");
      continue;
    }
    if (readings) ++*readings;
    std::string reading = "{";
    if (d->centivolts) reading += "\"voltage\":" + fixed(*d->centivolts / 100.0, 2) + ",";
    reading += "\"soc\":" + std::to_string(d->soc_percent);
    if (d->state) reading += std::string(",\"state\":\"") + to_string(*d->state) + "\"";
    out.push_back(std::string("{\"source\":\"") + to_string(d->source) +
                  "\",\"model\":" + model_json(d->model) + ",\"reading\":" + reading + "}}");
  }
  return out;
}

namespace {

struct CaptureRun {
  const Command& cmd;
  Clock clock;
  std::size_t advertisements = 0;
  std::size_t notifications = 0;
  std::size_t readings = 0;
  std::optional<Family> model;

  void header() const {
    print_line("{\"type\":\"capture\",\"format\":1,\"tool\":\"bm6ctl " BM6_VERSION
               "\",\"address\":" +
               json_string(cmd.address) + ",\"seconds\":" + fixed(cmd.seconds, 3) +
               ",\"started\":\"" + utc_time(std::chrono::system_clock::now()) + "\"}");
  }
  void advertisement(const AdvReport& r) {
    ++advertisements;
    const auto fields = ad::manufacturer_data(r.data);
    std::string line = "{\"type\":\"advertisement\"," + clock.members(r.received) +
                       ",\"address\":" + json_string(cmd.address) +
                       ",\"rssi\":" + (r.rssi_dbm ? std::to_string(*r.rssi_dbm) : "null") +
                       ",\"data\":\"" + hex(capture::Bytes(r.data.begin(), r.data.end())) +
                       "\",\"manufacturer_data\":[";
    for (std::size_t i = 0; i < fields.size(); ++i)
      line += (i ? ",\"" : "\"") + hex(fields[i]) + "\"";
    line += "],\"decoded\":[";
    const auto decodes = advertisement_decodes(cmd.address, cmd.model, fields);
    for (std::size_t i = 0; i < decodes.size(); ++i) line += (i ? "," : "") + decodes[i];
    print_line(line + "]}");
  }
  void notification(std::uint16_t handle, std::span<const std::uint8_t> value,
                    std::optional<Family> link_family) {
    ++notifications;
    // Before the link has settled on a family, this frame's own evidence names one.
    const auto family = link_family ? link_family : detect_family(value);
    const std::string members = notification_members(family, value, &readings);
    print_line("{\"type\":\"notification\"," + clock.members(std::chrono::system_clock::now()) +
               ",\"handle\":" + std::to_string(handle) + ",\"ciphertext\":\"" +
               hex(capture::Bytes(value.begin(), value.end())) + "\"" + members + "}");
  }
  void end(const std::string& link_error) const {
    print_line("{\"type\":\"end\",\"model\":" + model_json(model) +
               ",\"advertisements\":" + std::to_string(advertisements) + ",\"notifications\":" +
               std::to_string(notifications) + ",\"readings\":" + std::to_string(readings) +
               (link_error.empty() ? "" : ",\"link\":" + json_string(link_error)) + "}");
  }
};

std::chrono::milliseconds phase_length(const Command& cmd) {
  return std::chrono::milliseconds(std::llround(cmd.seconds * 1000));
}

// Every advertisement of cmd.address for --seconds; no failure (kind kNone) or (said) why
// nothing can be heard.
DeviceFailure capture_advertisements(CaptureRun& run, EventLoop& loop) {
  // Checked by the parser; none given: the first adapter that is up.
  const auto adapter = AdapterId::parse(run.cmd.adapter);
  const int index = AdapterId::of(DeviceAddress(), adapter).index();
  DeviceFailure problem{FailureKind::kNone};
  LinkError open_error;  // the mgmt socket's, when it cannot be opened (said as kError)
  const auto open = [&](LinkError& error) {
    UniqueFd fd = AdvScanner::open_mgmt_socket(error);
    open_error = error;
    return fd;
  };
  const auto on_status = [&](AdvScanner::Status s, const std::string& detail) {
    if (s != AdvScanner::Status::kError && s != AdvScanner::Status::kAdapterDown) return;
    problem.kind = open_error                              ? failure_kind(open_error)
                   : s == AdvScanner::Status::kAdapterDown ? FailureKind::kAdapter
                                                           : FailureKind::kOther;
    problem.cause = open_error;
    problem.detail = detail.empty() ? "the adapter is down" : detail;
  };
  AdvScanner scanner(loop, index, on_status, open);
  const auto address = parse_bdaddr(run.cmd.address);
  scanner.subscribe(*address, run.cmd.random_address,
                    [&](const AdvReport& r) { run.advertisement(r); });
  scanner.start();
  const auto failed = [&] { return problem.kind != FailureKind::kNone; };
  loop.run_until(failed, phase_length(run.cmd));
  if (failed()) print_error("advertisements: " + problem.detail);
  return problem;
}

// Every notification of a link to cmd.address for --seconds; no failure (kind kNone) or why
// the link failed.
DeviceFailure capture_link(CaptureRun& run, EventLoop& loop, Adapters& adapters) {
  auto connector = connector_for(run.cmd, loop, adapters);
  if (!connector) return {FailureKind::kOther, {}, "the address cannot be used"};
  DeviceFailure error{FailureKind::kNone};
  std::unique_ptr<Bm6Link> link;
  bool closed = false;
  connector->connect([&](UniqueFd fd, const LinkError& e) {
    if (!fd) {
      error = connect_failed(e);
      closed = true;
      return;
    }
    Bm6Link::Handlers h;
    h.on_raw_notification = [&](std::uint16_t handle, std::span<const std::uint8_t> v) {
      run.notification(handle, v, link->family());
    };
    h.on_family = [&](Family f) { run.model = f; };
    h.on_closed = [&](const DeviceFailure& why) {
      error = why;
      closed = true;
    };
    Bm6Link::Options o;
    o.family = run.cmd.model;
    link = std::make_unique<Bm6Link>(loop, std::move(fd), o, h);
  });
  loop.run_until([&] { return closed; }, phase_length(run.cmd));
  if (link && !run.model) run.model = link->family();
  link.reset();
  return error;
}

}  // namespace

int run_capture(const Command& cmd) {
  CaptureRun run{cmd, Clock{}, 0, 0, 0, std::nullopt};
  EventLoop loop;
  Adapters adapters(loop);
  run.header();
  const bool radio = !DeviceAddress::names_socket(cmd.address);
  const DeviceFailure ad_problem =
      radio ? capture_advertisements(run, loop) : DeviceFailure{FailureKind::kNone};
  const DeviceFailure error = capture_link(run, loop, adapters);
  const bool link_failed = error.kind != FailureKind::kNone;
  run.end(error.detail);
  if (link_failed) print_error(cmd.address + ": " + error.detail);
  if (run.advertisements + run.notifications > 0) return kExitOk;
  if (!link_failed) print_error(cmd.address + ": nothing heard in " + fixed(cmd.seconds, 0) + " s");
  return ad_problem.kind == FailureKind::kPermission ? kExitNotPermitted : failed_exit(error.kind);
}

int run_decode_file(const Command& cmd) {
  const auto parsed = capture::read_capture(cmd.file);
  if (const auto* e = std::get_if<std::string>(&parsed)) {
    print_error(*e);
    return kExitFailed;
  }
  const auto& cap = std::get<capture::Capture>(parsed);
  const auto family = cmd.model ? cmd.model : capture::notification_family(cap);
  std::size_t readings = 0;
  for (const auto& r : cap.records) {
    const std::string head =
        "{\"line\":" + std::to_string(r.line) + ",\"type\":" + json_string(r.type_name);
    if (r.type == capture::Record::Type::kNotification) {
      const std::string members = notification_members(family, r.ciphertext, &readings);
      print_line(head + members + "}");
    } else if (r.type == capture::Record::Type::kAdvertisement) {
      const std::string address = r.address ? *r.address : cap.address.value_or("");
      const auto decodes =
          advertisement_decodes(address, cmd.model, r.manufacturer_data, &readings);
      for (std::size_t i = 0; i < decodes.size(); ++i) {
        print_line(head + ",\"address\":" + json_string(address) +
                   ",\"field\":" + std::to_string(i) + "," + decodes[i].substr(1));
      }
    }
  }
  if (readings == 0) print_error(cmd.file + ": no reading in it");
  return readings > 0 ? kExitOk : kExitFailed;
}

}  // namespace bm6::ctl
