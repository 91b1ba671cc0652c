#include "tools/ctl/collectd_conf.h"

#include <dirent.h>
#include <fnmatch.h>
#include <glob.h>
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace bm6::ctl {

bool ConfItem::is(const char* name) const { return ::strcasecmp(key.c_str(), name) == 0; }

std::optional<std::string> ConfItem::string() const {
  if (values.size() != 1 || !std::holds_alternative<std::string>(values[0])) return std::nullopt;
  return std::get<std::string>(values[0]);
}

std::optional<double> ConfItem::number() const {
  if (values.size() != 1 || !std::holds_alternative<double>(values[0])) return std::nullopt;
  return std::get<double>(values[0]);
}

std::optional<bool> ConfItem::boolean() const {
  if (values.size() != 1 || !std::holds_alternative<bool>(values[0])) return std::nullopt;
  return std::get<bool>(values[0]);
}

namespace {

// collectd nests Include at most this deep (a file including itself ends here).
constexpr int kMaxIncludeDepth = 8;

bool is(const std::string& a, const char* b) { return ::strcasecmp(a.c_str(), b) == 0; }

// What collectd's scanner takes unquoted: a key is letters, digits and '_'; a value also
// numbers and IPv4 addresses with a port, hence '.', ':', '+' and '-'.
bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool bare_char(char c) { return key_char(c) || c == '.' || c == ':' || c == '+' || c == '-'; }

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
  Lexer(const std::string& text, const std::string& file) : text_(text), file_(file) {}

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
      } else if (const std::size_t n = continuation(); n != 0) {
        at_ += n;  // continued on the next line
        ++line_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\b') {
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
      } else if (!bare_char(c)) {
        error = file_ + ":" + std::to_string(line_) + ": unexpected '" + c + "'";
        return false;
      } else {
        const std::size_t start = at_;
        while (!done() && bare_char(text_[at_])) ++at_;
        words.push_back({text_.substr(start, at_ - start)});
      }
    }
    return !words.empty();
  }

 private:
  // The length of a backslash ending the line ("\\\n" or "\\\r\n") at the cursor, else 0.
  std::size_t continuation() const {
    if (text_.compare(at_, 2, "\\\n") == 0) return 2;
    return text_.compare(at_, 3, "\\\r\n") == 0 ? 3 : 0;
  }

  // A quoted string, unescaped as collectd does it: a backslash keeps the next character.
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

  const std::string& text_;
  const std::string& file_;
  std::size_t at_ = 0;
  int line_ = 1;
  int start_line_ = 1;
};

bool is_word(const Lexer::Word& w, const char* text) { return !w.quoted && w.text == text; }

// "KEY VALUE..." into an item; the words must be a key then values.
bool make_item(const std::vector<Lexer::Word>& words, std::size_t from, std::size_t to,
               const std::string& where, ConfItem& item, std::string& error) {
  if (from >= to || words[from].quoted ||
      !std::all_of(words[from].text.begin(), words[from].text.end(), key_char) ||
      words[from].text.empty()) {
    error = where + ": an option or block name is missing";
    return false;
  }
  item.key = words[from].text;
  item.where = where;
  for (std::size_t i = from + 1; i < to; ++i) {
    const Lexer::Word& w = words[i];
    if (is_word(w, "<") || is_word(w, "</") || is_word(w, ">")) {
      error = where + ": unexpected '" + w.text + "' after " + item.key;
      return false;
    }
    item.values.push_back(w.quoted ? ConfItem::Value(w.text) : bare_value(w.text));
  }
  return true;
}

