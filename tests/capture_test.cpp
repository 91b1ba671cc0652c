// Captures (issue 21): the JSON Lines reader, what bm6ctl capture and decode --file say
// about fixed byte vectors from the protocol notes, the command lines of bm6ctl capture /
// decode --file and bm6-sim --replay.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tools/capture/capture_file.h"
#include "tools/ctl/capture.h"
#include "tools/ctl/cli.h"
#include "tools/sim/cli.h"

namespace bm6 {
namespace {

using capture::Capture;
using capture::Record;

Capture parsed(const std::string& text) {
  auto r = capture::parse_capture(text);
  if (const auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::holds_alternative<Capture>(r) ? std::get<Capture>(r) : Capture{};
}

std::string error_of(const std::string& text) {
  auto r = capture::parse_capture(text);
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "(parsed)";
}

// The notes' BM2 "computed frame": 12.71 V, charging, 87 %.
const char* kBm2Frame = "7bfbe42536d68b55ccfb73f63cee4465";
// The notes' BM6 vector: 13.40 V, +23 C, normal, 100 %.
const char* kBm6Frame = "02ced3fc593fbd09ef57f38a73897610";

TEST(CaptureFile, ReadsTheRawFieldsAndIgnoresDerivedOnes) {
  const Capture c = parsed(
      "{\"type\":\"capture\",\"format\":1,\"address\":\"50:54:7B:80:2C:3C\",\"source\":\"x\"}\n"
      "\n"
      "{\"type\":\"advertisement\",\"t\":0.5,\"rssi\":-71,\"data\":\"11ff6a281d95ea132bed41fef0"
      "ccf89ca94a\",\"decoded\":[{\"reading\":{\"voltage\":99}}]}\n"
      "{\"type\":\"notification\",\"t\":1.25,\"handle\":46,\"ciphertext\":\"" +
      std::string(kBm6Frame) + "\",\"plaintext\":\"00\",\"reading\":{\"voltage\":1}}\n" +
      "{\"type\":\"end\",\"model\":\"BM6\"}\n");
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.address, "50:54:7B:80:2C:3C");
  EXPECT_EQ(c.source, "x");
  EXPECT_EQ(c.model, Family::kBm6);  // from the end line
  const Record& ad = c.records[1];
  EXPECT_EQ(ad.line, 3u);
  EXPECT_EQ(ad.rssi, -71);
  ASSERT_EQ(ad.manufacturer_data.size(), 1u);  // parsed from the AD bytes
  EXPECT_EQ(ad.manufacturer_data[0].size(), 16u);
  EXPECT_EQ(ad.manufacturer_data[0][0], 0x6a);
  const Record& n = c.records[2];
  EXPECT_EQ(n.type, Record::Type::kNotification);
  EXPECT_EQ(n.handle, 46);
  EXPECT_EQ(n.t, 1.25);
  EXPECT_EQ(n.ciphertext.size(), 16u);
  EXPECT_EQ(c.notifications(), 1u);
  EXPECT_EQ(c.advertisements(), 1u);
}

TEST(CaptureFile, MistakesAreNamedByLine) {
  EXPECT_EQ(error_of("{\"type\":\"capture\"}\n{\"type\":\"notification\"}\n"),
            "line 2: a notification without \"ciphertext\"");
  EXPECT_EQ(error_of("{\"type\":\"notification\",\"ciphertext\":\"0g\"}"),
            "line 1: \"ciphertext\" is not hex bytes");
  EXPECT_EQ(error_of("{\"type\":\"x\"} trailing"), "line 1: text after the object at column 14");
  EXPECT_EQ(error_of("{\"type\":\"notification\",\"handle\":0,\"ciphertext\":\"00\"}"),
            "line 1: \"handle\" is not a number from 1 to 65535");
  EXPECT_EQ(error_of("{\"no type\":1}"), "line 1: no \"type\"");
  EXPECT_EQ(error_of("\"a string\""), "line 1: not a JSON object");
  EXPECT_EQ(error_of("{\"type\":\"capture\",\"model\":\"BM9\"}"),
            "line 1: \"model\": \"BM9\" is not BM6, BM7 or BM2");
  EXPECT_EQ(error_of(std::string(10000, '[')), "line 1: nested too deeply at column 18");
  EXPECT_EQ(error_of("{\"type\":\"capture\",\"note\":\"unterminated"),
            "line 1: an unterminated string at column 39");
}

TEST(CaptureFile, TheFamilyOfTheNotifications) {
  const std::string bm2 =
      "{\"type\":\"notification\",\"ciphertext\":\"" + std::string(kBm2Frame) + "\"}\n";
  // One BM2 frame is not enough (a random block passes its checks ~1 in 2,000); two are.
  EXPECT_EQ(capture::notification_family(parsed(bm2)), std::nullopt);
  EXPECT_EQ(capture::notification_family(parsed(bm2 + bm2)), Family::kBm2);
  const std::string bm6 =
      "{\"type\":\"notification\",\"ciphertext\":\"" + std::string(kBm6Frame) + "\"}\n";
  EXPECT_EQ(capture::notification_family(parsed(bm6)), Family::kBm6);
  // The header's word goes first.
  EXPECT_EQ(
      capture::notification_family(parsed("{\"type\":\"capture\",\"model\":\"bm7\"}\n" + bm6)),
      Family::kBm7);
}

TEST(CaptureDecode, NotificationsFromTheNotesVectors) {
  const auto bm6 = *capture::parse_hex(kBm6Frame);
  EXPECT_EQ(ctl::notification_members(Family::kBm6, bm6),
            ",\"model\":\"BM6\",\"plaintext\":\"d155070017006405"
            "3c00000001"
            "02ffff\","
            "\"reading\":{\"voltage\":13.40,\"temperature\":23,\"soc\":100,\"state\":\"normal\"}");
  const auto bm2 = *capture::parse_hex(kBm2Frame);
  const std::string members = ctl::notification_members(Family::kBm2, bm2);
  EXPECT_NE(members.find("\"reading\":{\"voltage\":12.71,\"soc\":87,\"state\":\"charging\"}"),
            std::string::npos)
      << members;
  EXPECT_EQ(ctl::notification_members(std::nullopt, bm2),
            ",\"model\":null,\"reason\":\"no family's frame under any key\"");
  const std::vector<std::uint8_t> short_value(15, 0);
  EXPECT_EQ(ctl::notification_members(Family::kBm6, short_value),
            ",\"model\":\"BM6\",\"reason\":\"15 bytes; frames are 16-byte blocks\"");
}

TEST(CaptureDecode, AdvertisementsNeverShowByte10AsATemperature) {
  // The notes' public advertisement: 13.51 V, 100 %, charging, byte 10 = 2.
  const auto field = *capture::parse_hex("6a281d95ea132bed41fef0ccf89ca94a");
  const auto d = ctl::advertisement_decodes("50:54:7B:80:2C:3C", std::nullopt, {field});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0],
            "{\"source\":\"advertisement\",\"model\":\"BM6\",\"reading\":{\"voltage\":13.51,"
            "\"soc\":100,\"state\":\"charging\"}}");
  // Another device's address: no reading, and never tried as a notification.
  const auto other = ctl::advertisement_decodes("50:54:7B:80:2C:3D", std::nullopt, {field});
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].rfind("{\"reason\":", 0), 0u) << other[0];
  EXPECT_EQ(other[0].find("\"reading\":"), std::string::npos);
}

