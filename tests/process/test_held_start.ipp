// The held start through ts-exec-helper, with real processes: nothing runs before the
// release, nothing after an abandon or a dead service; what the command sees (TS_*, env,
// cwd, user); the spec's encoding. Included by test_process_runner.cpp (one test binary).
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <random>

#include "process/exec_spec.hpp"
#include "process/leftovers.hpp"

namespace {

using ts::test::exists;
using ts::test::scratch_dir;

ts::start_options with_identity(ts::run_id run, ts::task_id task = 7) {
  ts::start_options o;
  o.identity = ts::run_identity{task, run, 1, 0};
  return o;
}

// Whether `pid` still runs as the process that started at `ticks` (and is no zombie).
bool alive(int32_t pid, uint64_t ticks) {
  auto f = ts::read_proc_stat(pid);
  if (!f || f->start_ticks != ticks)
    return false;
  std::string stat = ts::test::slurp("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
}

// A "service" in a child process: makes a runner, lets `act` prepare or start through it,
// writes what it got into a pipe and dies with _exit (no destructor: a crash, as far as its
// helpers can tell). Returns what it wrote.
spawned_process crashed_service(ts::runner_options o,
                                std::function<spawned_process(process_runner&)> act) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t service = ::fork();
  REQUIRE(service >= 0);
  if (service == 0) {
    ::close(fds[0]);
    auto runner = ts::make_posix_process_runner(std::move(o));
    auto sp = act(*runner);
    [[maybe_unused]] auto n = ::write(fds[1], &sp, sizeof(sp));
    ::_exit(0);
  }
  ::close(fds[1]);
  spawned_process sp;
  auto n = ::read(fds[0], &sp, sizeof(sp));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(service, &status, 0);
  REQUIRE(n == static_cast<ssize_t>(sizeof(sp)));
  REQUIRE(sp.pid > 0);
  return sp;
}

// The user the run_as tests use, made once per machine; empty when we are not root.
std::optional<ts::run_user> test_user() {
  if (::geteuid() != 0) {
    WARN("not root: the run_as tests are skipped");
    return std::nullopt;
  }
  if (::getpwnam("ts-test-user") == nullptr) {
    // Two test processes may race here: whichever loses finds the user made.
    [[maybe_unused]] int rc =
      std::system("useradd --system --no-create-home ts-test-user >/dev/null 2>&1");
  }
  auto u = ts::resolve_user("ts-test-user");
  REQUIRE(u);
  return *u;
}

} // namespace

TEST_CASE("a held start runs nothing until its release", "[held]") {
  scratch_dir dir;
  exits sink;
  auto runner = make_runner();
  auto sp = runner->prepare("touch '" + (dir / "ran") + "'", {}, sink.handler());
  REQUIRE(sp);
  CHECK(sp->started_at == 0);
  CHECK(sp->pgid == sp->pid);
  CHECK(sp->start_ticks == ts::process_start_ticks(sp->pid));
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(exists(dir / "ran"));
  CHECK(alive(sp->pid, sp->start_ticks));
  CHECK(sink.size() == 0);
  auto before = wall_now();
  auto at = runner->release(*sp);
  REQUIRE(at);
  CHECK(*at >= before);
  REQUIRE(sink.wait(1));
  CHECK(exists(dir / "ran"));
  CHECK(sink.at(0).exit_code == 0);
  CHECK_FALSE(sink.at(0).never_started);
  // Released once: a second release is refused, and so is one after the end.
  CHECK_FALSE(runner->release(*sp));
}

TEST_CASE("an abandoned start runs nothing and ends never started", "[held]") {
  scratch_dir dir;
  exits sink;
  auto runner = make_runner();
  auto sp = runner->prepare("touch '" + (dir / "ran") + "'", {}, sink.handler());
  REQUIRE(sp);
  runner->abandon(*sp);
  REQUIRE(sink.wait(1));
  auto x = sink.at(0);
  CHECK(x.never_started);
  CHECK(x.exit_code == ts::exec_spec::exit_abandoned);
  CHECK_FALSE(x.start_error);
  CHECK_FALSE(exists(dir / "ran"));
  CHECK_FALSE(runner->release(*sp));
  runner->abandon(*sp);  // a second abandon is nothing
  std::this_thread::sleep_for(100ms);
  CHECK(sink.size() == 1);
}

TEST_CASE("a held helper killed before its release ends never started", "[held]") {
  exits sink;
  auto runner = make_runner();
  auto sp = runner->prepare("true", {}, sink.handler());
  REQUIRE(sp);
  runner->signal_run(*sp, SIGTERM);
  REQUIRE(sink.wait(1));
  CHECK(sink.at(0).never_started);
  CHECK(sink.at(0).signal == SIGTERM);
}

