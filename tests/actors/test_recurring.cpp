// Recurring tasks through the real actors on CAF's test scheduler: the coordinator, its
// executors and the persistence actor over a real SQLite file, with processes from a fake
// runner and a clock that moves only when the test moves it. Each overlap and misfire
// policy, and pause/resume, as the running service would see them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/coordinator.hpp"
#include "actors/persistence.hpp"
#include "storage/store.hpp"
#include "tests/support/actor_fakes.hpp"

using namespace ts;
using namespace ts::test;

namespace {

constexpr millis s = 1000;

struct recurring_fixture : actor_harness {
  std::filesystem::path dir;
  std::shared_ptr<storage::store> store;
  std::shared_ptr<fake_runner> runner = std::make_shared<fake_runner>(wall);
  persistence_owner_actor db;
  coordinator_actor coord;

  recurring_fixture() {
    char tmpl[] = "/tmp/ts-recurring-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto opened = storage::open_store("sqlite:" + (dir / "t.db").string());
    REQUIRE(opened);
    store = std::shared_ptr<storage::store>{std::move(*opened)};
    db = sys.spawn(persistence, store, default_persistence_options());
    coord = sys.spawn(coordinator, persistence_actor{db}, std::shared_ptr<process_runner>{runner},
                      std::shared_ptr<wall_clock>{wall}, default_coordinator_options());
    run();
  }

  ~recurring_fixture() {
    self->send(coord, shutdown_atom::value, int64_t{0});
    drain();
    runner->end_all();
    drain();
    self->send_exit(coord, caf::exit_reason::user_shutdown);
    self->send_exit(db, caf::exit_reason::user_shutdown);
    drain();
    runner->processes.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// Every `period_s` from `anchor` (default: now).
  task_id schedule(int64_t period_s, overlap_policy overlap,
                   misfire_policy misfire = misfire_policy::run_once,
                   std::optional<millis> anchor = std::nullopt, int32_t history_keep = 100) {
    new_task t;
    t.command = "tick";
    t.created_at = now();
    t.recur.every_s = period_s;
    t.recur.anchor = anchor.value_or(now());
    t.due = *t.recur.anchor;
    t.policy.overlap = overlap;
    t.policy.misfire = misfire;
    t.policy.history_keep = history_keep;
    auto h = self->request(coord, caf::infinite, schedule_atom::value, std::move(t));
    run();
    auto r = poll_reply<task_record>(self, h);
    REQUIRE(r);
    REQUIRE(*r);
    return (*r)->id;
  }

  /// Every `period_s` from now, `command`, with the given policies and retries.
  new_task every(int64_t period_s, std::string command, overlap_policy overlap,
                 int32_t attempts = 1) {
    new_task t;
    t.command = std::move(command);
    t.created_at = now();
    t.recur.every_s = period_s;
    t.recur.anchor = now();
    t.due = now();
    t.policy.overlap = overlap;
    t.controls.retry.max_attempts = attempts;
    t.controls.retry.delay_ms = 1000;
    t.controls.retry.jitter = retry_jitter::none;
    return t;
  }

  task_id schedule(new_task t) {
    auto h = self->request(coord, caf::infinite, schedule_atom::value, std::move(t));
    run();
    auto r = poll_reply<task_record>(self, h);
    REQUIRE(r);
    REQUIRE(*r);
    return (*r)->id;
  }

  /// A PATCH: the task becomes `t`, from the version the file holds now.
  task_change edit(task_id id, new_task t, bool schedule_changed) {
    auto info = store->get_task_info(id, 0);
    REQUIRE(info);
    task_edit e{id, info->version, std::move(t), schedule_changed};
    auto h = self->request(coord, caf::infinite, edit_atom::value, std::move(e));
    advance(20);
    auto r = poll_reply<task_change>(self, h);
    REQUIRE(r);
    REQUIRE(*r);
    return std::move(**r);
  }

  template <class Atom>
  task_change change(Atom atom, task_id id) {
    auto h = self->request(coord, caf::infinite, atom, id, request_key{});
    advance(20);
    auto r = poll_reply<task_change>(self, h);
    REQUIRE(r);
    REQUIRE(*r);
    return std::move(**r);
  }

  /// The processes that really started (released from their hold).
  size_t started() const {
    return static_cast<size_t>(std::count_if(runner->processes.begin(), runner->processes.end(),
                                             [](auto& p) { return p.released; }));
  }

  size_t running() const {
    return static_cast<size_t>(std::count_if(runner->processes.begin(), runner->processes.end(),
                                             [](auto& p) { return p.released && !p.ended; }));
  }

  /// The task's runs, oldest first, read from the file.
  std::vector<run_info> runs(task_id id) {
    run_filter f;
    f.task = id;
    f.limit = 100;
    auto page = store->list_runs(f);
    REQUIRE(page);
    std::reverse(page->items.begin(), page->items.end());
    return page->items;
  }

  std::vector<run_info> skipped(task_id id) {
    auto all = runs(id);
    std::vector<run_info> out;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                 [](const run_info& r) { return r.status == run_status::skipped; });
    return out;
  }
};

} // namespace

