// <Plugin bm6>: every option in one table (its name, the blocks it may stand in, its parser
// and a line of help), read the same way at each level. Each mistake appends its own
// sentence to `errors`, naming the device or adapter and the option.
#include "plugin/bm6_config.h"

#include <strings.h>

#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace bm6::plugin {

namespace {

using Errors = std::vector<std::string>;

bool is(const oconfig_item_t& item, const char* key) {
  return item.key != nullptr && ::strcasecmp(item.key, key) == 0;
}

const char* value_type(const oconfig_value_t& v) {
  switch (v.type) {
    case OCONFIG_TYPE_STRING:
      return "a string";
    case OCONFIG_TYPE_NUMBER:
      return "a number";
    case OCONFIG_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "an unknown value";
  }
}

// ", not a string" when the option has one value of the wrong type.
std::string not_type(const oconfig_item_t& item) {
  return item.values_num == 1 ? std::string(", not ") + value_type(item.values[0]) : "";
}

// Where an option stands, for its messages: `who` is "" at plugin level, "device \"van\": "
// or "adapter \"hci0\": ".
struct Where {
  std::string who;
  Errors* warnings = nullptr;  // where a value that works but makes little sense is said
  std::string prefix(const oconfig_item_t& item) const {
    return who + "option \"" + (item.key ? item.key : "") + "\"";
  }
};

// ---- value kinds ----

bool get_string(const oconfig_item_t& item, const Where& where, std::string& out, Errors& errors) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back(where.prefix(item) + " needs exactly one quoted string" + not_type(item));
    return false;
  }
  out = item.values[0].value.string;
  return true;
}

// true|false.
bool get_bool(const oconfig_item_t& opt, const Where& where, bool& out, Errors& errors) {
  if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_BOOLEAN) {
    errors.push_back(where.prefix(opt) + " needs true or false" + not_type(opt));
    return false;
  }
  out = opt.values[0].value.boolean != 0;
  return true;
}

