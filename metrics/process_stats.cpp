#include "metrics/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

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

std::string read_all(const char* path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Entries of /proc/self/fd, without the descriptor that lists them.
std::optional<uint64_t> count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr)
    return std::nullopt;
  auto own = std::to_string(dirfd(dir));
  uint64_t n = 0;
  // Bounded: a process cannot hold more descriptors than its limit, far below this.
  for (int i = 0; i < 10'000'000; ++i) {
    auto* e = readdir(dir);
    if (e == nullptr)
      break;
    std::string_view name{e->d_name};
    if (name != "." && name != ".." && name != own)
      ++n;
  }
  closedir(dir);
  return n;
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

process_stats make_process_stats(const proc_stat_fields& f, int64_t boot_time_s,
                                 long ticks_per_second, long page_size) {
  process_stats s;
  auto hz = static_cast<double>(ticks_per_second > 0 ? ticks_per_second : 100);
  s.cpu_seconds = static_cast<double>(f.utime_ticks + f.stime_ticks) / hz;
  s.resident_bytes = f.rss_pages > 0 ? static_cast<uint64_t>(f.rss_pages)
                                         * static_cast<uint64_t>(page_size > 0 ? page_size : 4096)
                                     : 0;
  s.virtual_bytes = f.vsize_bytes;
  s.start_time_seconds = static_cast<double>(boot_time_s) + static_cast<double>(f.start_ticks) / hz;
  return s;
}

std::optional<process_stats> read_process_stats() {
  auto fields = parse_proc_stat(read_all("/proc/self/stat"));
  auto boot = parse_boot_time(read_all("/proc/stat"));
  if (!fields || !boot)
    return std::nullopt;
  auto s = make_process_stats(*fields, *boot, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  if (auto fds = count_open_fds())
    s.open_fds = *fds;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    s.max_fds = lim.rlim_cur == RLIM_INFINITY ? 0 : static_cast<uint64_t>(lim.rlim_cur);
  return s;
}

} // namespace ts