TEST_CASE("a recurring task runs each occurrence on time, one at a time", "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(2, overlap_policy::skip);
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.runner->end(0, 0);
  f.advance(2 * s);
  REQUIRE(f.started() == 2);
  f.runner->end(1, 0);
  f.advance(2 * s);
  REQUIRE(f.started() == 3);
  f.runner->end(2, 0);
  f.advance(100);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 3);
  for (size_t i = 0; i < rs.size(); ++i) {
    CHECK(rs[i].scheduled_for == t0 + static_cast<millis>(i) * 2 * s);
    CHECK(rs[i].status == run_status::success);
    // Started at its time (the fake clock moves in 10 ms steps).
    REQUIRE(rs[i].started_at);
    CHECK(*rs[i].started_at - rs[i].scheduled_for < 20);
  }
}

TEST_CASE("overlap skip: while a run goes on, its occurrences are one skipped record",
          "[recurring]") {
  recurring_fixture f;
  auto id = f.schedule(2, overlap_policy::skip);
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.advance(6 * s);  // three occurrences pass
  CHECK(f.started() == 1);
  auto sk = f.skipped(id);
  REQUIRE(sk.size() == 1);
  CHECK(sk[0].skip == skip_reason::overlap);
  CHECK(sk[0].missed_count == 3);
  f.runner->end(0, 0);
  f.advance(2 * s);
  CHECK(f.started() == 2);
}

TEST_CASE("overlap queue: the next occurrence starts as soon as the active run ends",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(2, overlap_policy::queue);
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.advance(4 * s);  // t0+2 s queued, t0+4 s skipped
  CHECK(f.started() == 1);
  f.runner->end(0, 0);
  f.advance(50);
  REQUIRE(f.started() == 2);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 3);
  CHECK(rs[1].status == run_status::skipped);
  CHECK(rs[1].scheduled_for == t0 + 4 * s);
  CHECK(rs[2].scheduled_for == t0 + 2 * s);
  CHECK(rs[2].status == run_status::running);
}

TEST_CASE("overlap queue: a queued occurrence starts when the retry it waited for ends",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(f.every(10, "tick", overlap_policy::queue, 2));
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.advance(10 * s);  // t0+10 s queues behind the first attempt
  f.runner->end(0, 1);  // fails: the second attempt waits 1 s, the queued one behind it
  f.advance(50);
  CHECK(f.started() == 1);
  f.advance(1 * s);
  REQUIRE(f.started() == 2);
  f.runner->end(1, 0);
  // At once, not at the next occurrence (t0+20 s).
  f.advance(50);
  REQUIRE(f.started() == 3);
  CHECK(f.now() < t0 + 12 * s);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 3);  // the two attempts of t0, and t0+10 s
  CHECK(rs[1].attempt == 2);
  CHECK(rs[1].status == run_status::success);
  CHECK(rs[2].scheduled_for == t0 + 10 * s);
  CHECK(rs[2].status == run_status::running);
}

TEST_CASE("overlap replace: the active run is stopped, ends replaced, the new one starts",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(2, overlap_policy::replace);
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.advance(2 * s);
  REQUIRE_FALSE(f.runner->signals.empty());
  CHECK(f.started() == 1);
  f.runner->end(0, 0, 15);
  f.advance(50);
  REQUIRE(f.started() == 2);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == run_status::failure);
  CHECK(rs[0].reason == run_reason::replaced);
  CHECK(rs[1].scheduled_for == t0 + 2 * s);
}

TEST_CASE("overlap allow: occurrences run beside each other", "[recurring]") {
  recurring_fixture f;
  f.schedule(2, overlap_policy::allow);
  f.advance(4 * s + 100);
  CHECK(f.started() == 3);
  CHECK(f.running() == 3);
}

TEST_CASE("misfire run_all: missed occurrences run one after another, oldest first",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  // Every minute from 5 minutes ago: t0-300 s .. t0-120 s are missed (older than 60 s),
  // t0-60 s is within the grace, t0 is on time.
  auto id = f.schedule(60, overlap_policy::skip, misfire_policy::run_all, t0 - 300 * s);
  f.advance(100);
  for (size_t i = 0; i < 4; ++i) {
    REQUIRE(f.started() == i + 1);
    CHECK(f.running() == 1);
    f.runner->end(i, 0);
    f.advance(100);
  }
  auto rs = f.runs(id);
  REQUIRE(rs.size() >= 4);
  for (size_t i = 0; i < 4; ++i)
    CHECK(rs[i].scheduled_for == t0 - 300 * s + static_cast<millis>(i) * 60 * s);
  // None of them was skipped as missed (the on-time one may overlap the last catch-up run).
  for (auto& r : f.skipped(id))
    CHECK(r.skip != skip_reason::missed);
}

TEST_CASE("misfire run_once: one run for the missed ones, and one record of the rest",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(60, overlap_policy::skip, misfire_policy::run_once, t0 - 300 * s);
  f.advance(100);
  REQUIRE(f.started() == 1);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].skip == skip_reason::missed);
  CHECK(rs[0].missed_count == 5);
  CHECK(rs[1].scheduled_for == t0);
}

