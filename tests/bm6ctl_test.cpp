// bm6ctl: the command line parsed into a Command, and what reaches the terminal and JSON.
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <string>
#include <vector>

#include "device/link_errors.h"
#include "tools/ctl/cli.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/decode.h"
#include "tools/ctl/format.h"
#include "tools/ctl/text.h"

namespace bm6 {
namespace ctl {
namespace {

Command command(const std::vector<std::string>& args) {
  const Parsed p = parse(args);
  if (const auto* e = std::get_if<UsageError>(&p)) ADD_FAILURE() << "usage error: " << e->message;
  return std::holds_alternative<Command>(p) ? std::get<Command>(p) : Command{};
}

UsageError usage_error(const std::vector<std::string>& args) {
  const Parsed p = parse(args);
  EXPECT_TRUE(std::holds_alternative<UsageError>(p));
  return std::holds_alternative<UsageError>(p) ? std::get<UsageError>(p) : UsageError{};
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != s.npos; }

TEST(Bm6ctlParse, OptionsAnywhere) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"read", "--json", "unix:/x"},
           {"read", "unix:/x", "--json"},
           {"--json", "read", "unix:/x"},
           {"-j", "read", "unix:/x"},
       }) {
    const Command c = command(args);
    EXPECT_EQ(c.action, Command::Action::kRun);
    EXPECT_EQ(c.verb, Verb::kRead);
    EXPECT_EQ(c.address, "unix:/x");
    EXPECT_TRUE(c.json);
  }
  const Command c = command({"--timeout=2.5", "read", "aa-bb-cc-dd-ee-0f", "--adapter", "hci1",
                             "--address-type", "random"});
  EXPECT_EQ(c.address, "AA:BB:CC:DD:EE:0F");
  EXPECT_EQ(c.adapter, "hci1");
  EXPECT_TRUE(c.random_address);
  EXPECT_EQ(c.timeout(), std::chrono::milliseconds(2500));
  // Unambiguous prefixes, short options with attached values, "--" ending the options.
  EXPECT_EQ(command({"scan", "--ti", "3", "--al"}).timeout_s, 3);
  EXPECT_TRUE(command({"scan", "--al"}).all);
  EXPECT_EQ(command({"scan", "-t3", "-iunix:/d"}).adapter, "unix:/d");
  EXPECT_EQ(command({"read", "-j", "--", "unix:/-x"}).address, "unix:/-x");
}

TEST(Bm6ctlParse, Defaults) {
  const Command scan = command({"scan"});
  EXPECT_EQ(scan.verb, Verb::kScan);
  EXPECT_EQ(scan.timeout_s, 10);
  EXPECT_FALSE(scan.all || scan.json);
  EXPECT_EQ(scan.adapter, "");
  const Command read = command({"read", "AA:BB:CC:DD:EE:FF"});
  EXPECT_EQ(read.timeout_s, 20);
  EXPECT_FALSE(read.random_address);
}

TEST(Bm6ctlParse, HelpAndVersion) {
  EXPECT_EQ(command({"--help"}).action, Command::Action::kHelp);
  EXPECT_EQ(command({"-h"}).verb, std::nullopt);
  EXPECT_EQ(command({"help"}).action, Command::Action::kHelp);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"read", "--help"},
                                             {"read", "-h"},
                                             {"help", "read"},
                                             {"--help", "read"},
                                             {"read", "--timeout", "0", "--help"}}) {
    const Command c = command(args);
    EXPECT_EQ(c.action, Command::Action::kHelp);
    EXPECT_EQ(c.verb, Verb::kRead);
  }
  EXPECT_EQ(command({"scan", "--help"}).verb, Verb::kScan);
  EXPECT_EQ(command({"--version"}).action, Command::Action::kVersion);
  EXPECT_TRUE(has(version_text(), "bm6ctl (bm6-collectd) "));
}

TEST(Bm6ctlParse, HelpListsEveryOption) {
  const std::string scan = help_text(Verb::kScan), read = help_text(Verb::kRead);
  for (const char* o : {"--adapter", "--timeout", "--all", "--json", "--help", "unix:DIR"})
    EXPECT_TRUE(has(scan, o)) << o;
  for (const char* o : {"--adapter", "--address-type", "--timeout", "--json", "--help"})
    EXPECT_TRUE(has(read, o)) << o;
  const std::string tool = help_text(std::nullopt);
  for (const char* o : {"--all", "--json", "--address-type", "--version", "--help", "Exit status",
                        "3  not permitted"})
    EXPECT_TRUE(has(tool, o)) << o;
}

