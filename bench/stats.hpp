// Percentiles and clocks shared by the bench programs, so the service and its baselines are
// summarised by exactly the same arithmetic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ts::bench {

/// Nearest-rank percentile (p in 0..100) of unsorted values; 0 for an empty set.
double percentile(std::vector<double> values, double p);

/// "NAME_p50=… NAME_p99=… NAME_max=…" with three decimals, for bench/run to parse.
std::string summary(const std::string& name, const std::vector<double>& values);

/// CLOCK_REALTIME, the clock the service schedules by and `date +%s%N` prints.
int64_t wall_ns();
int64_t wall_ms();
/// CLOCK_MONOTONIC, for durations.
int64_t mono_ns();

/// The machine's idle and total CPU time so far (the `cpu` line of /proc/stat, in clock
/// ticks): the idle share between two readings tells whether a run was bound by the CPU.
struct cpu_ticks {
  double idle = 0;
  double total = 0;
};
cpu_ticks machine_cpu();
/// Percent of the machine's CPU time that was idle between two readings.
double idle_percent(const cpu_ticks& before, const cpu_ticks& after);

/// Sleeps until a CLOCK_REALTIME instant (absolute, so oversleeping never accumulates).
void sleep_until_wall_ns(int64_t t);

} // namespace ts::bench