// A whole number from `lo` to `hi`, printed as written in the messages (2592000, never
// 2.592e+06); `unit` is " of seconds" or "".
bool get_whole(const oconfig_item_t& opt, const Where& where, std::int64_t lo, std::int64_t hi,
               const char* unit, std::int64_t& out, Errors& errors) {
  const std::string range = "from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(where.prefix(opt) + " needs one whole number" + unit + ", " + range +
                     not_type(opt));
    return false;
  }
  const double v = opt.values[0].value.number;
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(lo) ||
      v > static_cast<double>(hi)) {
    errors.push_back(where.prefix(opt) + " must be a whole number" + unit + " " + range);
    return false;
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

// What a duration option can sensibly be for a BM6. Below kAbsurd nothing works (the loop
// would spin, collectd's own clock resolution is near), so it is an error. Below `floor`
// the value works but costs CPU for nothing or fails healthy links: one warning, naming
// the option and why; tests use such short timeouts on purpose. `clamp`: below the floor
// the floor is used (the interval: a read more often than a BM6 sends finds nothing new).
struct Floor {
  double seconds;
  const char* why;
  bool clamp = false;
};
constexpr double kAbsurd = 0.01;

// A duration in seconds, from kAbsurd to a day.
bool get_seconds(const oconfig_item_t& item, const Where& where, std::chrono::milliseconds& out,
                 Errors& errors, const Floor& floor) {
  if (item.values_num != 1 || item.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(where.prefix(item) + " needs one number of seconds" + not_type(item));
    return false;
  }
  double s = item.values[0].value.number;
  if (!std::isfinite(s) || s < kAbsurd || s > 86400) {
    errors.push_back(where.prefix(item) + " must be from 0.01 to 86400 seconds");
    return false;
  }
  if (s < floor.seconds) {
    char text[64];
    std::snprintf(text, sizeof text, " is %g s, below %g s: ", s, floor.seconds);
    std::string warning = where.prefix(item) + text + floor.why;
    if (floor.clamp) {
      std::snprintf(text, sizeof text, "; using %g s", floor.seconds);
      warning += text;
      s = floor.seconds;
    }
    if (where.warnings != nullptr) where.warnings->push_back(warning);
  }
  out = std::chrono::milliseconds(std::llround(s * 1000));
  return true;
}

// The floors, and why (the monitor sends one reading a second).
const Floor kIntervalFloor{1,
                           "a BM6 sends one reading a second, so more frequent reads find "
                           "nothing new and only cost CPU",
                           true};
const Floor kConnectTimeoutFloor{1,
                                 "an LE connection takes several advertising and connection "
                                 "events; shorter attempts fail on monitors that are there"};
const Floor kReconnectMinFloor{0.1,
                               "retrying a device that is away this often costs CPU and "
                               "radio time and brings it back no sooner"};
const Floor kReconnectMaxFloor{1,
                               "a device that stays away is retried this often for ever, "
                               "which costs CPU and radio time"};
const Floor kStreamTimeoutFloor{2,
                                "a BM6 sends one reading a second, so a frame that is only "
                                "late counts as silence and the link is asked again or dropped"};
const Floor kResponseTimeoutFloor{1,
                                  "an answer takes a few connection events, longer with a "
                                  "weak signal; healthy links would be dropped"};

const Floor kPassiveTimeoutFloor{2,
                                 "a monitor advertises about once a second at best, and a "
                                 "few advertisements are always lost: healthy monitors would "
                                 "be reported silent"};

// ---- the options ----

// What an option's parser writes into. `options`: the plugin-level defaults or the device's
// (none in <Adapter>); `device`: in <Device> only; `adapter`: in <Adapter> only.
struct Target {
  Where where;
  Errors& errors;
  PluginConfig& config;
  DeviceOptions* options = nullptr;
  DeviceConfig* device = nullptr;
  Corrections* corrections = nullptr;  // the plugin-level defaults or the device's
  std::optional<AdapterId> adapter{};
  std::string written_address{};                // <Device>: Address as written, for messages
  std::optional<LeAddressType> address_type{};  // <Device>: AddressType, applied at the end
};

using Parser = void (*)(const oconfig_item_t&, Target&);

// The blocks an option may stand in.
enum Scope : unsigned { kPluginLevel = 1, kInDevice = 2, kInAdapter = 4 };

struct Option {
  const char* name;
  unsigned scopes;
  Parser parse;
  const char* help;
};

// Model "auto" | "BM6" | "BM7" | "BM2", in any case: the monitor's family, or detection.
void parse_model(const oconfig_item_t& opt, Target& t) {
  std::string name;
  if (!get_string(opt, t.where, name, t.errors)) return;
  if (::strcasecmp(name.c_str(), "auto") == 0) {
    t.options->model.reset();
  } else if (const auto family = parse_family(name)) {
    t.options->model = family;
  } else {
    std::string known = "\"auto\"";
    for (const Family f : kAllFamilies) known += std::string(", \"") + to_string(f) + "\"";
    t.errors.push_back(t.where.prefix(opt) + ": \"" + name +
                       "\" is not a monitor model (known: " + known + ")");
  }
}

// One of two words, in any case: `first` sets `out` false, `second` true.
void parse_choice(const oconfig_item_t& opt, Target& t, const char* first, const char* second,
                  bool& out) {
  std::string word;
  if (!get_string(opt, t.where, word, t.errors)) return;
  if (::strcasecmp(word.c_str(), first) == 0) {
    out = false;
  } else if (::strcasecmp(word.c_str(), second) == 0) {
    out = true;
  } else {
    t.errors.push_back(t.where.prefix(opt) + ": \"" + word + "\" is neither \"" + first +
                       "\" nor \"" + second + "\"");
  }
}

void parse_mode(const oconfig_item_t& opt, Target& t) {
  parse_choice(opt, t, "connected", "passive", t.options->passive);
}

void parse_link(const oconfig_item_t& opt, Target& t) {
  bool per_read = t.options->link == LinkMode::kPerRead;
  parse_choice(opt, t, "persistent", "per-read", per_read);
  t.options->link = per_read ? LinkMode::kPerRead : LinkMode::kPersistent;
}

void parse_address_type(const oconfig_item_t& opt, Target& t) {
  bool random = false;
  const std::size_t before = t.errors.size();
  parse_choice(opt, t, "public", "random", random);
  if (t.errors.size() == before)
    t.address_type = random ? LeAddressType::kRandom : LeAddressType::kPublic;
}

// Address: parsed here; whether another device has it is the block's question.
void parse_address(const oconfig_item_t& opt, Target& t) {
  if (!get_string(opt, t.where, t.written_address, t.errors)) return;
  std::string problem;
  if (const auto address = DeviceAddress::parse(t.written_address, problem))
    t.options->address = *address;
  else
    t.errors.push_back(t.where.prefix(opt) + ": " + problem);
}

// Adapter "hciN" in <Device>.
void parse_adapter(const oconfig_item_t& opt, Target& t) {
  std::string name;
  if (!get_string(opt, t.where, name, t.errors)) return;
  if (const auto adapter = AdapterId::parse(name))
    t.options->adapter = adapter;
  else
    t.errors.push_back(t.where.prefix(opt) + ": \"" + name +
                       "\" is not an adapter name like \"hci0\"");
}

void parse_interval(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.device->interval, t.errors, kIntervalFloor);
}