TEST(Bm6ctlParse, History) {
  const Command h = command({"history", "unix:/x"});
  EXPECT_EQ(h.verb, Verb::kHistory);
  EXPECT_EQ(h.pages, 1u);
  EXPECT_EQ(h.record_period, std::chrono::seconds(120));
  EXPECT_EQ(h.timeout_s, 60);
  EXPECT_FALSE(h.json || h.csv);
  const Command c = command({"--csv", "history", "aa-bb-cc-dd-ee-ff", "--pages=6",
                             "--record-period", "2", "--model", "bm7"});
  EXPECT_EQ(c.address, "AA:BB:CC:DD:EE:FF");
  EXPECT_TRUE(c.csv);
  EXPECT_EQ(c.pages, 6u);
  EXPECT_EQ(c.record_period, std::chrono::seconds(2));
  EXPECT_EQ(c.model, Family::kBm7);
  EXPECT_TRUE(has(usage_error({"history"}).message, "history needs an ADDRESS"));
  EXPECT_TRUE(has(usage_error({"history", "unix:/x", "--pages", "256"}).message, "1 to 255"));
  EXPECT_TRUE(has(usage_error({"history", "unix:/x", "--pages", "+3"}).message, "1 to 255"));
  EXPECT_TRUE(
      has(usage_error({"history", "unix:/x", "--record-period", "0"}).message, "1 to 86400"));
  EXPECT_TRUE(has(usage_error({"history", "unix:/x", "--json", "--csv"}).message, "not both"));
  EXPECT_TRUE(has(usage_error({"scan", "--csv"}).message, "scan has no option '--csv'"));
  EXPECT_TRUE(has(help_text(Verb::kHistory), "up to one\nrecord period before the time shown"));
}

TEST(Bm6ctlParse, UsageErrorsNameTheCause) {
  EXPECT_TRUE(has(usage_error({}).message, "give a command"));
  EXPECT_TRUE(has(usage_error({"frobnicate"}).message, "'frobnicate'"));
  EXPECT_TRUE(has(usage_error({"help", "frobnicate"}).message, "'frobnicate'"));
  auto e = usage_error({"read", "--bogus", "unix:/x"});
  EXPECT_TRUE(has(e.message, "unknown option '--bogus'"));
  EXPECT_EQ(e.verb, Verb::kRead);
  EXPECT_TRUE(has(usage_error({"read", "-x", "unix:/x"}).message, "'-x'"));
  EXPECT_TRUE(
      has(usage_error({"read", "unix:/x", "--timeout"}).message, "'--timeout' needs a value"));
  EXPECT_TRUE(has(usage_error({"scan", "--json=yes"}).message, "'--json' takes no value"));
  EXPECT_TRUE(has(usage_error({"scan", "--a"}).message, "ambiguous"));
  e = usage_error({"scan", "--address-type", "random"});
  EXPECT_TRUE(has(e.message, "scan has no option '--address-type'"));
  EXPECT_EQ(e.verb, Verb::kScan);
  EXPECT_TRUE(has(usage_error({"read", "unix:/x", "--all"}).message, "'--all'"));
  EXPECT_TRUE(has(usage_error({"read"}).message, "needs an ADDRESS"));
  EXPECT_TRUE(has(usage_error({"read", "unix:/a", "unix:/b"}).message, "'unix:/b'"));
  EXPECT_TRUE(has(usage_error({"read", "van"}).message, "'van' is neither"));
  EXPECT_TRUE(has(usage_error({"read", "AA:BB-CC:DD:EE:FF"}).message, "is neither"));
  EXPECT_TRUE(has(usage_error({"read", "unix:"}).message, "socket path"));
  EXPECT_TRUE(has(usage_error({"scan", "extra"}).message, "'extra'"));
  EXPECT_TRUE(has(usage_error({"read", "unix:/x", "--address-type", "static"}).message,
                  "'static' is not public or random"));
  // --timeout: what --help promises, more than 0 and at most 3600.
  for (const char* bad : {"0", "-1", "3601", "nan", "inf", "", " 5", "5s", "1e9"}) {
    e = usage_error({"read", "unix:/x", "--timeout", bad});
    EXPECT_TRUE(has(e.message, "more than 0 and at most 3600")) << bad << ": " << e.message;
  }
  EXPECT_TRUE(has(help_text(Verb::kRead), "more than 0 and at most 3600"));
  EXPECT_TRUE(has(help_text(Verb::kScan), "more than 0 and at most 3600"));
  EXPECT_EQ(command({"read", "unix:/x", "--timeout", "3600"}).timeout_s, 3600);
  EXPECT_EQ(command({"read", "unix:/x", "--timeout", "0.05"}).timeout(),
            std::chrono::milliseconds(50));
  EXPECT_TRUE(has(usage_hint(Verb::kRead), "bm6ctl read --help"));
}

