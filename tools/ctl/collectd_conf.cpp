#include "tools/ctl/collectd_conf.h"

#include <dirent.h>
#include <fnmatch.h>
#include <glob.h>
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

namespace bm6::ctl {

namespace {

// collectd nests Include at most this deep (a file including itself ends here).
constexpr int kMaxIncludeDepth = 8;

bool is(const std::string& a, const char* b) { return ::strcasecmp(a.c_str(), b) == 0; }

// A bare word as oconfig types it: a number, a boolean word, or a string.
ConfItem::Value bare_value(const std::string& word) {
  char* end = nullptr;
  const double number = std::strtod(word.c_str(), &end);
  if (!word.empty() && end == word.c_str() + word.size() && std::isfinite(number)) return number;
  for (const char* t : {"true", "yes", "on"})
    if (is(word, t)) return true;
  for (const char* f : {"false", "no", "off"})
    if (is(word, f)) return false;
  return word;
}

// One file's text read token by token, one logical line at a time.
class Lexer {
 public:
  Lexer(std::string text, std::string file) : text_(std::move(text)), file_(std::move(file)) {}

  // Where the last line read starts.
  std::string where() const { return file_ + ":" + std::to_string(start_line_); }
  bool done() const { return at_ >= text_.size(); }

  // The words of the next line that has any ("<", "</", ">" are words of their own); a
  // quoted string is marked by `quoted`. False at the end of the text, or on a mistake.
  struct Word {
    std::string text;
    bool quoted = false;
  };
  bool next_line(std::vector<Word>& words, std::string& error) {
    words.clear();
    while (!done()) {
      const char c = text_[at_];
      if (words.empty()) start_line_ = line_;
      if (c == '\n') {
        ++at_;
        ++line_;
        if (!words.empty()) return true;
      } else if (c == '\\' && at_ + 1 < text_.size() && text_[at_ + 1] == '\n') {
        at_ += 2;  // continued on the next line
        ++line_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++at_;
      } else if (c == '#') {
        while (!done() && text_[at_] != '\n') ++at_;
      } else if (c == '"') {
        Word w{"", true};
        if (!quoted(w.text, error)) return false;
        words.push_back(std::move(w));
      } else if (c == '<' || c == '>') {
        const bool closing = c == '<' && at_ + 1 < text_.size() && text_[at_ + 1] == '/';
        words.push_back({closing ? "</" : std::string(1, c)});
        at_ += closing ? 2 : 1;
      } else {
        const std::size_t start = at_;
        while (!done() && std::string_view(" \t\r\n\"<>#").find(text_[at_]) == std::string::npos)
          ++at_;
        words.push_back({text_.substr(start, at_ - start)});
      }
    }
    return !words.empty();
  }

 private:
  bool quoted(std::string& out, std::string& error) {
    for (++at_; !done() && text_[at_] != '"'; ++at_) {
      if (text_[at_] == '\n') break;
      if (text_[at_] == '\\' && at_ + 1 < text_.size()) ++at_;
      out += text_[at_];
    }
    if (done() || text_[at_] != '"') {
      error = file_ + ":" + std::to_string(line_) + ": a quoted string does not end on its line";
      return false;
    }
    ++at_;
    return true;
  }