// --- command lines ---

ctl::Command ctl_command(const std::vector<std::string>& args) {
  const ctl::Parsed p = ctl::parse(args);
  if (const auto* e = std::get_if<ctl::UsageError>(&p)) ADD_FAILURE() << e->message;
  return std::holds_alternative<ctl::Command>(p) ? std::get<ctl::Command>(p) : ctl::Command{};
}

std::string ctl_error(const std::vector<std::string>& args) {
  const ctl::Parsed p = ctl::parse(args);
  return std::holds_alternative<ctl::UsageError>(p) ? std::get<ctl::UsageError>(p).message
                                                    : "(parsed)";
}

TEST(CaptureCommandLine, Bm6ctl) {
  const auto c = ctl_command({"--seconds=5", "capture", "aa-bb-cc-dd-ee-ff", "--model", "bm2"});
  EXPECT_EQ(c.verb, ctl::Verb::kCapture);
  EXPECT_EQ(c.address, "AA:BB:CC:DD:EE:FF");
  EXPECT_EQ(c.seconds, 5);
  EXPECT_EQ(c.model, Family::kBm2);
  EXPECT_EQ(ctl_command({"capture", "unix:/tmp/x.sock"}).seconds, 30);
  EXPECT_EQ(ctl_error({"capture", "unix:/x", "--seconds", "0"}),
            "--seconds: '0' is not a number of seconds more than 0 and at most 3600");
  EXPECT_EQ(ctl_error({"capture", "unix:/x", "--timeout", "3"}),
            "capture has no option '--timeout'");
  EXPECT_EQ(ctl_error({"capture", "unix:/x", "--json"}), "capture has no option '--json'");
  EXPECT_EQ(ctl_error({"capture"}), "capture needs an ADDRESS");
  EXPECT_EQ(ctl_error({"read", "unix:/x", "--seconds", "3"}), "read has no option '--seconds'");
  const auto d = ctl_command({"decode", "--file", "c.jsonl"});
  EXPECT_EQ(d.file, "c.jsonl");
  EXPECT_EQ(ctl_error({"decode", "--file", "c.jsonl", "00"}),
            "decode --file takes no HEX; '00' is one too many");
  EXPECT_EQ(ctl_error({"read", "--file", "c.jsonl", "unix:/x"}), "read has no option '--file'");
  EXPECT_NE(ctl::help_text(ctl::Verb::kCapture).find("--seconds=N"), std::string::npos);
  EXPECT_NE(ctl::help_text(std::nullopt).find("capture ADDRESS"), std::string::npos);
}

