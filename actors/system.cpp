#include "actors/system.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "core/error.hpp"
#include "actors/instrumented_actor.hpp"
#include "core/log.hpp"

namespace ts {

caf::expected<service_actors> start_service(caf::actor_system& sys,
                                            std::shared_ptr<storage::store> db,
                                            std::shared_ptr<process_runner> runner,
                                            std::shared_ptr<wall_clock> clock,
                                            const service_options& opts) {
  // Crash recovery comes first: a run left `running` never starts again.
  auto orphans = db->interrupt_running(clock->now_ms());
  if (!orphans)
    return orphans.error();
  for (auto& o : *orphans) {
    auto& p = o.process;
    auto killed = p && kill_leftover(p->pid, p->pgid, p->start_ticks);
    // pid=0 in the log for a run whose process was never recorded, as its readers know it.
    log::warn("run_interrupted_by_crash", {{"task", o.task}, {"run", o.run},
                                           {"pid", p ? p->pid : 0},
                                           {"leftover_killed", killed}});
    if (opts.metrics)
      opts.metrics->run_finished(task_status::failure, run_reason::interrupted,
                                 std::chrono::milliseconds{-1}, 0);
  }
  std::vector<pending_entry> pending;
  if (auto err = db->load_pending([&](const pending_entry& e) { pending.push_back(e); }))
    return err;
  auto persistence_opts = opts.persistence;
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

void stop_service(caf::actor_system& sys, const service_actors& actors, int64_t grace_ms) {
  caf::scoped_actor self{sys};
  self->request(actors.coordinator, caf::infinite, shutdown_atom::value, grace_ms)
    .receive([](caf::ok_atom) {},
             [](caf::error& err) { log::error("shutdown_failed", {{"error", render(err)}}); });
  // Every outcome was acknowledged before the coordinator drained; a ping behind them
  // makes sure persistence has flushed the rest (process starts) too.
  self->request(actors.persistence, caf::infinite, ping_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->send_exit(actors.coordinator, caf::exit_reason::user_shutdown);
  self->send_exit(actors.persistence, caf::exit_reason::user_shutdown);
}

} // namespace ts