void parse_connect_timeout(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->connect_timeout, t.errors, kConnectTimeoutFloor);
}
void parse_reconnect_min(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->reconnect_min, t.errors, kReconnectMinFloor);
}
void parse_reconnect_max(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->reconnect_max, t.errors, kReconnectMaxFloor);
}
void parse_stream_timeout(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->stream_timeout, t.errors, kStreamTimeoutFloor);
}
void parse_response_timeout(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->response_timeout, t.errors, kResponseTimeoutFloor);
}
void parse_passive_timeout(const oconfig_item_t& opt, Target& t) {
  get_seconds(opt, t.where, t.options->passive_timeout, t.errors, kPassiveTimeoutFloor);
}
void parse_passive_temperature(const oconfig_item_t& opt, Target& t) {
  get_bool(opt, t.where, t.options->passive_temperature, t.errors);
}
void parse_backfill(const oconfig_item_t& opt, Target& t) {
  get_bool(opt, t.where, t.options->backfill, t.errors);
}

// BackfillMax SECONDS: the longest gap filled (a monitor keeps ~50 h; 255 pages at most).
void parse_backfill_max(const oconfig_item_t& opt, Target& t) {
  std::int64_t s = 0;
  if (get_whole(opt, t.where, 1, 30 * 86400, " of seconds", s, t.errors))
    t.options->backfill_max = std::chrono::seconds(s);
}

// RecordPeriod SECONDS: the monitor's time between stored records (120 for a BM6 or BM7;
// the simulator's --record-period): the step of the estimated times.
void parse_record_period(const oconfig_item_t& opt, Target& t) {
  std::int64_t s = 0;
  if (get_whole(opt, t.where, 1, 86400, " of seconds", s, t.errors))
    t.options->record_period = std::chrono::seconds(s);
}

// MaxLinks N: links at once on one adapter, 1 to 64 (no controller holds more).
void parse_max_links(const oconfig_item_t& opt, Target& t) {
  const bool number = opt.values_num == 1 && opt.values[0].type == OCONFIG_TYPE_NUMBER;
  const double v = number ? opt.values[0].value.number : 0;
  if (!number || v != std::floor(v) || v < 1 || v > 64) {
    t.errors.push_back(t.where.prefix(opt) + " needs a whole number from 1 to 64");
    return;
  }
  auto& limits = t.config.link_limits;
  (t.adapter ? limits.adapters[*t.adapter] : limits.all.emplace()) = static_cast<unsigned>(v);
}

// ResetAdapter and StuckAfter watch a controller, which "unix" is not.
bool has_controller(const oconfig_item_t& opt, const Target& t) {
  if (!t.adapter->is_simulated()) return true;
  t.errors.push_back(t.where.prefix(opt) +
                     ": simulated devices have no controller to watch or reset");
  return false;
}

void parse_reset_adapter(const oconfig_item_t& opt, Target& t) {
  if (has_controller(opt, t))
    get_bool(opt, t.where, t.config.adapter_watch[*t.adapter].reset, t.errors);
}

// StuckAfter SECONDS, 10 s to a day: shorter, and a monitor that is only slow to answer a
// few times gets its adapter reset.
void parse_stuck_after(const oconfig_item_t& opt, Target& t) {
  if (!has_controller(opt, t)) return;
  const bool number = opt.values_num == 1 && opt.values[0].type == OCONFIG_TYPE_NUMBER;
  const double s = number ? opt.values[0].value.number : 0;
  if (!number || !std::isfinite(s) || s < 10 || s > 86400) {
    t.errors.push_back(t.where.prefix(opt) + " needs a number of seconds from 10 to 86400");
    return;
  }
  t.config.adapter_watch[*t.adapter].stuck_after =
      std::chrono::milliseconds(std::llround(s * 1000));
}