// The habits a hostile user tries (issue 22).
TEST(Bm6ctlParse, HistoryRefusesABm2) {
  const auto e = usage_error({"history", "unix:/x", "--model", "bm2"});
  EXPECT_TRUE(has(e.message, "--model: a BM2 keeps no history")) << e.message;
  EXPECT_EQ(e.verb, Verb::kHistory);
  EXPECT_TRUE(has(usage_error({"--model=BM2", "history", "unix:/x"}).message, "BM2"));
  EXPECT_EQ(command({"history", "unix:/x", "--model", "bm7"}).model, Family::kBm7);
  EXPECT_EQ(command({"history", "unix:/x", "--model", "auto"}).model, std::nullopt);
  // The other verbs read a BM2.
  EXPECT_EQ(command({"read", "unix:/x", "--model", "bm2"}).model, Family::kBm2);
  EXPECT_EQ(command({"capture", "unix:/x", "--model", "bm2"}).model, Family::kBm2);
}

TEST(Bm6ctlParse, HelpHelpIsTheToolsHelp) {
  const Command c = command({"help", "help"});
  EXPECT_EQ(c.action, Command::Action::kHelp);
  EXPECT_EQ(c.verb, std::nullopt);
  EXPECT_TRUE(has(help_text(c.verb), "help [COMMAND]"));
  EXPECT_TRUE(has(usage_error({"help", "help", "read"}).message, "one command name"));
  EXPECT_TRUE(has(usage_error({"help", "helpp"}).message, "unknown command 'helpp'"));
}

TEST(Bm6ctlParse, SecondsAreDecimalNumbers) {
  EXPECT_EQ(command({"read", "unix:/x", "--timeout", "2.5"}).timeout(),
            std::chrono::milliseconds(2500));
  EXPECT_EQ(command({"read", "unix:/x", "-t", ".5"}).timeout(), std::chrono::milliseconds(500));
  EXPECT_EQ(command({"read", "unix:/x", "--timeout=7."}).timeout(), std::chrono::seconds(7));
  EXPECT_EQ(command({"read", "unix:/x", "--timeout=0012"}).timeout(), std::chrono::seconds(12));
  EXPECT_EQ(command({"capture", "unix:/x", "--seconds", "1.25"}).seconds, 1.25);
  // What strtod takes besides: hex, exponents, signs, spaces, a second point.
  for (const char* bad : {"0x10", "0X1p3", "1e2", "1E1", "+5", "-0", "5 ", "5,5", "2.5.1", ".",
                          "infinity", "0.0", "00"}) {
    auto e = usage_error({"read", "unix:/x", "--timeout", bad});
    EXPECT_TRUE(has(e.message, "is not a number of seconds more than 0"))
        << bad << ": " << e.message;
    e = usage_error({"capture", "unix:/x", "--seconds", bad});
    EXPECT_TRUE(has(e.message, "is not a number of seconds more than 0"))
        << bad << ": " << e.message;
  }
}

TEST(Bm6ctlParse, AnOptionGivenTwiceIsRefused) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"read", "unix:/x", "--timeout", "5", "--timeout", "5"},
           {"-t", "5", "read", "unix:/x", "--timeout=6"},
           {"read", "unix:/x", "--ti", "5", "-t5"},
       }) {
    const auto e = usage_error(args);
    EXPECT_TRUE(has(e.message, "option '--timeout' is given twice")) << e.message;
    EXPECT_EQ(e.verb, Verb::kRead);
  }
  EXPECT_TRUE(has(usage_error({"read", "-j", "unix:/x", "--json"}).message,
                  "option '--json' is given twice"));
  EXPECT_TRUE(has(usage_error({"history", "unix:/x", "--pages=2", "--pages=3"}).message,
                  "option '--pages' is given twice"));
  EXPECT_TRUE(has(usage_error({"scan", "-i", "hci0", "--adapter", "hci1"}).message,
                  "option '--adapter' is given twice"));
  EXPECT_TRUE(has(usage_error({"read", "unix:/x", "--model", "bm6", "--model", "auto"}).message,
                  "option '--model' is given twice"));
}

