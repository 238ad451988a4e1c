#include "process/proc_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace ts {

namespace {

// Unsigned decimal, digits only; false on anything else or overflow.
bool to_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool to_i64(std::string_view s, int64_t& out) {
  bool negative = !s.empty() && s.front() == '-';
  uint64_t v = 0;
  if (!to_u64(negative ? s.substr(1) : s, v) || v > static_cast<uint64_t>(INT64_MAX))
    return false;
  out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

// A stat line is a few hundred bytes (comm is at most 64): a stack buffer holds it.
std::optional<proc_stat_fields> read_stat_file(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  char buf[4096];
  size_t size = 0;
  while (size < sizeof(buf)) {
    auto n = ::read(fd, buf + size, sizeof(buf) - size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  return parse_proc_stat(std::string_view{buf, size});
}

} // namespace

std::optional<proc_stat_fields> parse_proc_stat(std::string_view text) {
  // "pid (comm) state ppid ...": comm is whatever the program named itself, so the fields
  // start after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  auto rest = text.substr(close + 1);
  // Field 3 (state) is token 0; utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  constexpr size_t utime = 11, stime = 12, starttime = 19, vsize = 20, rss = 21;
  proc_stat_fields f;
  size_t index = 0;
  size_t found = 0;
  while (!rest.empty() && index <= rss) {
    auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos)
      break;
    rest.remove_prefix(start);
    auto end = rest.find_first_of(" \n");
    auto token = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    bool ok = true;
    switch (index) {
      case utime: ok = to_u64(token, f.utime_ticks); ++found; break;
      case stime: ok = to_u64(token, f.stime_ticks); ++found; break;
      case starttime: ok = to_u64(token, f.start_ticks); ++found; break;
      case vsize: ok = to_u64(token, f.vsize_bytes); ++found; break;
      case rss: ok = to_i64(token, f.rss_pages); ++found; break;
      default: break;
    }
    if (!ok)
      return std::nullopt;
    ++index;
  }
  if (found != 5)
    return std::nullopt;
  return f;
}

std::optional<proc_stat_fields> read_proc_stat(int32_t pid) {
  if (pid <= 0)
    return std::nullopt;
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  return read_stat_file(path);
}

std::optional<proc_stat_fields> read_own_proc_stat() {
  return read_stat_file("/proc/self/stat");
}

uint64_t process_start_ticks(int32_t pid) {
  auto f = read_proc_stat(pid);
  return f ? f->start_ticks : 0;
}

std::optional<int64_t> parse_boot_time(std::string_view text) {
  constexpr std::string_view key = "btime ";
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    auto line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos
                                                               : eol - pos);
    if (line.substr(0, key.size()) == key) {
      int64_t v = 0;
      auto value = line.substr(key.size());
      while (!value.empty() && value.back() == ' ')
        value.remove_suffix(1);
      if (to_i64(value, v) && v >= 0)
        return v;
      return std::nullopt;
    }
    if (eol == std::string_view::npos)
      break;
    pos = eol + 1;
  }
  return std::nullopt;
}

} // namespace ts
