// The passive scanner's registration record: what it added with mgmt Add Device is kept in a
// file, so that a start after a kill -9 removes what the killed run left with the kernel, and
// never an address this program did not add. Against the fake kernel (mgmt_fake.h).
#include "transport/registration_record.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mgmt_fake.h"
#include "transport/adv_scanner.h"

namespace bm6 {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::Command;
using test::FakeMgmt;
namespace mgmt = test::mgmt;

constexpr int kIndex = 0;
const BdAddr kA = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};
const BdAddr kB = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
const BdAddr kC = {0xa4, 0xc1, 0x38, 0x0b, 0x5e, 0x01};

struct TempDir {
  TempDir() {
    char name[] = "/tmp/bm6-registration-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void spin(EventLoop& loop) {
  for (int i = 0; i < 5; ++i) loop.run_once(10ms);
}

std::vector<std::uint16_t> opcodes_of(const std::vector<Command>& sent) {
  std::vector<std::uint16_t> out;
  for (const auto& c : sent) out.push_back(c.opcode);
  return out;
}

// Remove Device's or Add Device's addresses, in the order sent (as written, MSB first).
std::vector<BdAddr> addresses(const std::vector<Command>& sent, std::uint16_t opcode) {
  std::vector<BdAddr> out;
  for (const auto& c : sent)
    if (c.opcode == opcode && c.params.size() >= 6)
      out.push_back({c.params[5], c.params[4], c.params[3], c.params[2], c.params[1], c.params[0]});
  return out;
}

// One collectd run's scanner with its record at `path`.
struct CollectdRun {
  explicit CollectdRun(const std::string& path) { scanner->record_registrations_in(path); }
  void subscribe(const BdAddr& a) {
    scanner->subscribe(a, false, [](const AdvReport&) {});
  }
  std::vector<Command> start() {
    scanner->start();
    spin(loop);
    return kernel.commands();
  }
  std::vector<Command> power_on() {
    kernel.info(kIndex, true);
    spin(loop);
    return kernel.commands();
  }
  std::vector<std::string> errors;
  EventLoop loop;
  FakeMgmt kernel;
  std::unique_ptr<AdvScanner> scanner = std::make_unique<AdvScanner>(
      loop, kIndex,
      [this](AdvScanner::Status s, const std::string& d) {
        if (s == AdvScanner::Status::kError) errors.push_back(d);
      },
      kernel.opener());
};

TEST(RegistrationRecord, LinesRoundTripAndGarbageIsIgnored) {
  const RegisteredAddresses two = {{kA, false}, {kB, true}};
  const std::string text = format_registration_record(two);
  EXPECT_EQ(text, "11:22:33:44:55:66 random\n50:54:7B:80:2C:3C public\n");
  EXPECT_EQ(parse_registration_record(text), two);
  EXPECT_EQ(parse_registration_record("50:54:7b:80:2c:3c public"),
            (RegisteredAddresses{{kA, false}}));  // any case, no final newline
  EXPECT_TRUE(parse_registration_record("50:54:7B:80:2C:3C\n50:54:7B:80:2C public\n"
                                        "50-54-7B-80-2C-3C public\n50:54:7B:80:2C:3G public\n"
                                        "50:54:7B:80:2C:3C bredr\n\n\x1b[2J\n")
                  .empty());
}

TEST(RegistrationRecord, FileNeitherFollowsASymlinkNorWaitsOnAFifo) {
  TempDir dir;
  const std::string path = dir.path + "/passive-hci0.registered";
  std::string text, error;
  EXPECT_TRUE(read_registration_file(path, text, error)) << error;  // missing: empty
  EXPECT_EQ(text, "");
  ASSERT_TRUE(write_registration_file(path, "50:54:7B:80:2C:3C public\n", error)) << error;
  EXPECT_TRUE(read_registration_file(path, text, error)) << error;
  EXPECT_EQ(text, "50:54:7B:80:2C:3C public\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A symlink planted at the name: not read through, and replaced by a write, its target
  // untouched.
  const std::string victim = dir.path + "/victim";
  { std::ofstream(victim) << "precious\n"; }
  std::filesystem::remove(path);
  std::filesystem::create_symlink(victim, path);
  EXPECT_FALSE(read_registration_file(path, text, error));
  EXPECT_NE(error.find("symlink"), std::string::npos) << error;
  ASSERT_TRUE(write_registration_file(path, "", error)) << error;
  EXPECT_EQ(contents(victim), "precious\n");
  EXPECT_FALSE(std::filesystem::is_symlink(path));
  // A FIFO: refused at once (a blocking open would wait for a writer for ever).
  std::filesystem::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_FALSE(read_registration_file(path, text, error));
  EXPECT_EQ(error, "not a regular file");
  // Too long to be ours.
  std::filesystem::remove(path);
  { std::ofstream(path) << std::string(70000, 'x'); }
  EXPECT_FALSE(read_registration_file(path, text, error));
  // No temporary file left behind by the writes.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) files += !e.is_directory();
  EXPECT_EQ(files, 2);  // victim and the long file
}

TEST(RegistrationRecord, AdaptersWithARecordAreThoseWithANonEmptyRegularFile) {
  TempDir dir;
  const auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path + "/" + name) << text;
  };
  EXPECT_EQ(registration_record_path(dir.path, 2), dir.path + "/passive-hci2.registered");
  put("passive-hci0.registered", "50:54:7B:80:2C:3C public\n");
  put("passive-hci12.registered", "50:54:7B:80:2C:3C public\n");
  put("passive-hci3.registered", "");                                   // worked off
  put("passive-hci4.registered.Ab12Cd", "50:54:7B:80:2C:3C public\n");  // a temporary
  put("passive-hci-1.registered", "x");
  put("passive-hcix.registered", "x");
  put("van.state", "x");
  std::filesystem::create_symlink(dir.path + "/passive-hci0.registered",
                                  dir.path + "/passive-hci5.registered");
  auto found = adapters_with_registrations(dir.path);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<int>{0, 12}));
  EXPECT_TRUE(adapters_with_registrations(dir.path + "/missing").empty());
}