TEST(Bm6ctlParse, HelpAndParserAgree) {  // both made from one table
  const std::vector<std::pair<std::string, std::string>> options = {
      {"--adapter", "hci0"},
      {"--address-type", "random"},
      {"--timeout", "5"},
      {"--model", "bm6"},
      {"--pages", "2"},
      {"--record-period", "60"},
      {"--all", ""},
      {"--json", ""},
      {"--csv", ""},
      {"--seconds", "5"},
      {"--address", "50:54:7B:80:2C:3C"},
      {"--file", "capture.jsonl"}};
  for (const Verb verb :
       {Verb::kScan, Verb::kRead, Verb::kDecode, Verb::kHistory, Verb::kCapture}) {
    const std::string help = help_text(verb);
    for (const auto& [name, value] : options) {
      const char* verb_word[] = {"scan", "read", "decode", "history", "capture"};
      const std::vector<std::string> args = {verb_word[static_cast<int>(verb)],
                                             value.empty() ? name : name + "=" + value};
      const Parsed p = parse(args);
      const bool refused = std::holds_alternative<UsageError>(p) &&
                           has(std::get<UsageError>(p).message, "has no option");
      EXPECT_EQ(!refused, has(help, name + (value.empty() ? " " : "="))) << args[0] << " " << name;
    }
  }
}

TEST(Bm6ctlParse, ParsesAgainAfterAnError) {  // getopt_long's state is global
  usage_error({"read", "-jx", "unix:/x"});
  usage_error({"scan", "--timeout"});
  EXPECT_TRUE(command({"read", "-j", "unix:/y"}).json);
  EXPECT_EQ(command({"read", "unix:/y"}).json, false);
}

TEST(Bm6ctlParse, BluetoothAddresses) {  // transport/address.h parses them
  EXPECT_EQ(command({"read", "a4:c1:38:0b:5e:01"}).address, "A4:C1:38:0B:5E:01");
  EXPECT_EQ(command({"read", "A4-C1-38-0B-5E-01"}).address, "A4:C1:38:0B:5E:01");
  for (const char* bad :
       {"A4-C1:38-0B-5E-01", "A4.C1.38.0B.5E.01", "A4:C1:38:0B:5E", "A4:C1:38:0B:5E:0G"})
    usage_error({"read", bad});
}

TEST(Bm6ctlParse, AdapterNamesAreParsedOnce) {
  EXPECT_EQ(command({"read", "--adapter", "hci00", "A4:C1:38:0B:5E:01"}).adapter, "hci0");
  usage_error({"read", "--adapter", "usb0", "A4:C1:38:0B:5E:01"});
  usage_error({"read", "--adapter", "unix:/d", "A4:C1:38:0B:5E:01"});
  usage_error({"scan", "--adapter", "unix:"});
}

// A strict RFC 8259 check of one JSON value: no raw control characters in strings, only
// the escapes the grammar allows, valid UTF-8 throughout.
class JsonCheck {
 public:
  static bool valid(const std::string& s) {
    JsonCheck c(s);
    return c.value() && (c.ws(), c.i_ == s.size());
  }

 private:
  explicit JsonCheck(const std::string& s) : s_(s) {}
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) { return i_ < s_.size() && s_[i_] == c ? (++i_, true) : false; }
  bool literal(const char* w) {
    const std::string word = w;
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }
  bool value() {
    ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object() {
    ++i_;
    ws();
    if (eat('}')) return true;
    do {
      ws();
      if (!string()) return false;
      ws();
      if (!eat(':') || !value()) return false;
      ws();
    } while (eat(','));
    return eat('}');
  }
  bool array() {
    ++i_;
    ws();
    if (eat(']')) return true;
    do {
      if (!value()) return false;
      ws();
    } while (eat(','));
    return eat(']');
  }
  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }
  bool number() {
    eat('-');
    if (eat('0')) {
    } else if (!digits()) {
      return false;
    }
    if (eat('.') && !digits()) return false;
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!eat('+')) eat('-');
      if (!digits()) return false;
    }
    return true;
  }
  bool string() {
    if (!eat('"')) return false;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k, ++i_)
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      // UTF-8: a lead byte and its continuation bytes (overlongs and surrogates refused).
      const int n = c >= 0xc2 && c <= 0xdf   ? 1
                    : c >= 0xe0 && c <= 0xef ? 2
                    : c >= 0xf0 && c <= 0xf4 ? 3
                                             : -1;
      if (n < 0 || i_ + n >= s_.size()) return false;
      const auto b1 = static_cast<unsigned char>(s_[i_ + 1]);
      if ((c == 0xe0 && b1 < 0xa0) || (c == 0xed && b1 > 0x9f) || (c == 0xf0 && b1 < 0x90) ||
          (c == 0xf4 && b1 > 0x8f))
        return false;
      for (int k = 1; k <= n; ++k)
        if ((static_cast<unsigned char>(s_[i_ + k]) & 0xc0) != 0x80) return false;
      i_ += n + 1;
    }
    return false;
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

