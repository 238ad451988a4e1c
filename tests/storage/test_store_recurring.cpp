// The storage conformance suite, recurring tasks (schema v4): each claim of a recurring task
// writes what core/recurrence.hpp decides, in the claim's transaction, on both backends:
// a run per occurrence, skipped records with their reason and count, the queued occurrence,
// the replaced run, max_runs, pause and resume, and the next occurrence after a crash.
#include <catch2/catch.hpp>

#include "tests/storage/store_cases.hpp"

using namespace ts::test::store_cases;

namespace {

constexpr millis t0 = 1'700'000'000'000;  // a whole second
constexpr millis s10 = 10'000;

/// Every 10 s from t0, with the given policies.
new_task every_10s(overlap_policy overlap = overlap_policy::skip,
                   misfire_policy misfire = misfire_policy::run_once) {
  auto t = make_task("tick", t0);
  t.recur.every_s = 10;
  t.recur.anchor = t0;
  t.policy.overlap = overlap;
  t.policy.misfire = misfire;
  return t;
}

void start(store& s, const claim& c, millis at) {
  write_tx(s, [&] { return s.record_start({c.run, 10, 10, 1, at}); });
}

void finish(store& s, const claim& c, millis at, task_status status = task_status::success) {
  write_tx(s, [&] { return s.finish_run(outcome(c, status, at)); });
}

std::vector<run_info> runs_of(store& s, task_id id) {
  run_filter f;
  f.task = id;
  f.limit = 100;
  auto page = ok(s.list_runs(f));
  std::reverse(page.items.begin(), page.items.end());  // oldest first
  return page.items;
}

task_change change(store& s, caf::expected<task_change> r) {
  if (!r)
    s.rollback();
  auto out = ok(std::move(r));
  ok(s.commit());
  return out;
}

task_change pause(store& s, task_id id, millis at) {
  ok(s.begin());
  return change(s, s.pause_task(id, at, no_key));
}

task_change resume(store& s, task_id id, millis at) {
  ok(s.begin());
  return change(s, s.resume_task(id, at, no_key));
}

} // namespace

TEST_CASE("a recurring task runs each occurrence and arms the next", "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.recur.every_s == 10);
  CHECK(info.recur.anchor == t0);
  CHECK(info.policy.overlap == overlap_policy::skip);
  CHECK(info.next_run_at == t0);

  auto c1 = claim_one(*s, id, t0 - 50);
  CHECK_FALSE(c1.skipped);
  CHECK(c1.scheduled_for == t0);
  CHECK(c1.due == t0);
  CHECK(c1.rearm_at == t0 + s10);
  start(*s, c1, t0);
  finish(*s, c1, t0 + 500);
  info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::active);
  CHECK(info.next_run_at == t0 + s10);
  CHECK(info.scheduled_runs == 1);
  CHECK(pending_of(*s).size() == 1);

  auto c2 = claim_one(*s, id, t0 + s10);
  CHECK(c2.scheduled_for == t0 + s10);
  CHECK(c2.run != c1.run);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].status == run_status::success);
  CHECK(runs[0].trigger == run_trigger::schedule);
  CHECK(runs[1].scheduled_for == t0 + s10);
}

TEST_CASE("overlap skip: occurrences during one run are one skipped record with a count",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s(overlap_policy::skip)).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  auto k1 = claim_one(*s, id, t0 + s10);
  CHECK(k1.skipped);
  CHECK(k1.rearm_at == t0 + 2 * s10);
  auto k2 = claim_one(*s, id, t0 + 2 * s10);
  CHECK(k2.skipped);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[1].status == run_status::skipped);
  CHECK(runs[1].skip == skip_reason::overlap);
  CHECK(runs[1].missed_count == 2);
  CHECK(runs[1].scheduled_for == t0 + s10);

  finish(*s, c1, t0 + 2 * s10 + 5);
  auto c2 = claim_one(*s, id, t0 + 3 * s10);
  CHECK_FALSE(c2.skipped);
  CHECK(c2.scheduled_for == t0 + 3 * s10);
  // A new active run: a later overlap is a new record.
  start(*s, c2, t0 + 3 * s10);
  claim_one(*s, id, t0 + 4 * s10);
  runs = runs_of(*s, id);
  REQUIRE(runs.size() == 4);
  CHECK(runs[3].skip == skip_reason::overlap);
  CHECK(runs[3].missed_count == 1);
}

