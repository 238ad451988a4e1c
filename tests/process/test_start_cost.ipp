// What a start costs, printed (hidden: `test_process "[.bench]"`): the caller's time and
// the lateness (call to the command's first output) of a plain posix_spawn of the shell (the
// runner before the helper), of start(), and of release() after a prepare().
#include <spawn.h>

namespace {

struct figures {
  std::vector<double> us;
  void add(steady::duration d) {
    us.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  std::string text() {
    std::sort(us.begin(), us.end());
    auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
    std::ostringstream out;
    out.precision(0);
    out << std::fixed << "median " << at(0.5) << " us, p90 " << at(0.9) << " us";
    return out.str();
  }
};

// The old start: posix_spawn of /bin/sh -c with its output in a pipe, in a new group.
steady::duration plain_spawn(const char* command, steady::duration& to_output) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                  const_cast<char*>(command), nullptr};
  pid_t pid = 0;
  auto t0 = steady::now();
  REQUIRE(::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ) == 0);
  auto spent = steady::now() - t0;
  ::close(fds[1]);
  char c;
  [[maybe_unused]] auto n = ::read(fds[0], &c, 1);
  to_output = steady::now() - t0;
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return spent;
}

// The time of the first output piece, for the lateness of a runner start.
struct first_output {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<steady::time_point> at;
  ts::start_options options() {
    ts::start_options o;
    o.on_output = [this](std::string) {
      std::lock_guard<std::mutex> guard{mtx};
      if (!at)
        at = steady::now();
      cv.notify_all();
    };
    return o;
  }
  steady::time_point wait() {
    std::unique_lock<std::mutex> guard{mtx};
    REQUIRE(cv.wait_for(guard, 10s, [&] { return at.has_value(); }));
    return *at;
  }
};

} // namespace

TEST_CASE("start cost: a plain spawn, start(), and prepare() then release()", "[.bench]") {
  constexpr int n = 200;
  for (auto mode : {ts::kill_mode::cgroup, ts::kill_mode::scan}) {
    ts::test::state_dir state;
    auto o = ts::test::options(mode, state.path);
    if (!ts::resolve_scope(o).error.empty())
      continue;
    auto runner = make_runner(o);
    figures spawn_call, spawn_late, start_call, start_late, prepare_call, release_call,
      release_late;
    for (int i = 0; i < n; ++i) {
      steady::duration late{};
      spawn_call.add(plain_spawn("echo x", late));
      spawn_late.add(late);
      {
        exits sink;
        first_output out;
        auto opts = out.options();
        opts.identity = ts::run_identity{1, ts::test::fresh_run(), 1, 0};
        auto t0 = steady::now();
        REQUIRE(runner->start("echo x", std::move(opts), sink.handler()));
        start_call.add(steady::now() - t0);
        start_late.add(out.wait() - t0);
        REQUIRE(sink.wait(1));
      }
      {
        exits sink;
        first_output out;
        auto opts = out.options();
        opts.identity = ts::run_identity{1, ts::test::fresh_run(), 1, 0};
        auto t0 = steady::now();
        auto sp = runner->prepare("echo x", std::move(opts), sink.handler());
        REQUIRE(sp);
        prepare_call.add(steady::now() - t0);
        auto t1 = steady::now();
        REQUIRE(runner->release(*sp));
        release_call.add(steady::now() - t1);
        release_late.add(out.wait() - t1);
        REQUIRE(sink.wait(1));
      }
    }
    std::ostringstream report;
    report << n << " starts of `echo x`, kill mode " << runner->kill_mode_detail() << "\n"
           << "  plain posix_spawn call: " << spawn_call.text() << "\n"
           << "  plain posix_spawn, call to output: " << spawn_late.text() << "\n"
           << "  start() call: " << start_call.text() << "\n"
           << "  start(), call to output: " << start_late.text() << "\n"
           << "  prepare() call (in the claim lead): " << prepare_call.text() << "\n"
           << "  release() call (the due-time work): " << release_call.text() << "\n"
           << "  release(), call to output: " << release_late.text() << "\n";
    std::printf("%s", report.str().c_str());
  }
}
