// transport/address.h: the one parser of device addresses and adapter names.
#include "transport/address.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace bm6 {
namespace {

const BdAddr kAdvertiser = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};

std::optional<DeviceAddress> parse(std::string_view text) {
  std::string error;
  auto a = DeviceAddress::parse(text, error);
  EXPECT_EQ(a.has_value(), error.empty()) << text << ": " << error;
  return a;
}

std::string problem(std::string_view text) {
  std::string error;
  EXPECT_FALSE(DeviceAddress::parse(text, error)) << text;
  return error;
}

TEST(BdAddr, ParsesAndPrints) {
  EXPECT_EQ(parse_bdaddr("50:54:7B:80:2C:3C"), kAdvertiser);
  EXPECT_EQ(parse_bdaddr("50:54:7b:80:2c:3c"), kAdvertiser);
  EXPECT_EQ(parse_bdaddr("50-54-7b-80-2C-3c"), kAdvertiser);
  EXPECT_EQ(to_string(kAdvertiser), "50:54:7B:80:2C:3C");
  for (const char* bad :
       {"50:54:7B:80:2C", "50:54:7B:80:2C:3C:", "50-54:7B-80-2C-3C", "50.54.7B.80.2C.3C",
        "50:54:7B:80:2C:3G", " 0:54:7B:80:2C:3C", "+0:54:7B:80:2C:3C", "", "505:4:7B:80:2C:3C"})
    EXPECT_EQ(parse_bdaddr(bad), std::nullopt) << bad;
}

TEST(DeviceAddress, BluetoothIsNormalisedToOneTextForm) {
  const auto a = parse("a4-c1-38-0b-5e-01");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_bluetooth());
  EXPECT_FALSE(a->is_unix());
  EXPECT_EQ(a->bdaddr(), (BdAddr{0xa4, 0xc1, 0x38, 0x0b, 0x5e, 0x01}));
  EXPECT_EQ(a->type(), LeAddressType::kPublic);
  EXPECT_EQ(a->text(), "A4:C1:38:0B:5E:01");
  EXPECT_EQ(*parse("A4:C1:38:0B:5E:01"), *a);
  EXPECT_EQ(a->identity(), "A4:C1:38:0B:5E:01");
}

TEST(DeviceAddress, TheTypeTravelsWithTheAddressButIsNotWritten) {
  const auto a = parse("A4:C1:38:0B:5E:01")->with_type(LeAddressType::kRandom);
  EXPECT_TRUE(a.random());
  EXPECT_EQ(a.text(), "A4:C1:38:0B:5E:01");
  EXPECT_NE(a, *parse("A4:C1:38:0B:5E:01"));
  // One monitor whatever the type: a second device on it would be refused by the monitor.
  EXPECT_EQ(a.identity(), parse("A4:C1:38:0B:5E:01")->identity());
  // A socket has no LE type.
  EXPECT_EQ(parse("unix:/a")->with_type(LeAddressType::kRandom), *parse("unix:/a"));
}

TEST(DeviceAddress, UnixSocketsKeepTheirPathAsWritten) {
  const auto a = parse("unix:/tmp//x/./b.sock");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->path(), "/tmp//x/./b.sock");
  EXPECT_EQ(a->text(), "unix:/tmp//x/./b.sock");
  EXPECT_EQ(DeviceAddress::unix_socket("/tmp/a.sock").text(), "unix:/tmp/a.sock");
  EXPECT_TRUE(DeviceAddress::names_socket("unix:"));
  EXPECT_FALSE(DeviceAddress::names_socket("hci0"));
}

TEST(DeviceAddress, MistakesSayWhatIsWrong) {
  EXPECT_EQ(problem("unix:"), "\"unix:\" needs a socket path after it");
  EXPECT_EQ(problem("unix:/" + std::string(107, 'a')), "socket path is longer than 107 bytes");
  EXPECT_EQ(problem(std::string_view("unix:/a\0b", 9)), "socket path contains a NUL byte");
  EXPECT_EQ(problem("12:34"),
            "\"12:34\" is neither a Bluetooth address (AA:BB:CC:DD:EE:FF) nor "
            "unix:/path/to/socket");
  EXPECT_NE(problem("Unix:/a"), "");  // the prefix is lower case, as documented
  EXPECT_TRUE(parse("unix:/" + std::string(106, 'a')));
}