// StateDir "/path": an absolute directory for the backfill state files.
void parse_state_dir(const oconfig_item_t& opt, Target& t) {
  std::string& dir = t.config.state_dir;
  if (!get_string(opt, t.where, dir, t.errors)) return;
  if (dir.empty() || dir[0] != '/')
    t.errors.push_back(t.where.prefix(opt) + ": \"" + dir + "\" is not an absolute path");
}

// A number within what `problem` accepts (device/corrections.h says why the bounds).
void get_offset(const oconfig_item_t& opt, const Where& where, const char* unit,
                std::string (*problem)(double), double& out, Errors& errors) {
  if (opt.values_num != 1 || opt.values[0].type != OCONFIG_TYPE_NUMBER) {
    errors.push_back(where.prefix(opt) + " needs one number of " + unit + not_type(opt));
    return;
  }
  const double v = opt.values[0].value.number;
  if (const std::string why = problem(v); !why.empty()) {
    errors.push_back(where.prefix(opt) + " " + why);
    return;
  }
  out = v;
}

// VoltageOffset VOLTS: added to every voltage of the device, live and backfilled.
void parse_voltage_offset(const oconfig_item_t& opt, Target& t) {
  get_offset(opt, t.where, "volts", voltage_offset_problem, t.corrections->voltage_offset,
             t.errors);
}

// TemperatureOffset DEGREES: added to every temperature (the BM6 reports its chip's).
void parse_temperature_offset(const oconfig_item_t& opt, Target& t) {
  get_offset(opt, t.where, "degrees C", temperature_offset_problem,
             t.corrections->temperature_offset, t.errors);
}

// Chemistry "lead-acid" | "agm" | "lifepo4": a rest-voltage state of charge beside the
// monitor's own.
void parse_chemistry_option(const oconfig_item_t& opt, Target& t) {
  std::string name;
  if (!get_string(opt, t.where, name, t.errors)) return;
  if (const auto chemistry = parse_chemistry(name))
    t.corrections->chemistry = chemistry;
  else
    t.errors.push_back(t.where.prefix(opt) + ": \"" + name + "\" is not a battery chemistry " +
                       "(known: " + chemistry_names() + ")");
}

constexpr unsigned kDefaultOrDevice = kPluginLevel | kInDevice;

// Every option, in the order the "known:" lists give them. Blocks (<Device>, <Adapter>)
// are read by the block parsers below.
const Option kOptions[] = {
    {"Address", kInDevice, parse_address, "the monitor: AA:BB:CC:DD:EE:FF or unix:/path"},
    {"AddressType", kInDevice, parse_address_type, "the LE address type: public or random"},
    {"Adapter", kInDevice, parse_adapter, "the Bluetooth adapter, as in hci0"},
    {"Interval", kInDevice, parse_interval, "seconds between reads of this device"},
    {"Model", kDefaultOrDevice, parse_model, "auto, BM6, BM7 or BM2"},
    {"Mode", kDefaultOrDevice, parse_mode, "connected or passive"},
    {"Link", kDefaultOrDevice, parse_link, "persistent or per-read"},
    {"MaxLinks", kPluginLevel | kInAdapter, parse_max_links, "links at once on one adapter"},
    {"ConnectTimeout", kDefaultOrDevice, parse_connect_timeout, "seconds for one connect"},
    {"ReconnectMin", kDefaultOrDevice, parse_reconnect_min, "the first retry's delay"},
    {"ReconnectMax", kDefaultOrDevice, parse_reconnect_max, "the longest retry delay"},
    {"StreamTimeout", kDefaultOrDevice, parse_stream_timeout, "seconds without a reading"},
    {"ResponseTimeout", kDefaultOrDevice, parse_response_timeout, "seconds for one answer"},
    {"PassiveTimeout", kDefaultOrDevice, parse_passive_timeout, "passive: seconds of silence"},
    {"PassiveTemperature", kDefaultOrDevice, parse_passive_temperature,
     "passive: byte 10 as a temperature"},
    {"Backfill", kDefaultOrDevice, parse_backfill, "download the stored history after a gap"},
    {"BackfillMax", kDefaultOrDevice, parse_backfill_max, "the longest gap filled"},
    {"RecordPeriod", kDefaultOrDevice, parse_record_period, "seconds between stored records"},
    {"VoltageOffset", kDefaultOrDevice, parse_voltage_offset, "volts added to the voltage"},
    {"TemperatureOffset", kDefaultOrDevice, parse_temperature_offset,
     "degrees C added to the temperature"},
    {"Chemistry", kDefaultOrDevice, parse_chemistry_option,
     "lead-acid, agm or lifepo4: a rest-voltage charge estimate"},
    {"ResetAdapter", kInAdapter, parse_reset_adapter, "power-cycle the adapter when stuck"},
    {"StuckAfter", kInAdapter, parse_stuck_after, "seconds of failures that mean stuck"},
    {"StateDir", kPluginLevel, parse_state_dir, "where the backfill state files go"},
};

