// /proc parsing, in one place: /proc/PID/stat for the process runner (a process's start
// time, to recognise a crashed run's leftover) and for the process metrics, and the boot
// time in /proc/stat. Parsing is pure, so it is unit-tested on fixed texts; only the
// readers touch the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ts {

/// What /proc/PID/stat says about a process (the fields the runner and the metrics need).
struct proc_stat_fields {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;   // clock ticks since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

/// Parses the text of /proc/PID/stat; the command name may hold spaces and ')'.
std::optional<proc_stat_fields> parse_proc_stat(std::string_view text);

/// Reads and parses /proc/PID/stat; nullopt when there is no such process (or pid <= 0).
/// No allocation: the runner calls it on every spawn.
std::optional<proc_stat_fields> read_proc_stat(int32_t pid);

/// The same for this process (/proc/self/stat).
std::optional<proc_stat_fields> read_own_proc_stat();

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot); 0 when there is no
/// such process.
uint64_t process_start_ticks(int32_t pid);

/// The `btime` line of /proc/stat: boot time in seconds since the Unix epoch.
std::optional<int64_t> parse_boot_time(std::string_view proc_stat_text);

} // namespace ts
