#include "tools/capture/capture_file.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "protocol/advertisement.h"
#include "transport/advertising_data.h"

namespace bm6::capture {

namespace {

// Just enough JSON for one capture line (RFC 8259 values; nesting bounded, so a hostile file
// cannot exhaust the stack).
struct Value;
using Object = std::map<std::string, Value>;
using Array = std::vector<Value>;
struct Value {
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v;
};

constexpr int kMaxDepth = 16;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}
  std::optional<Value> document(std::string& error) {
    auto v = value(0);
    skip_space();
    if (v && i_ != s_.size()) fail("text after the object");
    if (!error_.empty()) {
      error = error_;
      return std::nullopt;
    }
    return v;
  }

 private:
  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at column " + std::to_string(i_ + 1);
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  std::optional<Value> value(int depth) {
    skip_space();
    if (depth > kMaxDepth) return fail("nested too deeply"), std::nullopt;
    if (i_ >= s_.size()) return fail("a value is missing"), std::nullopt;
    const char c = s_[i_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      auto str = string();
      if (!str) return std::nullopt;
      return Value{std::move(*str)};
    }
    if (literal("null")) return Value{nullptr};
    if (literal("true")) return Value{true};
    if (literal("false")) return Value{false};
    return number();
  }
  std::optional<Value> number() {
    const std::string rest(s_.substr(i_, 64));
    char* end = nullptr;
    const double d = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str() || !std::isfinite(d)) return fail("not a JSON value"), std::nullopt;
    i_ += static_cast<std::size_t>(end - rest.c_str());
    return Value{d};
  }
  std::optional<Value> array(int depth) {
    auto out = std::make_shared<Array>();
    ++i_;
    skip_space();
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, Value{out};
    while (true) {
      auto v = value(depth + 1);
      if (!v) return std::nullopt;
      out->push_back(std::move(*v));
      skip_space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, Value{out};
      return fail("',' or ']' expected"), std::nullopt;
    }
  }
  std::optional<Value> object(int depth) {
    auto out = std::make_shared<Object>();
    ++i_;
    skip_space();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, Value{out};
    while (true) {
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '"') return fail("a key expected"), std::nullopt;
      auto key = string();
      if (!key) return std::nullopt;
      skip_space();
      if (i_ >= s_.size() || s_[i_] != ':') return fail("':' expected"), std::nullopt;
      ++i_;
      auto v = value(depth + 1);
      if (!v) return std::nullopt;
      (*out)[*key] = std::move(*v);
      skip_space();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, Value{out};
      return fail("',' or '}' expected"), std::nullopt;
    }
  }
  // A string; \uXXXX escapes are kept only as far as the fields we read need them (ASCII),
  // anything else becomes '?': the raw fields are hex, addresses and names.
  std::optional<std::string> string() {
    std::string out;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("a control character in a string"), std::nullopt;
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        c = s_[i_++];
        if (c == 'u') {
          if (i_ + 4 > s_.size()) return fail("a short \\u escape"), std::nullopt;
          const unsigned long code =
              std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16);
          i_ += 4;
          c = code < 0x80 ? static_cast<char>(code) : '?';
        } else {
          static const std::string_view from = "\"\\/bfnrt", to = "\"\\/\b\f\n\r\t";
          const auto k = from.find(c);
          if (k == std::string_view::npos) return fail("a bad escape"), std::nullopt;
          c = to[k];
        }
      }
      out += c;
    }
    if (i_ >= s_.size()) return fail("an unterminated string"), std::nullopt;
    ++i_;
    return out;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string error_;
};

const Value* field(const Object& o, const std::string& key) {
  const auto it = o.find(key);
  return it == o.end() || std::holds_alternative<std::nullptr_t>(it->second.v) ? nullptr
                                                                               : &it->second;
}

// Sets `error` when the field is there but not a string.
std::optional<std::string> string_field(const Object& o, const std::string& key,
                                        std::string& error) {
  const Value* v = field(o, key);
  if (!v) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&v->v)) return *s;
  error = "\"" + key + "\" is not a string";
  return std::nullopt;
}

std::optional<double> number_field(const Object& o, const std::string& key, double lo, double hi,
                                   std::string& error) {
  const Value* v = field(o, key);
  if (!v) return std::nullopt;
  const auto* d = std::get_if<double>(&v->v);
  if (!d || *d < lo || *d > hi) {
    error = "\"" + key + "\" is not a number from " + std::to_string(static_cast<long>(lo)) +
            " to " + std::to_string(static_cast<long>(hi));
    return std::nullopt;
  }
  return *d;
}

std::optional<Bytes> hex_field(const Object& o, const std::string& key, std::string& error) {
  auto s = string_field(o, key, error);
  if (!s) return std::nullopt;
  auto bytes = parse_hex(*s);
  if (!bytes) error = "\"" + key + "\" is not hex bytes";
  return bytes;
}