const Option* find_option(const oconfig_item_t& item) {
  for (const auto& o : kOptions)
    if (is(item, o.name)) return &o;
  return nullptr;
}

std::string known(unsigned scope) {
  std::string list;
  for (const auto& o : kOptions)
    if (o.scopes & scope) list += (list.empty() ? "" : ", ") + std::string(o.name);
  return list;
}

const char* block_name(unsigned scope) {
  return scope == kPluginLevel ? "<Plugin bm6>" : scope == kInDevice ? "<Device>" : "<Adapter>";
}

// "<Plugin bm6> or <Adapter>": where an option may stand.
std::string allowed_blocks(unsigned scopes) {
  std::string list;
  for (const unsigned s : {kPluginLevel, kInDevice, kInAdapter})
    if (scopes & s) list += (list.empty() ? "" : " or ") + std::string(block_name(s));
  return list;
}

// One option of a block: known, allowed here, not a block, and not given before in it (a
// second value would silently win). `seen` gets its table entry.
void parse_option(const oconfig_item_t& item, unsigned scope, Target& t,
                  std::set<const Option*>& seen) {
  const Option* option = find_option(item);
  if (option == nullptr) {
    t.errors.push_back(t.where.who + "unknown option \"" + (item.key ? item.key : "") + "\"" +
                       (scope == kPluginLevel ? " in <Plugin bm6>" : "") +
                       " (known: " + (scope == kPluginLevel ? "Device, Adapter block, " : "") +
                       known(scope) + ")");
    return;
  }
  if (!(option->scopes & scope)) {
    t.errors.push_back(t.where.prefix(item) + " belongs in " + allowed_blocks(option->scopes) +
                       ", not in " + block_name(scope) + " (" + option->name + ": " + option->help +
                       ")");
    return;
  }
  if (item.children_num > 0) {  // oconfig reads <Adapter "hci0"> ... </Adapter> as a value
    t.errors.push_back(t.where.who + "<" + option->name + "> is a block, and " + block_name(scope) +
                       " takes none here" +
                       (scope == kInDevice && is(item, "Adapter")
                            ? ": an <Adapter> block goes in <Plugin bm6>; in <Device> write "
                              "Adapter \"hci0\""
                            : ""));
    return;
  }
  if (!seen.insert(option).second) {
    t.errors.push_back(t.where.prefix(item) +
                       " is given twice (remove one of them: which one counts is not a guess "
                       "the plugin makes)");
    return;
  }
  option->parse(item, t);
}

// ---- blocks ----

// <Adapter "hci0"> MaxLinks N, ResetAdapter, StuckAfter </Adapter> ("unix": the simulated
// devices' pseudo-adapter). "hci00" is hci0: a second block for it is an error.
void parse_adapter_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors) {
  if (block.values_num != 1 || block.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back(
        "<Adapter> in <Plugin bm6> needs one quoted adapter name, as in <Adapter \"hci0\">");
    return;
  }
  const std::string name = block.values[0].value.string;
  const auto adapter = AdapterId::parse(name, true);
  if (!adapter) {
    errors.push_back("<Adapter \"" + name +
                     "\">: not an adapter name like \"hci0\" (or \"unix\" for simulators)");
    return;
  }
  if (!config.adapter_watch.try_emplace(*adapter).second) {
    errors.push_back("<Adapter \"" + name + "\"> is given twice: adapter " + adapter->text() +
                     " has a block already (merge them into one)");
    return;
  }
  Target t{{"adapter \"" + name + "\": "}, errors, config};
  t.adapter = adapter;
  std::set<const Option*> seen;
  for (int i = 0; i < block.children_num; ++i) parse_option(block.children[i], kInAdapter, t, seen);
}

