// core/recurrence: the claim's decision for each misfire and overlap policy, max_runs,
// the count limit on skipped occurrences, resume after a pause, and the stored form back
// as a schedule. Times are plain numbers (ms): the planner takes `now` as an argument.
#include "core/recurrence.hpp"

#include <cstdint>

#include <catch2/catch.hpp>

#include "core/defaults.hpp"

using ts::claim_context;
using ts::claim_plan;
using ts::millis;
using ts::misfire_policy;
using ts::overlap_policy;
using ts::recurrence_policy;
using ts::schedule;
using ts::skip_reason;
using action = claim_plan::action;

namespace {

constexpr millis t0 = 1'700'000'000'000;  // a whole second
constexpr millis s = 1000;

schedule every(int64_t period_s) {
  ts::schedule_spec spec;
  spec.every_s = period_s;
  spec.anchor = t0;
  auto out = ts::to_schedule(spec, std::nullopt);
  REQUIRE(out);
  return *out;
}

recurrence_policy policy(misfire_policy m, overlap_policy o = overlap_policy::skip) {
  recurrence_policy p;
  p.misfire = m;
  p.overlap = o;
  return p;
}

claim_context at(millis now, millis occurrence, bool active = false, bool queued = false) {
  claim_context c;
  c.now = now;
  c.occurrence = occurrence;
  c.active = active;
  c.queued = queued;
  return c;
}

} // namespace

TEST_CASE("an on-time occurrence runs and arms the next one") {
  auto sch = every(10);
  auto plan = plan_claim(sch, policy(misfire_policy::run_once), at(t0 + 5, t0));
  CHECK(plan.what == action::run);
  CHECK(plan.occurrence == t0);
  CHECK(plan.skipped.empty());
  REQUIRE(plan.next);
  CHECK(*plan.next == t0 + 10 * s);
}

TEST_CASE("a claim ahead of its time (within the claim lead) is on time") {
  auto sch = every(10);
  auto plan = plan_claim(sch, policy(misfire_policy::skip), at(t0 - 50, t0));
  CHECK(plan.what == action::run);
  CHECK(plan.occurrence == t0);
  CHECK(*plan.next == t0 + 10 * s);
}

TEST_CASE("run_once runs the latest due occurrence and records the others as one") {
  auto sch = every(10);
  // Down for 10 minutes: t0, t0+10 s, ..., t0+600 s are due (61 occurrences).
  auto plan = plan_claim(sch, policy(misfire_policy::run_once), at(t0 + 600 * s + 3, t0));
  CHECK(plan.what == action::run);
  CHECK(plan.occurrence == t0 + 600 * s);
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].reason == skip_reason::missed);
  CHECK(plan.skipped[0].first == t0);
  CHECK(plan.skipped[0].count == 60);
  CHECK(*plan.next == t0 + 610 * s);
}

TEST_CASE("within the grace nothing is missed") {
  auto sch = every(10);
  auto p = policy(misfire_policy::skip);
  p.misfire_grace_ms = 60 * s;
  auto plan = plan_claim(sch, p, at(t0 + 59 * s, t0));
  CHECK(plan.what == action::run);
  CHECK(plan.occurrence == t0);
  CHECK(plan.skipped.empty());
  CHECK(*plan.next == t0 + 10 * s);
}