// An advertisement's manufacturer data: one string, an array of them, or none.
bool manufacturer_fields(const Object& o, Record& r, std::string& error) {
  const Value* v = field(o, "manufacturer_data");
  if (!v) {
    if (r.data) r.manufacturer_data = ad::manufacturer_data(*r.data);
    return true;
  }
  std::vector<const Value*> items;
  if (const auto* a = std::get_if<std::shared_ptr<Array>>(&v->v))
    for (const Value& item : **a) items.push_back(&item);
  else
    items.push_back(v);
  for (const Value* item : items) {
    const auto* s = std::get_if<std::string>(&item->v);
    auto bytes = s ? parse_hex(*s) : std::nullopt;
    if (!bytes || bytes->size() < 2) {
      error = "\"manufacturer_data\" is not hex bytes (a company id and more) or a list of them";
      return false;
    }
    r.manufacturer_data.push_back(std::move(*bytes));
  }
  return true;
}

bool model_field(const Object& o, Record& r, std::string& error) {
  const auto name = string_field(o, "model", error);
  if (!name) return error.empty();
  r.model = parse_family(*name);
  if (!r.model) error = "\"model\": \"" + *name + "\" is not " + family_names(kAllFamilies, "or");
  return r.model.has_value();
}

Record::Type type_of(const std::string& name) {
  if (name == "capture") return Record::Type::kHeader;
  if (name == "advertisement") return Record::Type::kAdvertisement;
  if (name == "notification") return Record::Type::kNotification;
  return Record::Type::kOther;
}

// The raw fields of one line's object; "" or the mistake.
std::string read_record(const Object& o, Record& r) {
  std::string error;
  const auto type = string_field(o, "type", error);
  if (!type) return error.empty() ? "no \"type\"" : error;
  r.type_name = *type;
  r.type = type_of(*type);
  if (r.type == Record::Type::kOther) return model_field(o, r, error) ? "" : error;
  r.address = string_field(o, "address", error);
  r.t = number_field(o, "t", 0, 1e9, error);
  if (!model_field(o, r, error) || !error.empty()) return error;
  if (r.type == Record::Type::kAdvertisement) {
    if (const auto rssi = number_field(o, "rssi", -128, 127, error))
      r.rssi = static_cast<int>(*rssi);
    r.data = hex_field(o, "data", error);
    if (!error.empty() || !manufacturer_fields(o, r, error)) return error;
  } else if (r.type == Record::Type::kNotification) {
    if (const auto h = number_field(o, "handle", 1, 0xffff, error))
      r.handle = static_cast<std::uint16_t>(*h);
    auto c = hex_field(o, "ciphertext", error);
    if (!error.empty()) return error;
    if (!c || c->empty()) return "a notification without \"ciphertext\"";
    r.ciphertext = std::move(*c);
  }
  return error;
}

}  // namespace

std::optional<Bytes> parse_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int b = 0;
    for (const char c : hex.substr(i, 2)) {
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return std::nullopt;
      b = b * 16 + d;
    }
    out.push_back(static_cast<std::uint8_t>(b));
  }
  return out;
}

std::size_t Capture::notifications() const {
  std::size_t n = 0;
  for (const auto& r : records) n += r.type == Record::Type::kNotification;
  return n;
}

std::size_t Capture::advertisements() const {
  std::size_t n = 0;
  for (const auto& r : records) n += r.type == Record::Type::kAdvertisement;
  return n;
}

ParseResult parse_capture(std::string_view text) {
  Capture capture;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string error;
    const auto doc = Parser(line).document(error);
    const auto* object = doc ? std::get_if<std::shared_ptr<Object>>(&doc->v) : nullptr;
    if (!object)
      return "line " + std::to_string(line_no) + ": " +
             (error.empty() ? "not a JSON object" : error);
    Record r;
    r.line = line_no;
    if (error = read_record(**object, r); !error.empty())
      return "line " + std::to_string(line_no) + ": " + error;
    if (r.type == Record::Type::kHeader) {
      capture.address = r.address;
      capture.model = r.model;
      capture.source = string_field(**object, "source", error);
    }
    // bm6ctl capture knows the model only at the end.
    if (r.type_name == "end" && r.model && !capture.model) capture.model = r.model;
    capture.records.push_back(std::move(r));
  }
  return capture;
}

ParseResult read_capture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + path;
  std::ostringstream text;
  text << in.rdbuf();
  auto result = parse_capture(text.str());
  if (auto* error = std::get_if<std::string>(&result)) *error = path + ": " + *error;
  return result;
}

std::optional<Family> notification_family(const Capture& capture) {
  if (capture.model) return capture.model;
  FamilyDetector detector;
  unsigned frames[std::size(kAllFamilies)] = {};  // evidence of each family so far
  for (const auto& r : capture.records) {
    if (r.type != Record::Type::kNotification || r.ciphertext.size() != 16) continue;
    const auto seen = detector.detect(r.ciphertext);
    if (seen && ++frames[static_cast<std::size_t>(*seen)] >= traits(*seen).settle_frames)
      return seen;
  }
  return std::nullopt;
}

}  // namespace bm6::capture
