// Drives the running service over HTTP for the scenarios wrk cannot express, and reads the
// outcome back from GET /status, i.e. as the service recorded it.
//
//   bench_client ready --port=P [--timeout-ms=60000]
//       waits until GET /status?id=1 answers 200 (the API answers and task 1 is loaded)
//   bench_client lateness --port=P [--rate=200] [--seconds=20] [--lead-ms=4000]
//                [--command='date +%s%N'] [--connections=16] [--timeout-s=60]
//       schedules RATE tasks a second for SECONDS (each on a whole millisecond, all posted
//       before the first is due), waits for them, and prints their start lateness as the
//       service recorded it (started_at - time, ms) and as the command saw it (its printed
//       clock - time): count=… failed=… recorded_p50=… … command_p50=… … post_s=…
//   bench_client overload --port=P --rate=R [--seconds=30] [--connections=256]
//                [--late-rate=20] [--lead-ms=3000] [--timeout-s=60]
//       offers R POSTs a second of far-future tasks (open loop: each is sent at its time, or
//       at once when the client is behind) for SECONDS, while tasks posted beforehand start
//       at LATE-RATE a second; prints what was accepted and shed (sent=… accepted=…
//       overloaded=… failed=… accepted_rate=… accepted_p50=… accepted_p99=…), the start
//       lateness of those tasks as the service recorded it and as their command saw it
//       (recorded_p50=… … command_p50=… …), and
//       recover_ms: from the end of the load to the next accepted POST.
//   bench_client burst --port=P [--count=10000] [--lead-ms=…] [--command=true]
//                [--connections=16] [--timeout-s=120] [--pid=SERVICE_PID] [--hold-ms=0]
//       schedules COUNT tasks for the same instant (a whole second), waits until all are
//       finished, and prints drain_s (last finished_at - time), runs_per_s, first_start_ms;
//       with --pid also the service's CPU time per run during the drain (self_cpu_us, of its
//       own threads, and child_cpu_us, of the commands), from /proc/PID/stat, and idle_pct,
//       the machine's idle CPU share during the drain (/proc/stat). --hold-ms
//       prints `drained` on stderr when the last task has finished and waits that long before
//       reading the outcomes, so that an outside tool can sample the process at that moment.
//
// Every wait is bounded; a task that does not finish in time makes the program fail.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/open_loop.hpp"
#include "bench/options.hpp"
#include "bench/stats.hpp"
#include "tests/support/http_client.hpp"

namespace {

using ts::test_http::connection;
using namespace std::chrono_literals;

/// The service's claim lead (actors/defaults.hpp): a task must be stored this long before
/// its time, or its start may be late for a reason that is not the scheduler's.
constexpr int64_t claim_lead_ms = 100;

std::string format_time(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

/// The service's own rendering, `2024-09-22T17:00:00.000Z`; -1 for null or anything else.
int64_t parse_time(const nlohmann::json& j) {
  if (!j.is_string())
    return -1;
  tm t{};
  int msec = 0;
  auto s = j.get<std::string>();
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &t.tm_year, &t.tm_mon, &t.tm_mday,
                  &t.tm_hour, &t.tm_min, &t.tm_sec, &msec)
      != 7)
    return -1;
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&t)) * 1000 + msec;
}

/// Runs f(connection, i) for i in [0, n) over `connections` threads, each with its own
/// kept-alive connection. False when any call returned false.
bool parallel(uint16_t port, size_t n, size_t connections,
              const std::function<bool(connection&, size_t)>& f) {
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(connections, n); ++t)
    threads.emplace_back([&] {
      connection conn{port, "127.0.0.1", 20s};
      for (size_t i; ok && (i = next++) < n;)
        if (!f(conn, i))
          ok = false;
    });
  for (auto& t : threads)
    t.join();
  return ok;
}

/// Posts one task per due time; fills `ids`. False (with a message) on any non-201.
bool post_all(uint16_t port, const std::string& command, const std::vector<int64_t>& due,
              size_t connections, std::vector<int64_t>& ids) {
  ids.assign(due.size(), 0);
  return parallel(port, due.size(), connections, [&](connection& c, size_t i) {
    nlohmann::json body{{"task", command}, {"time", format_time(due[i])}};
    auto r = c.post("/taskschedulizer", body.dump());
    if (r.status != 201) {
      std::cerr << "bench_client: POST answered " << r.status << " " << r.error << r.body
                << std::endl;
      return false;
    }
    ids[i] = nlohmann::json::parse(r.body, nullptr, false).value("id", int64_t{0});
    return ids[i] > 0;
  });
}

