// bm6ctl ha-discovery's pieces: the devices and options taken from collectd's configuration
// (its syntax and Includes: collectd_conf_test.cpp), the discovery payloads for hostile
// names, and the MQTT packets against the bytes MQTT 3.1.1 specifies. tests/e2e/mqtt_e2e.py
// runs it all against mosquitto.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tools/ctl/cli.h"
#include "tools/ctl/collectd_conf.h"
#include "tools/ctl/ha_discovery.h"
#include "tools/ctl/mqtt_publish.h"
#include "transport/unique_fd.h"

namespace bm6::ctl {
namespace {

std::optional<CollectdSetup> setup_of(const std::string& text, std::string& error) {
  const auto items = parse_collectd_conf(text, "t.conf", error);
  EXPECT_TRUE(items) << error;
  return items ? collectd_setup(*items, error) : std::nullopt;
}

TEST(HaDiscovery, TakesDevicesAndTheMqttBlockFromTheConfiguration) {
  std::string error;
  const auto s = setup_of(
      "Interval 5\n"
      "<LoadPlugin bm6>\n  Interval 20\n</LoadPlugin>\n"
      "<Plugin bm6>\n  Mode \"passive\"\n  Model \"bm2\"\n"
      "  <Device \"a\">\n    Address \"aa-bb-cc-dd-ee-0f\"\n  </Device>\n"
      "  <Device \"b\">\n    Address \"unix:/run/b.sock\"\n    Interval 7\n"
      "    Mode \"connected\"\n    Model \"auto\"\n  </Device>\n</Plugin>\n"
      "<Plugin mqtt>\n  <Publish \"x\">\n    Host \"broker\"\n    Port \"1884\"\n"
      "    Prefix \"\"\n    User \"u\"\n  </Publish>\n  <Publish \"y\">\n    Host \"no\"\n"
      "  </Publish>\n</Plugin>\n",
      error);
  ASSERT_TRUE(s) << error;
  ASSERT_EQ(s->devices.size(), 2u);
  const HaDevice& a = s->devices[0];
  EXPECT_EQ(a.address, "AA:BB:CC:DD:EE:0F");
  EXPECT_TRUE(a.bluetooth && a.passive);
  EXPECT_EQ(a.model, Family::kBm2);
  EXPECT_EQ(a.interval_s, 20);
  EXPECT_EQ(s->devices[1].interval_s, 7);
  EXPECT_FALSE(s->devices[1].passive || s->devices[1].model);
  EXPECT_EQ(s->mqtt_host, "broker");  // the first <Publish> block
  EXPECT_EQ(s->mqtt_port, 1884u);
  EXPECT_EQ(s->mqtt_prefix, "");
  EXPECT_EQ(s->mqtt_user, "u");
  EXPECT_FALSE(s->mqtt_password);

  HaTopics t;
  t.hostname = "h";
  // A passive BM2: voltage, charge, RSSI (no temperature sensor, no state advertised).
  std::vector<std::string> keys;
  for (const auto& m : ha_messages(a, t, false)) keys.push_back(m.topic);
  EXPECT_EQ(keys, (std::vector<std::string>{"homeassistant/sensor/bm6_aabbccddee0f/voltage/config",
                                            "homeassistant/sensor/bm6_aabbccddee0f/charge/config",
                                            "homeassistant/sensor/bm6_aabbccddee0f/rssi/config"}));
  t.state_prefix = "";
  EXPECT_EQ(collectd_value_topic(t, "a+b#c", "voltage"), "h/bm6-a_b_c/voltage");
}

TEST(HaDiscovery, ConfigurationMistakesNameDeviceAndOption) {
  std::string error;
  EXPECT_FALSE(
      setup_of("<Plugin bm6>\n <Device \"van\">\n  Address \"AA:BB\"\n </Device>\n"
               "</Plugin>\n",
               error));
  EXPECT_EQ(error.rfind("t.conf:2: device \"van\": option \"Address\": ", 0), 0u) << error;
  EXPECT_FALSE(setup_of("<Plugin bm6>\n <Device \"van\">\n </Device>\n</Plugin>\n", error));
  EXPECT_EQ(error, "t.conf:2: device \"van\": option \"Address\": missing");
  EXPECT_FALSE(setup_of("<Plugin bm6>\n Model \"BM9\"\n</Plugin>\n", error));
  EXPECT_EQ(error, "t.conf:2: option \"Model\": \"BM9\" is not a monitor model");
}

TEST(HaDiscovery, PayloadsEscapeWhatTheNameHolds) {
  HaDevice d;
  d.name = std::string("v\"a\\n\x01\x7f\xff", 8);
  d.address = "unix:/x.sock";
  HaTopics t;
  t.hostname = "h";
  t.expire_after = 0;
  const auto messages = ha_messages(d, t, false);
  ASSERT_EQ(messages.size(), 4u);  // no radio: no RSSI
  const std::string& p = messages[0].payload;
  EXPECT_NE(p.find(R"("name":"v\"a\\n\u0001\u007f\ufffd")"), std::string::npos) << p;
  EXPECT_NE(p.find(R"("state_topic":"collectd/h/bm6-v\"a\\n\u0001\u007f\ufffd/voltage")"),
            std::string::npos)
      << p;
  for (const char c : p) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  EXPECT_EQ(p.find("expire_after"), std::string::npos);
  for (const auto& m : ha_messages(d, t, true)) EXPECT_EQ(m.payload, "");
}

TEST(MqttPackets, AsMqtt311SpecifiesThem) {
  MqttOptions o;
  o.client_id = "a";
  // 3.1: CONNECT, remaining length 13, "MQTT", level 4, clean session, keep-alive 60.
  EXPECT_EQ(mqtt_connect_packet(o), std::string("\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01"
                                                "a",
                                                15));
  o.username = "u";
  o.password = "pw";
  EXPECT_EQ(mqtt_connect_packet(o), std::string("\x10\x14\x00\x04MQTT\x04\xc2\x00\x3c\x00\x01"
                                                "a\x00\x01u\x00\x02pw",
                                                22));
  // 3.3: PUBLISH at QoS 1, retained; 200 bytes of payload take two length bytes (2.2.3).
  MqttMessage m{"t/x", std::string(200, 'p'), true};
  const auto publish = mqtt_publish_packet(m, 0x1234);
  ASSERT_TRUE(publish);
  EXPECT_EQ(publish->substr(0, 10), std::string("\x33\xcf\x01\x00\x03t/x\x12\x34", 10));
  EXPECT_EQ(publish->size(), 10u + 200u);
  m.topic = std::string(70000, 't');
  EXPECT_FALSE(mqtt_publish_packet(m, 1));
  EXPECT_EQ(connack_reason(4), "bad user name or password");
}

TEST(MqttPackets, ABrokerThatNeverAnswersTimesOut) {
  // Listening, never accepting: the kernel completes the handshake, nothing answers CONNECT.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  MqttOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(sin.sin_port);
  o.timeout = std::chrono::milliseconds(300);
  const MqttOutcome out = mqtt_publish(o, {{"t", "p", true}});
  EXPECT_EQ(out.kind, MqttOutcome::Kind::kFailed);
  EXPECT_EQ(out.error, "127.0.0.1:" + std::to_string(o.port) + ": no answer in time");
  EXPECT_EQ(out.acked, 0u);
}

Command ha_command(const std::vector<std::string>& args) {
  const Parsed p = parse(args);
  if (const auto* e = std::get_if<UsageError>(&p)) ADD_FAILURE() << e->message;
  return std::holds_alternative<Command>(p) ? std::get<Command>(p) : Command{};
}

std::string ha_usage_error(const std::vector<std::string>& args) {
  const Parsed p = parse(args);
  EXPECT_TRUE(std::holds_alternative<UsageError>(p));
  return std::holds_alternative<UsageError>(p) ? std::get<UsageError>(p).message : "";
}

TEST(HaDiscoveryCommandLine, OptionsAnywhereDefaultsAndRefusals) {
  const Command d = ha_command({"ha-discovery"});
  EXPECT_EQ(d.verb, Verb::kHaDiscovery);
  EXPECT_EQ(d.config, "/etc/collectd/collectd.conf");
  EXPECT_EQ(d.timeout_s, 10);
  EXPECT_FALSE(d.broker || d.port || d.hostname || d.topic_prefix || d.client_id ||
               d.expire_after || d.dry_run || d.remove);
  const Command c = ha_command({"-n",
                                "--config=/c",
                                "ha-discovery",
                                "-b",
                                "broker",
                                "-p",
                                "8883",
                                "--topic-prefix=",
                                "--discovery-prefix",
                                "ha",
                                "--hostname",
                                "pi",
                                "--client-id",
                                "me",
                                "--expire-after",
                                "0",
                                "--credentials",
                                "/cred",
                                "-t",
                                "2.5"});
  EXPECT_TRUE(c.dry_run);
  EXPECT_EQ(c.config, "/c");
  EXPECT_EQ(c.broker, "broker");
  EXPECT_EQ(c.port, 8883u);
  EXPECT_EQ(c.topic_prefix, "");  // collectd's Prefix may be empty
  EXPECT_EQ(c.discovery_prefix, "ha");
  EXPECT_EQ(c.hostname, "pi");
  EXPECT_EQ(c.client_id, "me");
  EXPECT_EQ(c.expire_after, 0u);
  EXPECT_EQ(c.credentials, "/cred");
  EXPECT_EQ(c.timeout_s, 2.5);
  EXPECT_NE(ha_usage_error({"ha-discovery", "--port", "65536"}).find("port from 1 to 65535"),
            std::string::npos);
  EXPECT_NE(ha_usage_error({"ha-discovery", "--dry-run", "--remove"}).find("not both"),
            std::string::npos);
  EXPECT_NE(ha_usage_error({"ha-discovery", "van"}).find("takes no 'van'"), std::string::npos);
  EXPECT_NE(ha_usage_error({"ha-discovery", "--json"}).find("has no option '--json'"),
            std::string::npos);
  EXPECT_NE(ha_usage_error({"read", "unix:/x", "--broker", "b"}).find("has no option"),
            std::string::npos);
  // No password option: credentials never come from the command line.
  EXPECT_NE(ha_usage_error({"ha-discovery", "--password", "x"}).find("unknown option"),
            std::string::npos);
  const std::string help = help_text(Verb::kHaDiscovery);
  for (const char* o :
       {"--config=FILE", "--broker=HOST", "--port=N", "--credentials=FILE", "--client-id=ID",
        "--hostname=NAME", "--topic-prefix=PREFIX", "--discovery-prefix=PREFIX", "--expire-after=S",
        "--dry-run", "--remove", "--timeout=S", "BM6_MQTT_PASSWORD", "Exit status"})
    EXPECT_NE(help.find(o), std::string::npos) << o;
}

}  // namespace
}  // namespace bm6::ctl
