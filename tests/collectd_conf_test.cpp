// tools/ctl/collectd_conf: collectd.conf's syntax as bm6ctl reads it (for read --config and
// ha-discovery), Include as collectd follows it, and the <Plugin bm6> devices' corrections
// with the plugin's bounds.
#include "tools/ctl/collectd_conf.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    const auto conf = read_collectd_conf(write("c.conf", text), error, permission_);
    if (!conf) return {};
    auto d = bm6_devices(*conf);
    if (auto* e = std::get_if<std::string>(&d)) {
      error = *e;
      return {};
    }
    return std::get<std::vector<ConfDevice>>(d);
  }
  std::string dir_;
  bool permission_ = false;
};

TEST_F(CollectdConf, ReadsOptionsBlocksAndValueKinds) {
  std::string error;
  const auto conf = read_collectd_conf(
      write("c.conf",
            "# comment\nInterval 10 # trailing\nLoadPlugin bm6\n<Plugin \"bm6\">\n"
            "  Name \"a \\\"quoted\\\" word\" true Off -1.5e1\n  Long \\\n    \"continued\"\n"
            "</Plugin>\n"),
      error, permission_);
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
  EXPECT_FALSE(read_collectd_conf(write("a.conf", "<Plugin bm6>\n  X 1\n"), error, permission_));
  EXPECT_EQ(error, dir_ + "/a.conf:1: <Plugin> is never closed");
  EXPECT_FALSE(read_collectd_conf(write("b.conf", "<A>\n</B>\n"), error, permission_));
  EXPECT_EQ(error, dir_ + "/b.conf:2: </B> closes no open block (<A> is open)");
  EXPECT_FALSE(read_collectd_conf(write("c.conf", "X \"open\n"), error, permission_));
  EXPECT_EQ(error, dir_ + "/c.conf:1: a quoted string does not end on its line");
  EXPECT_FALSE(read_collectd_conf(dir_ + "/none.conf", error, permission_));
  EXPECT_EQ(error, dir_ + "/none.conf: cannot be read: No such file or directory");
  EXPECT_FALSE(permission_);
  // A file that includes itself stops at collectd's depth.
  EXPECT_FALSE(read_collectd_conf(write("self.conf", "Include \"" + dir_ + "/self.conf\"\n"), error,
                                  permission_));
  EXPECT_NE(error.find("Include nested more than 8 deep"), std::string::npos) << error;
}

TEST_F(CollectdConf, IncludesFilesDirectoriesWithFilterAndGlobs) {
  ::mkdir((dir_ + "/d").c_str(), 0700);
  write("d/b.conf", "B 2\n");
  write("d/a.conf", "A 1\n");
  write("d/z.txt", "<broken\n");
  write("g1.inc", "G 1\n");
  std::string error;
  // A relative Include is taken from the working directory, as collectd takes it.
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  const auto conf = read_collectd_conf(
      write("main.conf",
            "<Include \"d\">\n  Filter \"*.conf\"\n</Include>\nInclude \"" + dir_ + "/g*.inc\"\n"),
      error, permission_);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(conf) << error;
  ASSERT_EQ(conf->size(), 3u);
  EXPECT_EQ((*conf)[0].key, "A");  // a directory's files in name order
  EXPECT_EQ((*conf)[1].key, "B");
  EXPECT_EQ((*conf)[2].key, "G");
}

// collectd's own rules for what an Include takes: subdirectories too, the Filter on every
// file (one named directly as well), no Include followed inside a block, a path that
// matches nothing skipped.
TEST_F(CollectdConf, IncludesAsCollectdFollowsThem) {
  std::filesystem::create_directories(dir_ + "/d/sub");
  write("d/sub/b.conf", "B 2\n");
  write("d/a.conf", "A 1\n");
  write("x.txt", "X 1\n");
  write("in-block.conf", "Broken <\n");
  std::string error;
  const auto conf = read_collectd_conf(
      write("main.conf", "<Include \"" + dir_ + "/d\">\n  Filter \"*.conf\"\n</Include>\n" +
                             "<Include \"" + dir_ + "/x.txt\">\n  Filter \"*.conf\"\n</Include>\n" +
                             "Include \"" + dir_ + "/none*.conf\"\n<Plugin bm6>\n  Include \"" +
                             dir_ + "/in-block.conf\"\n</Plugin>\n"),
      error, permission_);
  ASSERT_TRUE(conf) << error;
  ASSERT_EQ(conf->size(), 3u);
  EXPECT_EQ((*conf)[0].key, "A");
  EXPECT_EQ((*conf)[1].key, "B");  // d/sub/b.conf
  ASSERT_EQ((*conf)[2].children.size(), 1u);
  EXPECT_TRUE((*conf)[2].children[0].is("include"));  // left to the plugin, not followed
}