struct outcome {
  bool finished = false;
  bool success = false;
  int64_t due = -1;
  int64_t started = -1;
  int64_t finished_at = -1;
  std::string output;
};

/// Fetches the status of every task not yet finished, until all are or the deadline
/// (monotonic ns) passes; false then.
bool collect(uint16_t port, const std::vector<int64_t>& ids, size_t connections,
             int64_t deadline_ns, std::vector<outcome>& out) {
  out.resize(ids.size());
  for (;;) {
    std::vector<size_t> todo;
    for (size_t i = 0; i < ids.size(); ++i)
      if (!out[i].finished)
        todo.push_back(i);
    if (todo.empty())
      return true;
    if (ts::bench::mono_ns() > deadline_ns) {
      std::cerr << "bench_client: " << todo.size() << " tasks not finished in time"
                << std::endl;
      return false;
    }
    bool ok = parallel(port, todo.size(), connections, [&](connection& c, size_t k) {
      auto i = todo[k];
      auto r = c.get("/status?id=" + std::to_string(ids[i]));
      if (r.status != 200) {
        std::cerr << "bench_client: GET /status answered " << r.status << " " << r.error
                  << std::endl;
        return false;
      }
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      auto status = j.value("status", std::string{});
      auto& o = out[i];
      o.finished = status == "success" || status == "failure";
      o.success = status == "success";
      o.due = parse_time(j["time"]);
      o.started = parse_time(j["started_at"]);
      o.finished_at = parse_time(j["finished_at"]);
      o.output = j["output"].is_string() ? j["output"].get<std::string>() : "";
      return true;
    });
    if (!ok)
      return false;
    if (std::any_of(out.begin(), out.end(), [](auto& o) { return !o.finished; }))
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

/// CPU time of a process (its own threads) and of its reaped children, in microseconds;
/// zeros when it cannot be read.
std::pair<double, double> process_cpu_us(int64_t pid) {
  if (pid <= 0)
    return {0, 0};
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(in, line);
  auto paren = line.rfind(')');
  if (paren == std::string::npos)
    return {0, 0};
  std::istringstream fields{line.substr(paren + 2)};
  std::vector<std::string> f{std::istream_iterator<std::string>{fields}, {}};
  // Fields 3.. of proc(5) from here: utime, stime, cutime, cstime are fields 14 to 17.
  if (f.size() < 15)
    return {0, 0};
  auto tick_us = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  auto at = [&](size_t field) { return std::stod(f[field - 3]); };
  return {(at(14) + at(15)) * tick_us, (at(16) + at(17)) * tick_us};
}

int wait_ready(uint16_t port, int64_t timeout_ms) {
  auto deadline = ts::bench::mono_ns() + timeout_ms * 1000000;
  while (ts::bench::mono_ns() < deadline) {
    connection c{port, "127.0.0.1", 2s};
    if (c.get("/status?id=1").status == 200)
      return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::cerr << "bench_client: the service did not answer within " << timeout_ms << " ms"
            << std::endl;
  return 1;
}

int lateness(uint16_t port, ts::bench::options& opts) {
  auto rate = opts.num("rate", 200);
  auto seconds = opts.num("seconds", 20);
  auto lead_ms = opts.num("lead-ms", 4000);
  auto command = opts.str("command", "date +%s%N");
  auto connections = static_cast<size_t>(opts.num("connections", 16));
  auto timeout_s = opts.num("timeout-s", 60);
  if (!opts.check("bench_client lateness"))
    return 2;
  auto count = static_cast<size_t>(rate * seconds);
  auto t0 = ts::bench::wall_ms() + lead_ms;
  std::vector<int64_t> due(count);
  for (size_t i = 0; i < count; ++i)
    due[i] = t0 + static_cast<int64_t>(i) * 1000 / rate;
  auto post_start = ts::bench::mono_ns();
  std::vector<int64_t> ids;
  if (!post_all(port, command, due, connections, ids))
    return 1;
  auto post_s = static_cast<double>(ts::bench::mono_ns() - post_start) / 1e9;
  if (ts::bench::wall_ms() > t0 - claim_lead_ms) {
    std::cerr << "bench_client: posting took " << post_s << " s, past the first task's time;"
              << " raise --lead-ms" << std::endl;
    return 1;
  }
  ts::bench::sleep_until_wall_ns((due.back() + 500) * 1000000);
  std::vector<outcome> out;
  if (!collect(port, ids, connections, ts::bench::mono_ns() + timeout_s * 1000000000,
               out))
    return 1;
  std::vector<double> recorded, seen;
  size_t failed = 0;
  for (size_t i = 0; i < count; ++i) {
    auto& o = out[i];
    char* end = nullptr;
    auto ns = std::strtoll(o.output.c_str(), &end, 10);
    if (!o.success || o.started < 0 || end == o.output.c_str() || o.due != due[i]) {
      ++failed;
      continue;
    }
    recorded.push_back(static_cast<double>(o.started - o.due));
    seen.push_back(static_cast<double>(ns - o.due * 1000000) / 1e6);
  }
  std::printf("count=%zu failed=%zu %s %s post_s=%.3f\n", count, failed,
              ts::bench::summary("recorded", recorded).c_str(),
              ts::bench::summary("command", seen).c_str(), post_s);
  return failed == 0 ? 0 : 1;
}

/// One POST of a far-future task: its status (0 when no answer came) and latency.
std::pair<int, double> post_far_task(connection& c) {
  static const std::string body = R"({"task": "true", "time": "2999-01-01 00:00:00"})";
  auto t0 = ts::bench::mono_ns();
  auto r = c.post("/taskschedulizer", body);
  return {r.status, static_cast<double>(ts::bench::mono_ns() - t0) / 1e6};
}

int overload(uint16_t port, ts::bench::options& opts) {
  auto rate = opts.num("rate", 0);
  auto seconds = opts.num("seconds", 30);
  auto connections = static_cast<size_t>(opts.num("connections", 256));
  auto late_rate = opts.num("late-rate", 20);
  auto lead_ms = opts.num("lead-ms", 3000);
  auto timeout_s = opts.num("timeout-s", 60);
  if (!opts.check("bench_client overload"))
    return 2;
  if (rate <= 0) {
    std::cerr << "bench_client overload: --rate is required" << std::endl;
    return 2;
  }
  // The probes: tasks due across the load, posted before it starts.
  auto t0 = ts::bench::wall_ms() + lead_ms;
  std::vector<int64_t> due(static_cast<size_t>(late_rate * seconds));
  for (size_t i = 0; i < due.size(); ++i)
    due[i] = t0 + static_cast<int64_t>(i) * 1000 / late_rate;
  std::vector<int64_t> ids;
  if (!post_all(port, "date +%s%N", due, 16, ids))
    return 1;
  ts::bench::sleep_until_wall_ns(t0 * 1000000);
  // The load: request k is due at start + k / rate, sent from one event loop (open_loop.hpp).
  // Bounded by count (rate × seconds) and by the clock.
  static const std::string body = R"({"task": "true", "time": "2999-01-01 00:00:00"})";
  ts::bench::open_loop_options lo;
  lo.port = port;
  lo.rate = static_cast<double>(rate);
  lo.seconds = static_cast<double>(seconds);
  lo.connections = connections;
  lo.request = "POST /taskschedulizer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Type: application/json\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto load = ts::bench::run_open_loop(lo);
  auto load_end = ts::bench::mono_ns();
  auto load_s = load.load_s;
  auto accepted = load.by_status_2xx;
  auto shed = load.overloaded;
  auto failed = load.failed + load.other;
  // Recovery: the first POST accepted after the load.
  double recover_ms = -1;
  for (connection c{port, "127.0.0.1", 10s}; ts::bench::mono_ns() < load_end + 10000000000LL;) {
    if (post_far_task(c).first == 201) {
      recover_ms = static_cast<double>(ts::bench::mono_ns() - load_end) / 1e6;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<outcome> out;
  if (!collect(port, ids, 16, ts::bench::mono_ns() + timeout_s * 1000000000, out))
    return 1;
  // As lateness does: as recorded (whole ms), and as the command saw it (its clock).
  std::vector<double> recorded, seen, all;
  for (auto& o : out) {
    char* end = nullptr;
    auto ns = std::strtoll(o.output.c_str(), &end, 10);
    if (!o.success || o.started < 0 || end == o.output.c_str())
      continue;
    recorded.push_back(static_cast<double>(o.started - o.due));
    seen.push_back(static_cast<double>(ns - o.due * 1000000) / 1e6);
  }
  all = load.accepted_ms;
  std::printf("sent=%zu accepted=%zu overloaded=%zu failed=%zu unsent=%zu reconnects=%zu "
              "accepted_rate=%.1f accepted_p50=%.3f accepted_p99=%.3f "
              "accepted_from_due_p99=%.3f %s %s probes_failed=%zu recover_ms=%.1f\n",
              load.sent, accepted, shed, failed, load.unsent, load.reconnects,
              static_cast<double>(accepted) / load_s, ts::bench::percentile(all, 50),
              ts::bench::percentile(all, 99),
              ts::bench::percentile(load.accepted_from_due_ms, 99),
              ts::bench::summary("recorded", recorded).c_str(),
              ts::bench::summary("command", seen).c_str(), out.size() - recorded.size(),
              recover_ms);
  return failed == 0 && recover_ms >= 0 && recorded.size() == out.size() ? 0 : 1;
}

int burst(uint16_t port, ts::bench::options& opts) {
  auto count = static_cast<size_t>(opts.num("count", 10000));
  // Posting runs at a few thousand a second: leave it time to finish before the burst.
  auto lead_ms = opts.num("lead-ms", 2000 + static_cast<int64_t>(count) / 2);
  auto command = opts.str("command", "true");
  auto connections = static_cast<size_t>(opts.num("connections", 16));
  auto timeout_s = opts.num("timeout-s", 120);
  auto pid = opts.num("pid", 0);
  auto hold_ms = opts.num("hold-ms", 0);
  if (!opts.check("bench_client burst"))
    return 2;
  // Everything due at one whole second.
  auto t0 = (ts::bench::wall_ms() + lead_ms + 999) / 1000 * 1000;
  std::vector<int64_t> due(count, t0);
  auto post_start = ts::bench::mono_ns();
  std::vector<int64_t> ids;
  if (!post_all(port, command, due, connections, ids))
    return 1;
  auto post_s = static_cast<double>(ts::bench::mono_ns() - post_start) / 1e9;
  if (ts::bench::wall_ms() > t0 - claim_lead_ms) {
    std::cerr << "bench_client: posting took " << post_s << " s, past the burst's time;"
              << " raise --lead-ms" << std::endl;
    return 1;
  }
  auto deadline = ts::bench::mono_ns() + timeout_s * 1000000000;
  // The coordinator starts due tasks in (time, id) order: the highest id goes last. Polling
  // it alone keeps the client's own load off the machine while the burst drains.
  auto last = *std::max_element(ids.begin(), ids.end());
  ts::bench::sleep_until_wall_ns((t0 - claim_lead_ms) * 1000000);
  auto cpu_before = process_cpu_us(pid);
  auto machine_before = ts::bench::machine_cpu();
  for (connection c{port, "127.0.0.1", 20s};;) {
    auto r = c.get("/status?id=" + std::to_string(last));
    auto status = nlohmann::json::parse(r.body, nullptr, false).value("status", "");
    if (status == "success" || status == "failure")
      break;
    if (ts::bench::mono_ns() > deadline) {
      std::cerr << "bench_client: the burst did not drain in time" << std::endl;
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto cpu_after = process_cpu_us(pid);
  auto idle = ts::bench::idle_percent(machine_before, ts::bench::machine_cpu());
  if (hold_ms > 0) {
    std::cerr << "drained" << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  }
  std::vector<outcome> out;
  if (!collect(port, ids, connections, deadline, out))
    return 1;
  int64_t last_finish = 0, first_start = INT64_MAX;
  size_t failed = 0;
  for (auto& o : out) {
    if (!o.success)
      ++failed;
    last_finish = std::max(last_finish, o.finished_at);
    if (o.started >= 0)
      first_start = std::min(first_start, o.started);
  }
  auto drain_s = static_cast<double>(last_finish - t0) / 1000.0;
  auto n = static_cast<double>(count);
  std::printf("count=%zu failed=%zu drain_s=%.3f runs_per_s=%.1f first_start_ms=%lld "
              "post_s=%.3f self_cpu_us=%.1f child_cpu_us=%.1f idle_pct=%.1f\n",
              count, failed, drain_s, n / drain_s, static_cast<long long>(first_start - t0),
              post_s, (cpu_after.first - cpu_before.first) / n,
              (cpu_after.second - cpu_before.second) / n, idle);
  return failed == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  ts::bench::options opts{argc, argv, 2};
  auto port = static_cast<uint16_t>(opts.num("port", 0));
  if (port == 0 && opts.ok()) {
    std::cerr << "bench_client: --port is required" << std::endl;
    return 2;
  }
  if (mode == "ready") {
    auto timeout_ms = opts.num("timeout-ms", 60000);
    if (!opts.check("bench_client ready"))
      return 2;
    return wait_ready(port, timeout_ms);
  }
  if (mode == "lateness")
    return lateness(port, opts);
  if (mode == "burst")
    return burst(port, opts);
  if (mode == "overload")
    return overload(port, opts);
  std::cerr << "usage: bench_client ready|lateness|burst|overload --port=PORT [--name=value...]"
            << std::endl;
  return 2;
}