TEST_CASE("overlap queue: one occurrence waits for the active run, further ones are skipped",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s(overlap_policy::queue)).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  auto q = claim_one(*s, id, t0 + s10);
  CHECK(q.skipped);
  CHECK(q.after_run == c1.run);
  auto k = claim_one(*s, id, t0 + 2 * s10);
  CHECK(k.skipped);
  CHECK_FALSE(k.after_run);
  finish(*s, c1, t0 + 2 * s10 + 5);
  // The queued one is due at once (the run's end wakes it), and keeps its occurrence.
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.next_run_at == t0 + 2 * s10 + 5);
  auto c2 = claim_one(*s, id, t0 + 2 * s10 + 6);
  CHECK_FALSE(c2.skipped);
  CHECK(c2.scheduled_for == t0 + s10);
  CHECK(c2.rearm_at == t0 + 3 * s10);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 3);
  CHECK(runs[1].skip == skip_reason::overlap);
  CHECK(runs[1].scheduled_for == t0 + 2 * s10);
  CHECK(runs[2].scheduled_for == t0 + s10);
}

TEST_CASE("overlap replace: the active run is stopped, ends replaced, and the next one runs",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s(overlap_policy::replace)).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  auto r = claim_one(*s, id, t0 + s10);
  CHECK(r.skipped);
  CHECK(r.stop_run == c1.run);
  CHECK(r.after_run == c1.run);
  CHECK(ok(s->get_run(c1.run, 100)).stop_requested);
  auto o = outcome(c1, task_status::failure, t0 + s10 + 20);
  o.reason = run_reason::signal;
  o.exit_code.reset();
  o.signal = 15;
  write_tx(*s, [&] { return s->finish_run(o); });
  auto ended = ok(s->get_run(c1.run, 100));
  CHECK(ended.status == run_status::failure);
  CHECK(ended.reason == run_reason::replaced);
  auto c2 = claim_one(*s, id, t0 + s10 + 21);
  CHECK_FALSE(c2.skipped);
  CHECK(c2.scheduled_for == t0 + s10);
}

