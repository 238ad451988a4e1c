// The coordinator and its executors on CAF's test scheduler: time moves only when a test
// moves it, persistence and processes are fakes the test drives (tests/actor_fakes.hpp).
#include <catch2/catch.hpp>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "actors/coordinator.hpp"
#include "tests/support/actor_fakes.hpp"

using namespace ts;
using namespace ts::test;

namespace {

constexpr int64_t claim_lead_ms = 100;
constexpr int64_t max_sleep_ms = 1000;

struct coordinator_fixture : actor_harness {
  std::shared_ptr<fake_db> db = std::make_shared<fake_db>();
  std::shared_ptr<fake_runner> runner = std::make_shared<fake_runner>(wall);
  fake_persistence_actor fake;
  coordinator_actor coord;

  explicit coordinator_fixture(size_t max_running = 64) {
    fake = sys.spawn(fake_persistence, db);
    coord = sys.spawn(coordinator, persistence_actor{fake},
                      std::shared_ptr<process_runner>{runner},
                      std::shared_ptr<wall_clock>{wall},
                      coordinator_options{max_running, claim_lead_ms, max_sleep_ms});
    run();
  }

  ~coordinator_fixture() {
    // No executor may outlive the test: stop new runs, end every process, then the actors.
    db->hold_finished = false;
    db->hold_claims = false;
    self->send(fake, release_atom::value);
    self->send(coord, shutdown_atom::value, int64_t{0});
    drain();
    runner->end_all();
    drain();
    self->send_exit(coord, caf::exit_reason::user_shutdown);
    self->send_exit(fake, caf::exit_reason::user_shutdown);
    drain();
    // The exit handlers hold their executors.
    runner->processes.clear();
  }

  caf::expected<task_record> try_schedule(const std::string& command, millis due,
                                          std::optional<std::string> key = std::nullopt) {
    new_task t;
    t.command = command;
    t.due = due;
    t.created_at = now();
    t.idempotency_key = key;
    t.request_hash = key ? "hash-of-" + command : "";
    auto h = self->request(coord, caf::infinite, schedule_atom::value, std::move(t));
    run();
    auto r = poll_reply<task_record>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }

  task_record schedule(const std::string& command, millis due,
                       std::optional<std::string> key = std::nullopt) {
    auto r = try_schedule(command, due, std::move(key));
    REQUIRE(r);
    return std::move(*r);
  }

  /// A task the store already holds (as after a restart); its timer is armed by `load`.
  pending_entry stored(const std::string& command, millis due) {
    task_record r;
    r.id = db->next_task++;
    r.command = command;
    r.due = due;
    r.created_at = now();
    db->tasks[r.id] = r;
    return pending_entry{r.id, due};
  }

  void load(std::vector<pending_entry> entries) {
    self->send(coord, load_atom::value, std::move(entries));
    run();
  }

  coordinator_stats stats() {
    auto h = self->request(coord, caf::infinite, stats_atom::value);
    run();
    auto r = poll_reply<coordinator_stats>(self, h);
    REQUIRE(r);
    REQUIRE(*r);
    return **r;
  }

  /// Ends the process started for `command`.
  void end(const std::string& command, int32_t exit_code = 0,
           std::optional<int32_t> signal = std::nullopt) {
    auto i = runner->index_of(command);
    REQUIRE(i >= 0);
    runner->end(static_cast<size_t>(i), exit_code, signal, "output of " + command);
    run();
  }

  const spawned_process& process_of(const std::string& command) {
    auto i = runner->index_of(command);
    REQUIRE(i >= 0);
    return runner->processes[static_cast<size_t>(i)].spawned;
  }