bool has_raw_control(const std::string& s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Names as a hostile or broken advertiser might send them.
const std::vector<std::string> kHostile = {
    "BM6",
    "quote\"d",
    "back\\slash",
    "\x1b[2J\x1b[H cleared",
    std::string("nul\0byte", 8),
    "del\x7f",
    "bad \xff\xfe utf-8",
    "trunc\xe2\x82",
    "overlong \xc0\xaf",
    "surrogate \xed\xa0\x80",
    "csi \xc2\x9b"
    "31m",
    "bidi \xe2\x80\xae"
    "gnp.exe",
    "line\nbreak\r\ttab\b\f",
    "\xe2\x80\xa8 sep",
    "Batterie \xc3\xa4\xc3\xb6 \xe2\x9a\xa1 \xf0\x9f\x94\x8b",
    "\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1c\x1d"
    "\x1e\x1f",
    "",
};

TEST(Bm6ctlOutput, JsonStringEscapes) {
  EXPECT_EQ(json_string("BM6"), "\"BM6\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(json_string(std::string("\0\x1b\x7f", 3)), "\"\\u0000\\u001b\\u007f\"");
  EXPECT_EQ(json_string("\xc2\x9b"), "\"\\u009b\"");
  EXPECT_EQ(json_string("\xe2\x80\xa8"), "\"\\u2028\"");
  EXPECT_EQ(json_string("\xff"
                        "a\xe2\x82"),
            "\"\\ufffda\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(json_string("\xc3\xa4 \xf0\x9f\x94\x8b"), "\"\xc3\xa4 \xf0\x9f\x94\x8b\"");
}

TEST(Bm6ctlOutput, TerminalSafe) {
  EXPECT_EQ(terminal_safe("BM6 van"), "BM6 van");
  EXPECT_EQ(terminal_safe("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(terminal_safe(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(terminal_safe("x\x7f\xff\\"), "x\\x7f\\xff\\\\");
  EXPECT_EQ(terminal_safe("\xc2\x9b"), "\\u{009b}");
  EXPECT_EQ(terminal_safe("\xe2\x80\xae"), "\\u{202e}");
  EXPECT_EQ(terminal_safe("\xc3\xa4\xe2\x9a\xa1"), "\xc3\xa4\xe2\x9a\xa1");
}

TEST(Bm6ctlOutput, HostileNamesStayInside) {
  for (const auto& name : kHostile) {
    scan::FoundDevice d;
    d.address = "AA:BB:CC:DD:EE:FF";
    d.advert.name = name;
    d.rssi = -60;
    const std::string json = scan_row(d, true);
    EXPECT_TRUE(JsonCheck::valid(json)) << json;
    EXPECT_FALSE(has_raw_control(json)) << json;
    const std::string text = scan_row(d, false);
    EXPECT_FALSE(has_raw_control(text)) << text;
    EXPECT_TRUE(text.find("\xc2\x9b") == std::string::npos) << "C1 CSI reached the terminal";
    d.rssi = 127;
    EXPECT_TRUE(has(scan_row(d, true), "\"rssi\":null"));
    // The same text as a socket path: scan of unix:DIR and read.
    const std::string address = "unix:/run/" + name;
    EXPECT_TRUE(JsonCheck::valid(scan_socket_row(address, true)));
    EXPECT_FALSE(has_raw_control(scan_socket_row(address, false)));
    Reading r;
    r.centivolts = 1274;
    r.temperature_c = -3;
    r.soc_percent = 88;
    const std::string line = reading_line(address, Family::kBm6, r, -71, true);
    EXPECT_TRUE(JsonCheck::valid(line)) << line;
    EXPECT_FALSE(has_raw_control(line));
    EXPECT_FALSE(has_raw_control(reading_line(address, Family::kBm2, r, std::nullopt, false)));
  }
}

TEST(Bm6ctlOutput, ReadingFormatsKeptForTheRealStackTest) {
  Reading r;
  r.centivolts = 1266;
  r.temperature_c = 14;
  r.soc_percent = 77;
  r.state = State::kCharging;
  EXPECT_EQ(reading_line("00:AA:01:00:00:00", Family::kBm6, r, -50, true),
            "{\"address\":\"00:AA:01:00:00:00\",\"model\":\"BM6\",\"voltage\":12.66,"
            "\"temperature\":14,\"soc\":77,"
            "\"state\":\"charging\",\"rssi\":-50}");
  EXPECT_EQ(reading_line("unix:/x", Family::kBm6, r, std::nullopt, false),
            "unix:/x: BM6, 12.66 V, 14 C, 77 %, charging");
  // The example, and a BM2 (no temperature: none printed, no JSON key).
  const Reading bm7{1194, -7, 23, State::kLow};
  EXPECT_EQ(reading_line("AA:BB:CC:DD:EE:FF", Family::kBm7, bm7, -71, false),
            "AA:BB:CC:DD:EE:FF: BM7, 11.94 V, -7 C, 23 %, low, -71 dBm");
  const Reading bm2{1271, std::nullopt, 87, State::kFloating};
  EXPECT_EQ(reading_line("unix:/b", Family::kBm2, bm2, std::nullopt, false),
            "unix:/b: BM2, 12.71 V, 87 %, floating");
  EXPECT_EQ(reading_line("unix:/b", Family::kBm2, bm2, std::nullopt, true),
            "{\"address\":\"unix:/b\",\"model\":\"BM2\",\"voltage\":12.71,\"soc\":87,"
            "\"state\":\"floating\"}");
  scan::FoundDevice d;
  d.address = "00:AA:01:00:00:00";
  d.advert.name = "BM6";
  d.rssi = -40;
  EXPECT_EQ(scan_row(d, false).rfind("00:AA:01:00:00:00  public  BM6", 0), 0u);
}

// --- decode, and scan's reading ---

Bytes from_hex(const std::string& h) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    b.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return b;
}

const BdAddr kAdvertiser = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};
const std::string kVector1351 = "6a281d95ea132bed41fef0ccf89ca94a";  // company id 10346
const std::string kVector1353 = "257c44707bb677e740bbafa94e60dc64";  // company id 31781
const std::string kBeacon77 = "4c0002153ba29cd9a42c894856badaf2606ef777004d0000c5";

TEST(Bm6ctlDecode, HexForms) {
  using Candidates = std::vector<Bytes>;
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"6a:28", "0x1D"})),
            (Candidates{{0x6a, 0x28, 0x1d}}));
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({" 6a 28\t1d "})),
            (Candidates{{0x6a, 0x28, 0x1d}}));
  // bluetoothctl's "Key: 0x286a": a number (sent 6a 28) or the first two bytes.
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"0x286a", "1d"})),
            (Candidates{{0x6a, 0x28, 0x1d}, {0x28, 0x6a, 0x1d}}));
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"0x286a1d"})), (Candidates{{0x28, 0x6a, 0x1d}}));
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {}, {"  "}, {"zz"}, {"6a2"}, {"0x"}, {"6a", "-"}, {std::string(1026, 'a')}}) {
    const auto r = parse_hex_words(bad);
    EXPECT_TRUE(std::holds_alternative<std::string>(r)) << (bad.empty() ? "" : bad[0]);
  }
  EXPECT_TRUE(has(std::get<std::string>(parse_hex_words({"6a", "g1"})), "'g1'"));
}

