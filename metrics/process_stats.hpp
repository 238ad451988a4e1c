// The standard Prometheus process metrics (resident memory, CPU seconds, open fds, start
// time), read from /proc/self at scrape time. The /proc parsing is process/proc_stat.hpp's;
// only read_process_stats() touches the file system.
#pragma once

#include <cstdint>
#include <optional>

#include "process/proc_stat.hpp"

namespace ts {

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
