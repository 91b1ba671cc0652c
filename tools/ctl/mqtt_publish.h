// A small MQTT 3.1.1 publisher (OASIS MQTT 3.1.1): CONNECT with an optional user name and
// password, PUBLISH at QoS 1 each acknowledged by PUBACK before the next, DISCONNECT. Plain
// TCP only; every step within one overall timeout. Enough to leave retained messages on a
// broker; it never subscribes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bm6::ctl {

struct MqttOptions {
  std::string host = "localhost";
  unsigned port = 1883;
  std::string client_id;                // empty: the broker assigns one
  std::optional<std::string> username;  // a password needs a user name in MQTT 3.1.1
  std::optional<std::string> password;
  std::chrono::milliseconds timeout{10000};  // the whole session
};

struct MqttMessage {
  std::string topic;
  std::string payload;  // empty and retained: deletes the topic's retained message
  bool retain = true;
};

struct MqttOutcome {
  enum class Kind { kOk, kFailed, kRefused };  // kRefused: CONNACK 4 or 5 (credentials)
  Kind kind = Kind::kOk;
  std::string error;      // what failed, with the broker's host:port
  std::size_t acked = 0;  // messages the broker acknowledged
};

MqttOutcome mqtt_publish(const MqttOptions& options, const std::vector<MqttMessage>& messages);

// The packets, for tests: a CONNECT (clean session, keep-alive 60 s), a QoS 1 PUBLISH with
// packet identifier `id`. Strings longer than 65535 bytes make nullopt.
std::optional<std::string> mqtt_connect_packet(const MqttOptions& options);
std::optional<std::string> mqtt_publish_packet(const MqttMessage& message, std::uint16_t id);
// CONNACK's return code in words: "bad user name or password" for 4, ...
std::string connack_reason(unsigned code);

}  // namespace bm6::ctl