TEST(Bm6ctlDecode, ColonsOnlyBetweenBytes) {
  using Candidates = std::vector<Bytes>;
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"6a:28:1d"})), (Candidates{{0x6a, 0x28, 0x1d}}));
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"6a28:1d"})), (Candidates{{0x6a, 0x28, 0x1d}}));
  EXPECT_EQ(std::get<Candidates>(parse_hex_words({"0x6a:28"})), (Candidates{{0x6a, 0x28}}));
  // Each of these has an even number of digits, so reading past the colon made bytes of it.
  for (const char* bad :
       {"d1:5:5f", "d1:5:5f:0", "6:a28", ":6a28", "6a28:", "6a::28", "0x:6a", "6a2:8d"}) {
    const auto r = parse_hex_words({bad});
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
    EXPECT_TRUE(has(std::get<std::string>(r), "colon that is not between two bytes")) << bad;
    EXPECT_TRUE(has(std::get<std::string>(r), std::string("'") + bad + "'")) << bad;
  }
  const auto e = usage_error({"decode", "--address", "50:54:7B:80:2C:3C", "d1:5:5f:0"});
  EXPECT_TRUE(has(e.message, "'d1:5:5f:0' has a colon")) << e.message;
  EXPECT_EQ(e.verb, Verb::kDecode);
}