TEST_CASE("misfire skip: the missed occurrences run none, one record counts them",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  // As for run_once: t0-300 s .. t0-120 s are missed after the simulated downtime, t0-60 s is
  // at the edge of the grace, t0 on time.
  auto id = f.schedule(60, overlap_policy::skip, misfire_policy::skip, t0 - 300 * s);
  f.advance(100);
  auto rs = f.runs(id);
  REQUIRE_FALSE(rs.empty());
  CHECK(rs[0].status == run_status::skipped);
  CHECK(rs[0].skip == skip_reason::missed);
  CHECK(rs[0].scheduled_for == t0 - 300 * s);
  CHECK(rs[0].missed_count == 4);
  // No missed occurrence ran: every run that started is within the grace.
  for (auto& r : rs)
    if (r.status != run_status::skipped)
      CHECK(r.scheduled_for >= t0 - 60 * s);
  CHECK(f.started() >= 1);
  f.runner->end_all();
  f.advance(60 * s);
  CHECK(f.runs(id).back().scheduled_for == t0 + 60 * s);
}

TEST_CASE("pause drops the timer, resume records the paused occurrences and goes on",
          "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(2, overlap_policy::skip);
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.runner->end(0, 0);
  auto p = f.change(pause_atom::value, id);
  CHECK(p.task.state == task_state::paused);
  f.advance(10 * s);
  CHECK(f.started() == 1);
  auto r = f.change(resume_atom::value, id);
  CHECK(r.task.state == task_state::active);
  REQUIRE(r.task.next_run_at);
  CHECK(*r.task.next_run_at == t0 + 12 * s);
  auto sk = f.skipped(id);
  REQUIRE(sk.size() == 1);
  CHECK(sk[0].skip == skip_reason::paused);
  CHECK(sk[0].missed_count == 5);  // t0+2 s .. t0+10 s
  f.advance(2 * s);
  CHECK(f.started() == 2);
}

TEST_CASE("history_keep: the oldest runs go as new ones end, the newest stay", "[recurring]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(2, overlap_policy::skip, misfire_policy::run_once, std::nullopt, 2);
  f.advance(100);
  for (size_t i = 0; i < 4; ++i) {
    REQUIRE(f.started() == i + 1);
    f.runner->end(i, 0);
    f.advance(2 * s);
  }
  f.runner->end(4, 0);
  f.advance(100);
  auto rs = f.runs(id);
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].scheduled_for == t0 + 6 * s);
  CHECK(rs[1].scheduled_for == t0 + 8 * s);
}

TEST_CASE("PATCH while a retry waits: the retry runs the old command, later runs the new",
          "[recurring][edit]") {
  recurring_fixture f;
  auto id = f.schedule(f.every(10, "tick", overlap_policy::skip, 2));
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.runner->end(0, 1);  // fails: the second attempt waits 1 s
  f.advance(100);
  auto c = f.edit(id, f.every(10, "tock", overlap_policy::skip, 2), false);
  CHECK(c.task.command == "tock");
  CHECK(c.task.version >= 2);
  f.advance(1 * s);
  REQUIRE(f.started() == 2);
  CHECK(f.runner->processes[1].command == "tick");
  f.runner->end(1, 0);
  f.advance(9 * s);
  REQUIRE(f.started() == 3);
  CHECK(f.runner->processes[2].command == "tock");
}

TEST_CASE("PATCH while an occurrence is queued: it runs the old command, later ones the new",
          "[recurring][edit]") {
  recurring_fixture f;
  auto id = f.schedule(f.every(2, "tick", overlap_policy::queue));
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.advance(2 * s);  // the next occurrence queues behind the first run
  f.edit(id, f.every(2, "tock", overlap_policy::queue), false);
  f.runner->end(0, 0);
  f.advance(50);
  REQUIRE(f.started() == 2);
  CHECK(f.runner->processes[1].command == "tick");
  f.runner->end(1, 0);
  f.advance(2 * s);
  REQUIRE(f.started() == 3);
  CHECK(f.runner->processes[2].command == "tock");
}

TEST_CASE("PATCH of the schedule re-arms the task at its new next occurrence",
          "[recurring][edit]") {
  recurring_fixture f;
  auto t0 = f.now();
  auto id = f.schedule(f.every(2, "tick", overlap_policy::skip));
  f.advance(100);
  REQUIRE(f.started() == 1);
  f.runner->end(0, 0);
  f.advance(100);  // the run's end is written (a new version) before the edit reads one
  auto t = f.every(60, "tick", overlap_policy::skip);
  t.recur.anchor = t0;
  auto c = f.edit(id, t, true);
  REQUIRE(c.task.next_run_at);
  CHECK(*c.task.next_run_at == t0 + 60 * s);
  f.advance(30 * s);  // the old timer (t0 + 2 s) no longer fires
  CHECK(f.started() == 1);
  f.advance(30 * s);
  REQUIRE(f.started() == 2);
  CHECK(f.runs(id).back().scheduled_for == t0 + 60 * s);
}
