// Test doubles and a deterministic harness for the actor tests: CAF's test scheduler (one
// thread, time moves only when the test says so), a fake persistence actor that keeps
// everything in memory, and a fake process runner whose processes end when the test says so.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "actors/interfaces.hpp"
#include "core/log.hpp"
#include "process/process_runner.hpp"

namespace ts::test {

// -- harness ------------------------------------------------------------------------------

/// An actor system on CAF's test scheduler: `run()` delivers every queued message on the
/// calling thread and `advance(ms)` moves CAF's clock, firing delayed messages. The wall
/// clock handed to the actors moves in step with it.
struct actor_harness {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    ts::register_types(cfg);
    return cfg;
  }

  /// 2023-11-14T22:13:20Z: any fixed instant does, as long as nothing reads the real clock.
  static constexpr millis start_ms = 1'700'000'000'000;
  static constexpr size_t message_limit = 1'000'000;

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::shared_ptr<manual_wall_clock> wall;

  actor_harness()
    : sys(init(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys),
      wall(std::make_shared<manual_wall_clock>(start_ms * 1000)) {
    // Actors a failed test leaves behind (a pending delayed message keeps them alive) must
    // not hang the system's destructor.
    sys.await_actors_before_shutdown(false);
    // CAF's test clock starts at its epoch; no actor should see a zero time point.
    sched.clock().current_time += std::chrono::hours(1);
    // Runs are logged at info; the assertions say what went wrong.
    log::set_level(log::level::error);
  }

  millis now() const {
    return wall->now_ms();
  }

  /// Delivers every queued message (delayed ones stay until their time). Bounded, so that
  /// an actor that keeps messaging itself fails the test instead of hanging it.
  size_t run() {
    auto n = sched.run(message_limit);
    if (n >= message_limit)
      FAIL("actors still busy after " << n << " messages: a message loop");
    return n;
  }

  /// As run, for destructors: never fails.
  void drain() noexcept {
    sched.run(message_limit);
  }

  /// Moves both clocks forward by `ms` in steps of `step_ms`, delivering everything that
  /// comes due at each step, as if time flowed.
  void advance(int64_t ms, int64_t step_ms = 10) {
    run();
    for (int64_t done = 0; done < ms;) {
      auto d = std::min(step_ms, ms - done);
      wall->advance_ms(d);
      sched.clock().advance_time(std::chrono::milliseconds(d));
      run();
      done += d;
    }
  }

  /// Moves only the wall clock: an NTP step. CAF's clock, which times delayed messages,
  /// stays where it is.
  void step_wall(int64_t ms) {
    wall->advance_ms(ms);
  }
};

/// The reply to the request behind `handle`, if it has arrived; never blocks.
/// nullopt: no reply yet.
template <class T, class Handle>
std::optional<caf::expected<T>> poll_reply(caf::scoped_actor& self, Handle& handle) {
  std::optional<caf::expected<T>> out;
  caf::blocking_actor::accept_one_cond rc;
  self->varargs_receive(
    rc, handle.id(), [&](T x) { out = caf::expected<T>{std::move(x)}; },
    [&](caf::error& err) { out = caf::expected<T>{std::move(err)}; },
    caf::after(std::chrono::seconds(0)) >> [] {});
  return out;
}

/// True when the reply is there and is the error `code`.
template <class T>
bool is_error(const std::optional<caf::expected<T>>& r, ec code) {
  return r && !*r && r->error() == code;
}

// -- fake persistence ---------------------------------------------------------------------

using release_atom = caf::atom_constant<caf::atom("release")>;

/// The fake answers the persistence protocol plus `release`, which answers the claims and
/// outcomes it holds back (see fake_db::hold_claims and hold_finished).
using fake_persistence_actor = persistence_actor::extend<caf::reacts_to<release_atom>>;

/// Everything the fake persistence knows, shared with the test (one thread: no locks).
struct fake_db {
  /// Simulates an outage: inserts and claims fail with ec::unavailable, as do reads and
  /// pings; outcomes are still acknowledged (the real actor keeps them in memory).
  bool down = false;
  /// Outcomes are recorded but acknowledged only on `release`.
  bool hold_finished = false;
  /// Claims are granted but answered only on `release`: a claim in flight.
  bool hold_claims = false;

