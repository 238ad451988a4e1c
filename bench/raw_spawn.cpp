// Baseline for the burst-drain scenario: starts COUNT `/bin/sh -c COMMAND` processes with
// posix_spawn, at most IN_FLIGHT at once (the service's --max-running), and reaps them with
// waitpid. What it prints is the machine's process-start ceiling for the service.
//
//   bench_raw_spawn --count=10000 --in-flight=64 [--command=true]
//   -> count=10000 failed=0 elapsed_s=… runs_per_s=…
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bench/options.hpp"
#include "bench/spawn_child.hpp"
#include "bench/stats.hpp"

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto count = opts.num("count", 10000);
  auto in_flight = opts.num("in-flight", 64);
  auto command = opts.str("command", "true");
  if (!opts.check("bench_raw_spawn"))
    return 2;
  if (count <= 0 || in_flight <= 0) {
    std::fprintf(stderr, "bench_raw_spawn: --count and --in-flight must be positive\n");
    return 2;
  }
  int64_t started = 0, running = 0, failed = 0, done = 0;
  auto t0 = ts::bench::mono_ns();
  while (done < count) {
    while (running < in_flight && started < count) {
      pid_t pid = 0;
      ++started;
      if (int rc = ts::bench::spawn_shell(command, -1, pid); rc != 0) {
        std::fprintf(stderr, "bench_raw_spawn: posix_spawn: %s\n", std::strerror(rc));
        ++failed;
        ++done;
        continue;
      }
      ++running;
    }
    if (running == 0)
      continue;
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      std::fprintf(stderr, "bench_raw_spawn: waitpid: %s\n", std::strerror(errno));
      return 1;
    }
    --running;
    ++done;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++failed;
  }
  auto seconds = static_cast<double>(ts::bench::mono_ns() - t0) / 1e9;
  std::printf("count=%lld failed=%lld elapsed_s=%.3f runs_per_s=%.1f\n",
              static_cast<long long>(count), static_cast<long long>(failed), seconds,
              static_cast<double>(count) / seconds);
  return failed == 0 ? 0 : 1;
}