TEST(Bm6ctlDecode, CommandLine) {
  const Command c =
      command({"decode", "6a 28", "--address", "50-54-7b-80-2c-3c", "--model", "bm6"});
  EXPECT_EQ(c.verb, Verb::kDecode);
  EXPECT_EQ(c.address, "50:54:7B:80:2C:3C");
  EXPECT_EQ(c.model, Family::kBm6);
  EXPECT_EQ(c.hex, std::vector<Bytes>{(Bytes{0x6a, 0x28})});
  EXPECT_TRUE(has(usage_error({"decode", "6a28"}).message, "--address"));
  EXPECT_TRUE(has(usage_error({"decode", "--address", "50:54:7B:80:2C:3C", "--all", "6a"}).message,
                  "'--all'"));
  EXPECT_TRUE(has(help_text(Verb::kDecode), "--address=MAC"));
}

TEST(Bm6ctlDecode, VectorsAndRejections) {
  const DecodeResult r = decode_input(kAdvertiser, std::nullopt, {from_hex(kVector1351)});
  ASSERT_TRUE(std::holds_alternative<Decoded>(r)) << std::get<std::string>(r);
  const Decoded& d = std::get<Decoded>(r);
  EXPECT_EQ(d.source, Decoded::Source::kAdvertisement);
  EXPECT_EQ(d.model, Family::kBm6);
  EXPECT_EQ(d.centivolts, 1351);
  EXPECT_EQ(d.soc_percent, 100);
  EXPECT_EQ(d.state, State::kCharging);
  // Byte 10 of the public vector (2) is unconfirmed: never called a temperature.
  EXPECT_FALSE(d.temperature_c);
  EXPECT_EQ(d.byte10, 2);
  EXPECT_EQ(decoded_json("50:54:7B:80:2C:3C", d),
            "{\"address\":\"50:54:7B:80:2C:3C\",\"model\":\"BM6\",\"voltage\":13.51,"
            "\"soc\":100,\"state\":\"charging\",\"byte10_unconfirmed\":2,"
            "\"source\":\"advertisement\"}");
  EXPECT_EQ(decoded_text(d), "BM6, 13.51 V, 100 %, charging, byte10 (unconfirmed) 2");
  // The wrong reading of bluetoothctl's form is tried second and does not get in the way.
  const auto both =
      std::get<std::vector<Bytes>>(parse_hex_words({"0x286a", kVector1351.substr(4)}));
  EXPECT_TRUE(std::holds_alternative<Decoded>(decode_input(kAdvertiser, std::nullopt, both)));
  // Another device's address, or the BM2 key alone: no reading, and why.
  BdAddr other = kAdvertiser;
  other[5] ^= 1;
  const DecodeResult mismatch = decode_input(other, std::nullopt, {from_hex(kVector1351)});
  ASSERT_TRUE(std::holds_alternative<std::string>(mismatch));
  EXPECT_TRUE(has(std::get<std::string>(mismatch), "address mismatch"));
  EXPECT_TRUE(has(std::get<std::string>(mismatch), "50:54:7B:80:2C:3D"));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      decode_input(kAdvertiser, Family::kBm2, {from_hex(kVector1351)})));
  const DecodeResult beacon = decode_input(kAdvertiser, std::nullopt, {from_hex(kBeacon77)});
  ASSERT_TRUE(std::holds_alternative<Decoded>(beacon));
  EXPECT_EQ(std::get<Decoded>(beacon).soc_percent, 77);
  EXPECT_FALSE(std::get<Decoded>(beacon).centivolts);
}

scan::FoundDevice monitor(std::vector<Bytes> data, const std::string& name = "BM6") {
  scan::FoundDevice d;
  d.address = "50:54:7B:80:2C:3C";
  d.advert.name = name;
  d.rssi = -67;
  for (auto& f : data) scan::merge_manufacturer_data(d, {f});
  return d;
}

