// Baseline for the burst-drain scenario: starts COUNT `/bin/sh -c COMMAND` processes with
// posix_spawn, at most IN_FLIGHT at once (the service's --max-running), and reaps them with
// waitpid. With --threads=N, N such loops share the count and the in-flight bound, so that
// the parent side of the starts can use more than one core, as the service's threads do.
// What it prints is the machine's process-start ceiling for the service.
//
//   bench_raw_spawn --count=10000 --in-flight=64 [--threads=1] [--command=true]
//   -> count=10000 failed=0 elapsed_s=… runs_per_s=… threads=1 self_cpu_us=… child_cpu_us=…
//      idle_pct=… (CPU time per run: of this program's own threads, and of the children; the
//      machine's idle CPU share meanwhile)
#include <sys/resource.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "bench/options.hpp"
#include "bench/spawn_child.hpp"
#include "bench/stats.hpp"

namespace {

/// One loop: takes starts from the shared budget while fewer than `in_flight` of its own
/// children run, and reaps its own children oldest first (they all run the same command).
void spawn_loop(const std::string& command, int64_t in_flight, std::atomic<int64_t>& budget,
                std::atomic<int64_t>& failed) {
  std::deque<pid_t> running;
  for (;;) {
    while (static_cast<int64_t>(running.size()) < in_flight && budget.fetch_sub(1) > 0) {
      pid_t pid = 0;
      if (int rc = ts::bench::spawn_shell(command, -1, pid); rc != 0) {
        std::fprintf(stderr, "bench_raw_spawn: posix_spawn: %s\n", std::strerror(rc));
        ++failed;
        continue;
      }
      running.push_back(pid);
    }
    if (running.empty())
      return;
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(running.front(), &status, 0)) < 0 && errno == EINTR) {
    }
    running.pop_front();
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++failed;
  }
}

} // namespace

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto count = opts.num("count", 10000);
  auto in_flight = opts.num("in-flight", 64);
  auto threads = opts.num("threads", 1);
  auto command = opts.str("command", "true");
  if (!opts.check("bench_raw_spawn"))
    return 2;
  if (count <= 0 || in_flight <= 0 || threads <= 0 || threads > in_flight) {
    std::fprintf(stderr, "bench_raw_spawn: --count, --in-flight and --threads must be "
                         "positive, --threads at most --in-flight\n");
    return 2;
  }
  std::atomic<int64_t> budget{count};
  std::atomic<int64_t> failed{0};
  auto t0 = ts::bench::mono_ns();
  auto machine_before = ts::bench::machine_cpu();
  std::vector<std::thread> loops;
  for (int64_t t = 0; t < threads; ++t) {
    // The in-flight bound split between the loops; the first ones take the remainder.
    auto share = in_flight / threads + (t < in_flight % threads ? 1 : 0);
    loops.emplace_back(spawn_loop, std::cref(command), share, std::ref(budget),
                       std::ref(failed));
  }
  for (auto& t : loops)
    t.join();
  auto seconds = static_cast<double>(ts::bench::mono_ns() - t0) / 1e9;
  auto idle = ts::bench::idle_percent(machine_before, ts::bench::machine_cpu());
  auto cpu_us = [](int who) {
    rusage ru{};
    getrusage(who, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec
           + ru.ru_stime.tv_usec;
  };
  auto n = static_cast<double>(count);
  std::printf("count=%lld failed=%lld elapsed_s=%.3f runs_per_s=%.1f threads=%lld "
              "self_cpu_us=%.1f child_cpu_us=%.1f idle_pct=%.1f\n",
              static_cast<long long>(count), static_cast<long long>(failed.load()), seconds,
              n / seconds, static_cast<long long>(threads), cpu_us(RUSAGE_SELF) / n,
              cpu_us(RUSAGE_CHILDREN) / n, idle);
  return failed == 0 ? 0 : 1;
}
