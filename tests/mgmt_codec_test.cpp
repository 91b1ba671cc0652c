// The mgmt codec (transport/mgmt_codec.h) against packets typed from BlueZ doc/mgmt-api.txt:
// the header (code, controller index, parameter length; little-endian), Device Found, Adv
// Monitor Device Found, Command Complete and Command Status, and the status codes' table.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/mgmt_codec.h"

namespace bm6 {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Device Found on hci1: 38:3B:26:BE:20:F9 (LE public), RSSI -90, flags 0x00000004 (Not
// Connectable), 3 bytes of AD (flags).
const Bytes kDeviceFound = {0x12, 0x00, 0x01, 0x00, 0x11, 0x00,  // event, index, length 17
                            0xf9, 0x20, 0xbe, 0x26, 0x3b, 0x38,  // address, LSB first
                            0x01,                                // LE public
                            0xa6,                                // RSSI -90
                            0x04, 0x00, 0x00, 0x00,              // flags
                            0x03, 0x00,                          // EIR_Data_Length
                            0x02, 0x01, 0x06};

TEST(MgmtCodec, DeviceFoundAsTheLayoutSays) {
  const auto event = mgmt::decode_event(kDeviceFound);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->code, mgmt::kEvDeviceFound);
  EXPECT_EQ(event->index, 1);
  EXPECT_EQ(event->params.size(), 17u);
  const auto found = mgmt::decode_device_found(event->params);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->address, (mgmt::Address{0x38, 0x3b, 0x26, 0xbe, 0x20, 0xf9}));
  EXPECT_EQ(found->address_type, mgmt::kAddrLePublic);
  EXPECT_TRUE(found->le());
  EXPECT_FALSE(found->random());
  EXPECT_EQ(found->rssi, -90);
  EXPECT_EQ(found->rssi_dbm(), -90);
  EXPECT_EQ(found->flags, 4u);
  EXPECT_EQ(Bytes(found->data.begin(), found->data.end()), (Bytes{0x02, 0x01, 0x06}));
  EXPECT_FALSE(mgmt::decode_command_reply(*event));
}

TEST(MgmtCodec, DeviceFoundTypesAndMissingRssi) {
  Bytes params(kDeviceFound.begin() + 6, kDeviceFound.end());
  params[6] = mgmt::kAddrLeRandom;
  params[7] = 127;  // "RSSI not available"
  auto found = mgmt::decode_device_found(params);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->random());
  EXPECT_EQ(found->rssi_dbm(), std::nullopt);
  params[6] = mgmt::kAddrBrEdr;
  found = mgmt::decode_device_found(params);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->le());
}

TEST(MgmtCodec, LengthsThatDoNotAddUpAreRefused) {
  Bytes longer = kDeviceFound;
  longer.push_back(0);  // a byte beyond the parameter length
  EXPECT_FALSE(mgmt::decode_event(longer));
  EXPECT_FALSE(mgmt::decode_event(Bytes(kDeviceFound.begin(), kDeviceFound.end() - 1)));
  EXPECT_FALSE(mgmt::decode_event(Bytes{0x12, 0x00, 0x00, 0x00, 0x00}));  // half a header
  const auto empty = mgmt::decode_event(Bytes{0x04, 0x00, 0x02, 0x00, 0x00, 0x00});
  ASSERT_TRUE(empty);  // Index Added of hci2: no parameters
  EXPECT_EQ(empty->code, mgmt::kEvIndexAdded);
  EXPECT_TRUE(empty->params.empty());

  const Bytes params(kDeviceFound.begin() + 6, kDeviceFound.end());
  EXPECT_FALSE(mgmt::decode_device_found(std::span(params).first(13)));  // no AD length
  Bytes ad_too_long = params;
  ad_too_long[12] = 4;  // says 4 bytes of AD, 3 follow
  EXPECT_FALSE(mgmt::decode_device_found(ad_too_long));
  Bytes ad_too_short = params;
  ad_too_short[12] = 2;  // says 2, 3 follow
  EXPECT_FALSE(mgmt::decode_device_found(ad_too_short));
}

TEST(MgmtCodec, MonitorDeviceFoundCarriesAHandleFirst) {
  Bytes params = {0x01, 0x00};  // Monitor_Handle 1
  params.insert(params.end(), kDeviceFound.begin() + 6, kDeviceFound.end());
  const auto found = mgmt::decode_monitor_device_found(params);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->address, (mgmt::Address{0x38, 0x3b, 0x26, 0xbe, 0x20, 0xf9}));
  EXPECT_EQ(found->data.size(), 3u);
  EXPECT_FALSE(mgmt::decode_monitor_device_found(Bytes{0x01}));
}