  /// Advances both clocks 10 ms at a time until `command` has started; returns the time
  /// that took, or -1 when it did not start within `limit_ms`.
  int64_t ms_until_started(const std::string& command, int64_t limit_ms) {
    for (int64_t waited = 0; waited <= limit_ms; waited += 10) {
      if (runner->started(command))
        return waited;
      advance(10);
    }
    return -1;
  }
};

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("a task due in 5 s is claimed just ahead of its time and starts at its time",
          "[coordinator]") {
  coordinator_fixture f;
  auto due = f.now() + 5000;
  auto r = f.schedule("echo five", due);
  CHECK(r.due == due);
  CHECK(f.stats().pending == 1);

  f.advance(4000);
  CHECK(f.db->claim_requests.empty());
  CHECK(f.runner->commands().empty());

  f.advance(950);  // 4.95 s: inside the claim lead, before the due time
  REQUIRE(f.db->claims.size() == 1);
  CHECK(f.db->claims[0].task == r.id);
  CHECK(f.db->claim_requests[0].second >= due - claim_lead_ms);
  CHECK(f.db->claim_requests[0].second < due);
  CHECK(f.runner->commands().empty());
  CHECK(f.stats().running == 1);

  f.advance(50);  // 5 s
  REQUIRE(f.runner->commands() == strings{"echo five"});
  CHECK(f.process_of("echo five").started_at == due);
  // The process is recorded for crash recovery.
  REQUIRE(f.db->starts.size() == 1);
  CHECK(f.db->starts[0].run == f.db->claims[0].run);
  CHECK(f.db->starts[0].pid == f.process_of("echo five").pid);
  CHECK(f.db->starts[0].pgid == f.process_of("echo five").pgid);
  CHECK(f.db->starts[0].start_ticks == 4242);

  f.advance(1500);
  f.end("echo five", 0);
  auto o = f.db->outcome_of(r.id);
  REQUIRE(o);
  CHECK(o->run == f.db->claims[0].run);
  CHECK(o->status == task_status::success);
  CHECK(o->reason == run_reason::none);
  CHECK(o->exit_code == 0);
  CHECK(o->output == "output of echo five");
  CHECK(o->started_at == due);
  CHECK(o->finished_at == due + 1500);
  auto s = f.stats();
  CHECK(s.pending == 0);
  CHECK(s.running == 0);
  CHECK(s.waiting == 0);
}

TEST_CASE("tasks due now or in the past start at once", "[coordinator]") {
  coordinator_fixture f;
  f.schedule("past", f.now() - 60'000);
  f.schedule("now", f.now());
  // No time passes at all.
  CHECK(f.runner->commands() == strings{"past", "now"});
  CHECK(f.stats().running == 2);
}

TEST_CASE("outcomes follow how the process ended", "[coordinator]") {
  coordinator_fixture f;
  auto ok = f.schedule("ok", f.now());
  auto bad = f.schedule("exit 3", f.now());
  auto killed = f.schedule("killed", f.now());
  f.end("ok", 0);
  f.end("exit 3", 3);
  f.end("killed", 0, SIGKILL);
  REQUIRE(f.db->outcomes.size() == 3);
  CHECK(f.db->outcome_of(ok.id)->status == task_status::success);
  auto b = f.db->outcome_of(bad.id);
  CHECK(b->status == task_status::failure);
  CHECK(b->reason == run_reason::exit);
  CHECK(b->exit_code == 3);
  auto k = f.db->outcome_of(killed.id);
  CHECK(k->status == task_status::failure);
  CHECK(k->reason == run_reason::signal);
  CHECK(k->signal == SIGKILL);
  CHECK_FALSE(k->exit_code);
  CHECK(f.stats().running == 0);
}

TEST_CASE("a command that cannot start ends as start_failed and frees its slot",
          "[coordinator]") {
  coordinator_fixture f{1};
  f.runner->fail_starts = true;
  auto a = f.stored("a", f.now() - 2000);
  auto b = f.stored("b", f.now() - 1000);
  f.load({a, b});
  // One slot: the second could only be claimed after the first one's slot came back.
  REQUIRE(f.db->outcomes.size() == 2);
  for (auto& o : f.db->outcomes) {
    CHECK(o.status == task_status::failure);
    CHECK(o.reason == run_reason::start_failed);
    CHECK_FALSE(o.started_at);
  }
  CHECK(f.db->starts.empty());
  CHECK(f.stats().running == 0);
}

TEST_CASE("no more than max_running run at once, and the next in due order starts as one ends",
          "[coordinator]") {
  coordinator_fixture f{2};
  auto t0 = f.now();
  // Loaded out of order: due order is t1 < t2 < t3 < t4 < t5.
  f.load({f.stored("t4", t0 - 2000), f.stored("t1", t0 - 5000), f.stored("t5", t0 - 1000),
          f.stored("t3", t0 - 3000), f.stored("t2", t0 - 4000)});
  CHECK(f.runner->commands() == strings{"t1", "t2"});
  auto s = f.stats();
  CHECK(s.running == 2);
  CHECK(s.waiting == 3);
  CHECK(s.pending == 0);

  f.advance(5000);  // time alone frees no slot
  CHECK(f.runner->commands() == strings{"t1", "t2"});

  f.end("t2");
  CHECK(f.runner->commands() == strings{"t1", "t2", "t3"});
  f.end("t1");
  CHECK(f.runner->commands() == strings{"t1", "t2", "t3", "t4"});
  CHECK(f.stats().running == 2);
  f.end("t4");
  CHECK(f.runner->commands() == strings{"t1", "t2", "t3", "t4", "t5"});
  f.end("t3");
  f.end("t5");
  s = f.stats();
  CHECK(s.running == 0);
  CHECK(s.waiting == 0);
  CHECK(f.db->outcomes.size() == 5);
}

TEST_CASE("the overflow waits in due order: a later-due task never jumps ahead",
          "[coordinator]") {
  coordinator_fixture f{1};
  f.schedule("long", f.now());
  REQUIRE(f.runner->commands() == strings{"long"});
  // Scheduled first but due last.
  f.schedule("late", f.now() + 2000);
  f.schedule("early", f.now() + 1000);
  f.advance(3000);
  CHECK(f.stats().waiting == 2);
  // Scheduled last, but overdue: it is first in line.
  f.schedule("overdue", f.now() - 10'000);
  CHECK(f.stats().waiting == 3);
  CHECK(f.runner->commands() == strings{"long"});

  f.end("long");
  CHECK(f.runner->commands() == strings{"long", "overdue"});
  f.end("overdue");
  CHECK(f.runner->commands() == strings{"long", "overdue", "early"});
  f.end("early");
  CHECK(f.runner->commands() == strings{"long", "overdue", "early", "late"});
}

TEST_CASE("a wall-clock step forward fires tasks by the new wall time within a second",
          "[coordinator]") {
  coordinator_fixture f;
  f.schedule("in an hour", f.now() + 3'600'000);
  f.advance(1500);
  CHECK(f.runner->commands().empty());

  f.step_wall(3'600'000);  // NTP steps the clock; CAF's timers do not notice
  auto waited = f.ms_until_started("in an hour", 2 * max_sleep_ms);
  CHECK(waited >= 0);
  CHECK(waited <= max_sleep_ms);
}

TEST_CASE("after a wall-clock step forward, a task due now still starts at once",
          "[coordinator]") {
  coordinator_fixture f;
  f.schedule("far", f.now() + 86'400'000);  // arms the periodic wall-clock check
  f.advance(300);
  f.step_wall(600'000);
  f.schedule("now", f.now());
  // No time passes: a tick armed before the step must not stand in for an immediate one.
  CHECK(f.runner->commands() == strings{"now"});
}

TEST_CASE("a wall-clock step backward never fires a task early", "[coordinator]") {
  coordinator_fixture f;
  auto due = f.now() + 5000;
  f.schedule("soon", due);
  f.advance(2000);
  f.step_wall(-3'600'000);
  f.advance(10'000);  // 10 s pass, but the wall clock is still ~50 min before the due time
  CHECK(f.db->claim_requests.empty());
  CHECK(f.runner->commands().empty());
  CHECK(f.stats().pending == 1);

  f.step_wall(3'600'000);  // the wall clock is now 7 s past the due time
  auto waited = f.ms_until_started("soon", 2 * max_sleep_ms);
  CHECK(waited >= 0);
  CHECK(waited <= max_sleep_ms);
}

TEST_CASE("tasks loaded at start-up fire at their time", "[coordinator]") {
  coordinator_fixture f;
  auto t0 = f.now();
  f.load({f.stored("in 3 s", t0 + 3000), f.stored("missed", t0 - 60'000),
          f.stored("in 2 s", t0 + 2000)});
  // Missed while the service was down: runs at once.
  CHECK(f.runner->commands() == strings{"missed"});
  CHECK(f.stats().pending == 2);
  f.advance(1990);
  CHECK(f.runner->commands() == strings{"missed"});
  f.advance(10);
  CHECK(f.runner->commands() == strings{"missed", "in 2 s"});
  CHECK(f.process_of("in 2 s").started_at == t0 + 2000);
  f.advance(990);
  CHECK(f.runner->commands() == strings{"missed", "in 2 s"});
  f.advance(10);
  CHECK(f.runner->commands() == strings{"missed", "in 2 s", "in 3 s"});
  CHECK(f.process_of("in 3 s").started_at == t0 + 3000);
}

TEST_CASE("a replayed schedule request does not arm its task again", "[coordinator]") {
  coordinator_fixture f;
  auto first = f.schedule("once", f.now(), "key-1");
  CHECK_FALSE(first.replayed);
  REQUIRE(f.runner->commands() == strings{"once"});
  f.end("once");
  REQUIRE(f.db->outcome_of(first.id));

  // The client retries after a timeout: same key, same body.
  auto again = f.schedule("once", f.now(), "key-1");
  CHECK(again.replayed);
  CHECK(again.id == first.id);
  f.advance(3000);
  CHECK(f.db->claims_of(first.id) == 1);
  CHECK(f.runner->commands() == strings{"once"});
  CHECK(f.stats().pending == 0);
}

TEST_CASE("stats report pending, waiting and running tasks", "[coordinator]") {
  coordinator_fixture f{1};
  auto t0 = f.now();
  f.load({f.stored("running", t0 - 2000), f.stored("waiting", t0 - 1000),
          f.stored("pending", t0 + 60'000), f.stored("pending too", t0 + 120'000)});
  auto s = f.stats();
  CHECK(s.pending == 2);
  CHECK(s.waiting == 1);
  CHECK(s.running == 1);
  CHECK_FALSE(s.shutting_down);
}

TEST_CASE("during a database outage a due task waits, and starts once the database is back",
          "[coordinator]") {
  coordinator_fixture f;
  auto r = f.schedule("needs the db", f.now() + 1000);
  f.db->down = true;
  f.advance(1000);
  CHECK(f.db->claims_of(r.id) >= 1);  // tried at its time
  CHECK(f.runner->commands().empty());
  f.advance(5000);
  auto tries = f.db->claims_of(r.id);
  CHECK(tries >= 2);  // and again while the outage lasts
  CHECK(f.runner->commands().empty());
  auto s = f.stats();
  CHECK(s.waiting == 1);
  CHECK(s.running == 0);

  // Scheduling during the outage is refused, not acknowledged.
  auto refused = f.try_schedule("refused", f.now());
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ec::unavailable);

  f.db->down = false;
  auto waited = f.ms_until_started("needs the db", 2000);
  CHECK(waited >= 0);
  CHECK(waited <= 1000);
  CHECK(f.db->claims.size() == 1);
  CHECK(f.runner->commands() == strings{"needs the db"});
}

TEST_CASE("shutdown lets a running command finish within the grace period",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  auto r = f.schedule("short", f.now());
  REQUIRE(f.runner->started("short"));
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{10'000});
  f.run();
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));
  CHECK(f.stats().shutting_down);
  f.advance(3000);
  CHECK(f.runner->signals.empty());
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));

  f.end("short", 0);
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  auto o = f.db->outcome_of(r.id);
  REQUIRE(o);
  CHECK(o->status == task_status::success);
  CHECK(o->reason == run_reason::none);
  f.advance(20'000);  // past the grace: nothing left to kill
  CHECK(f.runner->signals.empty());
}

TEST_CASE("after the grace period a run gets SIGTERM, SIGKILL 5 s later, and ends interrupted",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  auto r = f.schedule("stubborn", f.now());
  auto pgid = f.process_of("stubborn").pgid;
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{2000});
  f.advance(1990);
  CHECK(f.runner->signals.empty());
  f.advance(10);
  REQUIRE(f.runner->signals.size() == 1);
  CHECK(f.runner->signals[0] == std::make_pair(pgid, SIGTERM));
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));