TEST(DeviceAddress, TextRoundTrips) {
  for (const char* text : {"aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "unix:/a", "unix:rel/a.sock",
                           "unix:/d/../a.sock"}) {
    const auto a = parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(*parse(a->text()), *a) << text;
    EXPECT_EQ(parse(a->text())->text(), a->text()) << text;
  }
  EXPECT_TRUE(DeviceAddress().empty());
  EXPECT_EQ(DeviceAddress().text(), "");
}

TEST(DeviceAddress, OneSocketHowEverItsPathIsSpelled) {
  const std::string plain = parse("unix:/tmp/a.sock")->identity();
  for (const char* same : {"unix:/tmp/./a.sock", "unix://tmp//a.sock", "unix:/tmp/x/../a.sock"})
    EXPECT_EQ(parse(same)->identity(), plain) << same;
  EXPECT_NE(parse("unix:/tmp/b.sock")->identity(), plain);
  // Through a symlink to the directory too (Debian's /var/run is /run).
  char tmpl[] = "/tmp/bm6-address-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string link = dir + "-link";
  ASSERT_EQ(::symlink(dir.c_str(), link.c_str()), 0);
  EXPECT_EQ(parse("unix:" + link + "/s.sock")->identity(),
            parse("unix:" + dir + "/s.sock")->identity());
  std::filesystem::remove(link);
  std::filesystem::remove(dir);
}

TEST(AdapterId, ParsesHciNamesByIndex) {
  EXPECT_EQ(AdapterId::parse("hci0"), AdapterId::hci(0));
  EXPECT_EQ(AdapterId::parse("hci00"), AdapterId::hci(0));  // one adapter
  EXPECT_EQ(AdapterId::parse("hci12"), AdapterId::hci(12));
  EXPECT_EQ(AdapterId::parse("hci65534"), AdapterId::hci(65534));
  EXPECT_EQ(AdapterId::parse("hci00012")->text(), "hci12");
  for (const char* bad : {"", "hci", "usb0", "hci1x", "hci-1", "HCI0", "hci 0", "hci65535",
                          "hci99999", "hci000000", "unix", " hci0"})
    EXPECT_EQ(AdapterId::parse(bad), std::nullopt) << bad;
}

TEST(AdapterId, TheSimulatedAdapterOnlyWhereAllowed) {
  EXPECT_EQ(AdapterId::parse("unix", true), AdapterId::simulated());
  EXPECT_TRUE(AdapterId::simulated().is_simulated());
  EXPECT_EQ(AdapterId::simulated().text(), "unix");
  EXPECT_NE(AdapterId::simulated(), AdapterId::hci(0));
  EXPECT_EQ(AdapterId::parse("hci3", true), AdapterId::hci(3));
}

TEST(AdapterId, TextRoundTrips) {
  for (const std::uint16_t i : {0, 1, 9, 10, 255, 65534}) {
    const AdapterId a = AdapterId::hci(i);
    EXPECT_EQ(AdapterId::parse(a.text()), a);
    EXPECT_EQ(a.index(), i);
  }
}

TEST(AdapterId, ADeviceUsesItsSocketsPseudoAdapterOrItsOwnOrTheFirstUp) {
  const auto sock = *parse("unix:/a");
  const auto radio = *parse("AA:BB:CC:DD:EE:FF");
  EXPECT_EQ(AdapterId::of(sock, AdapterId::hci(1)), AdapterId::simulated());
  EXPECT_EQ(AdapterId::of(radio, AdapterId::hci(1)), AdapterId::hci(1));
  EXPECT_FALSE(AdapterId::of(radio, std::nullopt).is_simulated());
}

}  // namespace
}  // namespace bm6
