#include "actors/system.hpp"

#include <algorithm>
#include <chrono>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "core/error.hpp"
#include "actors/instrumented_actor.hpp"
#include "process/leftovers.hpp"
#include "core/log.hpp"
#include "core/retry.hpp"

namespace ts {

namespace {

// Applies what the last shutdown saved, in one transaction and in the order persistence
// writes (starts, output, outcomes). Each write is idempotent in the store (an outcome
// applied twice is the same outcome, output already stored is skipped), so a start cut
// short after the commit replays it harmlessly; a write the store refuses for what it is
// (its run is gone) is logged and skipped. An outage fails the start and keeps the file.
caf::error replay(storage::store& db, recovery_file& file) {
  auto held = file.read();
  if (!held) {
    log::error("recovery_refused", {{"path", file.path()}, {"error", render(held.error())}});
    auto& why = held.error().context();
    auto text = why.size() == 1 && why.match_element<std::string>(0)
                  ? why.get_as<std::string>(0)
                  : render(held.error());
    return make_error(ec::storage_failure,
                      text + "; move it away to start without it (its writes are then lost)");
  }
  if (held->empty())
    return caf::none;
  size_t skipped = 0;
  auto check = [&](caf::error err, const char* kind, run_id run) {
    if (!err || err == ec::unavailable)
      return err;
    ++skipped;
    log::warn("recovery_write_skipped", {{"kind", kind}, {"run", run}, {"error", render(err)}});
    return caf::error{};
  };
  auto apply_all = [&]() -> caf::error {
    if (auto err = db.begin())
      return err;
    for (auto& s : held->starts)
      if (auto err = check(db.record_start(s), "start", s.run))
        return err;
    for (auto& a : held->appends)
      if (auto err = check(db.append_output(a.run, a.offset, a.data), "output", a.run))
        return err;
    for (auto& o : held->outcomes)
      if (auto err = check(db.finish_run(o), "outcome", o.run))
        return err;
    return db.commit();
  };
  if (auto err = apply_all()) {
    db.rollback();
    log::error("recovery_replay_failed", {{"path", file.path()}, {"error", render(err)}});
    return err;
  }
  log::info("recovery_replayed",
            {{"path", file.path()}, {"count", held->count()},
             {"outcomes", held->outcomes.size()}, {"starts", held->starts.size()},
             {"output_pieces", held->appends.size()}, {"skipped", skipped}});
  return caf::none;
}

// Opens the recovery file, replays it, and reserves it for this run's shutdown. A file
// that cannot be opened or reserved is logged, not fatal: it only matters if the database
// is also away at the next shutdown, and refusing to run would be a sure outage for a
// possible one.
caf::expected<std::shared_ptr<recovery_file>>
prepare_recovery(storage::store& db, const std::string& path, size_t max_backlog_bytes) {
  auto file = recovery_file::open(path);
  if (!file) {
    log::error("recovery_unavailable", {{"path", path}, {"error", render(file.error())}});
    return std::shared_ptr<recovery_file>{};
  }
  if (auto err = replay(db, **file))
    return err;
  auto bytes = recovery_file::bytes_for(max_backlog_bytes);
  if (auto err = (*file)->reset(bytes))
    log::error("recovery_reserve_failed",
               {{"path", path}, {"bytes", bytes}, {"error", render(err)}});
  return *file;
}

// A run a crash interrupted is tried again only where its task asks (retry.on_interrupted)
// and attempts remain, as the executor decides for one interrupted while the service runs.
void retry_if_asked(storage::store& db, const orphan_run& o, millis now) {
  auto run = db.get_run(o.run, 0);
  auto task = run ? db.get_task_info(o.task, 0) : caf::expected<task_info>{run.error()};
  if (!task) {
    log::warn("retry_check_failed", {{"run", o.run}, {"error", render(task.error())}});
    return;
  }
  auto& policy = task->controls.retry;
  if (!retryable(policy, run->attempt, task_status::failure, run_reason::interrupted))
    return;
  auto at = retry_time(policy, run->attempt, now);
  auto err = db.begin();
  if (!err)
    err = db.retry_interrupted(o.run, at);
  if (!err)
    err = db.commit();
  if (err) {
    db.rollback();
    log::warn("retry_after_crash_failed", {{"run", o.run}, {"error", render(err)}});
    return;
  }
  log::info("retry_after_crash", {{"task", o.task}, {"run", o.run},
                                  {"attempt", run->attempt + 1}, {"retry_at", at}});
}

} // namespace

caf::expected<service_actors> start_service(caf::actor_system& sys,
                                            std::shared_ptr<storage::store> db,
                                            std::shared_ptr<process_runner> runner,
                                            std::shared_ptr<wall_clock> clock,
                                            const service_options& opts) {
  // What the last shutdown could not write comes first: crash recovery would end its runs
  // as interrupted, and a replayed outcome may add a pending retry.
  std::shared_ptr<recovery_file> recovery;
  if (!opts.recovery_path.empty()) {
    auto r = prepare_recovery(*db, opts.recovery_path, opts.persistence.max_backlog_bytes);
    if (!r)
      return r.error();
    recovery = std::move(*r);
  }
  // Crash recovery next. A run whose command provably never started (its helper was held
  // when the service died: no start marker) runs after all; one that may have started is
  // interrupted, and every process it left is killed before the service listens.
  auto orphans = db->interrupt_running(clock->now_ms());
  if (!orphans)
    return orphans.error();
  for (auto& o : *orphans) {
    auto& p = o.process;
    auto fate = run_fate::may_have_started;
    if (opts.scope)
      fate = classify_leftover(*opts.scope, o.run, p ? p->pid : 0, p ? p->start_ticks : 0);
    if (fate == run_fate::never_started) {
      auto err = db->begin();
      if (!err)
        err = db->requeue_unstarted(o.run);
      if (!err)
        err = db->commit();
      if (!err) {
        log::info("run_requeued_after_crash", {{"task", o.task}, {"run", o.run}});
        continue;
      }
      db->rollback();
      log::warn("requeue_failed", {{"run", o.run}, {"error", render(err)}});
    }
    auto killed = p && kill_leftover(p->pid, p->pgid, p->start_ticks);
    // Every process of the run, also one whose pid was never recorded or that left its
    // group (setsid): by its cgroup or TS_RUN_ID. False only if some survived SIGKILL.
    auto gone = !opts.scope || kill_run_leftovers(*opts.scope, o.run);
    // pid=0 in the log for a run whose process was never recorded, as its readers know it.
    log::warn("run_interrupted_by_crash", {{"task", o.task}, {"run", o.run},
                                           {"pid", p ? p->pid : 0},
                                           {"leftover_killed", killed},
                                           {"leftovers_gone", gone}});
    if (opts.metrics)
      opts.metrics->run_finished(task_status::failure, run_reason::interrupted,
                                 std::chrono::milliseconds{-1}, 0);
    retry_if_asked(*db, o, clock->now_ms());
  }
  // Markers of runs whose fate is recorded, and empty run cgroups, go.
  if (opts.scope)
    prune_finished_runs(*opts.scope, {});
  std::vector<pending_entry> pending;
  if (auto err = db->load_pending([&](const pending_entry& e) { pending.push_back(e); }))
    return err;
  auto persistence_opts = opts.persistence;
  persistence_opts.recovery = recovery;
  auto coordinator_opts = opts.coordinator;
  if (opts.metrics) {
    persistence_opts.metrics = opts.metrics;
    coordinator_opts.metrics = opts.metrics;
  }
  auto* m = opts.metrics.get();
  auto persistence_handle = spawn_instrumented<caf::detached>(
    sys, m, actor_kind::persistence, persistence, db, persistence_opts);
  auto coordinator_handle = spawn_instrumented(sys, m, actor_kind::coordinator, coordinator,
                                               persistence_handle, std::move(runner),
                                               std::move(clock), coordinator_opts);
  caf::scoped_actor self{sys};
  self->send(coordinator_handle, load_atom::value, std::move(pending));
  // The coordinator handles messages in order: once it answers, every task is armed.
  caf::error failure;
  self->request(coordinator_handle, caf::infinite, stats_atom::value)
    .receive([](const coordinator_stats&) {}, [&](caf::error& err) { failure = err; });
  if (failure)
    return failure;
  return service_actors{persistence_handle, coordinator_handle};
}

caf::error stop_service(caf::actor_system& sys, const service_actors& actors,
                        int64_t grace_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds{grace_ms};
  caf::scoped_actor self{sys};
  self->request(actors.coordinator, caf::infinite, shutdown_atom::value, grace_ms)
    .receive([](caf::ok_atom) {},
             [](caf::error& err) { log::error("shutdown_failed", {{"error", render(err)}}); });
  // Every outcome was acknowledged (stored, or held during an outage) before the
  // coordinator drained; process starts and output came before them. Persistence writes
  // what it holds until the grace is over, then saves the rest to the recovery file.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now())
                .count();
  caf::error result;
  self->request(actors.persistence, caf::infinite, shutdown_atom::value,
                std::max<int64_t>(left, 0))
    .receive([](caf::ok_atom) {}, [&](caf::error& err) { result = std::move(err); });
  self->send_exit(actors.coordinator, caf::exit_reason::user_shutdown);
  self->send_exit(actors.persistence, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace ts