  f.advance(4990);  // it ignores SIGTERM
  CHECK(f.runner->signals.size() == 1);
  f.advance(10);
  REQUIRE(f.runner->signals.size() == 2);
  CHECK(f.runner->signals[1] == std::make_pair(pgid, SIGKILL));
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));
  CHECK(f.db->outcomes.empty());

  f.end("stubborn", 0, SIGKILL);
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  auto o = f.db->outcome_of(r.id);
  REQUIRE(o);
  CHECK(o->status == task_status::failure);
  CHECK(o->reason == run_reason::interrupted);
  CHECK(o->signal == SIGKILL);
  f.advance(10'000);
  CHECK(f.runner->signals.size() == 2);
}

TEST_CASE("a run whose leader ends on SIGTERM: what it left is killed at once, not later",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  auto r = f.schedule("polite", f.now());
  auto pgid = f.process_of("polite").pgid;
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{1000});
  f.advance(1000);
  REQUIRE(f.runner->signals.size() == 1);
  f.end("polite", 0, SIGTERM);
  // The leader is gone; whatever of the run ignored SIGTERM goes now, and the shutdown
  // does not wait for the kill grace.
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  REQUIRE(f.runner->signals.size() == 2);
  CHECK(f.runner->signals[1] == std::make_pair(pgid, SIGKILL));
  f.advance(10'000);
  CHECK(f.runner->signals.size() == 2);
  auto o = f.db->outcome_of(r.id);
  REQUIRE(o);
  CHECK(o->status == task_status::failure);
  CHECK(o->reason == run_reason::interrupted);
  CHECK(o->signal == SIGTERM);
}