TEST_CASE("misfire run_once: after downtime the latest runs, the rest are one record",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  auto c = claim_one(*s, id, t0 + 600'000 + 3);
  CHECK(c.scheduled_for == t0 + 600'000);
  CHECK(c.rearm_at == t0 + 610'000);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].status == run_status::skipped);
  CHECK(runs[0].skip == skip_reason::missed);
  CHECK(runs[0].missed_count == 60);
  CHECK(runs[0].scheduled_for == t0);
  CHECK(runs[1].scheduled_for == t0 + 600'000);
}

TEST_CASE("misfire skip: missed occurrences run none", "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = every_10s(overlap_policy::skip, misfire_policy::skip);
  t.recur.every_s = 3600;
  auto id = insert(*s, t).id;
  auto c = claim_one(*s, id, t0 + 7'300'000);
  CHECK(c.skipped);
  CHECK(c.rearm_at == t0 + 3 * 3'600'000);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].skip == skip_reason::missed);
  CHECK(runs[0].missed_count == 3);
  CHECK(ok(s->get_task_info(id, 100)).next_run_at == t0 + 3 * 3'600'000);
}

TEST_CASE("max_runs: the task completes after its last occurrence ran", "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = every_10s();
  t.recur.max_runs = 2;
  auto id = insert(*s, t).id;
  auto c1 = claim_one(*s, id, t0);
  start(*s, c1, t0);
  finish(*s, c1, t0 + 5);
  auto c2 = claim_one(*s, id, t0 + s10);
  CHECK_FALSE(c2.rearm_at);
  start(*s, c2, t0 + s10);
  finish(*s, c2, t0 + s10 + 5);
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::completed);
  CHECK_FALSE(info.next_run_at);
  CHECK(info.scheduled_runs == 2);
  CHECK(pending_of(*s).empty());
}

TEST_CASE("pause and resume: paused occurrences are one skipped record", "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  auto p = pause(*s, id, t0 - 1000);
  CHECK(p.task.state == task_state::paused);
  CHECK(p.task.paused_at == t0 - 1000);
  CHECK_FALSE(p.task.next_run_at);
  CHECK(pending_of(*s).empty());
  // A second pause changes nothing.
  auto again = pause(*s, id, t0 - 500);
  CHECK(again.task.version == p.task.version);
  CHECK(again.task.paused_at == t0 - 1000);
  ok(s->begin());
  CHECK(code_of(error_of(s->claim_run(id, t0))) == ec::not_pending);
  CHECK(code_of(error_of(s->trigger_task(id, t0, no_key))) == ec::invalid_state);
  s->rollback();

  auto r = resume(*s, id, t0 + 95'000);
  CHECK(r.task.state == task_state::active);
  CHECK_FALSE(r.task.paused_at);
  CHECK(r.task.next_run_at == t0 + 100'000);
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == run_status::skipped);
  CHECK(runs[0].skip == skip_reason::paused);
  CHECK(runs[0].missed_count == 10);
  CHECK(runs[0].scheduled_for == t0);
  auto twice = resume(*s, id, t0 + 96'000);
  CHECK(twice.task.version == r.task.version);
  CHECK(runs_of(*s, id).size() == 1);
  auto c = claim_one(*s, id, t0 + 100'000);
  CHECK(c.scheduled_for == t0 + 100'000);

  ok(s->begin());
  ok(s->cancel_task(id, t0 + 101'000, no_key));
  ok(s->commit());
  ok(s->begin());
  CHECK(code_of(error_of(s->resume_task(id, t0 + 102'000, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->pause_task(id, t0 + 102'000, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->pause_task(424242, t0, no_key))) == ec::not_found);
  s->rollback();
}

TEST_CASE("a paused one-shot task keeps its time and runs at once when resumed late",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("once", t0)).id;
  pause(*s, id, t0 - 1000);
  CHECK(pending_of(*s).empty());
  auto r = resume(*s, id, t0 + 60'000);
  CHECK(r.task.state == task_state::active);
  CHECK(r.task.next_run_at == t0);
  CHECK(runs_of(*s, id).empty());
  auto c = claim_one(*s, id, t0 + 60'000);
  CHECK(c.scheduled_for == t0);
}

TEST_CASE("a paused task can be cancelled", "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  pause(*s, id, t0 - 1000);
  ok(s->begin());
  auto c = change(*s, s->cancel_task(id, t0, no_key));
  CHECK(c.task.state == task_state::cancelled);
  CHECK(pending_of(*s).empty());
}

TEST_CASE("a crash during a recurring run: it ends interrupted, the schedule goes on",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, every_10s()).id;
  auto c = claim_one(*s, id, t0);
  start(*s, c, t0);
  s.reset();
  s = db.open();
  ok(s->interrupt_running(t0 + 25'000));
  auto ended = ok(s->get_run(c.run, 100));
  CHECK(ended.status == run_status::failure);
  CHECK(ended.reason == run_reason::interrupted);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].due == t0 + s10);
  // The occurrences the crash passed over follow the misfire policy (within the grace: run).
  auto next = claim_one(*s, id, t0 + 25'000);
  CHECK(next.scheduled_for == t0 + s10);
  CHECK(next.rearm_at == t0 + 2 * s10);
}

TEST_CASE("history_keep: a recurring task keeps its newest runs, older ones go with their output",
          "[store][v4]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = every_10s();
  t.policy.history_keep = 3;
  auto id = insert(*s, t).id;
  std::vector<claim> claims;
  for (int i = 0; i < 5; ++i) {
    auto at = t0 + i * s10;
    auto c = claim_one(*s, id, at);
    start(*s, c, at);
    write_tx(*s, [&] { return s->append_output(c.run, 0, "out\n"); });
    finish(*s, c, at + 5);
    claims.push_back(c);
  }
  auto runs = runs_of(*s, id);
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].id == claims[2].run);
  CHECK(runs[2].id == claims[4].run);
  CHECK(code_of(error_of(s->get_run(claims[0].run, 100))) == ec::not_found);
  CHECK(code_of(error_of(s->read_output(claims[1].run, 0, 100))) == ec::not_found);
  CHECK(ok(s->read_output(claims[4].run, 0, 100)).data == "out\n");
  CHECK(ok(s->get_task_info(id, 100)).latest_run->id == claims[4].run);
}
