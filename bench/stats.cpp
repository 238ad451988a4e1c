#include "bench/stats.hpp"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace ts::bench {

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::string summary(const std::string& name, const std::vector<double>& values) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s_p50=%.3f %s_p99=%.3f %s_max=%.3f", name.c_str(),
                percentile(values, 50), name.c_str(), percentile(values, 99), name.c_str(),
                percentile(values, 100));
  return buf;
}

namespace {

int64_t read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

} // namespace

int64_t wall_ns() {
  return read_clock(CLOCK_REALTIME);
}

int64_t wall_ms() {
  return wall_ns() / 1000000;
}

int64_t mono_ns() {
  return read_clock(CLOCK_MONOTONIC);
}

cpu_ticks machine_cpu() {
  std::ifstream in{"/proc/stat"};
  std::string line;
  std::getline(in, line);
  std::istringstream fields{line};
  std::string label;
  fields >> label;
  cpu_ticks t;
  double v = 0;
  // user nice system idle iowait irq softirq steal: idle and iowait count as idle.
  for (int i = 0; i < 8 && fields >> v; ++i) {
    t.total += v;
    if (i == 3 || i == 4)
      t.idle += v;
  }
  return t;
}

double idle_percent(const cpu_ticks& before, const cpu_ticks& after) {
  auto total = after.total - before.total;
  return total > 0 ? 100.0 * (after.idle - before.idle) / total : 0;
}

void sleep_until_wall_ns(int64_t t) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t / 1000000000);
  ts.tv_nsec = static_cast<long>(t % 1000000000);
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

} // namespace ts::bench
