// The standard Prometheus process metrics (resident memory, CPU seconds, open fds, start
// time), read from /proc/self at scrape time. Parsing is pure so it is unit-tested on fixed
// texts; only read_process_stats() touches the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ts {

/// What /proc/PID/stat says about a process (the fields the metrics need).
struct proc_stat_fields {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;   // clock ticks since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

/// Parses the text of /proc/PID/stat; the command name may hold spaces and ')'.
std::optional<proc_stat_fields> parse_proc_stat(std::string_view text);

/// The `btime` line of /proc/stat: boot time in seconds since the Unix epoch.
std::optional<int64_t> parse_boot_time(std::string_view proc_stat_text);

struct process_stats {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
};

/// Turns parsed fields into metric values.
process_stats make_process_stats(const proc_stat_fields& f, int64_t boot_time_s,
                                 long ticks_per_second, long page_size);

/// This process, now; nullopt when /proc cannot be read (then no process metric is shown).
std::optional<process_stats> read_process_stats();

} // namespace ts
