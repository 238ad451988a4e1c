// The real runner against real child processes.
#include "process/process_runner.hpp"
#include "process/proc_stat.hpp"
#include "process/start_marks.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/text.hpp"
#include "process/output_buffer.hpp"
#include "runner_support.hpp"

using namespace std::chrono_literals;
using ts::process_exit;
using ts::process_runner;
using ts::spawned_process;
using ts::test::eventually;
using ts::test::exits;
using ts::test::make_runner;

namespace {

using steady = std::chrono::steady_clock;

spawned_process start(process_runner& runner, const std::string& command, exits& sink,
                      ts::start_options opts = {}) {
  auto sp = runner.start(command, std::move(opts), sink.handler());
  REQUIRE(sp);
  return *sp;
}

// Runs one command to its end.
process_exit run(const std::string& command) {
  exits sink;
  auto runner = make_runner();
  start(*runner, command, sink);
  REQUIRE(sink.wait(1));
  return sink.at(0);
}

// Fields 3 (state) and 5 (process group) of /proc/PID/stat, read after the last ')'.
bool read_stat(const std::string& pid, char& state, long& pgrp) {
  std::ifstream in{"/proc/" + pid + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return false;
  auto paren = line.rfind(')');
  if (paren == std::string::npos)
    return false;
  std::istringstream rest{line.substr(paren + 1)};
  long ppid = 0;
  return static_cast<bool>(rest >> state >> ppid >> pgrp);
}

// Processes of the group `pgid` that are not zombies (orphans may wait for a reaper).
int live_members(int32_t pgid) {
  int count = 0;
  DIR* dir = ::opendir("/proc");
  REQUIRE(dir != nullptr);
  while (auto* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    char state = 0;
    long pgrp = 0;
    if (read_stat(name, state, pgrp) && pgrp == pgid && state != 'Z' && state != 'X')
      ++count;
  }
  ::closedir(dir);
  return count;
}

ts::millis wall_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

TEST_CASE("runner reports exit codes and times") {
  auto before = wall_now();
  exits sink;
  auto runner = make_runner();
  auto ok = start(*runner, "true", sink);
  REQUIRE(sink.wait(1));
  auto failed = start(*runner, "exit 3", sink);
  REQUIRE(sink.wait(2));
  auto after = wall_now();

  auto first = sink.at(0);
  CHECK(first.exit_code == 0);
  CHECK_FALSE(first.signal);
  CHECK(first.output.empty());
  CHECK_FALSE(first.output_truncated);
  auto second = sink.at(1);
  CHECK(second.exit_code == 3);
  CHECK_FALSE(second.signal);

  CHECK(ok.pid > 0);
  CHECK(failed.pid != ok.pid);
  CHECK(ok.started_at >= before);
  CHECK(ok.started_at <= first.finished_at);
  CHECK(failed.started_at <= second.finished_at);
  CHECK(second.finished_at <= after);
}

TEST_CASE("runner reports the signal that killed a command") {
  auto x = run("kill -9 $$");
  CHECK(x.signal == SIGKILL);
  CHECK_FALSE(x.exit_code);
}

TEST_CASE("runner interleaves stdout and stderr in order") {
  auto x = run("echo a; echo b >&2; echo c");
  CHECK(x.output == "a\nb\nc\n");
  CHECK(x.exit_code == 0);
}

TEST_CASE("runner gives commands /dev/null as stdin") {
  CHECK(run("cat").output.empty());
  CHECK(run("readlink /proc/self/fd/0").output == "/dev/null\n");
}

TEST_CASE("runner keeps the last 64 KiB of a long output") {
  auto x = run("seq 1 40000");  // about 224 KiB, more than the pipe holds
  std::string all;
  for (int i = 1; i <= 40000; ++i)
    all += std::to_string(i) + "\n";
  REQUIRE(all.size() > 200 * 1024);
  CHECK(x.exit_code == 0);
  CHECK(x.output_truncated);
  CHECK(x.output.size() == ts::default_output_limit);
  CHECK(x.output == all.substr(all.size() - ts::default_output_limit));
}

TEST_CASE("runner honours a smaller output limit") {
  exits sink;
  auto runner = make_runner();
  ts::start_options small;
  small.output_limit = 4;
  start(*runner, "echo hello", sink, small);
  REQUIRE(sink.wait(1));
  CHECK(sink.at(0).output == "llo\n");
  CHECK(sink.at(0).output_truncated);
}

TEST_CASE("runner replaces invalid UTF-8 in the output") {
  auto x = run("printf 'a\\377b'");
  CHECK(x.output == "a\xEF\xBF\xBD" "b");
}

TEST_CASE("runner reports promptly when a background grandchild holds the pipe") {
  exits sink;
  auto runner = make_runner();
  auto t0 = steady::now();
  auto sp = start(*runner, "sleep 30 & echo hi", sink);
  REQUIRE(sink.wait(1));
  CHECK(steady::now() - t0 < 5s);
  auto x = sink.at(0);
  CHECK(x.output == "hi\n");
  CHECK(x.exit_code == 0);
  // The grandchild still runs in the command's run; the caller cleans it up.
  CHECK(live_members(sp.pgid) == 1);
  runner->signal_run(sp, SIGKILL);
  CHECK(eventually([&] { return live_members(sp.pgid) == 0; }));
}

TEST_CASE("runner reports a command that closed its output before exiting") {
  auto t0 = steady::now();
  auto x = run("exec >&- 2>&-; sleep 0.3; exit 4");
  CHECK(x.exit_code == 4);
  CHECK(x.output.empty());
  CHECK(steady::now() - t0 >= 300ms);
}

TEST_CASE("runner puts each command in its own process group") {
  exits sink;
  auto runner = make_runner();
  // Field 5 of the stat line is the process group; `echo $$` prints the shell's pid.
  auto sp = start(*runner, "echo $$; cut -d' ' -f5 /proc/$$/stat", sink);
  REQUIRE(sink.wait(1));
  CHECK(sp.pgid == sp.pid);
  CHECK(sp.pgid != ::getpgrp());
  auto id = std::to_string(sp.pid);
  CHECK(sink.at(0).output == id + "\n" + id + "\n");
}

TEST_CASE("runner starts commands with no blocked or ignored signals") {
  // The service ignores SIGPIPE and blocks signals on its threads: children must not
  // inherit that.
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  sigset_t block;
  sigset_t old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto x = run("grep -E '^Sig(Blk|Ign)' /proc/self/status");
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  unsigned long long blocked = ~0ULL;
  unsigned long long ignored = ~0ULL;
  REQUIRE(std::sscanf(x.output.c_str(), "SigBlk: %llx SigIgn: %llx", &blocked, &ignored) == 2);
  CHECK(blocked == 0);
  // Signals 1..31. glibc's posix_spawn itself leaves its two internal real-time signals
  // (32 and 33) ignored in every child; programs that use them install handlers.
  CHECK((ignored & 0x7fffffffULL) == 0);
}

TEST_CASE("runner leaks no descriptor into commands") {
  // An inheritable descriptor of ours: without closefrom it would show up as 3 or higher.
  int fd = ::open("/dev/null", O_RDONLY);
  REQUIRE(fd >= 3);
  auto x = run("ls /proc/self/fd");
  ::close(fd);
  // 0, 1, 2 and the one ls opens to read the directory.
  CHECK(x.output == "0\n1\n2\n3\n");
}

TEST_CASE("runner runs commands concurrently") {
  exits sink;
  auto runner = make_runner();
  auto t0 = steady::now();
  std::set<int32_t> pids;
  for (int i = 0; i < 50; ++i)
    pids.insert(start(*runner, "sleep 1", sink).pid);
  REQUIRE(sink.wait(50, 30s));
  CHECK(steady::now() - t0 < 10s);
  CHECK(pids.size() == 50);
  for (size_t i = 0; i < 50; ++i)
    CHECK(sink.at(i).exit_code == 0);
  std::this_thread::sleep_for(100ms);  // a second call for any one would show up here
  CHECK(sink.size() == 50);
}

TEST_CASE("runner starts safely from many threads and reports from its own") {
  exits sink;
  auto runner = make_runner();
  constexpr int threads = 4;
  constexpr int per_thread = 250;
  std::atomic<int> failures{0};
  std::vector<std::thread> starters;
  for (int t = 0; t < threads; ++t)
    starters.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i)
        if (!runner->start("true", {}, sink.handler()))
          ++failures;
    });
  for (auto& t : starters)
    t.join();
  CHECK(failures == 0);
  REQUIRE(sink.wait(threads * per_thread, 60s));
  std::this_thread::sleep_for(100ms);
  CHECK(sink.size() == threads * per_thread);
  for (size_t i = 0; i < sink.size(); ++i)
    REQUIRE(sink.at(i).exit_code == 0);
  std::lock_guard<std::mutex> guard{sink.mtx};
  REQUIRE(sink.threads.size() == 1);
  CHECK(*sink.threads.begin() != std::this_thread::get_id());
}

