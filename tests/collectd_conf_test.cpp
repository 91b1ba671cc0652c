// tools/ctl/collectd_conf: collectd.conf's syntax as bm6ctl reads it, Include, and the
// <Plugin bm6> devices' corrections with the plugin's bounds.
#include "tools/ctl/collectd_conf.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace bm6::ctl {
namespace {

class CollectdConf : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bm6-conf-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::vector<ConfDevice> devices(const std::string& text, std::string& error) {
    error.clear();
    const auto conf = read_collectd_conf(write("c.conf", text), error);
    if (!conf) return {};
    auto d = bm6_devices(*conf);
    if (auto* e = std::get_if<std::string>(&d)) {
      error = *e;
      return {};
    }
    return std::get<std::vector<ConfDevice>>(d);
  }
  std::string dir_;
};

TEST_F(CollectdConf, ReadsOptionsBlocksAndValueKinds) {
  std::string error;
  const auto conf = read_collectd_conf(
      write("c.conf",
            "# comment\nInterval 10 # trailing\nLoadPlugin bm6\n<Plugin \"bm6\">\n"
            "  Name \"a \\\"quoted\\\" word\" true Off -1.5e1\n  Long \\\n    \"continued\"\n"
            "</Plugin>\n"),
      error);
  ASSERT_TRUE(conf) << error;
  ASSERT_EQ(conf->size(), 3u);
  EXPECT_EQ((*conf)[0].key, "Interval");
  EXPECT_EQ(std::get<double>((*conf)[0].values[0]), 10);
  EXPECT_EQ(std::get<std::string>((*conf)[1].values[0]), "bm6");  // a bare word
  const ConfItem& plugin = (*conf)[2];
  ASSERT_EQ(plugin.children.size(), 2u);
  const auto& v = plugin.children[0].values;
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(std::get<std::string>(v[0]), "a \"quoted\" word");
  EXPECT_EQ(std::get<bool>(v[1]), true);
  EXPECT_EQ(std::get<bool>(v[2]), false);
  EXPECT_EQ(std::get<double>(v[3]), -15);
  EXPECT_EQ(std::get<std::string>(plugin.children[1].values[0]), "continued");
  EXPECT_EQ(plugin.children[1].where, dir_ + "/c.conf:6");
}

TEST_F(CollectdConf, MistakesSayFileAndLine) {
  std::string error;
  EXPECT_FALSE(read_collectd_conf(write("a.conf", "<Plugin bm6>\n  X 1\n"), error));
  EXPECT_EQ(error, dir_ + "/a.conf:1: <Plugin> is never closed");
  EXPECT_FALSE(read_collectd_conf(write("b.conf", "<A>\n</B>\n"), error));
  EXPECT_EQ(error, dir_ + "/b.conf:2: </B> closes no open block (<A> is open)");
  EXPECT_FALSE(read_collectd_conf(write("c.conf", "X \"open\n"), error));
  EXPECT_EQ(error, dir_ + "/c.conf:1: a quoted string does not end on its line");
  EXPECT_FALSE(read_collectd_conf(dir_ + "/none.conf", error));
  EXPECT_EQ(error, dir_ + "/none.conf: cannot be read");
  // A file that includes itself stops at collectd's depth.
  EXPECT_FALSE(read_collectd_conf(write("self.conf", "Include \"self.conf\"\n"), error));
  EXPECT_NE(error.find("Include nested more than 8 deep"), std::string::npos) << error;
}

TEST_F(CollectdConf, IncludesFilesDirectoriesWithFilterAndGlobs) {
  ::mkdir((dir_ + "/d").c_str(), 0700);
  write("d/b.conf", "B 2\n");
  write("d/a.conf", "A 1\n");
  write("d/z.txt", "<broken\n");
  write("g1.inc", "G 1\n");
  std::string error;
  const auto conf = read_collectd_conf(
      write("main.conf",
            "<Include \"d\">\n  Filter \"*.conf\"\n</Include>\nInclude \"" + dir_ + "/g*.inc\"\n"),
      error);
  ASSERT_TRUE(conf) << error;
  ASSERT_EQ(conf->size(), 3u);
  EXPECT_EQ((*conf)[0].key, "A");  // a directory's files in name order
  EXPECT_EQ((*conf)[1].key, "B");
  EXPECT_EQ((*conf)[2].key, "G");
}

TEST_F(CollectdConf, DevicesTakeThePluginLevelCorrectionsAndTheirOwn) {
  std::string error;
  const auto d = devices(
      "<Plugin bm6>\n  TemperatureOffset -18\n  Chemistry \"AGM\"\n"
      "  <Device \"van\">\n    Address \"AA:BB:CC:DD:EE:FF\"\n    VoltageOffset 0.1\n"
      "    Chemistry \"lifepo4\"\n  </Device>\n  <Device \"house\">\n"
      "    Address \"unix:/x.sock\"\n  </Device>\n</Plugin>\n<Plugin csv>\n</Plugin>\n",
      error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "van");
  EXPECT_EQ(d[0].address, "AA:BB:CC:DD:EE:FF");
  EXPECT_EQ(d[0].corrections.voltage_offset, 0.1);
  EXPECT_EQ(d[0].corrections.temperature_offset, -18);
  EXPECT_EQ(d[0].corrections.chemistry, Chemistry::kLifePo4);
  EXPECT_EQ(d[1].corrections.voltage_offset, 0);
  EXPECT_EQ(d[1].corrections.chemistry, Chemistry::kAgm);
}

TEST_F(CollectdConf, HostileCorrectionsAreRefusedAsThePluginRefusesThem) {
  const std::string file = dir_ + "/c.conf";
  const std::pair<std::string, std::string> cases[] = {
      {"VoltageOffset 2.5", ":3: device \"v\": option \"VoltageOffset\" must be from -2 to 2 V"},
      {"VoltageOffset nan", ":3: device \"v\": option \"VoltageOffset\" needs one number of volts"},
      {"TemperatureOffset inf",
       ":3: device \"v\": option \"TemperatureOffset\" needs one number of degrees C"},
      {"TemperatureOffset -1e300",
       ":3: device \"v\": option \"TemperatureOffset\" must be from -30 to 30 degrees C"},
      {"Chemistry \"lithium\"",
       ":3: device \"v\": option \"Chemistry\": \"lithium\" is not a battery chemistry (known: "
       "\"lead-acid\", \"agm\", \"lifepo4\")"},
      {"Chemistry 4", ":3: device \"v\": option \"Chemistry\" needs exactly one quoted string"},
      {"VoltageOffset 0.1\n    voltageoffset 0.2",
       ":4: device \"v\": option \"voltageoffset\" is given twice"},
  };
  for (const auto& [option, want] : cases) {
    std::string error;
    devices("<Plugin bm6>\n  <Device \"v\">\n    " + option + "\n  </Device>\n</Plugin>\n", error);
    EXPECT_EQ(error, file + want) << option;
  }
  std::string error;
  devices("<Plugin bm6>\n  VoltageOffset -3\n</Plugin>\n", error);
  EXPECT_EQ(error, file + ":2: option \"VoltageOffset\" must be from -2 to 2 V");
}

}  // namespace
}  // namespace bm6::ctl