TEST_CASE("the shutdown reply comes only once every outcome is recorded",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  f.db->hold_finished = true;
  f.schedule("a", f.now());
  f.schedule("b", f.now());
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{30'000});
  f.run();
  f.end("a");
  CHECK(f.db->outcomes.size() == 1);
  f.self->send(f.fake, release_atom::value);
  f.run();
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));  // b still runs
  f.end("b");
  CHECK(f.db->outcomes.size() == 2);
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));  // b's outcome is not yet acknowledged
  f.self->send(f.fake, release_atom::value);
  f.run();
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
}

TEST_CASE("runs claimed ahead of their time are unclaimed at shutdown and never start",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  auto r = f.schedule("ahead", f.now() + 5000);
  f.advance(4950);
  REQUIRE(f.db->claims.size() == 1);
  REQUIRE(f.runner->commands().empty());
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{30'000});
  f.run();
  CHECK(f.db->unclaims == std::vector<run_id>{f.db->claims[0].run});
  CHECK(f.db->tasks[r.id].status == task_status::pending);
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  f.advance(3000);
  CHECK(f.runner->commands().empty());
  CHECK(f.db->claim_requests.size() == 1);
  CHECK(f.stats().running == 0);
}

TEST_CASE("a claim answered after shutdown began is undone, its task never starts",
          "[coordinator][shutdown]") {
  coordinator_fixture f;
  f.db->hold_claims = true;
  auto r = f.schedule("in flight", f.now());
  REQUIRE(f.db->claims.size() == 1);  // granted, the answer still on its way
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{30'000});
  f.run();
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, h));  // the claim holds a run slot
  f.self->send(f.fake, release_atom::value);
  f.run();
  CHECK(f.db->unclaims == std::vector<run_id>{f.db->claims[0].run});
  CHECK(f.db->tasks[r.id].status == task_status::pending);
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  f.advance(3000);
  CHECK(f.runner->commands().empty());
}