TEST_CASE("a held helper whose service died exits without running anything", "[held]") {
  scratch_dir dir;
  ts::test::state_dir state;
  // The orphaned helper becomes our child, so that its exit status can be read.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  auto run = ts::test::fresh_run();
  auto command = "touch '" + (dir / "ran") + "'";
  auto sp = crashed_service(ts::test::options(ts::kill_mode::auto_detect, state.path),
                            [&](process_runner& r) {
                              auto p = r.prepare(command, with_identity(run), [](auto) {});
                              return p ? *p : spawned_process{};
                            });
  int status = 0;
  REQUIRE(::waitpid(sp.pid, &status, 0) == sp.pid);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == ts::exec_spec::exit_abandoned);
  CHECK_FALSE(exists(dir / "ran"));
  // Its start mark was never written: provably never started.
  CHECK(ts::start_marks::read_marked(state / "started.slots").empty());
  auto scope = ts::resolve_scope(ts::test::options(ts::kill_mode::auto_detect, state.path));
  CHECK(ts::classify_leftover(scope, run, sp.pid, sp.start_ticks) == ts::run_fate::never_started);
  ts::kill_run_leftovers(scope, run);
}

TEST_CASE("a command sees TS_*, its environment and its cwd", "[held]") {
  scratch_dir dir;
  exits sink;
  auto runner = make_runner();
  auto opts = with_identity(ts::test::fresh_run(), 77);
  opts.identity->attempt = 3;
  opts.identity->scheduled_for = 1727024400123;  // 2024-09-22T17:00:00.123Z
  // Bytes a separator-based encoding would trip over.
  const std::string odd = "a=b\nc 'd' \"e\" \\ $HOME \x01\xff";
  opts.env = {{"TS_TEST_VALUE", odd}, {"TS_RUN_ID", "forged"}, {"LANG", "C"}};
  opts.cwd = dir.path;
  auto sp = runner->start("printf '%s|%s|%s|%s|%s|' \"$TS_TASK_ID\" \"$TS_RUN_ID\" "
                          "\"$TS_ATTEMPT\" \"$TS_SCHEDULED_FOR\" \"$LANG\"; pwd; "
                          "printf %s \"$TS_TEST_VALUE\"",
                          opts, sink.handler());
  REQUIRE(sp);
  REQUIRE(sink.wait(1));
  auto run = std::to_string(opts.identity->run);
  CHECK(sink.at(0).exit_code == 0);
  auto expected = "77|" + run + "|3|2024-09-22T17:00:00.123Z|C|" + dir.path + "\n"
                  + ts::repair_utf8(odd);
  CHECK(sink.at(0).output == expected);
}

TEST_CASE("a command without an identity still gets a run id of its own", "[held]") {
  exits sink;
  auto runner = make_runner();
  REQUIRE(runner->start("echo \"$TS_RUN_ID\"; echo \"${TS_TASK_ID-unset}\"", {}, sink.handler()));
  REQUIRE(sink.wait(1));
  REQUIRE(runner->start("echo \"$TS_RUN_ID\"", {}, sink.handler()));
  REQUIRE(sink.wait(2));
  auto a = sink.at(0).output;
  CHECK(a.rfind("local-", 0) == 0);
  CHECK(a.find("\nunset\n") != std::string::npos);
  CHECK(a.substr(0, a.find('\n')) + "\n" != sink.at(1).output);
}

TEST_CASE("a bad cwd fails the start with the path and the reason", "[held]") {
  scratch_dir dir;
  exits sink;
  auto runner = make_runner();
  // What the helper refuses ends the start at its exit, never started, released or not.
  auto refused = [&](const std::string& cwd, const std::string& why, bool release) {
    ts::start_options o;
    o.cwd = cwd;
    auto before = sink.size();
    auto sp = runner->prepare("touch ran", o, sink.handler());
    REQUIRE(sp);
    if (release)
      runner->release(*sp);  // too late or refused (EPIPE): it runs nothing either way
    REQUIRE(sink.wait(before + 1));
    auto x = sink.at(before);
    CHECK(x.never_started);
    CHECK(x.exit_code == ts::exec_spec::exit_prepare_failed);
    REQUIRE(x.start_error);
    INFO(*x.start_error);
    CHECK(x.start_error->find("cwd " + cwd) != std::string::npos);
    CHECK(x.start_error->find(why) != std::string::npos);
  };
  refused("/nonexistent/ts-dir", "No such file or directory", false);
  std::ofstream{dir / "file"} << "x";
  refused(dir / "file", "Not a directory", true);
  // start() waits for the helper, so it says so itself, and calls no handler.
  ts::start_options o;
  o.cwd = "/nonexistent/ts-dir";
  auto started = runner->start("true", o, sink.handler());
  REQUIRE_FALSE(started);
  CHECK(ts::render(started.error()).find("cwd /nonexistent/ts-dir") != std::string::npos);
  // What the runner sees itself fails at once.
  o.cwd = "relative/dir";
  auto sp = runner->prepare("true", o, sink.handler());
  REQUIRE_FALSE(sp);
  CHECK(sp.error() == ts::ec::start_failed);
  CHECK(ts::render(sp.error()).find("not an absolute path") != std::string::npos);
  std::this_thread::sleep_for(100ms);
  CHECK(sink.size() == 2);
}