TEST(RegistrationRecord, WhatAKilledRunAddedIsRemovedAtTheNextStartAndNothingElse) {
  TempDir dir;
  const std::string path = dir.path + "/passive-hci0.registered";
  std::string killed;  // the record as a kill -9 leaves it
  {
    CollectdRun first(path);
    first.subscribe(kA);
    first.subscribe(kB);
    EXPECT_EQ(opcodes_of(first.start()), std::vector<std::uint16_t>{mgmt::kReadInfo});
    const auto sent = first.power_on();
    EXPECT_EQ(addresses(sent, mgmt::kAddDevice), (std::vector<BdAddr>{kB, kA}));
    killed = contents(path);
    EXPECT_EQ(parse_registration_record(killed), (RegisteredAddresses{{kA, false}, {kB, false}}));
    // A clean stop removes both, and the record says nothing is left.
    first.scanner.reset();
    EXPECT_EQ(addresses(first.kernel.commands(), mgmt::kRemoveDevice),
              (std::vector<BdAddr>{kB, kA}));
    EXPECT_EQ(contents(path), "");
    EXPECT_TRUE(first.errors.empty());
  }
  { std::ofstream(path) << killed; }
  // The next start wants B and C. bluetoothd has its own entries too (paired devices): the
  // scanner knows them not, and only what the record says it added is removed: A, which is
  // no longer wanted; B is kept (registered again below), C was never added.
  CollectdRun second(path);
  second.subscribe(kB);
  second.subscribe(kC);
  const auto at_start = second.start();
  EXPECT_EQ(addresses(at_start, mgmt::kRemoveDevice), std::vector<BdAddr>{kA});
  EXPECT_EQ(at_start.front().opcode, mgmt::kRemoveDevice);  // before anything else
  EXPECT_EQ(at_start.front().params, (Bytes{0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01}));
  EXPECT_EQ(parse_registration_record(contents(path)), (RegisteredAddresses{{kB, false}}));
  const auto sent = second.power_on();
  EXPECT_EQ(addresses(sent, mgmt::kAddDevice), (std::vector<BdAddr>{kB, kC}));
  EXPECT_TRUE(addresses(sent, mgmt::kRemoveDevice).empty());
  EXPECT_EQ(parse_registration_record(contents(path)),
            (RegisteredAddresses{{kB, false}, {kC, false}}));
  EXPECT_TRUE(second.errors.empty());
}

TEST(RegistrationRecord, ARecordThatCannotBeReadIsSaidOnceAndRemovesNothing) {
  TempDir dir;
  const std::string path = dir.path + "/passive-hci0.registered";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);  // planted: must not block the start
  CollectdRun run(path);
  run.subscribe(kA);
  const auto at_start = run.start();
  EXPECT_TRUE(addresses(at_start, mgmt::kRemoveDevice).empty());
  ASSERT_EQ(run.errors.size(), 1u);
  EXPECT_NE(run.errors[0].find("not a regular file"), std::string::npos) << run.errors[0];
  EXPECT_EQ(addresses(run.power_on(), mgmt::kAddDevice), std::vector<BdAddr>{kA});
}

}  // namespace
}  // namespace bm6