TEST_F(CollectdConf, AnUnreadableFileIsAPermissionRefused) {
  const std::string path = write("secret.conf", "A 1\n");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  // Root reads any file: the reader runs in a child that gives root up (to nobody).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 && ::setuid(65534) != 0) ::_exit(2);
    std::string error;
    bool permission = false;
    const bool refused = !read_collectd_conf(path, error, permission);
    std::fprintf(stderr, "%s\n", error.c_str());
    ::_exit(refused && permission && error == path + ": cannot be read: Permission denied" ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

std::vector<ConfItem> parse_ok(const std::string& text) {
  std::string error;
  auto items = parse_collectd_conf(text, "t.conf", error);
  EXPECT_TRUE(items) << error;
  return items ? *items : std::vector<ConfItem>{};
}

std::string parse_error(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse_collectd_conf(text, "t.conf", error));
  return error;
}

TEST(CollectdConfText, ReadsWhatLiboconfigReads) {
  const auto items = parse_ok(
      "# a comment\n"
      "Hostname \"van\\\"s \\\\ pi\"  # trailing comment\n"
      "Interval 2.5\n"
      "FQDNLookup false\n"
      "LoadPlugin bm6\n"
      "<Plugin \"bm6\">\n"
      "  Model \"BM2\"\n"
      "  <Device \"a # b\">\n"
      "    Address \\\n"
      "      \"AA:BB:CC:DD:EE:FF\"\n"
      "  </Device>\n"
      "</plugin>\n");
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].string(), "van\"s \\ pi");
  EXPECT_EQ(items[1].number(), 2.5);
  EXPECT_EQ(items[2].boolean(), false);
  EXPECT_EQ(items[3].string(), "bm6");  // an unquoted word is a string
  const ConfItem& plugin = items[4];
  EXPECT_TRUE(plugin.is("PLUGIN"));
  ASSERT_EQ(plugin.children.size(), 2u);
  EXPECT_EQ(plugin.children[1].string(), "a # b");
  ASSERT_EQ(plugin.children[1].children.size(), 1u);
  EXPECT_EQ(plugin.children[1].children[0].string(), "AA:BB:CC:DD:EE:FF");
  EXPECT_EQ(plugin.children[1].children[0].where, "t.conf:9");
}

TEST(CollectdConfText, MistakesNameFileAndLine) {
  EXPECT_EQ(parse_error("<Plugin bm6>\n  Model \"BM6\"\n"), "t.conf:1: <Plugin> is never closed");
  EXPECT_EQ(parse_error("<Plugin bm6>\n</Device>\n"),
            "t.conf:2: </Device> closes no open block (<Plugin> is open)");
  EXPECT_EQ(parse_error("\nHostname \"open\n"),
            "t.conf:2: a quoted string does not end on its line");
  EXPECT_EQ(parse_error("Hostname {x}\n"), "t.conf:1: unexpected '{'");
  EXPECT_EQ(parse_error("<Plugin bm6\n</Plugin>\n"), "t.conf:1: <Plugin has no closing '>'");
}

TEST_F(CollectdConf, FollowsIncludesAsCollectdDoes) {
  std::filesystem::create_directories(dir_ + "/conf.d");
  write("conf.d/20-b.conf", "<Plugin bm6>\n <Device \"b\">\n </Device>\n</Plugin>\n");
  write("conf.d/10-a.conf", "<Plugin bm6>\n <Device \"a\">\n </Device>\n</Plugin>\n");
  write("conf.d/30-c.conf.dpkg-old", "Broken <\n");  // left out by the filter
  write("conf.d/.hidden.conf", "Broken <\n");        // dot files: never
  const std::string main = write("collectd.conf", "Hostname \"h\"\n<Include \"" + dir_ +
                                                      "/conf.d\">\n  Filter \"*.conf\"\n"
                                                      "</Include>\nInterval 3\n");
  std::string error;
  bool permission = true;
  const auto items = read_collectd_conf(main, error, permission);
  ASSERT_TRUE(items) << error;
  EXPECT_FALSE(permission);
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[1].children[0].string(), "a");  // in name order
  EXPECT_EQ((*items)[2].children[0].string(), "b");
  EXPECT_TRUE((*items)[3].is("Interval"));

  const std::string loop = write("loop.conf", "Include \"" + dir_ + "/loop.conf\"\n");
  EXPECT_FALSE(read_collectd_conf(loop, error, permission));
  EXPECT_NE(error.find("nested more than 8 deep"), std::string::npos) << error;
  EXPECT_FALSE(read_collectd_conf(dir_ + "/none.conf", error, permission));
  EXPECT_NE(error.find("none.conf: cannot be read: No such file"), std::string::npos) << error;
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
