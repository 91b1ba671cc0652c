#include "tools/ctl/collectd_conf.h"

#include <dirent.h>
#include <fnmatch.h>
#include <glob.h>
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace bm6::ctl {

bool ConfItem::is(const char* name) const { return ::strcasecmp(key.c_str(), name) == 0; }

std::optional<std::string> ConfItem::string() const {
  if (values.size() != 1 || values[0].kind != ConfValue::Kind::kString) return std::nullopt;
  return values[0].text;
}

std::optional<double> ConfItem::number() const {
  if (values.size() != 1 || values[0].kind != ConfValue::Kind::kNumber) return std::nullopt;
  return values[0].number;
}

namespace {

// collectd's scanner: a key or bare value is letters, digits and '_' (and, as values,
// numbers and IPv4 addresses, hence '.', ':', '+', '-').
bool bare_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
         c == '+' || c == '-';
}

bool is_key(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

ConfValue bare_value(const std::string& word) {
  ConfValue v;
  v.text = word;
  for (const char* t : {"true", "yes", "on"})
    if (::strcasecmp(word.c_str(), t) == 0) v.kind = ConfValue::Kind::kBoolean, v.boolean = true;
  for (const char* f : {"false", "no", "off"})
    if (::strcasecmp(word.c_str(), f) == 0) v.kind = ConfValue::Kind::kBoolean;
  if (v.kind == ConfValue::Kind::kBoolean) return v;
  char* end = nullptr;
  errno = 0;
  const double n = std::strtod(word.c_str(), &end);
  if (end && *end == '\0' && errno == 0 && word.find_first_of("0123456789") != std::string::npos) {
    v.kind = ConfValue::Kind::kNumber;
    v.number = n;
  }
  return v;
}

// One statement's tokens: a line, continuation lines joined.
struct Lexer {
  const std::string& text;
  const std::string& name;
  std::size_t pos = 0;
  unsigned line = 1;
  std::string error;

  std::string where() const { return name + ":" + std::to_string(line); }
  bool fail(const std::string& what) {
    if (error.empty()) error = where() + ": " + what;
    return false;
  }
  bool at_end() const { return pos >= text.size(); }

  // Skips blanks, comments and backslash-newlines; stops at a newline (not consumed).
  void skip_blank() {
    while (!at_end()) {
      const char c = text[pos];
      if (c == ' ' || c == '\t' || c == '\b' || c == '\r') {
        ++pos;
      } else if (c == '#') {
        while (!at_end() && text[pos] != '\n') ++pos;
      } else if (c == '\\' && pos + 1 < text.size() &&
                 (text[pos + 1] == '\n' ||
                  (text[pos + 1] == '\r' && pos + 2 < text.size() && text[pos + 2] == '\n'))) {
        pos += text[pos + 1] == '\n' ? 2 : 3;
        ++line;
      } else {
        return;
      }
    }
  }
  bool at_line_end() {
    skip_blank();
    return at_end() || text[pos] == '\n';
  }
  void end_line() {
    if (!at_end() && text[pos] == '\n') ++pos, ++line;
  }
  bool take(char c) {
    skip_blank();
    if (at_end() || text[pos] != c) return false;
    ++pos;
    return true;
  }
  std::string word() {
    skip_blank();
    const std::size_t start = pos;
    while (!at_end() && bare_char(text[pos])) ++pos;
    return text.substr(start, pos - start);
  }
  // A quoted string at pos, unescaped as collectd does: a backslash keeps the next character.
  bool quoted(std::string& out) {
    ++pos;  // the opening quote
    for (; !at_end(); ++pos) {
      const char c = text[pos];
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c == '\n') return fail("a quoted string ends at the end of the line");
      if (c == '\\' && pos + 1 < text.size()) ++pos;
      out += text[pos];
    }
    return fail("a quoted string is not closed");
  }
  // Values up to the end of the line, or up to '>' in a block's head.
  bool values(std::vector<ConfValue>& out, bool in_head) {
    for (;;) {
      skip_blank();
      if (at_end() || text[pos] == '\n' || (in_head && text[pos] == '>')) return true;
      if (text[pos] == '"') {
        ConfValue v;
        if (!quoted(v.text)) return false;
        out.push_back(std::move(v));
        continue;
      }
      const std::string w = word();
      if (w.empty()) return fail(std::string("unexpected '") + text[pos] + "'");
      out.push_back(bare_value(w));
    }
  }
};

// Statements up to `closing` ("" at top level), whose "</closing>" line is consumed.
bool parse_items(Lexer& lx, const std::string& closing, std::vector<ConfItem>& out) {
  while (lx.error.empty()) {
    if (lx.at_line_end()) {
      if (lx.at_end()) return closing.empty() || lx.fail("<" + closing + "> is not closed");
      lx.end_line();
      continue;
    }
    ConfItem item;
    item.origin = lx.where();
    const bool block = lx.take('<');
    if (block && lx.take('/')) {
      const std::string key = lx.word();
      if (!lx.take('>') || !lx.at_line_end()) return lx.fail("a malformed </" + key + ">");
      if (closing.empty() || ::strcasecmp(key.c_str(), closing.c_str()) != 0)
        return lx.fail("</" + key + "> closes no open <" + key + ">");
      lx.end_line();
      return true;
    }
    item.key = lx.word();
    if (!is_key(item.key)) return lx.fail("expected an option name");
    if (!lx.values(item.values, block)) return false;
    if (block && !lx.take('>')) return lx.fail("<" + item.key + " has no closing '>'");
    if (!lx.at_line_end()) return lx.fail("unexpected text after <" + item.key + ">");
    lx.end_line();
    if (block && !parse_items(lx, item.key, item.children)) return false;
    out.push_back(std::move(item));
  }
  return false;
}

constexpr int kMaxIncludeDepth = 8;  // collectd's own limit

struct Reader {
  std::string error;
  bool permission = false;
  bool read(const std::string& path, int depth, std::vector<ConfItem>& out);
  bool include(const ConfItem& item, int depth, std::vector<ConfItem>& out);
  bool path_or_dir(const std::string& path, const std::string& filter, int depth,
                   std::vector<ConfItem>& out);
};

bool Reader::read(const std::string& path, int depth, std::vector<ConfItem>& out) {
  std::ifstream in(path);
  if (!in) {
    permission = errno == EACCES || errno == EPERM;
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto items = parse_collectd_conf(text.str(), path, error);
  if (!items) return false;
  for (auto& item : *items) {
    if (!item.is("Include")) {
      out.push_back(std::move(item));
    } else if (!include(item, depth, out)) {
      return false;
    }
  }
  return true;
}

bool Reader::include(const ConfItem& item, int depth, std::vector<ConfItem>& out) {
  const auto pattern = item.string();
  if (!pattern) {
    error = item.origin + ": Include needs one quoted path";
    return false;
  }
  if (depth >= kMaxIncludeDepth) {
    error =
        item.origin + ": Includes nested more than " + std::to_string(kMaxIncludeDepth) + " deep";
    return false;
  }
  std::string filter;
  for (const auto& child : item.children)
    if (child.is("Filter") && child.string()) filter = *child.string();
  // A relative path is relative to the working directory, as collectd takes it.
  glob_t g{};
  const int rc = ::glob(pattern->c_str(), GLOB_NOCHECK, nullptr, &g);
  std::vector<std::string> paths;
  for (std::size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  for (const auto& p : paths)
    if (!path_or_dir(p, filter, depth + 1, out)) return false;
  return true;
}

// A file, or a directory's entries (no dot files) in name order, each through `filter`.
bool Reader::path_or_dir(const std::string& path, const std::string& filter, int depth,
                         std::vector<ConfItem>& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    const std::string base = path.substr(path.rfind('/') + 1);
    if (!filter.empty() && ::fnmatch(filter.c_str(), base.c_str(), 0) != 0) return true;
    return read(path, depth, out);
  }
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    permission = errno == EACCES || errno == EPERM;
    error = "cannot list " + path + ": " + std::strerror(errno);
    return false;
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names)
    if (!path_or_dir(path + "/" + n, filter, depth, out)) return false;
  return true;
}

}  // namespace

std::optional<std::vector<ConfItem>> parse_collectd_conf(const std::string& text,
                                                         const std::string& name,
                                                         std::string& error) {
  Lexer lx{text, name, 0, 1, {}};
  std::vector<ConfItem> items;
  if (!parse_items(lx, "", items)) {
    error = lx.error;
    return std::nullopt;
  }
  return items;
}

std::optional<std::vector<ConfItem>> read_collectd_conf(const std::string& path, std::string& error,
                                                        bool& permission) {
  Reader r;
  std::vector<ConfItem> items;
  const bool ok = r.read(path, 0, items);
  permission = r.permission;
  if (!ok) {
    error = r.error;
    return std::nullopt;
  }
  return items;
}

}  // namespace bm6::ctl
