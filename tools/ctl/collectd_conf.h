// collectd's configuration file as bm6ctl reads it: the syntax of collectd.conf(5) (options
// with values, <Block> ... </Block>, "#" comments, "\" line continuation, Include of files,
// directories and globs, with a Filter in an <Include> block), and the <Plugin bm6> devices'
// addresses and corrections in it. bm6ctl cannot use collectd's own parser (only plugin/
// may include collectd's headers), so this is a second reader of the same format; bm6ctl
// read --config and ha-discovery both use it.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "device/corrections.h"

namespace bm6::ctl {

// One option or block: its key, its values (a quoted or bare string, a number, true/false),
// its children (a block's), and where it stands for messages ("FILE:LINE").
struct ConfItem {
  using Value = std::variant<std::string, double, bool>;
  std::string key;
  std::vector<Value> values;
  std::vector<ConfItem> children;
  std::string where;

  bool is(const char* name) const;  // the key, case-insensitive as collectd compares keys
  // The single value when there is exactly one of that kind; nullopt otherwise.
  std::optional<std::string> string() const;
  std::optional<double> number() const;
  std::optional<bool> boolean() const;
};

// The file's top-level items with every Include expanded in place, as collectd does it: only
// a file's top-level Include, a relative path taken from the working directory, a directory's
// entries (no dot files, subdirectories too) in name order, Filter matched against each file's
// name, at most 8 levels deep. Or the first mistake ("FILE:LINE: ...") in `error`, with
// `permission` set when a file or directory could not be read for lack of permission.
std::optional<std::vector<ConfItem>> read_collectd_conf(const std::string& path, std::string& error,
                                                        bool& permission);

// The items of `text` (the contents of the file `name`), Include not followed.
std::optional<std::vector<ConfItem>> parse_collectd_conf(const std::string& text,
                                                         const std::string& name,
                                                         std::string& error);

// One <Device> of <Plugin bm6>: its name, its Address as written, and its corrections (the
// plugin-level ones where it has none of its own).
struct ConfDevice {
  std::string name;
  std::string address;
  Corrections corrections;
};

// Every <Device> of every <Plugin bm6> block, or the first mistake in their corrections
// (the plugin's own wording: "device \"van\": option \"VoltageOffset\" must be ...").
std::variant<std::vector<ConfDevice>, std::string> bm6_devices(const std::vector<ConfItem>& conf);

}  // namespace bm6::ctl