  task_id next_task = 1;
  run_id next_run = 100;
  std::map<task_id, task_record> tasks;
  std::map<std::string, task_id> keys;
  /// Every claim request, granted or not: (task, claimed_at).
  std::vector<std::pair<task_id, millis>> claim_requests;
  std::vector<claim> claims;
  std::vector<run_id> unclaims;
  std::vector<process_start> starts;
  std::vector<run_outcome> outcomes;
  /// Every piece of output in the order received.
  struct output_piece {
    run_id run;
    int64_t offset;
    std::string data;
  };
  std::vector<output_piece> appends;
  /// Every cancel and trigger request: (task, at).
  std::vector<std::pair<task_id, millis>> cancels;
  std::vector<std::pair<task_id, millis>> triggers;
  /// Every pause and resume request: (task, at).
  std::vector<std::pair<task_id, millis>> pauses;
  std::vector<std::pair<task_id, millis>> resumes;
  std::vector<caf::typed_response_promise<caf::ok_atom>> held;
  std::vector<std::pair<caf::typed_response_promise<claim>, claim>> held_claims;

  size_t claims_of(task_id id) const {
    size_t n = 0;
    for (auto& c : claim_requests)
      n += c.first == id ? 1 : 0;
    return n;
  }
  const run_outcome* outcome_of(task_id id) const {
    for (auto& o : outcomes)
      if (o.task == id)
        return &o;
    return nullptr;
  }
  /// The run's output as appended, joined.
  std::string output_of(run_id run) const {
    std::string all;
    for (auto& a : appends)
      if (a.run == run)
        all += a.data;
    return all;
  }
  /// The latest claim of a task, if any.
  const claim* claim_of(task_id id) const {
    for (auto i = claims.rbegin(); i != claims.rend(); ++i)
      if (i->task == id)
        return &*i;
    return nullptr;
  }
  task_info info_of(const task_record& r) const {
    task_info t;
    t.id = r.id;
    t.command = r.command;
    t.due = r.due;
    t.created_at = r.created_at;
    t.state = r.status == task_status::cancelled ? task_state::cancelled
              : r.status == task_status::pending || r.status == task_status::running
                ? task_state::active
                : task_state::completed;
    return t;
  }
};

inline fake_persistence_actor::behavior_type
fake_persistence(fake_persistence_actor::pointer self, std::shared_ptr<fake_db> db) {
  return {
    [=](schedule_atom, new_task& t) -> caf::result<task_record> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      if (t.idempotency_key) {
        if (auto i = db->keys.find(*t.idempotency_key); i != db->keys.end()) {
          auto r = db->tasks[i->second];
          r.replayed = true;
          return r;
        }
      }
      task_record r;
      r.id = db->next_task++;
      r.command = t.command;
      r.due = t.due;
      r.created_at = t.created_at;
      db->tasks[r.id] = r;
      if (t.idempotency_key)
        db->keys[*t.idempotency_key] = r.id;
      return r;
    },
    [=](caf::get_atom, task_id id) -> caf::result<task_view> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      task_view v;
      v.id = id;
      v.command = i->second.command;
      v.due = i->second.due;
      v.status = i->second.status;
      return v;
    },
    [=](claim_atom, task_id id, millis at) {
      auto rp = self->make_response_promise<claim>();
      db->claim_requests.emplace_back(id, at);
      auto i = db->tasks.find(id);
      if (db->down) {
        rp.deliver(make_error(ec::unavailable, "fake outage"));
      } else if (i == db->tasks.end()) {
        rp.deliver(make_error(ec::not_found));
      } else if (i->second.status != task_status::pending) {
        rp.deliver(make_error(ec::not_pending));
      } else {
        i->second.status = task_status::running;
        claim c;
        c.run = db->next_run++;
        c.task = id;
        c.command = i->second.command;
        c.due = c.scheduled_for = i->second.due;
        db->claims.push_back(c);
        if (db->hold_claims)
          db->held_claims.emplace_back(rp, c);
        else
          rp.deliver(c);
      }
      return rp;
    },
    [=](unclaim_atom, run_id run) -> caf::result<caf::ok_atom> {
      db->unclaims.push_back(run);
      for (auto& c : db->claims)
        if (c.run == run)
          db->tasks[c.task].status = task_status::pending;
      return caf::ok_atom::value;
    },
    [=](started_atom, process_start& p) { db->starts.push_back(p); },
    [=](finished_atom, run_outcome& o) {
      auto rp = self->make_response_promise<caf::ok_atom>();
      db->tasks[o.task].status = o.status;
      db->outcomes.push_back(std::move(o));
      if (db->hold_finished)
        db->held.push_back(rp);
      else
        rp.deliver(caf::ok_atom::value);
      return rp;
    },
    [=](append_atom, run_id run, int64_t offset, std::string& data) {
      db->appends.push_back({run, offset, std::move(data)});
    },
    // The v1 reads know only what the fake keeps: tasks (without runs) and output.
    [=](task_atom, task_id id, int64_t) -> caf::result<task_info> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      return db->info_of(i->second);
    },
    [=](list_atom, const task_filter&) -> caf::result<task_page> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      task_page page;
      for (auto i = db->tasks.rbegin(); i != db->tasks.rend(); ++i)
        page.items.push_back(db->info_of(i->second));
      return page;
    },
    [=](list_atom, const run_filter&) -> caf::result<run_page> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      return run_page{};
    },
    [=](run_atom, run_id, int64_t) -> caf::result<run_info> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      return make_error(ec::not_found);
    },
    [=](output_atom, run_id run, int64_t offset, int64_t max) -> caf::result<output_slice> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      auto all = db->output_of(run);
      output_slice s;
      s.run = run;
      s.offset = std::clamp<int64_t>(offset, 0, static_cast<int64_t>(all.size()));
      s.data = all.substr(static_cast<size_t>(s.offset), static_cast<size_t>(max));
      s.next_offset = s.offset + static_cast<int64_t>(s.data.size());
      for (auto& o : db->outcomes)
        s.complete = s.complete || o.run == run;
      return s;
    },
    // A cancel stops a claimed run (stop_run names it); a trigger makes the task due again.
    [=](cancel_atom, task_id id, millis at, request_key&) -> caf::result<task_change> {
      db->cancels.emplace_back(id, at);
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      if (i->second.status != task_status::pending && i->second.status != task_status::running)
        return make_error(ec::invalid_state);
      task_change c;
      if (auto* cl = db->claim_of(id); cl && i->second.status == task_status::running)
        c.stop_run = cl->run;
      i->second.status = task_status::cancelled;
      c.task = db->info_of(i->second);
      return c;
    },
    [=](trigger_atom, task_id id, millis at, request_key&) -> caf::result<task_change> {
      db->triggers.emplace_back(id, at);
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      if (i->second.status == task_status::running || i->second.status == task_status::cancelled)
        return make_error(ec::invalid_state);
      i->second.status = task_status::pending;
      i->second.due = at;
      task_change c;
      c.task = db->info_of(i->second);
      c.task.next_run_at = at;
      return c;
    },
    // Pause drops the task's wake-up; resume names its due time as next_run_at.
    [=](pause_atom, task_id id, millis at, request_key&) -> caf::result<task_change> {
      db->pauses.emplace_back(id, at);
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      task_change c;
      c.task = db->info_of(i->second);
      c.task.state = task_state::paused;
      c.task.next_run_at.reset();
      return c;
    },
    [=](resume_atom, task_id id, millis at, request_key&) -> caf::result<task_change> {
      db->resumes.emplace_back(id, at);
      auto i = db->tasks.find(id);
      if (i == db->tasks.end())
        return make_error(ec::not_found);
      task_change c;
      c.task = db->info_of(i->second);
      c.task.next_run_at = i->second.due;
      return c;
    },
    // An edit is not modelled here (the store conformance tests cover it).
    [=](edit_atom, task_edit&, millis) -> caf::result<task_change> {
      return make_error(ec::unavailable, "fake persistence: no edits");
    },
    [=](ping_atom) -> caf::result<caf::ok_atom> {
      if (db->down)
        return make_error(ec::unavailable, "fake outage");
      return caf::ok_atom::value;
    },
    [=](flush_atom) {},
    [=](retry_atom) {},
    [=](release_atom) {
      for (auto& rp : db->held)
        rp.deliver(caf::ok_atom::value);
      db->held.clear();
      for (auto& [rp, c] : db->held_claims)
        rp.deliver(c);
      db->held_claims.clear();
    },
  };
}