// A name collectd can carry: it becomes the plugin instance, a field of
// DATA_MAX_NAME_LEN bytes with its NUL. Counted in bytes (UTF-8 takes 2 to 4 per character
// outside ASCII), and so said.
std::string name_problem(const std::string& name) {
  if (name.empty() || name.size() >= DATA_MAX_NAME_LEN)
    return "the name must be 1 to " + std::to_string(DATA_MAX_NAME_LEN - 1) +
           " bytes (a character outside ASCII takes 2 to 4), with no \"/\"; it is " +
           std::to_string(name.size());
  for (const char c : name)
    if (c == '/' || static_cast<unsigned char>(c) < 0x20)
      return "the name must be 1 to " + std::to_string(DATA_MAX_NAME_LEN - 1) +
             " bytes with no \"/\" and no control character";
  return "";
}

// Devices already accepted, of this block and of earlier ones: names, and addresses by
// identity with the device that has it and the address as written.
struct Taken {
  std::set<std::string> names;
  std::map<std::string, std::pair<std::string, std::string>> addresses;  // -> name, written
};

// A BM6 takes one connection: a second device with the same address, however spelled,
// would be refused by the monitor for as long as the first holds it.
void claim_address(const Target& t, Taken& taken) {
  const DeviceOptions& o = *t.options;
  const auto [it, inserted] =
      taken.addresses.try_emplace(o.address.identity(), o.name, t.written_address);
  if (inserted) return;
  t.errors.push_back("device \"" + o.name + "\": option \"Address\": address " + t.written_address +
                     " belongs to another device already: \"" + it->second.first + "\" has " +
                     it->second.second + " (a BM6 takes one connection)");
}

// A plugin-level default applies where it can: off for the devices whose Model or Mode
// rules it out. Written in the <Device> itself, it is the user's word, and a contradiction
// is an error (check_conflicts).
void drop_defaults_that_do_not_apply(DeviceOptions& o, const std::set<std::string>& written) {
  const bool no_history = o.passive || (o.model && !traits(*o.model).has_history);
  if (!written.count("Backfill") && no_history) o.backfill = false;
  if (!written.count("PassiveTemperature") &&
      (!o.passive || (o.model && !traits(*o.model).advert.state_and_byte10)))
    o.passive_temperature = false;
}

// Options that contradict each other, or that the device's Model or Mode rules out.
void check_conflicts(const DeviceOptions& o, Errors& errors) {
  const std::string device = "device \"" + o.name + "\": ";
  if (o.reconnect_min > o.reconnect_max)
    errors.push_back(device + "ReconnectMin is greater than ReconnectMax");
  if (o.backfill && o.model && !traits(*o.model).has_history)
    errors.push_back(
        device + "option \"Backfill\": a " + to_string(*o.model) +
        "'s stored history is not supported (only " +
        family_names(families_where([](const FamilyTraits& t) { return t.has_history; }), "and") +
        "); set Backfill false for it");
  if (o.backfill && o.passive)
    errors.push_back(device +
                     "option \"Backfill\": the stored history is downloaded over a link, "
                     "and Mode \"passive\" makes none; use Mode \"connected\" for it");
  if (o.passive && o.address.is_unix())
    errors.push_back(device + "option \"Address\": Mode \"passive\" " +
                     "reads Bluetooth advertisements, so it needs a Bluetooth address " +
                     "(AA:BB:CC:DD:EE:FF), not \"" + o.address.text() + "\"");
  if (!o.passive_temperature) return;
  if (!o.passive)
    errors.push_back(device +
                     "option \"PassiveTemperature\": only Mode \"passive\" reads the "
                     "advertisement's byte 10; a connected device's temperature comes from its "
                     "frames");
  else if (o.model && !traits(*o.model).advert.state_and_byte10)
    errors.push_back(device + "option \"PassiveTemperature\": a " + to_string(*o.model) +
                     "'s advertisement has no byte that could be a temperature" +
                     (traits(*o.model).has_temperature
                          ? ""
                          : std::string(" (and a ") + to_string(*o.model) + " has no sensor)"));
}