TEST_CASE("run_all runs the missed ones oldest first, at most max_catch_up_runs") {
  auto sch = every(1);
  auto p = policy(misfire_policy::run_all);
  SECTION("a few: the oldest runs, the next claim takes the next") {
    auto plan = plan_claim(sch, p, at(t0 + 65 * s, t0));
    CHECK(plan.what == action::run);
    CHECK(plan.occurrence == t0);
    CHECK(plan.skipped.empty());
    CHECK(*plan.next == t0 + s);
  }
  SECTION("more than the limit: the older ones are one record") {
    // Missed: t0 .. t0+439 s (older than 60 s at t0+500 s): 440 of them.
    auto plan = plan_claim(sch, p, at(t0 + 500 * s, t0));
    REQUIRE(plan.skipped.size() == 1);
    CHECK(plan.skipped[0].reason == skip_reason::missed);
    CHECK(plan.skipped[0].first == t0);
    CHECK(plan.skipped[0].count == 440 - ts::defaults::max_catch_up_runs);
    CHECK(plan.what == action::run);
    CHECK(plan.occurrence == t0 + (440 - ts::defaults::max_catch_up_runs) * s);
  }
  SECTION("while a run is active a catch-up run queues, whatever the overlap policy") {
    auto plan = plan_claim(sch, p, at(t0 + 65 * s, t0, true));
    CHECK(plan.what == action::queue);
    CHECK(plan.occurrence == t0);
  }
  SECTION("with one queued already, the task holds its occurrence and records nothing") {
    auto plan = plan_claim(sch, p, at(t0 + 65 * s, t0, true, true));
    CHECK(plan.what == action::none);
    CHECK(plan.skipped.empty());
    REQUIRE(plan.next);
    CHECK(*plan.next == t0);
  }
}

TEST_CASE("skip records the missed ones and runs a due one within the grace") {
  auto sch = every(10);
  auto p = policy(misfire_policy::skip);
  SECTION("the latest due one is within the grace: it runs") {
    // Due: t0 .. t0+100 s; missed (older than 60 s at t0+105 s): t0 .. t0+40 s.
    auto plan = plan_claim(sch, p, at(t0 + 105 * s, t0));
    REQUIRE(plan.skipped.size() == 1);
    CHECK(plan.skipped[0].reason == skip_reason::missed);
    CHECK(plan.skipped[0].count == 5);
    CHECK(plan.what == action::run);
    CHECK(plan.occurrence == t0 + 50 * s);
  }
  SECTION("all of them missed: none runs") {
    auto sch3600 = every(3600);
    auto plan = plan_claim(sch3600, p, at(t0 + 7300 * s, t0));
    REQUIRE(plan.skipped.size() == 1);
    CHECK(plan.skipped[0].count == 3);
    CHECK(plan.what == action::none);
    CHECK(*plan.next == t0 + 3 * 3600 * s);
  }
}

TEST_CASE("overlap policies while a run is active") {
  auto sch = every(10);
  auto plan_for = [&](overlap_policy o, bool queued) {
    return plan_claim(sch, policy(misfire_policy::run_once, o), at(t0 + 1, t0, true, queued));
  };
  SECTION("skip: a skipped record with the reason overlap") {
    auto plan = plan_for(overlap_policy::skip, false);
    CHECK(plan.what == action::none);
    REQUIRE(plan.skipped.size() == 1);
    CHECK(plan.skipped[0].reason == skip_reason::overlap);
    CHECK(plan.skipped[0].first == t0);
    CHECK(plan.skipped[0].count == 1);
    CHECK(*plan.next == t0 + 10 * s);
  }
  SECTION("queue: it waits; a second one is skipped") {
    auto plan = plan_for(overlap_policy::queue, false);
    CHECK(plan.what == action::queue);
    CHECK(plan.occurrence == t0);
    auto again = plan_for(overlap_policy::queue, true);
    CHECK(again.what == action::none);
    REQUIRE(again.skipped.size() == 1);
    CHECK(again.skipped[0].reason == skip_reason::overlap);
  }
  SECTION("replace: the active run is stopped and this one waits for it") {
    auto plan = plan_for(overlap_policy::replace, false);
    CHECK(plan.what == action::replace);
    CHECK(plan.occurrence == t0);
  }
  SECTION("allow: it runs beside the active one") {
    auto plan = plan_for(overlap_policy::allow, false);
    CHECK(plan.what == action::run);
  }
}