TEST(Bm6ctlDecode, ScanTakesTheNewestReading) {
  std::string why;
  auto d = decode_found(
      monitor({from_hex(kVector1351), from_hex(kBeacon77), from_hex(kVector1353)}), why);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->centivolts, 1353);
  // Heard again: the older one is the newest now.
  d = decode_found(monitor({from_hex(kVector1351), from_hex(kVector1353), from_hex(kVector1351)}),
                   why);
  EXPECT_EQ(d->centivolts, 1351);
  d = decode_found(monitor({from_hex(kBeacon77)}), why);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->source, Decoded::Source::kIBeacon);
  EXPECT_FALSE(decode_found(monitor({}), why));
  EXPECT_EQ(why, "");
  auto wrong = monitor({from_hex(kVector1351)});
  wrong.address = "50:54:7B:80:2C:3D";
  EXPECT_FALSE(decode_found(wrong, why));
  EXPECT_EQ(why, "address mismatch under every key");
  EXPECT_FALSE(decode_found(monitor({{0x59, 0x00, 0x01}}), why));
  EXPECT_EQ(why, "not a monitor's");
}

TEST(Bm6ctlOutput, ScanRowsCarryTheReading) {
  const auto d = monitor({from_hex(kBeacon77), from_hex(kVector1351)});
  EXPECT_EQ(
      scan_row(d, false),
      "50:54:7B:80:2C:3C  public  BM6           -67 dBm   BM6, 13.51 V, 100 %, charging, byte10 "
      "(unconfirmed) 2");
  const std::string json = scan_row(d, true);
  EXPECT_TRUE(JsonCheck::valid(json)) << json;
  EXPECT_TRUE(has(json,
                  "\"rssi\":-67,\"model\":\"BM6\",\"voltage\":13.51,\"soc\":100,"
                  "\"state\":\"charging\",\"byte10_unconfirmed\":2,\"source\":\"advertisement\""))
      << json;
  EXPECT_FALSE(has(json, "temperature")) << json;
  EXPECT_TRUE(has(json, "\"manufacturer_data\":[\"" + kBeacon77 + "\",\"" + kVector1351 + "\"]"));
  // Undecoded data is shown as hex, and hostile names stay inside.
  for (const auto& name : kHostile) {
    const auto other = monitor({Bytes{0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x0a}}, name);
    const std::string j = scan_row(other, true), t = scan_row(other, false);
    EXPECT_TRUE(JsonCheck::valid(j)) << j;
    EXPECT_TRUE(has(j, "\"undecoded\":\"not a monitor's\""));
    EXPECT_FALSE(has_raw_control(j));
    EXPECT_FALSE(has_raw_control(t)) << t;
    EXPECT_TRUE(has(t, "undecoded (not a monitor's): 1b5b324a070a")) << t;
  }
  scan::FoundDevice plain;
  plain.address = "AA:BB:CC:DD:EE:FF";
  plain.rssi = 127;
  EXPECT_EQ(scan_row(plain, false), "AA:BB:CC:DD:EE:FF  public  -             n/a       -");
  EXPECT_TRUE(has(scan_row(plain, true), "\"rssi\":null,\"manufacturer_data\":[]}"));
}

TEST(JsonCheckSelf, RefusesWhatItShould) {
  EXPECT_TRUE(JsonCheck::valid("{\"a\":[1,-2.5e3,true,null,\"\\u00e9\"]}"));
  EXPECT_FALSE(JsonCheck::valid("{\"a\":\"\x1b\"}"));
  EXPECT_FALSE(JsonCheck::valid("{\"a\":\"x\"y\"}"));
  EXPECT_FALSE(JsonCheck::valid("{\"a\":\"\\x1b\"}"));
  EXPECT_FALSE(JsonCheck::valid("{\"a\":\"\xff\"}"));
  EXPECT_FALSE(JsonCheck::valid("{\"a\":1"));
}

}  // namespace
}  // namespace ctl

namespace {

// bm6ctl's exit status rests on the kind: 3 for permission, whatever the words.
TEST(LinkErrors, PermissionExitsThree) {
  EXPECT_EQ(ctl::failed_exit(FailureKind::kPermission), ctl::kExitNotPermitted);
  for (const FailureKind kind : {FailureKind::kOther, FailureKind::kUnreachable, FailureKind::kBusy,
                                 FailureKind::kAdapter, FailureKind::kSilent})
    EXPECT_EQ(ctl::failed_exit(kind), ctl::kExitFailed) << to_string(kind);
  const LinkError denied = link_error(LinkErrorKind::kPermission, "whatever it says", EACCES);
  EXPECT_EQ(ctl::failed_exit(connect_failed(denied).kind), ctl::kExitNotPermitted);
}

}  // namespace
}  // namespace bm6