// The names of the options a block wrote.
std::set<std::string> names_of(const std::set<const Option*>& seen) {
  std::set<std::string> names;
  for (const Option* o : seen) names.insert(o->name);
  return names;
}

// One <Device "name"> block: its options on top of the plugin-level defaults. Returns false
// (with errors) if the device cannot be used.
bool parse_device(const oconfig_item_t& dev, const DeviceConfig& defaults, Taken& taken,
                  PluginConfig& config, DeviceConfig& device, Errors& errors, Errors& warnings) {
  const std::size_t errors_before = errors.size();
  if (dev.values_num != 1 || dev.values[0].type != OCONFIG_TYPE_STRING) {
    errors.push_back("<Device> needs one quoted name, as in <Device \"van\">");
    return false;
  }
  device = defaults;
  DeviceOptions& o = device.options;
  o.name = dev.values[0].value.string;
  if (const std::string problem = name_problem(o.name); !problem.empty()) {
    errors.push_back("device \"" + o.name + "\": " + problem);
    return false;
  }
  if (!taken.names.insert(o.name).second) {
    errors.push_back("device \"" + o.name + "\" is configured twice");
    return false;
  }
  Target t{
      {"device \"" + o.name + "\": ", &warnings}, errors, config, &o, &device, &device.corrections};
  std::set<const Option*> seen;
  for (int j = 0; j < dev.children_num; ++j) parse_option(dev.children[j], kInDevice, t, seen);
  if (t.address_type) o.address = o.address.with_type(*t.address_type);
  drop_defaults_that_do_not_apply(o, names_of(seen));
  check_conflicts(o, errors);
  if (t.written_address.empty() && o.address.empty())
    errors.push_back("device \"" + o.name +
                     "\": option \"Address\" is missing (a Bluetooth address or "
                     "unix:/path/to/socket)");
  else if (!o.address.empty())
    claim_address(t, taken);  // even with other mistakes: all at once
  return errors.size() == errors_before;
}

// Plugin-level options: the defaults for every <Device>, wherever they stand in the block;
// <Adapter> blocks.
void parse_defaults(const oconfig_item_t& block, DeviceConfig& defaults, PluginConfig& config,
                    Errors& errors, Errors& warnings) {
  Target t{{"", &warnings}, errors, config, &defaults.options, nullptr, &defaults.corrections};
  std::set<const Option*> seen;
  for (int i = 0; i < block.children_num; ++i) {
    const auto& child = block.children[i];
    if (is(child, "Device")) continue;
    if (is(child, "Adapter") && child.children_num > 0)
      parse_adapter_block(child, config, errors);
    else
      parse_option(child, kPluginLevel, t, seen);
  }
}

}  // namespace

void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors) {
  Errors warnings;
  parse_plugin_block(block, config, errors, warnings);
}

void parse_plugin_block(const oconfig_item_t& block, PluginConfig& config, Errors& errors,
                        Errors& warnings) {
  const std::size_t errors_before = errors.size();
  DeviceConfig defaults;  // its interval stays 0: Interval is a <Device> option
  parse_defaults(block, defaults, config, errors, warnings);

  Taken taken;
  for (const auto& d : config.devices) {
    taken.names.insert(d.options.name);
    taken.addresses.try_emplace(d.options.address.identity(), d.options.name,
                                d.options.address.text());
  }
  std::vector<DeviceConfig> added;
  for (int i = 0; i < block.children_num; ++i) {
    const auto& child = block.children[i];
    if (!is(child, "Device")) continue;
    DeviceConfig device;
    if (parse_device(child, defaults, taken, config, device, errors, warnings))
      added.push_back(std::move(device));
  }
  if (errors.size() != errors_before) return;
  for (auto& d : added) config.devices.push_back(std::move(d));
  std::vector<DeviceOptions> all;
  for (const auto& d : config.devices) all.push_back(d.options);
  for (auto& problem : link_limit_problems(all, config.link_limits))
    errors.push_back(std::move(problem));
}

}  // namespace bm6::plugin