TEST_CASE("signal_run terminates a running command") {
  exits sink;
  auto runner = make_runner();
  auto sp = start(*runner, "sleep 30", sink);
  auto t0 = steady::now();
  runner->signal_run(sp, SIGTERM);
  REQUIRE(sink.wait(1));
  CHECK(steady::now() - t0 < 5s);
  CHECK(sink.at(0).signal == SIGTERM);
  CHECK_FALSE(sink.at(0).exit_code);
}

TEST_CASE("process_start_ticks identifies a live process") {
  exits sink;
  auto runner = make_runner();
  auto sp = start(*runner, "sleep 30", sink);
  CHECK(sp.start_ticks > 0);
  CHECK(ts::process_start_ticks(sp.pid) == sp.start_ticks);
  CHECK(ts::process_start_ticks(::getpid()) > 0);
  CHECK(ts::process_start_ticks(::getpid()) <= sp.start_ticks);
  CHECK(ts::process_start_ticks(0) == 0);
  CHECK(ts::process_start_ticks(-1) == 0);

  SECTION("kill_leftover refuses another start time") {
    CHECK_FALSE(ts::kill_leftover(sp.pid, sp.pgid, sp.start_ticks + 1));
    CHECK_FALSE(ts::kill_leftover(sp.pid, sp.pgid, 0));
    std::this_thread::sleep_for(200ms);
    CHECK(sink.size() == 0);
    CHECK(ts::process_start_ticks(sp.pid) == sp.start_ticks);
    runner->signal_run(sp, SIGKILL);
    REQUIRE(sink.wait(1));
  }
  SECTION("kill_leftover kills the group when the start time matches") {
    CHECK(ts::kill_leftover(sp.pid, sp.pgid, sp.start_ticks));
    REQUIRE(sink.wait(1));
    CHECK(sink.at(0).signal == SIGKILL);
    // Reaped: the pid no longer names that process.
    CHECK(ts::process_start_ticks(sp.pid) != sp.start_ticks);
    CHECK_FALSE(ts::kill_leftover(sp.pid, sp.pgid, sp.start_ticks));
  }
}