// -- fake coordinator ---------------------------------------------------------------------

/// Stands in for the coordinator where a test drives an executor alone: it records the runs
/// whose end the executors report (done_atom), the retries they arm (rearm_atom, when
/// `rearmed` is given) and refuses everything else.
inline coordinator_actor::behavior_type
fake_coordinator(coordinator_actor::pointer, std::shared_ptr<std::vector<run_id>> done,
                 std::shared_ptr<std::vector<std::pair<task_id, millis>>> rearmed = nullptr) {
  auto refused = [] { return make_error(ec::unavailable, "fake coordinator"); };
  return {
    [=](schedule_atom, new_task&) -> caf::result<task_record> { return refused(); },
    [=](load_atom, std::vector<pending_entry>&) {},
    [=](tick_atom) {},
    [=](done_atom, run_id run) { done->push_back(run); },
    [=](rearm_atom, task_id task, millis at) {
      if (rearmed)
        rearmed->emplace_back(task, at);
    },
    [=](stats_atom) { return coordinator_stats{}; },
    [=](cancel_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](trigger_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](pause_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](resume_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](edit_atom, task_edit&) -> caf::result<task_change> { return refused(); },
    [=](shutdown_atom, int64_t) { return caf::ok_atom::value; },
    [=](kill_atom) {},
    [=](retry_atom) {},
  };
}

