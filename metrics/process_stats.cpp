#include "metrics/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace ts {

namespace {

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
  auto fields = read_own_proc_stat();
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
