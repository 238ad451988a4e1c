// Every process of a run dies, in both kill modes, and crash recovery on real leftovers.
// Included by test_process_runner.cpp after test_held_start.ipp (whose helpers it uses).

namespace {

// A live process of a run, found by the test's own scan of /proc (not the runner's).
struct member {
  int32_t pid = 0;
  long sid = 0;
  std::string comm;
};

std::vector<member> members(const ts::run_scope& scope, ts::run_id run) {
  const std::string id = "TS_RUN_ID=" + std::to_string(run);
  const std::string in_scope = "TS_RUN_SCOPE=" + scope.name;
  std::vector<member> out;
  DIR* dir = ::opendir("/proc");
  REQUIRE(dir != nullptr);
  while (auto* e = ::readdir(dir)) {
    std::string pid = e->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto env = ts::test::slurp("/proc/" + pid + "/environ");
    std::vector<std::string> entries;
    std::stringstream in{env};
    for (std::string entry; std::getline(in, entry, '\0');)
      entries.push_back(entry);
    auto has = [&](const std::string& x) {
      return std::find(entries.begin(), entries.end(), x) != entries.end();
    };
    if (!has(id) || !has(in_scope))
      continue;
    auto stat = ts::test::slurp("/proc/" + pid + "/stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos)
      continue;
    std::istringstream rest{stat.substr(close + 2)};
    char state = 0;
    long ppid = 0, pgrp = 0;
    member m;
    rest >> state >> ppid >> pgrp >> m.sid;
    if (state == 'Z' || state == 'X')
      continue;
    m.pid = std::stoi(pid);
    m.comm = stat.substr(open + 1, close - open - 1);
    out.push_back(m);
  }
  ::closedir(dir);
  return out;
}

// A sleep of the run that left the session (the runner's, and so the command's: the helper
// starts a process group, not a session). It ignores SIGTERM: sh set the trap before it.
bool escaped(const std::vector<member>& ms) {
  auto session = ::getsid(0);
  return std::any_of(ms.begin(), ms.end(),
                     [&](const member& m) { return m.comm == "sleep" && m.sid != session; });
}

// The scope for `mode` on `state`; nullopt (with a WARN) where cgroups cannot work here.
std::optional<ts::run_scope> scope_for(ts::kill_mode mode, const std::string& state) {
  auto scope = ts::resolve_scope(ts::test::options(mode, state));
  if (!scope.error.empty()) {
    WARN("kill mode " << ts::to_string(mode) << " not tested: " << scope.error);
    return std::nullopt;
  }
  REQUIRE(scope.mode == mode);
  return scope;
}

const char* escaping_command = "setsid sh -c 'trap \"\" TERM; sleep 100' & sleep 100";

// Appends the start marks of `runs`, as a dead service's helpers would have left them.
void append_marks(const std::string& path, std::initializer_list<ts::run_id> runs) {
  std::ofstream out{path, std::ios::binary | std::ios::app};
  for (auto run : runs) {
    char record[ts::start_marks::record_size];
    ts::start_marks::make_record(static_cast<uint64_t>(run), record);
    out.write(record, sizeof(record));
  }
  REQUIRE(out);
}

} // namespace

TEST_CASE("the whole tree dies, setsid or not, in both kill modes", "[kill]") {
  for (auto mode : {ts::kill_mode::cgroup, ts::kill_mode::scan}) {
    DYNAMIC_SECTION("kill mode " << ts::to_string(mode)) {
      ts::test::state_dir state;
      auto scope = scope_for(mode, state.path);
      if (!scope)
        return;
      auto runner = make_runner(ts::test::options(mode, state.path));
      CHECK(runner->active_kill_mode() == mode);
      exits sink;
      auto run = ts::test::fresh_run();
      auto sp = runner->start(escaping_command, with_identity(run), sink.handler());
      ts::test::require_ok(sp);
      REQUIRE(eventually([&] { return escaped(members(*scope, run)); }));
      runner->signal_run(*sp, SIGTERM);
      REQUIRE(sink.wait(1));
      CHECK(sink.at(0).signal == SIGTERM);
      // What ignores TERM outlived it in its own session, as it would in a plain group kill.
      std::this_thread::sleep_for(100ms);
      CHECK(escaped(members(*scope, run)));
      runner->signal_run(*sp, SIGKILL);
      CHECK(eventually([&] { return members(*scope, run).empty(); }));
      if (mode == ts::kill_mode::cgroup)  // removed once empty, by the runner's own retry
        CHECK(eventually([&] { return !exists(ts::run_cgroup(*scope, std::to_string(run))); }));
    }
  }
}

TEST_CASE("a scan kills only its own scope's run of the same id", "[kill]") {
  ts::test::state_dir a_state, b_state;
  auto a = make_runner(ts::test::options(ts::kill_mode::scan, a_state.path));
  auto b = make_runner(ts::test::options(ts::kill_mode::scan, b_state.path));
  exits a_sink, b_sink;
  auto run = ts::test::fresh_run();
  auto pa = a->start("sleep 100", with_identity(run), a_sink.handler());
  auto pb = b->start("sleep 100", with_identity(run), b_sink.handler());
  REQUIRE(pa);
  REQUIRE(pb);
  b->signal_run(*pb, SIGKILL);
  REQUIRE(b_sink.wait(1));
  std::this_thread::sleep_for(100ms);
  CHECK(a_sink.size() == 0);
  a->signal_run(*pa, SIGKILL);
  REQUIRE(a_sink.wait(1));
}

TEST_CASE("auto_detect says what it chose, and a forced cgroup mode that cannot work fails",
          "[kill]") {
  ts::test::state_dir state;
  auto forced_scan = make_runner(ts::test::options(ts::kill_mode::scan, state.path));
  CHECK(forced_scan->active_kill_mode() == ts::kill_mode::scan);
  CHECK(forced_scan->kill_mode_detail() == "scan (forced)");
  auto detected = make_runner(ts::test::options(ts::kill_mode::auto_detect, state.path));
  INFO(detected->kill_mode_detail());
  if (::geteuid() == 0 && ts::resolve_scope(ts::test::options()).mode == ts::kill_mode::cgroup)
    CHECK(detected->kill_mode_detail().rfind("cgroup (", 0) == 0);
  auto o = ts::test::options(ts::kill_mode::cgroup, state.path);
  o.cgroup_parent = state / "not-a-cgroup";
  auto broken = make_runner(o);
  exits sink;
  auto sp = broken->start("true", {}, sink.handler());
  REQUIRE_FALSE(sp);
  CHECK(ts::render(sp.error()).find("kill mode cgroup is not available") != std::string::npos);
  o.kill = ts::kill_mode::auto_detect;
  auto fallback = make_runner(o);
  CHECK(fallback->active_kill_mode() == ts::kill_mode::scan);
  CHECK(fallback->kill_mode_detail().find("is not in the cgroup2 hierarchy") != std::string::npos);
  CHECK(ts::parse_kill_mode("auto") == ts::kill_mode::auto_detect);
  CHECK(ts::parse_kill_mode("cgroup") == ts::kill_mode::cgroup);
  CHECK_FALSE(ts::parse_kill_mode("group"));
}

TEST_CASE("recovery on what a crashed service left: a run started and one held", "[kill]") {
  for (auto mode : {ts::kill_mode::cgroup, ts::kill_mode::scan}) {
    DYNAMIC_SECTION("kill mode " << ts::to_string(mode)) {
      scratch_dir dir;
      ts::test::state_dir state;
      if (!scope_for(mode, state.path))
        return;
      auto o = ts::test::options(mode, state.path);
      auto started = ts::test::fresh_run();
      auto held = ts::test::fresh_run();
      auto s = crashed_service(o, [&](process_runner& r) {
        auto p = r.start(escaping_command, with_identity(started), [](auto) {});
        return p ? *p : spawned_process{};
      });
      auto touch = "touch '" + (dir / "ran") + "'";
      auto h = crashed_service(o, [&](process_runner& r) {
        auto p = r.prepare(touch, with_identity(held), [](auto) {});
        return p ? *p : spawned_process{};
      });
      // The restarted service resolves the same scope from the same options.
      auto scope = ts::resolve_scope(o);
      REQUIRE(eventually([&] { return escaped(members(scope, started)); }));
      CHECK(ts::classify_leftover(scope, started, s.pid, s.start_ticks)
            == ts::run_fate::may_have_started);
      CHECK(ts::kill_run_leftovers(scope, started));
      CHECK(members(scope, started).empty());
      CHECK(ts::classify_leftover(scope, held, h.pid, h.start_ticks)
            == ts::run_fate::never_started);
      CHECK(members(scope, held).empty());
      CHECK_FALSE(exists(dir / "ran"));
      if (mode == ts::kill_mode::cgroup) {
        CHECK_FALSE(exists(ts::run_cgroup(scope, std::to_string(started))));
        CHECK_FALSE(exists(ts::run_cgroup(scope, std::to_string(held))));
      }
      // Both fates recorded: no mark is kept (the held run never had one written).
      CHECK(ts::prune_finished_runs(scope, {}) == 1);
      CHECK(ts::start_marks::read_marked(state / "started.slots").empty());
    }
  }
}

TEST_CASE("classify_leftover kills a helper still held before it answers", "[kill]") {
  ts::test::state_dir state;
  auto o = ts::test::options(ts::kill_mode::auto_detect, state.path);
  auto runner = make_runner(o);
  exits sink;
  auto run = ts::test::fresh_run();
  auto sp = runner->prepare("true", with_identity(run), sink.handler());
  REQUIRE(sp);
  auto scope = ts::resolve_scope(o);
  CHECK(ts::classify_leftover(scope, run, sp->pid, sp->start_ticks)
        == ts::run_fate::never_started);
  REQUIRE(sink.wait(1));
  CHECK(sink.at(0).never_started);
  CHECK(sink.at(0).signal == SIGKILL);
}

TEST_CASE("a released run's start mark says it may have started, until forget", "[kill]") {
  ts::test::state_dir state;
  auto o = ts::test::options(ts::kill_mode::auto_detect, state.path);
  auto runner = make_runner(o);
  exits sink;
  auto run = ts::test::fresh_run();
  auto sp = runner->start("true", with_identity(run), sink.handler());
  ts::test::require_ok(sp);
  REQUIRE(sink.wait(1));
  auto marks = state / "started.slots";
  using runs = std::vector<ts::run_id>;
  CHECK(ts::start_marks::read_marked(marks) == runs{run});
  auto scope = ts::resolve_scope(o);
  CHECK(ts::classify_leftover(scope, run, sp->pid, sp->start_ticks)
        == ts::run_fate::may_have_started);
  runner->forget(*sp);
  CHECK(ts::start_marks::read_marked(marks).empty());
  // Marks of other runs go at the prune, the ones kept stay.
  append_marks(marks, {1, 2});
  CHECK(ts::start_marks::read_marked(marks) == runs{1, 2});
  CHECK(ts::prune_finished_runs(scope, {2}) == 1);
  CHECK(ts::start_marks::read_marked(marks) == runs{2});
}

TEST_CASE("start mark slots are reused once given back, and never over a dead service's",
          "[kill]") {
  ts::test::state_dir state;
  auto marks = state / "started.slots";
  append_marks(marks, {41});  // a dead service's run: slot 0
  ts::start_marks::slots s{marks};
  REQUIRE(s.error().empty());
  auto a = s.take(7);
  auto b = s.take(8);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != 0);
  CHECK(*b != 0);
  CHECK(*a != *b);
  CHECK(s.take(7) == a);  // one slot per run
  s.give_back(7);
  auto c = s.take(9);
  CHECK(c == a);  // reused
  // Once recovery clears the dead run's record, its slot is handed out too.
  ts::start_marks::clear(marks, 41);
  s.give_back(8);
  s.give_back(9);
  std::vector<uint64_t> offsets;
  for (ts::run_id r = 10; r < 13; ++r)
    offsets.push_back(s.take(r).value_or(99));
  std::sort(offsets.begin(), offsets.end());
  CHECK(offsets == std::vector<uint64_t>{0, 16, 32});
  CHECK_FALSE(s.take(0));  // a start without a run has no mark
}