// -- fake process runner ------------------------------------------------------------------

/// Records every start and signal; a "process" runs until the test calls `end`.
class fake_runner final : public process_runner {
public:
  struct process {
    std::string command;
    spawned_process spawned;
    exit_handler on_exit;
    bool ended = false;
    start_options options;
    bool held = false;      // prepared, neither released nor abandoned
    bool released = false;
  };

  explicit fake_runner(std::shared_ptr<wall_clock> clock) : clock_(std::move(clock)) {
  }

  /// When set, start fails as if /bin/sh could not be spawned.
  bool fail_starts = false;
  std::vector<process> processes;
  /// (pgid, signal) in the order sent.
  std::vector<std::pair<int32_t, int>> signals;

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                       exit_handler on_exit) override {
    if (fail_starts)
      return make_error(ec::start_failed, "fake runner refuses to start");
    spawned_process p;
    p.pid = 20000 + static_cast<int32_t>(processes.size());
    p.pgid = p.pid;
    p.start_ticks = 4242;
    p.started_at = clock_->now_ms();
    p.handle = processes.size() + 1;
    p.run = opts.identity ? opts.identity->run : 0;
    processes.push_back(
      process{command, p, std::move(on_exit), false, std::move(opts), false, false});
    return p;
  }

  /// The `i`th process writes `text`: its live output handler sees it, as the real runner
  /// would hand it a piece it read.
  void write(size_t i, std::string text) {
    auto& p = processes.at(i);
    if (!p.ended && p.options.on_output)
      p.options.on_output(std::move(text));
  }

  /// Held like the real runner's prepare: `released` says whether release() came.
  caf::expected<spawned_process> prepare(const std::string& command, start_options opts,
                                         exit_handler on_exit) override {
    auto p = start(command, std::move(opts), std::move(on_exit));
    if (p) {
      p->started_at = 0;
      processes.back().spawned.started_at = 0;
      processes.back().held = true;
    }
    return p;
  }

  caf::expected<millis> release(const spawned_process& sp) override {
    for (auto& p : processes)
      if (p.spawned.handle == sp.handle && p.held && !p.ended) {
        p.held = false;
        p.released = true;
        return p.spawned.started_at = clock_->now_ms();
      }
    return make_error(ec::start_failed, "not held");
  }

  /// Ends a held process as never started, as the real runner's helper would.
  void abandon(const spawned_process& sp) override {
    for (size_t i = 0; i < processes.size(); ++i)
      if (processes[i].spawned.handle == sp.handle && processes[i].held)
        end(i, 121, std::nullopt, {}, true);
  }

  void signal_run(const spawned_process& p, int sig) override {
    signals.emplace_back(p.pgid, sig);
  }

  void forget(const spawned_process& p) override {
    forgotten.push_back(p.run);
  }

  kill_mode active_kill_mode() const override {
    return kill_mode::scan;
  }

  std::string kill_mode_detail() const override {
    return "scan (fake)";
  }

  /// The runs whose markers forget() dropped.
  std::vector<run_id> forgotten;

  /// Ends the `i`th started process as the real runner would: its exit handler, once.
  /// A process killed by `signal` has no exit code.
  void end(size_t i, int32_t exit_code, std::optional<int32_t> signal = std::nullopt,
           std::string output = {}, bool never_started = false) {
    auto& p = processes.at(i);
    if (p.ended)
      return;
    p.ended = true;
    p.held = false;
    process_exit e;
    e.never_started = never_started;
    if (signal)
      e.signal = signal;
    else
      e.exit_code = exit_code;
    e.output = std::move(output);
    e.finished_at = clock_->now_ms();
    p.on_exit(std::move(e));
  }

  /// Ends every process still running, so no executor outlives the test.
  void end_all() {
    for (size_t i = 0; i < processes.size(); ++i)
      end(i, 0);
  }

  /// Index of the process started for `command`, or -1.
  int index_of(const std::string& command) const {
    for (size_t i = 0; i < processes.size(); ++i)
      if (processes[i].command == command)
        return static_cast<int>(i);
    return -1;
  }

  /// Released (or started at once): the command runs. A held process has not started.
  bool started(const std::string& command) const {
    for (auto& p : processes)
      if (p.command == command && (p.released || (!p.held && p.spawned.started_at != 0)))
        return true;
    return false;
  }

  /// The commands started (released, or started at once), in order; held ones are not.
  std::vector<std::string> commands() const {
    std::vector<std::string> out;
    for (auto& p : processes)
      if (p.released || (!p.held && p.spawned.started_at != 0))
        out.push_back(p.command);
    return out;
  }

private:
  std::shared_ptr<wall_clock> clock_;
};

} // namespace ts::test
