// Baseline for the dispatch-lateness scenario: a raw clock_nanosleep loop that starts
// `/bin/sh -c COMMAND` at the deadlines the service is given (RATE per second for SECONDS,
// each on a whole millisecond), the output on a pipe as the service captures it.
// Lateness is measured the two ways bench_client measures the service:
// - recorded: the wall clock in whole ms right after posix_spawn returned, minus the
//   deadline (the service's started_at minus the task's time);
// - command: the clock the command prints (`date +%s%N`) minus the deadline.
//
//   bench_raw_dispatch --rate=200 --seconds=20 [--lead-ms=500] [--command='date +%s%N']
//   -> count=4000 failed=0 recorded_p50=… recorded_p99=… recorded_max=… command_p50=… …
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <list>
#include <string>
#include <vector>

#include "bench/options.hpp"
#include "bench/spawn_child.hpp"
#include "bench/stats.hpp"

namespace {

struct child {
  pid_t pid = 0;
  int fd = -1;
  size_t index = 0;
};

struct results {
  std::vector<double> recorded;
  std::vector<double> command;
  int64_t failed = 0;
};

/// Reaps the children that have exited (all of them, when `block`), and reads what they
/// printed. A child writes a few bytes only, far below a pipe's capacity, so reading after
/// the exit never loses output.
void reap(std::list<child>& running, const std::vector<int64_t>& due_ms, results& r,
          bool block) {
  for (auto i = running.begin(); i != running.end();) {
    int status = 0;
    pid_t rc;
    while ((rc = ::waitpid(i->pid, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (rc == 0) {
      ++i;
      continue;
    }
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(i->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
      if (n > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(i->fd);
    char* end = nullptr;
    auto ns = std::strtoll(out.c_str(), &end, 10);
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || end == out.c_str()) {
      ++r.failed;
    } else {
      r.command.push_back(static_cast<double>(ns - due_ms[i->index] * 1000000) / 1e6);
    }
    i = running.erase(i);
  }
}

} // namespace

int main(int argc, char** argv) {
  ts::bench::options opts{argc, argv};
  auto rate = opts.num("rate", 200);
  auto seconds = opts.num("seconds", 20);
  auto lead_ms = opts.num("lead-ms", 500);
  auto command = opts.str("command", "date +%s%N");
  if (!opts.check("bench_raw_dispatch"))
    return 2;
  if (rate <= 0 || seconds <= 0) {
    std::cerr << "bench_raw_dispatch: --rate and --seconds must be positive\n";
    return 2;
  }
  auto count = static_cast<size_t>(rate * seconds);
  auto t0 = ts::bench::wall_ms() + lead_ms;
  std::vector<int64_t> due_ms(count);
  for (size_t i = 0; i < count; ++i)
    due_ms[i] = t0 + static_cast<int64_t>(i) * 1000 / rate;
  results r;
  std::list<child> running;
  for (size_t i = 0; i < count; ++i) {
    ts::bench::sleep_until_wall_ns(due_ms[i] * 1000000);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      std::perror("bench_raw_dispatch: pipe2");
      return 1;
    }
    pid_t pid = 0;
    int rc = ts::bench::spawn_shell(command, fds[1], pid);
    auto started_ms = ts::bench::wall_ms();
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      ++r.failed;
      continue;
    }
    r.recorded.push_back(static_cast<double>(started_ms - due_ms[i]));
    running.push_back(child{pid, fds[0], i});
    // Between deadlines: collect the children that are done, so none piles up.
    reap(running, due_ms, r, false);
  }
  reap(running, due_ms, r, true);
  std::cout << "count=" << count << " failed=" << r.failed << ' '
            << ts::bench::summary("recorded", r.recorded) << ' '
            << ts::bench::summary("command", r.command) << std::endl;
  return r.failed == 0 ? 0 : 1;
}
