// collectd's configuration file read as collectd's liboconfig reads it (options, <Blocks>,
// quoted strings with backslash escapes, numbers, booleans, comments, line continuations)
// and with its Include directive followed (a file, a directory's files in name order, or a
// glob; <Include "dir"> Filter "*.conf" </Include>). bm6ctl reads it without collectd's
// headers, which belong to plugin/ alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bm6::ctl {

struct ConfValue {
  enum class Kind { kString, kNumber, kBoolean };
  Kind kind = Kind::kString;
  std::string text;  // a string's value, unescaped; a number or boolean as written
  double number = 0;
  bool boolean = false;
};

struct ConfItem {
  std::string key;
  std::vector<ConfValue> values;
  std::vector<ConfItem> children;   // a block's contents
  std::string origin;               // "FILE:LINE", for messages
  bool is(const char* name) const;  // the key, case-insensitive as collectd compares them
  // The single string value, when there is exactly one.
  std::optional<std::string> string() const;
  // The single number value, when there is exactly one.
  std::optional<double> number() const;
};

// The file's top-level items with every Include replaced by what it includes, or nullopt
// with `error` saying what and where ("FILE:LINE: ..."). `permission` is set when a file
// could not be opened for lack of permission.
std::optional<std::vector<ConfItem>> read_collectd_conf(const std::string& path, std::string& error,
                                                        bool& permission);

// Parses text (the contents of `name`), not following Includes.
std::optional<std::vector<ConfItem>> parse_collectd_conf(const std::string& text,
                                                         const std::string& name,
                                                         std::string& error);

}  // namespace bm6::ctl