TEST_CASE("max_runs counts the occurrences that ran, not the skipped ones") {
  auto sch = every(10);
  auto c = at(t0 + 1, t0);
  c.remaining_runs = 1;
  auto plan = plan_claim(sch, policy(misfire_policy::run_once), c);
  CHECK(plan.what == action::run);
  CHECK_FALSE(plan.next);
  c.active = true;
  auto skipped = plan_claim(sch, policy(misfire_policy::run_once), c);
  CHECK(skipped.what == action::none);
  REQUIRE(skipped.next);  // a skipped occurrence used up nothing
  CHECK(*skipped.next == t0 + 10 * s);
  c.remaining_runs = 0;
  auto done = plan_claim(sch, policy(misfire_policy::run_once), c);
  CHECK(done.what == action::none);
  CHECK(done.skipped.empty());
  CHECK_FALSE(done.next);
}

TEST_CASE("the end of the window ends the occurrences") {
  ts::schedule_spec spec;
  spec.every_s = 10;
  spec.anchor = t0;
  spec.end_at = t0 + 20 * s;
  auto sch = ts::to_schedule(spec, std::nullopt);
  REQUIRE(sch);
  auto plan = plan_claim(*sch, policy(misfire_policy::run_once), at(t0 + 20 * s, t0 + 20 * s));
  CHECK(plan.what == action::run);
  CHECK_FALSE(plan.next);
}

TEST_CASE("skipped occurrences are counted up to the limit, and the claim stays quick") {
  auto sch = every(1);
  // Down for 30 days with a per-second schedule: 2.6 million occurrences.
  auto now = t0 + 30 * 86400 * s;
  auto plan = plan_claim(sch, policy(misfire_policy::run_once), at(now, t0));
  CHECK(plan.what == action::run);
  CHECK(plan.occurrence == now);
  REQUIRE(plan.skipped.size() == 1);
  CHECK(plan.skipped[0].count == ts::defaults::max_counted_skips);
  CHECK(*plan.next == now + s);
  auto all = plan_claim(sch, policy(misfire_policy::run_all), at(now, t0));
  REQUIRE(all.skipped.size() == 1);
  CHECK(all.skipped[0].count == ts::defaults::max_counted_skips);
  // The newest max_catch_up_runs missed ones remain: the oldest of them runs.
  CHECK(all.occurrence == now - 60 * s - ts::defaults::max_catch_up_runs * s);
}

TEST_CASE("a cron schedule in a zone") {
  ts::schedule_spec spec;
  spec.cron = "*/2 * * * * *";
  auto sch = ts::to_schedule(spec, std::string("Europe/Berlin"));
  REQUIRE(sch);
  auto plan = plan_claim(*sch, policy(misfire_policy::run_once), at(t0 + 1, t0));
  CHECK(plan.what == action::run);
  CHECK(*plan.next == t0 + 2 * s);
}

TEST_CASE("a stored schedule that no longer reads is an error, not a guess") {
  ts::schedule_spec spec;
  spec.cron = "not cron";
  CHECK_FALSE(ts::to_schedule(spec, std::nullopt));
  spec.cron = "* * * * *";
  CHECK_FALSE(ts::to_schedule(spec, std::string("Nowhere/Atlantis")));
  CHECK_FALSE(ts::to_schedule(ts::schedule_spec{}, std::nullopt));
}

TEST_CASE("resume records the paused occurrences as one and goes on after now") {
  auto sch = every(10);
  auto plan = ts::plan_resume(sch, t0, t0 + 95 * s, std::nullopt);
  REQUIRE(plan.skipped);
  CHECK(plan.skipped->reason == skip_reason::paused);
  CHECK(plan.skipped->first == t0);
  CHECK(plan.skipped->count == 10);
  CHECK(*plan.next == t0 + 100 * s);
  auto early = ts::plan_resume(sch, t0, t0 - 5 * s, std::nullopt);
  CHECK_FALSE(early.skipped);
  CHECK(*early.next == t0);
}
