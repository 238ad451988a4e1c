// The storage conformance suite, edits (schema v5): update_task rewrites a task and finds its
// next occurrence anew, on both backends, and a run already recorded (a waiting retry) or an
// occurrence already queued keeps the command and settings of its time.
#include <catch2/catch.hpp>

#include "tests/storage/store_cases.hpp"

using namespace ts::test::store_cases;

namespace {

constexpr millis t0 = 1'700'000'000'000;  // a whole second
constexpr millis s10 = 10'000;

new_task every_10s(overlap_policy overlap = overlap_policy::skip) {
  auto t = make_task("tick", t0);
  t.recur.every_s = 10;
  t.recur.anchor = t0;
  t.policy.overlap = overlap;
  return t;
}

/// An edit of `id` to `t`, from the version the store holds now.
task_edit edit_of(store& s, task_id id, new_task t, bool schedule_changed) {
  task_edit e;
  e.id = id;
  e.expected_version = ok(s.get_task_info(id, 0)).version;
  e.task = std::move(t);
  e.schedule_changed = schedule_changed;
  return e;
}

caf::expected<task_change> update(store& s, const task_edit& e, millis at) {
  ok(s.begin());
  auto r = s.update_task(e, at);
  if (!r) {
    s.rollback();
    return r;
  }
  ok(s.commit());
  return r;
}

void start(store& s, const claim& c, millis at) {
  write_tx(s, [&] { return s.record_start({c.run, 10, 10, 1, at}); });
}

void finish(store& s, const claim& c, millis at, std::optional<millis> retry_at = {}) {
  auto o = outcome(c, retry_at ? task_status::failure : task_status::success, at);
  o.retry_at = retry_at;
  write_tx(s, [&] { return s.finish_run(o); });
}

} // namespace