TEST(MgmtCodec, CommandCompleteAndCommandStatus) {
  // Command Complete of Set Powered on hci0: success, Current_Settings 0x00000ac1.
  const Bytes complete = {0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x05,
                          0x00, 0x00, 0xc1, 0x0a, 0x00, 0x00};
  const auto reply = mgmt::decode_command_reply(complete);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->index, 0);
  EXPECT_EQ(reply->opcode, mgmt::kOpSetPowered);
  EXPECT_EQ(reply->status, mgmt::kStatusSuccess);
  ASSERT_EQ(reply->data.size(), 4u);
  EXPECT_EQ(mgmt::le32(reply->data.data()), 0x0ac1u);
  // Command Status of Start Discovery on hci3: Busy, no return parameters.
  const auto status =
      mgmt::decode_command_reply(Bytes{0x02, 0x00, 0x03, 0x00, 0x03, 0x00, 0x23, 0x00, 0x0a});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->index, 3);
  EXPECT_EQ(status->opcode, mgmt::kOpStartDiscovery);
  EXPECT_EQ(status->status, mgmt::kStatusBusy);
  EXPECT_TRUE(status->data.empty());
  // Opcode without status.
  EXPECT_FALSE(mgmt::decode_command_reply(Bytes{0x02, 0x00, 0x03, 0x00, 0x02, 0x00, 0x23, 0x00}));
}

TEST(MgmtCodec, EveryStatusCodeOfTheTableHasItsText) {
  // mgmt-api.txt, "Status codes", 0x00-0x14.
  const char* const table[] = {
      "success",          "unknown command",       "not connected", "failed",
      "connect failed",   "authentication failed", "not paired",    "no resources",
      "timeout",          "already connected",     "busy",          "rejected",
      "not supported",    "invalid parameters",    "disconnected",  "not powered",
      "cancelled",        "invalid index",         "rfkill",        "already paired",
      "permission denied"};
  for (std::uint8_t code = 0; code < std::size(table); ++code)
    EXPECT_EQ(mgmt::status_text(code).find(table[code]), 0u)
        << int(code) << ": " << mgmt::status_text(code);
  EXPECT_EQ(mgmt::status_text(0x15), "unknown status 0x15");
  EXPECT_EQ(mgmt::status_text(0xff), "unknown status 0xff");
}

TEST(MgmtCodec, CommandsAsTheLayoutSays) {
  const mgmt::Address a = {0x50, 0x54, 0x7b, 0x80, 0x2c, 0x3c};
  EXPECT_EQ(
      mgmt::encode_add_device(1, a, false, mgmt::kActionBackgroundScan),
      (Bytes{0x33, 0x00, 0x01, 0x00, 0x08, 0x00, 0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x01, 0x00}));
  EXPECT_EQ(mgmt::encode_remove_device(0x0100, a, true),
            (Bytes{0x34, 0x00, 0x00, 0x01, 0x07, 0x00, 0x3c, 0x2c, 0x80, 0x7b, 0x54, 0x50, 0x02}));
  EXPECT_EQ(mgmt::encode_remove_monitor(0, 0x0102),
            (Bytes{0x53, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x01}));
  const std::uint8_t le = mgmt::kDiscoverLe;
  EXPECT_EQ(mgmt::encode_command(mgmt::kOpStartDiscovery, 2, {&le, 1}),
            (Bytes{0x23, 0x00, 0x02, 0x00, 0x01, 0x00, 0x06}));
  EXPECT_EQ(mgmt::encode_command(mgmt::kOpReadInfo, 0),
            (Bytes{0x04, 0x00, 0x00, 0x00, 0x00, 0x00}));
  // Add Advertisement Patterns Monitor: Pattern_Count, then AD_Type, Offset, Length and a
  // 31-octet Value.
  const std::uint8_t zero = 0;
  const Bytes monitor = mgmt::encode_add_patterns_monitor(0, 0xff, 0, {&zero, 1});
  Bytes expected = {0x52, 0x00, 0x00, 0x00, 35, 0x00, 0x01, 0xff, 0x00, 0x01};
  expected.resize(6 + 35, 0);
  EXPECT_EQ(monitor, expected);
  EXPECT_EQ(mgmt::op_name(mgmt::kOpAddDevice), "Add Device");
  EXPECT_EQ(mgmt::op_name(0x0099), "command 0x0099");
}

}  // namespace
}  // namespace bm6