  std::string text_;
  std::string file_;
  std::size_t at_ = 0;
  int line_ = 1;
  int start_line_ = 1;
};

std::optional<std::vector<ConfItem>> read_file(const std::string& path, int depth,
                                               std::string& error);

// "KEY VALUE..." into an item; the words must be a key then values.
bool make_item(const std::vector<Lexer::Word>& words, std::size_t from, std::size_t to,
               const std::string& where, ConfItem& item, std::string& error) {
  if (from >= to || words[from].quoted) {
    error = where + ": an option or block name is missing";
    return false;
  }
  item.key = words[from].text;
  item.where = where;
  for (std::size_t i = from + 1; i < to; ++i)
    item.values.push_back(words[i].quoted ? ConfItem::Value(words[i].text)
                                          : bare_value(words[i].text));
  return true;
}

// A file's items, blocks nested, Include not expanded yet.
std::optional<std::vector<ConfItem>> parse_text(Lexer& lexer, std::string& error) {
  std::vector<ConfItem> top;
  std::vector<ConfItem> open;  // the blocks open, innermost last
  std::vector<Lexer::Word> w;
  auto into = [&]() -> std::vector<ConfItem>& { return open.empty() ? top : open.back().children; };
  while (lexer.next_line(w, error)) {
    const std::string where = lexer.where();
    ConfItem item;
    if (w[0].text == "<" && !w[0].quoted) {
      if (w.size() < 3 || w.back().text != ">" || w.back().quoted) {
        error = where + ": a block opens with <Name ...>";
        return std::nullopt;
      }
      if (!make_item(w, 1, w.size() - 1, where, item, error)) return std::nullopt;
      open.push_back(std::move(item));
    } else if (w[0].text == "</" && !w[0].quoted) {
      if (w.size() != 3 || w[2].text != ">" || open.empty() ||
          !is(w[1].text, open.back().key.c_str())) {
        error = where + ": </" + (w.size() > 1 ? w[1].text : "") + "> closes no open block" +
                (open.empty() ? "" : " (<" + open.back().key + "> is open)");
        return std::nullopt;
      }
      ConfItem done = std::move(open.back());
      open.pop_back();
      into().push_back(std::move(done));
    } else {
      if (!make_item(w, 0, w.size(), where, item, error)) return std::nullopt;
      into().push_back(std::move(item));
    }
  }
  if (!error.empty()) return std::nullopt;
  if (!open.empty()) {
    error = open.back().where + ": <" + open.back().key + "> is never closed";
    return std::nullopt;
  }
  return top;
}

// The files an Include names, in collectd's order: a directory's files sorted by name (those
// matching `filter`, when given), or what a glob matches, sorted.
std::vector<std::string> included_files(const std::string& path, const std::string& filter) {
  std::vector<std::string> out;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (DIR* dir = ::opendir(path.c_str())) {
      while (const dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name.empty() || name[0] == '.') continue;
        if (!filter.empty() && ::fnmatch(filter.c_str(), name.c_str(), 0) != 0) continue;
        out.push_back(path + "/" + name);
      }
      ::closedir(dir);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  glob_t g{};
  if (::glob(path.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

// The items with each Include replaced by the items of what it names.
bool expand(std::vector<ConfItem>& items, const std::string& dir, int depth, std::string& error) {
  std::vector<ConfItem> out;
  for (auto& item : items) {
    if (!is(item.key, "Include")) {
      if (!expand(item.children, dir, depth, error)) return false;
      out.push_back(std::move(item));
      continue;
    }
    const auto* path =
        item.values.size() == 1 ? std::get_if<std::string>(&item.values[0]) : nullptr;
    if (path == nullptr) {
      error = item.where + ": Include needs one quoted path";
      return false;
    }
    std::string filter;
    for (const auto& c : item.children)
      if (is(c.key, "Filter") && c.values.size() == 1)
        if (const auto* f = std::get_if<std::string>(&c.values[0])) filter = *f;
    const std::string full = !path->empty() && (*path)[0] == '/' ? *path : dir + "/" + *path;
    for (const auto& file : included_files(full, filter)) {
      auto included = read_file(file, depth + 1, error);
      if (!included) return false;
      for (auto& i : *included) out.push_back(std::move(i));
    }
  }
  items = std::move(out);
  return true;
}

std::optional<std::vector<ConfItem>> read_file(const std::string& path, int depth,
                                               std::string& error) {
  if (depth > kMaxIncludeDepth) {
    error = path + ": Include nested more than " + std::to_string(kMaxIncludeDepth) + " deep";
    return std::nullopt;
  }
  std::ifstream in(path);
  struct stat st {};
  if (!in || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    error = path + ": cannot be read";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  Lexer lexer(text.str(), path);
  auto items = parse_text(lexer, error);
  if (!items) return std::nullopt;
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (!expand(*items, dir.empty() ? "/" : dir, depth, error)) return std::nullopt;
  return items;
}

// The corrections an option of `item` sets (false: none of them), or a mistake.
bool read_correction(const ConfItem& item, const std::string& who, Corrections& c,
                     std::string& error) {
  const std::string prefix = item.where + ": " + who + "option \"" + item.key + "\"";
  const double* number = item.values.size() == 1 ? std::get_if<double>(&item.values[0]) : nullptr;
  const std::string* word =
      item.values.size() == 1 ? std::get_if<std::string>(&item.values[0]) : nullptr;
  if (is(item.key, "VoltageOffset") || is(item.key, "TemperatureOffset")) {
    const bool volts = is(item.key, "VoltageOffset");
    if (number == nullptr) {
      error = prefix + " needs one number of " + (volts ? "volts" : "degrees C");
      return true;
    }
    const std::string why =
        volts ? voltage_offset_problem(*number) : temperature_offset_problem(*number);
    if (!why.empty()) error = prefix + " " + why;
    (volts ? c.voltage_offset : c.temperature_offset) = *number;
    return true;
  }
  if (!is(item.key, "Chemistry")) return false;
  if (word == nullptr) {
    error = prefix + " needs exactly one quoted string";
  } else if (const auto chemistry = parse_chemistry(*word)) {
    c.chemistry = chemistry;
  } else {
    error = prefix + ": \"" + *word + "\" is not a battery chemistry (known: " + chemistry_names() +
            ")";
  }
  return true;
}

// The options of one block that are corrections, each at most once.
bool read_corrections(const std::vector<ConfItem>& items, const std::string& who, Corrections& c,
                      std::string& error) {
  std::set<std::string> seen;
  for (const auto& item : items) {
    std::string lower = item.key;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (!read_correction(item, who, c, error)) continue;
    if (error.empty() && !seen.insert(lower).second)
      error = item.where + ": " + who + "option \"" + item.key + "\" is given twice";
    if (!error.empty()) return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<ConfItem>> read_collectd_conf(const std::string& path,
                                                        std::string& error) {
  error.clear();  // parse_text tells a mistake from the end of the text by it
  return read_file(path, 0, error);
}

std::variant<std::vector<ConfDevice>, std::string> bm6_devices(const std::vector<ConfItem>& conf) {
  std::vector<ConfDevice> out;
  std::string error;
  for (const auto& plugin : conf) {
    const auto* name =
        plugin.values.size() == 1 ? std::get_if<std::string>(&plugin.values[0]) : nullptr;
    if (!is(plugin.key, "Plugin") || name == nullptr || !is(*name, "bm6")) continue;
    Corrections defaults;
    std::vector<ConfItem> plugin_level;
    for (const auto& item : plugin.children)
      if (!is(item.key, "Device") && !is(item.key, "Adapter")) plugin_level.push_back(item);
    if (!read_corrections(plugin_level, "", defaults, error)) return error;
    for (const auto& device : plugin.children) {
      const auto* device_name =
          device.values.size() == 1 ? std::get_if<std::string>(&device.values[0]) : nullptr;
      if (!is(device.key, "Device") || device_name == nullptr) continue;
      ConfDevice d{*device_name, "", defaults};
      if (!read_corrections(device.children, "device \"" + d.name + "\": ", d.corrections, error))
        return error;
      for (const auto& option : device.children)
        if (is(option.key, "Address") && option.values.size() == 1)
          if (const auto* a = std::get_if<std::string>(&option.values[0])) d.address = *a;
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace bm6::ctl