class SimReplayCommandLine : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("bm6-capture-test-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(path) << text;
    paths_.push_back(path);
    return path.string();
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::filesystem::path> paths_;
};

TEST_F(SimReplayCommandLine, TheCapturesFramesAndModel) {
  const std::string frame =
      "{\"type\":\"notification\",\"t\":%T,\"ciphertext\":\"" + std::string(kBm2Frame) + "\"}\n";
  std::string text;
  for (const char* t : {"0", "0.25"}) {
    std::string line = frame;
    line.replace(line.find("%T"), 2, t);
    text += line;
  }
  const std::string path = write("bm2.jsonl", text);
  auto r = sim::parse_command_line({"--replay", path, "--socket", "a"});
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& d = r.config->endpoints[0].device;
  EXPECT_EQ(d.model, Family::kBm2);  // detected from its two frames
  ASSERT_TRUE(d.replay);
  ASSERT_EQ(d.replay->size(), 2u);
  EXPECT_EQ((*d.replay)[1].t, 0.25);
  EXPECT_FALSE(d.period_given);
  r = sim::parse_command_line(
      {"--replay", path, "--model", "bm6", "--period", "2", "--socket", "a"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config->endpoints[0].device.model, Family::kBm6);
  EXPECT_TRUE(r.config->endpoints[0].device.period_given);
}

TEST_F(SimReplayCommandLine, WhatCannotBeReplayedIsRefusedByName) {
  const std::string ads =
      write("ads.jsonl", "{\"type\":\"advertisement\",\"manufacturer_data\":\"4c00\"}\n");
  auto r = sim::parse_command_line({"--replay", ads, "--socket", "a"});
  EXPECT_EQ(r.error, "option '--replay': " + ads +
                         " has no notifications to replay (its advertisements are not replayed)");
  r = sim::parse_command_line({"--replay", "/nonexistent.jsonl", "--socket", "a"});
  EXPECT_EQ(r.error, "option '--replay': cannot read /nonexistent.jsonl");
  const std::string bad = write("bad.jsonl", "{\"type\":\"capture\"}\n{oops}\n");
  r = sim::parse_command_line({"--replay", bad, "--socket", "a"});
  EXPECT_EQ(r.error, "option '--replay': " + bad + ": line 2: a key expected at column 2");
}

}  // namespace
}  // namespace bm6