// "<KEY VALUE...>": the block's head into `item`.
bool open_block(const std::vector<Lexer::Word>& w, const std::string& where, ConfItem& item,
                std::string& error) {
  const auto close = std::find_if(w.begin(), w.end(), [](auto& x) { return is_word(x, ">"); });
  const std::string key = w.size() > 1 && !w[1].quoted ? w[1].text : "";
  if (close == w.end()) {
    error = where + ": <" + key + " has no closing '>'";
    return false;
  }
  if (close + 1 != w.end()) {
    error = where + ": unexpected text after <" + key + ">";
    return false;
  }
  return make_item(w, 1, w.size() - 1, where, item, error);
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
    if (is_word(w[0], "<")) {
      if (!open_block(w, where, item, error)) return std::nullopt;
      open.push_back(std::move(item));
    } else if (is_word(w[0], "</")) {
      if (w.size() != 3 || !is_word(w[2], ">") || open.empty() ||
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

// Files read with their Includes followed; the first mistake, and whether it was a
// permission refused, kept.
struct Reader {
  std::string error;
  bool permission = false;

  bool fail(const std::string& what, int err) {
    error = what + ": " + std::strerror(err);
    permission = err == EACCES || err == EPERM;
    return false;
  }

  // A regular file's text, or nullopt with the reason.
  std::optional<std::string> text_of(const std::string& path) {
    struct stat st {};
    int err = ::stat(path.c_str(), &st) == 0 ? 0 : errno;
    if (err == 0 && !S_ISREG(st.st_mode)) err = S_ISDIR(st.st_mode) ? EISDIR : ENODEV;
    std::ifstream in;
    if (err == 0) in.open(path);
    if (err == 0 && !in) err = errno;
    if (err != 0) {
      fail(path + ": cannot be read", err);
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::optional<std::vector<ConfItem>> read_file(const std::string& path, int depth) {
    const auto text = text_of(path);
    if (!text) return std::nullopt;
    auto items = parse_collectd_conf(*text, path, error);
    if (!items || !expand(*items, depth)) return std::nullopt;
    return items;
  }

  // The top-level items with each Include replaced by the items of what it names (collectd
  // follows no Include inside a block).
  bool expand(std::vector<ConfItem>& items, int depth) {
    std::vector<ConfItem> out;
    for (auto& item : items) {
      if (!item.is("Include")) {
        out.push_back(std::move(item));
        continue;
      }
      const auto pattern = item.string();
      if (!pattern) {
        error = item.where + ": Include needs one quoted path";
        return false;
      }
      if (depth + 1 >= kMaxIncludeDepth) {
        error =
            item.where + ": Include nested more than " + std::to_string(kMaxIncludeDepth) + " deep";
        return false;
      }
      std::string filter;
      for (const auto& c : item.children)
        if (c.is("Filter") && c.string()) filter = *c.string();
      for (const auto& path : glob_sorted(*pattern))
        if (!include(path, filter, depth + 1, out)) return false;
    }
    items = std::move(out);
    return true;
  }

  // What a glob matches, in name order (nothing when nothing does, as collectd skips it).
  static std::vector<std::string> glob_sorted(const std::string& pattern) {
    std::vector<std::string> out;
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    std::sort(out.begin(), out.end());
    return out;
  }

  // A file whose name matches `filter` (any, when empty), or a directory's entries (no dot
  // files) in name order, subdirectories at the same depth; what is neither is skipped.
  bool include(const std::string& path, const std::string& filter, int depth,
               std::vector<ConfItem>& out) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return true;
    if (S_ISREG(st.st_mode)) {
      const std::string name = path.substr(path.rfind('/') + 1);
      if (!filter.empty() && ::fnmatch(filter.c_str(), name.c_str(), 0) != 0) return true;
      auto items = read_file(path, depth);
      if (!items) return false;
      for (auto& i : *items) out.push_back(std::move(i));
      return true;
    }
    if (!S_ISDIR(st.st_mode)) return true;
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return fail(path + ": cannot be listed", errno);
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& n : names)
      if (!include(path + "/" + n, filter, depth, out)) return false;
    return true;
  }
};

// The corrections an option of `item` sets (false: none of them), or a mistake.
bool read_correction(const ConfItem& item, const std::string& who, Corrections& c,
                     std::string& error) {
  const std::string prefix = item.where + ": " + who + "option \"" + item.key + "\"";
  const auto number = item.number();
  const auto word = item.string();
  if (item.is("VoltageOffset") || item.is("TemperatureOffset")) {
    const bool volts = item.is("VoltageOffset");
    if (!number) {
      error = prefix + " needs one number of " + (volts ? "volts" : "degrees C");
      return true;
    }
    const std::string why =
        volts ? voltage_offset_problem(*number) : temperature_offset_problem(*number);
    if (!why.empty()) error = prefix + " " + why;
    (volts ? c.voltage_offset : c.temperature_offset) = *number;
    return true;
  }
  if (!item.is("Chemistry")) return false;
  if (!word) {
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

std::optional<std::vector<ConfItem>> parse_collectd_conf(const std::string& text,
                                                         const std::string& name,
                                                         std::string& error) {
  error.clear();  // parse_text tells a mistake from the end of the text by it
  Lexer lexer(text, name);
  return parse_text(lexer, error);
}

std::optional<std::vector<ConfItem>> read_collectd_conf(const std::string& path, std::string& error,
                                                        bool& permission) {
  Reader reader;
  auto items = reader.read_file(path, 0);
  error = reader.error;
  permission = reader.permission;
  return items;
}

std::variant<std::vector<ConfDevice>, std::string> bm6_devices(const std::vector<ConfItem>& conf) {
  std::vector<ConfDevice> out;
  std::string error;
  for (const auto& plugin : conf) {
    const auto name = plugin.string();
    if (!plugin.is("Plugin") || !name || !is(*name, "bm6")) continue;
    Corrections defaults;
    std::vector<ConfItem> plugin_level;
    for (const auto& item : plugin.children)
      if (!item.is("Device") && !item.is("Adapter")) plugin_level.push_back(item);
    if (!read_corrections(plugin_level, "", defaults, error)) return error;
    for (const auto& device : plugin.children) {
      const auto device_name = device.string();
      if (!device.is("Device") || !device_name) continue;
      ConfDevice d{*device_name, "", defaults};
      if (!read_corrections(device.children, "device \"" + d.name + "\": ", d.corrections, error))
        return error;
      for (const auto& option : device.children)
        if (option.is("Address") && option.string()) d.address = *option.string();
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace bm6::ctl