TEST_CASE("an exec that fails after the release ends never started, with the reason",
          "[held]") {
  exits sink;
  auto o = ts::test::options();
  o.shell = "/nonexistent/sh";
  auto runner = make_runner(o);
  auto sp = runner->prepare("true", {}, sink.handler());
  REQUIRE(sp);  // the shell is only looked for at exec
  REQUIRE(runner->release(*sp));
  REQUIRE(sink.wait(1));
  auto x = sink.at(0);
  CHECK(x.never_started);
  CHECK(x.exit_code == ts::exec_spec::exit_exec_failed);
  REQUIRE(x.start_error);
  CHECK(x.start_error->find("exec /nonexistent/sh: No such file") != std::string::npos);
}

TEST_CASE("a command runs as the user it names", "[held][user]") {
  auto user = test_user();
  if (!user)
    return;
  CHECK(user->name == "ts-test-user");
  CHECK(user->uid != 0);
  CHECK(std::find(user->groups.begin(), user->groups.end(), user->gid) != user->groups.end());
  scratch_dir dir;
  ::chmod(dir.path.c_str(), 01777);  // the user writes here
  exits sink;
  auto runner = make_runner();
  ts::start_options o;
  o.user = user;
  o.cwd = dir.path;
  REQUIRE(runner->start("id -u; id -g; id -G; echo \"$HOME|$USER|$LOGNAME|$SHELL|$PATH\"; "
                        "touch mine && stat -c %u mine",
                        o, sink.handler()));
  REQUIRE(sink.wait(1));
  std::string groups;
  auto sorted = user->groups;
  std::sort(sorted.begin(), sorted.end());
  for (auto g : sorted)
    groups += (groups.empty() ? "" : " ") + std::to_string(g);
  auto uid = std::to_string(user->uid);
  CHECK(sink.at(0).output
        == uid + "\n" + std::to_string(user->gid) + "\n" + groups + "\n" + user->home
             + "|ts-test-user|ts-test-user|" + user->shell + "|/usr/local/bin:/usr/bin:/bin\n"
             + uid + "\n");

  SECTION("a cwd the user may not enter fails the start, saying so") {
    auto closed = dir / "closed";
    REQUIRE(::mkdir(closed.c_str(), 0700) == 0);
    o.cwd = closed;
    auto sp = runner->prepare("true", o, sink.handler());
    REQUIRE(sp);
    REQUIRE(sink.wait(2));
    CHECK(sink.at(1).never_started);
    REQUIRE(sink.at(1).start_error);
    CHECK(sink.at(1).start_error->find("cwd " + closed + ": Permission denied")
          != std::string::npos);
  }
}

TEST_CASE("resolve_user says which user it does not know", "[held][user]") {
  auto u = ts::resolve_user("ts-no-such-user");
  REQUIRE_FALSE(u);
  CHECK(ts::render(u.error()).find("user ts-no-such-user: no such user") != std::string::npos);
  auto root = ts::resolve_user("root");
  REQUIRE(root);
  CHECK(root->uid == 0);
  CHECK(root->home == "/root");
}

TEST_CASE("the exec spec survives any bytes and refuses any damage", "[held][spec]") {
  using namespace ts::exec_spec;
  std::string every;
  for (int c = 1; c < 256; ++c)
    every += static_cast<char>(c);
  spec s;
  s.flags = has_user | has_cwd;
  s.shell = "/bin/sh";
  s.command = every;
  s.cwd = "/tmp/a dir\nwith a newline";
  s.uid = 1001;
  s.gid = 1002;
  s.groups = {1002, 27, 100};
  s.env = {"A=" + every, "EMPTY=", "B=x"};
  auto blob = encode(s);
  view v;
  REQUIRE(decode(blob.data(), blob.size(), v));
  CHECK(v.flags == s.flags);
  CHECK(v.uid == 1001);
  CHECK(v.gid == 1002);
  REQUIRE(v.ngroups == 3);
  CHECK(std::vector<uint32_t>(v.groups, v.groups + 3) == s.groups);
  CHECK(std::string(v.command) == every);
  CHECK(std::string(v.cwd) == s.cwd);
  REQUIRE(v.nenv == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(std::string(v.env[i]) == s.env[i]);
  CHECK(v.env[3] == nullptr);
  // Every truncation, and random damage, is refused or read without going out of bounds
  // (the sanitizer build checks the latter).
  for (size_t n = 0; n < blob.size(); ++n) {
    view cut;
    CHECK_FALSE(decode(blob.data(), n, cut));
  }
  std::mt19937 gen{7};
  for (int round = 0; round < 2000; ++round) {
    auto damaged = blob;
    auto at = std::uniform_int_distribution<size_t>{0, damaged.size() - 1}(gen);
    damaged[at] = static_cast<char>(gen());
    view d;
    decode(damaged.data(), damaged.size(), d);
  }
}
