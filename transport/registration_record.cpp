#include "transport/registration_record.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "transport/unique_fd.h"

namespace bm6 {

namespace {
constexpr std::size_t kMaxBytes = 64 * 1024;  // ~2,600 addresses; a real one is a few lines
constexpr std::size_t kAddressText = 17;      // AA:BB:CC:DD:EE:FF

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool parse_line(std::string_view line, RegisteredAddress& out) {
  if (line.size() < kAddressText + 1 || line[kAddressText] != ' ') return false;
  for (std::size_t i = 0; i < out.address.size(); ++i) {
    if (i > 0 && line[i * 3 - 1] != ':') return false;
    const int hi = hex_digit(line[i * 3]), lo = hex_digit(line[i * 3 + 1]);
    if (hi < 0 || lo < 0) return false;
    out.address[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  const std::string_view type = line.substr(kAddressText + 1);
  if (type != "public" && type != "random") return false;
  out.random_address = type == "random";
  return true;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace

std::string registration_record_path(const std::string& dir, int adapter_index) {
  return dir + (dir.empty() || dir.back() != '/' ? "/" : "") + "passive-hci" +
         std::to_string(adapter_index) + ".registered";
}

RegisteredAddresses parse_registration_record(std::string_view text) {
  RegisteredAddresses out;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    RegisteredAddress a;
    if (parse_line(text.substr(0, end), a)) out.insert(a);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

std::string format_registration_record(const RegisteredAddresses& addresses) {
  std::string out;
  for (const auto& r : addresses) {
    char line[32];
    const auto& a = r.address;
    std::snprintf(line, sizeof line, "%02X:%02X:%02X:%02X:%02X:%02X %s\n", a[0], a[1], a[2], a[3],
                  a[4], a[5], r.random_address ? "random" : "public");
    out += line;
  }
  return out;
}

bool read_registration_file(const std::string& path, std::string& text, std::string& error) {
  text.clear();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) return true;
    error = errno_text(errno == ELOOP ? "a symlink, not followed" : "cannot be opened");
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return error = errno_text("fstat"), false;
  if (!S_ISREG(st.st_mode)) return error = "not a regular file", false;
  std::vector<char> buf(kMaxBytes + 1);
  std::size_t n = 0;
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf.data() + n, buf.size() - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return error = errno_text("cannot be read"), false;
    if (got == 0) break;
    n += static_cast<std::size_t>(got);
    if (n > kMaxBytes) return error = "longer than 64 KiB", false;
  }
  text.assign(buf.data(), n);
  return true;
}

// No fsync: the kernel's entries do not outlive a reboot either, and a killed process's
// writes are in the page cache.
bool write_registration_file(const std::string& path, const std::string& text, std::string& error) {
  std::string temp = path + ".XXXXXX";  // a fresh name: nothing planted in advance is used
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return error = errno_text("cannot create a temporary file"), false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno_text("cannot be written");
      ::unlink(temp.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  fd.reset();
  // rename() replaces whatever is at `path` (a planted symlink included) without following it.
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    error = errno_text("cannot be replaced");
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

std::vector<int> adapters_with_registrations(const std::string& dir) {
  std::vector<int> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    unsigned index = 0;
    int end = 0;
    const char* name = e->d_name;
    if (std::strncmp(name, "passive-hci", 11) != 0 || !std::isdigit(name[11]) ||
        std::sscanf(name, "passive-hci%5u.registered%n", &index, &end) != 1 || name[end] != '\0' ||
        end == 0)
      continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 0)
      out.push_back(static_cast<int>(index));
  }
  ::closedir(d);
  return out;
}

}  // namespace bm6