TEST_CASE("during shutdown nothing new is scheduled or started", "[coordinator][shutdown]") {
  coordinator_fixture f;
  f.schedule("running", f.now());
  auto later = f.schedule("due during shutdown", f.now() + 1000);
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{30'000});
  f.run();

  auto refused = f.try_schedule("too late", f.now());
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ec::shutting_down);
  CHECK(f.db->tasks.size() == 2);  // never reached persistence

  f.advance(3000);
  CHECK(f.db->claims_of(later.id) == 0);
  CHECK(f.runner->commands() == strings{"running"});
  CHECK(f.db->tasks[later.id].status == task_status::pending);

  auto again = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{0});
  f.run();
  auto second = poll_reply<caf::ok_atom>(f.self, again);
  CHECK(is_error(second, ec::shutting_down));

  f.end("running");
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
}

TEST_CASE("shutdown with nothing running answers at once", "[coordinator][shutdown]") {
  coordinator_fixture f;
  f.schedule("tomorrow", f.now() + 86'400'000);
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{30'000});
  f.run();
  auto reply = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(reply);
  CHECK(*reply);
  CHECK(f.db->claim_requests.empty());
}

TEST_CASE("a retry armed by an executor starts at its time", "[coordinator][retry]") {
  coordinator_fixture f;
  // As after a failed attempt: the store has the task pending again at its retry time, and
  // the executor tells the coordinator to arm it.
  auto e = f.stored("again", f.now() + 3000);
  f.self->send(f.coord, rearm_atom::value, e.id, e.due);
  f.run();
  f.advance(2990);
  CHECK_FALSE(f.runner->started("again"));
  CHECK(f.ms_until_started("again", 100) >= 0);
  CHECK(f.stats().pending == 0);
}

TEST_CASE("a cancel during a retry delay drops the armed retry", "[coordinator][retry]") {
  coordinator_fixture f;
  auto e = f.stored("again", f.now() + 3000);
  f.self->send(f.coord, rearm_atom::value, e.id, e.due);
  f.run();
  f.advance(1000);  // inside the delay
  auto h = f.self->request(f.coord, caf::infinite, cancel_atom::value, e.id, request_key{});
  f.run();
  auto reply = poll_reply<task_change>(f.self, h);
  REQUIRE(reply);
  REQUIRE(*reply);
  CHECK((*reply)->task.state == task_state::cancelled);
  CHECK_FALSE((*reply)->stop_run);
  // Past the retry's time and its claim lead: no claim, no process.
  f.advance(5000);
  CHECK(f.db->claims_of(e.id) == 0);
  CHECK(f.runner->processes.empty());
  CHECK(f.stats().pending == 0);
}

TEST_CASE("a retry armed during shutdown is left for the next start", "[coordinator][retry]") {
  coordinator_fixture f;
  auto e = f.stored("later", f.now() + 100);
  auto h = f.self->request(f.coord, caf::infinite, shutdown_atom::value, int64_t{0});
  f.run();
  f.self->send(f.coord, rearm_atom::value, e.id, e.due);
  f.run();
  f.advance(1000);
  CHECK_FALSE(f.runner->started("later"));
  CHECK(poll_reply<caf::ok_atom>(f.self, h));
}

TEST_CASE("a claimed run waits held during the claim lead and is released at its time",
          "[coordinator][held]") {
  coordinator_fixture f;
  f.schedule("held", f.now() + 5000);
  f.advance(4950);  // inside the claim lead
  REQUIRE(f.runner->processes.size() == 1);
  CHECK(f.runner->processes[0].held);
  CHECK_FALSE(f.runner->started("held"));
  // The helper knows its run before it runs anything.
  REQUIRE(f.runner->processes[0].options.identity);
  CHECK(f.runner->processes[0].options.identity->attempt == 1);
  CHECK(f.ms_until_started("held", 100) >= 0);
  CHECK(f.runner->processes[0].released);
}

TEST_CASE("a cancel of a held run never releases it and ends it cancelled",
          "[coordinator][held]") {
  coordinator_fixture f;
  auto r = f.schedule("never", f.now() + 5000);
  f.advance(4950);
  REQUIRE(f.runner->processes.size() == 1);
  auto h = f.self->request(f.coord, caf::infinite, cancel_atom::value, r.id, request_key{});
  f.run();
  f.advance(1000);
  CHECK_FALSE(f.runner->started("never"));
  CHECK(f.runner->processes[0].ended);
  auto o = f.db->outcome_of(r.id);
  REQUIRE(o);
  CHECK(o->reason == run_reason::cancelled);
  CHECK_FALSE(o->started_at);
  (void) h;
}