TEST_CASE("process_start_ticks reads past a command name with spaces and parentheses") {
  char dir_template[] = "/tmp/ts-ticks-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  std::string odd = dir + "/a) b (c";
  exits sink;
  auto runner = make_runner();
  auto sp = start(*runner, "cp /bin/sleep '" + odd + "' && exec '" + odd + "' 30", sink);
  bool renamed = eventually([&] {
    std::ifstream in{"/proc/" + std::to_string(sp.pid) + "/comm"};
    std::string comm;
    std::getline(in, comm);
    return comm == "a) b (c";
  });
  CHECK(renamed);
  CHECK(ts::process_start_ticks(sp.pid) == sp.start_ticks);
  runner->signal_run(sp, SIGKILL);
  REQUIRE(sink.wait(1));
  std::remove(odd.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("a start failure is an error, and no handler runs") {
  exits sink;
  auto runner = [] {
    auto o = ts::test::options();
    o.shell = "/nonexistent/sh";
    return make_runner(o);
  }();
  auto sp = runner->start("true", {}, sink.handler());
  REQUIRE_FALSE(sp);
  CHECK(sp.error().category() == ts::ec_category);
  CHECK(sp.error().code() == static_cast<uint8_t>(ts::ec::start_failed));
  CHECK(ts::render(sp.error()).find("No such file") != std::string::npos);
  std::this_thread::sleep_for(100ms);
  CHECK(sink.size() == 0);
}

TEST_CASE("destroying the runner kills and reaps what still runs") {
  exits sink;
  spawned_process sp;
  {
    auto runner = make_runner();
    sp = start(*runner, "sleep 30 & sleep 30", sink);
    // The shell and at least the background sleep (dash forks the other one too).
    REQUIRE(eventually([&] { return live_members(sp.pgid) >= 2; }));
  }
  // The command itself is reaped before the destructor returns: no zombie left.
  CHECK(ts::process_start_ticks(sp.pid) != sp.start_ticks);
  CHECK(eventually([&] { return live_members(sp.pgid) == 0; }));
  CHECK(sink.size() == 0);
}

TEST_CASE("an exit handler may start another command") {
  exits sink;
  auto runner = make_runner();
  std::atomic<bool> started{false};
  auto& inner = sink;
  auto sp = runner->start("echo first", {}, [&](process_exit x) {
    started = static_cast<bool>(runner->start("echo second", {}, inner.handler()));
    inner.handler()(std::move(x));
  });
  REQUIRE(sp);
  REQUIRE(sink.wait(2));
  CHECK(started);
  std::set<std::string> outputs{sink.at(0).output, sink.at(1).output};
  CHECK(outputs == std::set<std::string>{"first\n", "second\n"});
}

TEST_CASE("an exit handler may drop the last reference to the runner") {
  exits sink;
  auto runner = make_runner();
  std::weak_ptr<process_runner> weak = runner;
  auto sp = runner->start("sleep 0.5", {}, [keep = runner, &sink](process_exit x) mutable {
    keep.reset();  // destroys the runner on its own thread
    sink.handler()(std::move(x));
  });
  REQUIRE(sp);
  runner.reset();
  REQUIRE(sink.wait(1));
  CHECK(eventually([&] { return weak.expired(); }));
}

// -- live output --------------------------------------------------------------------------

namespace {

// Records live pieces and the exit in the order the runner's thread delivered them.
struct live_log {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> pieces;
  std::vector<steady::time_point> piece_times;
  std::optional<process_exit> exit;
  steady::time_point exit_time;
  bool piece_after_exit = false;

  ts::start_options options(size_t limit = ts::default_output_limit) {
    ts::start_options o;
    o.output_limit = limit;
    o.on_output = [this](std::string piece) {
      std::lock_guard<std::mutex> guard{mtx};
      piece_after_exit = piece_after_exit || exit.has_value();
      pieces.push_back(std::move(piece));
      piece_times.push_back(steady::now());
    };
    return o;
  }

  process_runner::exit_handler on_exit() {
    return [this](process_exit x) {
      std::lock_guard<std::mutex> guard{mtx};
      exit = std::move(x);
      exit_time = steady::now();
      cv.notify_all();
    };
  }

  // Runs `command` to its end with the given output limit.
  void run(const std::string& command, size_t limit = ts::default_output_limit) {
    auto runner = make_runner();
    REQUIRE(runner->start(command, options(limit), on_exit()));
    std::unique_lock<std::mutex> guard{mtx};
    REQUIRE(cv.wait_for(guard, 20s, [&] { return exit.has_value(); }));
  }

  std::string joined() {
    std::string all;
    for (auto& p : pieces)
      all += p;
    return all;
  }
};

} // namespace

TEST_CASE("runner hands out output while the command runs, each piece before the exit") {
  live_log log;
  log.run("for i in 1 2 3; do echo $i; sleep 0.2; done");
  CHECK(log.pieces == std::vector<std::string>{"1\n", "2\n", "3\n"});
  CHECK_FALSE(log.piece_after_exit);
  // The first piece came while the command still ran: two sleeps of 0.2 s followed it.
  REQUIRE_FALSE(log.piece_times.empty());
  CHECK(log.exit_time - log.piece_times.front() >= 300ms);
  CHECK(log.exit->output == "1\n2\n3\n");
  CHECK(log.exit->exit_code == 0);
}

TEST_CASE("runner carries a character cut between reads over, and repairs invalid bytes") {
  // E2 82 | AC is one "€" written in two parts; FF is never valid; C3 at the very end is
  // cut by the end of the stream.
  live_log log;
  log.run("printf '\\342\\202'; sleep 0.2; printf '\\254x\\377'; sleep 0.2; printf 'y\\303'");
  const std::string fffd = "\xEF\xBF\xBD";
  // The first write alone completes nothing, so it makes no piece.
  CHECK(log.pieces == std::vector<std::string>{"\xE2\x82\xAC" "x" + fffd, "y", fffd});
  for (auto& p : log.pieces)
    CHECK(ts::valid_utf8(p));
  CHECK(log.exit->output == log.joined());
  CHECK(log.exit->output == ts::repair_utf8("\xE2\x82\xAC" "x\xFF" "y\xC3"));
}

TEST_CASE("the live pieces are the whole stream, and the exit's output is their tail") {
  live_log log;
  log.run("seq 1 40000", 1000);  // about 224 KiB: several reads (one piece each event)
  std::string all;
  for (int i = 1; i <= 40000; ++i)
    all += std::to_string(i) + "\n";
  CHECK(log.joined() == all);
  CHECK(log.exit->output_truncated);
  CHECK(log.exit->output == all.substr(all.size() - 1000));
}

TEST_CASE("an output limit that cuts a character keeps the tail from the next one on") {
  live_log log;
  log.run("printf 'ab\\303\\251\\303\\251'", 3);  // "abéé"; the last 3 bytes are A9 C3 A9
  CHECK(log.joined() == "ab\xC3\xA9\xC3\xA9");
  CHECK(log.exit->output == "\xC3\xA9");
  CHECK(log.exit->output_truncated);
}

TEST_CASE("runner without a live handler still reports the whole tail") {
  exits sink;
  auto runner = make_runner();
  start(*runner, "printf '\\342\\202'; sleep 0.1; printf '\\254'", sink);
  REQUIRE(sink.wait(1));
  CHECK(sink.at(0).output == "\xE2\x82\xAC");
}

// The executor receives this type as a message; tests/core/test_types.cpp does the same for
// the vocabulary's types.
TEST_CASE("process_exit survives CAF's serialisation, exit code and signal each absent",
          "[process]") {
  auto round_trip = [](process_exit x) {
    std::vector<char> buf;
    caf::binary_serializer sink{nullptr, buf};
    REQUIRE(!sink(x));
    process_exit out;
    out.exit_code = 99;  // absent in the bytes must clear it
    out.signal = 99;
    caf::binary_deserializer source{nullptr, buf};
    REQUIRE(!source(out));
    CHECK(source.remaining() == 0);
    return out;
  };
  process_exit exited;
  exited.exit_code = 0;
  exited.output = "ok\n";
  exited.finished_at = 1000;
  auto a = round_trip(exited);
  CHECK(a.exit_code == 0);
  CHECK_FALSE(a.signal);
  CHECK(a.output == "ok\n");
  CHECK_FALSE(a.output_truncated);
  CHECK(a.finished_at == 1000);
  process_exit killed;
  killed.signal = SIGKILL;
  killed.output_truncated = true;
  killed.finished_at = 2000;
  auto b = round_trip(killed);
  CHECK_FALSE(b.exit_code);
  CHECK(b.signal == SIGKILL);
  CHECK(b.output.empty());
  CHECK(b.output_truncated);
  CHECK(b.finished_at == 2000);
  process_exit lost;  // reaped behind the runner's back: neither is known
  auto c = round_trip(lost);
  CHECK_FALSE(c.exit_code);
  CHECK_FALSE(c.signal);
  CHECK_FALSE(c.never_started);
  CHECK_FALSE(c.start_error);
  process_exit refused;  // exec failed after the release
  refused.exit_code = 127;
  refused.never_started = true;
  refused.start_error = "exec /nonexistent/sh: No such file or directory";
  auto d = round_trip(refused);
  CHECK(d.never_started);
  CHECK(d.start_error == refused.start_error);
}

// The held start, the helper, the kill modes and crash recovery, in files of their own.
#include "test_held_start.ipp"
#include "test_run_kill.ipp"
#include "test_start_cost.ipp"