TEST_CASE("an edit rewrites a task's fields and labels, version + 1", "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, v1_task("echo old", 50'000, "old", {{"env", "dev"}, {"team", "a"}})).id;
  auto before = ok(s->get_task_info(id, 0));
  REQUIRE(before.version == 1);

  auto t = v1_task("echo new", 50'000, "new", {{"env", "prod"}});
  t.output_limit_bytes = 4096;
  t.controls.timeout_ms = 30'000;
  t.controls.retry.max_attempts = 4;
  t.controls.env = {{"A", "1"}};
  t.controls.cwd = "/tmp";
  t.policy.history_keep = 7;
  auto c = ok(update(*s, edit_of(*s, id, t, false), 2'000));
  CHECK(c.task.version == 2);
  CHECK(c.task.command == "echo new");
  auto info = ok(s->get_task_info(id, 0));
  CHECK(info.command == "echo new");
  CHECK(info.name == "new");
  CHECK(info.labels == std::vector<label>{{"env", "prod"}});
  CHECK(info.output_limit_bytes == 4096);
  CHECK(info.controls.timeout_ms == 30'000);
  CHECK(info.controls.retry.max_attempts == 4);
  CHECK(info.controls.env == std::vector<label>{{"A", "1"}});
  CHECK(info.controls.cwd == "/tmp");
  CHECK(info.policy.history_keep == 7);
  CHECK(info.version == 2);
  CHECK(info.updated_at == 2'000);
  CHECK(info.next_run_at == 50'000);

  // An edit from version 1 is stale now, and changes nothing.
  auto stale = edit_of(*s, id, v1_task("echo stale", 50'000, std::nullopt, {}), false);
  stale.expected_version = 1;
  CHECK(code_of(error_of(update(*s, stale, 3'000))) == ec::version_mismatch);
  CHECK(ok(s->get_task_info(id, 0)).command == "echo new");
  CHECK(update(*s, edit_of(*s, id, t, false), 3'000));
  auto missing = edit_of(*s, id, t, false);
  missing.id = id + 100;
  CHECK(code_of(error_of(update(*s, missing, 3'000))) == ec::not_found);
}

TEST_CASE("a one-shot task's new time rearms it until its run", "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("echo", 50'000)).id;
  auto c = ok(update(*s, edit_of(*s, id, make_task("echo", 80'000), true), 2'000));
  CHECK(c.task.next_run_at == 80'000);
  CHECK(c.task.due == 80'000);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].due == 80'000);
  // Once it has had its run, its time is history: a new one is refused, a new command is not.
  run_to_end(*s, id, 80'000);
  CHECK(code_of(error_of(update(*s, edit_of(*s, id, make_task("echo", 90'000), true), 90'000)))
        == ec::invalid_state);
  CHECK(ok(update(*s, edit_of(*s, id, make_task("echo x", 80'000), false), 90'000))
          .task.next_run_at
        == std::nullopt);
  CHECK(pending_of(*s).empty());
}

TEST_CASE("a cancelled task is not edited, nor does a task change kind", "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto one = insert(*s, make_task("echo", 50'000)).id;
  auto recurring = insert(*s, every_10s()).id;
  CHECK(code_of(error_of(update(*s, edit_of(*s, one, every_10s(), true), 1'000)))
        == ec::invalid_state);
  CHECK(code_of(error_of(update(*s, edit_of(*s, recurring, make_task("x", t0), true), 1'000)))
        == ec::invalid_state);
  ok(s->begin());
  ok(s->cancel_task(one, 2'000, no_key));
  ok(s->commit());
  CHECK(code_of(error_of(update(*s, edit_of(*s, one, make_task("y", 50'000), false), 3'000)))
        == ec::invalid_state);
}

TEST_CASE("a recurring task's new schedule arms its first occurrence from the edit",
          "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  finish(*s, c1, t0 + 500);
  // Every minute from t0 instead, edited at t0 + 15 s: next at t0 + 60 s.
  auto t = every_10s();
  t.recur.every_s = 60;
  auto c = ok(update(*s, edit_of(*s, id, t, true), t0 + 15'000));
  CHECK(c.task.next_run_at == t0 + 60'000);
  CHECK(c.task.recur.every_s == 60);
  CHECK(c.task.state == task_state::active);
  auto c2 = claim_one(*s, id, t0 + 60'000);
  CHECK(c2.scheduled_for == t0 + 60'000);
  CHECK(c2.rearm_at == t0 + 120'000);
  start(*s, c2, t0 + 60'000);
  finish(*s, c2, t0 + 60'500);

  // max_runs 2 is spent: the edit completes the task; max_runs 3 makes it active again.
  t.recur.max_runs = 2;
  c = ok(update(*s, edit_of(*s, id, t, true), t0 + 61'000));
  CHECK(c.task.state == task_state::completed);
  CHECK_FALSE(c.task.next_run_at);
  t.recur.max_runs = 3;
  c = ok(update(*s, edit_of(*s, id, t, true), t0 + 62'000));
  CHECK(c.task.state == task_state::active);
  CHECK(c.task.next_run_at == t0 + 120'000);
  REQUIRE(pending_of(*s).size() == 1);
}

TEST_CASE("a paused task's new schedule waits for resume", "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  ok(s->begin());
  ok(s->pause_task(id, t0 - 5'000, no_key));
  ok(s->commit());
  auto t = every_10s();
  t.recur.every_s = 60;
  auto c = ok(update(*s, edit_of(*s, id, t, true), t0 + 1'000));
  CHECK(c.task.state == task_state::paused);
  CHECK_FALSE(c.task.next_run_at);
  CHECK(pending_of(*s).empty());
  ok(s->begin());
  auto r = ok(s->resume_task(id, t0 + 2'000, no_key));
  ok(s->commit());
  CHECK(r.task.next_run_at == t0 + 60'000);
}

TEST_CASE("a waiting retry keeps the command and settings its first attempt started with",
          "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("echo old", 10'000);
  t.controls.retry.max_attempts = 3;
  t.controls.timeout_ms = 5'000;
  t.output_limit_bytes = 1000;
  auto id = insert(*s, t).id;
  auto c1 = claim_one(*s, id, 10'000);
  start(*s, c1, 10'001);
  finish(*s, c1, 10'002, 20'000);

  auto edited = t;
  edited.command = "echo new";
  edited.controls.timeout_ms = 60'000;
  edited.output_limit_bytes = 2000;
  ok(update(*s, edit_of(*s, id, edited, false), 11'000));
  CHECK(ok(s->get_task_info(id, 0)).command == "echo new");
  auto c2 = claim_one(*s, id, 20'000);
  CHECK(c2.run != c1.run);
  CHECK(c2.attempt == 2);
  CHECK(c2.command == "echo old");
  CHECK(c2.controls.timeout_ms == 5'000);
  CHECK(c2.controls.retry.max_attempts == 3);
  CHECK(c2.output_limit_bytes == 1000);
  // Its retry, too: the copy passes from attempt to attempt.
  start(*s, c2, 20'001);
  finish(*s, c2, 20'002, 30'000);
  auto c3 = claim_one(*s, id, 30'000);
  CHECK(c3.attempt == 3);
  CHECK(c3.command == "echo old");
}

TEST_CASE("a queued occurrence keeps the command of its time, later ones take the edit",
          "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s(overlap_policy::queue)).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  auto q = claim_one(*s, id, t0 + s10);
  REQUIRE(q.skipped);
  REQUIRE(q.after_run == c1.run);

  auto edited = every_10s(overlap_policy::queue);
  edited.command = "tock";
  ok(update(*s, edit_of(*s, id, edited, false), t0 + s10 + 100));
  finish(*s, c1, t0 + s10 + 200);
  auto c2 = claim_one(*s, id, t0 + s10 + 201);
  CHECK_FALSE(c2.skipped);
  CHECK(c2.scheduled_for == t0 + s10);
  CHECK(c2.command == "tick");
  start(*s, c2, t0 + s10 + 202);
  finish(*s, c2, t0 + s10 + 300);
  auto c3 = claim_one(*s, id, t0 + 2 * s10);
  CHECK(c3.scheduled_for == t0 + 2 * s10);
  CHECK(c3.command == "tock");
}

TEST_CASE("a new schedule does not move a queued occurrence or a pending trigger",
          "[store][v5]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  ok(s->begin());
  auto tr = ok(s->trigger_task(id, t0 - 5'000, no_key));
  ok(s->commit());
  REQUIRE(tr.task.next_run_at == t0 - 5'000);
  auto t = every_10s();
  t.recur.every_s = 60;
  auto c = ok(update(*s, edit_of(*s, id, t, true), t0 - 4'000));
  CHECK(c.task.next_run_at == t0 - 5'000);
  auto m = claim_one(*s, id, t0 - 4'000);
  CHECK(m.scheduled_for == t0 - 4'000);
  CHECK(m.rearm_at == t0);
}
