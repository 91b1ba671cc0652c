// bm6ctl ha-discovery, run: collectd's configuration read, the messages made, then printed
// (--dry-run) or published. Credentials never come from the command line and are never
// printed.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "tools/ctl/cli.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/ha_discovery.h"
#include "tools/ctl/text.h"

namespace bm6::ctl {

namespace {

struct Credentials {
  std::optional<std::string> username, password;
};

// Lines "username=NAME" and "password=SECRET" (the rest of the line, as it is); blank
// lines and "#" comments. A message never quotes a line: it may hold the secret.
bool read_credentials_file(const std::string& path, Credentials& out, std::string& error,
                           bool& permission) {
  std::ifstream in(path);
  if (!in) {
    permission = errno == EACCES || errno == EPERM;
    error = "--credentials: cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    print_error("warning: " + path + " is readable by others than its owner");
  std::string line;
  for (unsigned n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("username=", 0) == 0) {
      out.username = line.substr(9);
    } else if (line.rfind("password=", 0) == 0) {
      out.password = line.substr(9);
    } else {
      error = "--credentials: " + path + " line " + std::to_string(n) +
              ": expected username=NAME or password=SECRET";
      return false;
    }
  }
  return true;
}

// --credentials, else the environment, else the configuration's <Publish> block.
bool credentials(const Command& cmd, const CollectdSetup& setup, Credentials& out,
                 std::string& error, bool& permission) {
  if (!cmd.credentials.empty()) {
    if (!read_credentials_file(cmd.credentials, out, error, permission)) return false;
  } else if (std::getenv("BM6_MQTT_USERNAME") || std::getenv("BM6_MQTT_PASSWORD")) {
    if (const char* u = std::getenv("BM6_MQTT_USERNAME")) out.username = u;
    if (const char* p = std::getenv("BM6_MQTT_PASSWORD")) out.password = p;
  } else {
    out.username = setup.mqtt_user;
    out.password = setup.mqtt_password;
  }
  if (out.password && !out.username) {
    error = "a password needs a user name (MQTT 3.1.1)";
    return false;
  }
  return true;
}

HaTopics topics_for(const Command& cmd, const CollectdSetup& setup) {
  HaTopics t;
  t.hostname = cmd.hostname ? *cmd.hostname : collectd_hostname(setup);
  t.state_prefix = cmd.topic_prefix    ? *cmd.topic_prefix
                   : setup.mqtt_prefix ? *setup.mqtt_prefix
                                       : "collectd";
  t.discovery_prefix = cmd.discovery_prefix;
  t.expire_after = cmd.expire_after;
  return t;
}

void print_line(const std::string& line) { std::fputs((line + "\n").c_str(), stdout); }

// Publishes; prints one line per device. Returns the exit status.
int publish(const Command& cmd, const CollectdSetup& setup, const HaTopics& topics) {
  MqttOptions o;
  o.host = cmd.broker ? *cmd.broker : setup.mqtt_host ? *setup.mqtt_host : "localhost";
  o.port = cmd.port ? *cmd.port : setup.mqtt_port ? *setup.mqtt_port : 1883;
  o.client_id = cmd.client_id ? *cmd.client_id : "bm6ctl-" + std::to_string(::getpid());
  o.timeout = cmd.timeout();
  Credentials c;
  std::string error;
  bool permission = false;
  if (!credentials(cmd, setup, c, error, permission)) {
    print_error(error);
    return permission ? kExitNotPermitted : kExitFailed;
  }
  o.username = c.username;
  o.password = c.password;
  std::vector<MqttMessage> all;
  for (const auto& d : setup.devices)
    for (auto& m : ha_messages(d, topics, cmd.remove)) all.push_back(std::move(m));
  const MqttOutcome out = mqtt_publish(o, all);
  if (out.kind != MqttOutcome::Kind::kOk) {
    print_error(out.error);
    return out.kind == MqttOutcome::Kind::kRefused ? kExitNotPermitted : kExitFailed;
  }
  for (const auto& d : setup.devices)
    print_line(terminal_safe(d.name) + ": " + (cmd.remove ? "removed " : "published ") +
               std::to_string(ha_messages(d, topics, cmd.remove).size()) + " sensors as " +
               terminal_safe(topics.discovery_prefix) + "/sensor/" + ha_node_id(d) + "/");
  return kExitOk;
}

}  // namespace

int run_ha_discovery(const Command& cmd) {
  std::string error;
  bool permission = false;
  const auto items = read_collectd_conf(cmd.config, error, permission);
  if (!items) {
    print_error(error);
    return permission ? kExitNotPermitted : kExitFailed;
  }
  const auto setup = collectd_setup(*items, error);
  if (!setup) {
    print_error(error);
    return kExitFailed;
  }
  if (setup->devices.empty()) {
    print_error("no <Device> in a <Plugin bm6> block of " + cmd.config + " or its Includes");
    return kExitFailed;
  }
  const HaTopics topics = topics_for(cmd, *setup);
  if (!cmd.dry_run) return publish(cmd, *setup, topics);
  // Topics through terminal_safe (prefixes are the user's); payloads are JSON, escaped.
  for (const auto& d : setup->devices)
    for (const auto& m : ha_messages(d, topics, false))
      print_line(terminal_safe(m.topic) + " " + m.payload);
  return kExitOk;
}

}  // namespace bm6::ctl
