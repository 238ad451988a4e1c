#include "actors/persistence.hpp"

#include <algorithm>

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace ts {

persistence_options default_persistence_options() {
  return {defaults::max_batch, defaults::max_backlog_bytes, defaults::reconnect_min,
          defaults::reconnect_max};
}

size_t held_size(const process_start&) {
  return sizeof(process_start);
}

size_t held_size(const output_piece& x) {
  return sizeof(output_piece) + x.data.size();
}

size_t held_size(const run_outcome& x) {
  return sizeof(run_outcome) + x.output.size() + (x.message ? x.message->size() : 0);
}

namespace {

using link = persistence_state::link;
using time_point = persistence_state::time_point;
using std::chrono::milliseconds;

/// A group commit taking this long is logged.
constexpr auto slow_commit = std::chrono::seconds(1);
/// During an outage, how often a line says it still lasts: often enough for an operator
/// reading the log, rare enough not to flood it.
constexpr auto still_down_every = std::chrono::minutes(1);

bool is_outage(const caf::error& err) {
  return err == ec::unavailable;
}

int64_t ms_since(time_point t0, time_point now) {
  return std::chrono::duration_cast<milliseconds>(now - t0).count();
}

void note_backlog(const persistence_state& st) {
  if (st.opts.metrics)
    st.opts.metrics->storage_backlog(st.held.count());
}

void schedule_flush(persistence_pointer self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    // Goes behind every message already queued: whatever arrived together commits together.
    self->send(self, flush_atom::value);
  }
}

// -- the link to the database: down once, up once, backoff in between ----------------------
//
// An outage is logged when it begins (database_down) and when it ends (database_up, with
// the attempts it took); storage_up follows the same two events. It ends only when what
// failed works again: a failed write at a commit, a failed read at a ping. A reconnect that
// works while commits still fail (a full disk) is one more failed attempt, and the backoff
// keeps growing until a commit goes through.

void arm_retry(persistence_pointer self, milliseconds delay) {
  auto& st = self->state;
  st.retry_due = self->clock().now() + delay;
  if (delay.count() <= 0)
    self->send(self, retry_atom::value);
  else
    self->delayed_send(self, delay, retry_atom::value);
}

// `delay`, but during a shutdown never past its deadline, where the last attempt is made.
milliseconds within_stop(const persistence_state& st, time_point now, milliseconds delay) {
  if (!st.stopping)
    return delay;
  return std::clamp(std::chrono::duration_cast<milliseconds>(st.stop_deadline - now),
                    milliseconds::zero(), delay);
}

// Doubles from reconnect_min to reconnect_max.
milliseconds next_delay(persistence_state& st, time_point now) {
  st.backoff = st.backoff.count() == 0 ? st.opts.reconnect_min
                                       : std::min(st.backoff * 2, st.opts.reconnect_max);
  return within_stop(st, now, st.backoff);
}

void give_up(persistence_pointer self);
void maybe_finish_stop(persistence_pointer self);

void attempt_failed(persistence_pointer self, const caf::error& err) {
  auto& st = self->state;
  auto now = self->clock().now();
  ++st.failures;
  st.last_error = render(err);
  // The shutdown has been answered: no more attempts.
  if (st.stopping && !st.stop_rp.pending())
    return;
  if (st.stopping && now >= st.stop_deadline) {
    give_up(self);
    return;
  }
  auto delay = next_delay(st, now);
  if (now - st.still_down_logged >= still_down_every) {
    st.still_down_logged = now;
    log::warn("database_still_down",
              {{"backend", st.db->backend()}, {"down_ms", ms_since(st.down_since, now)},
               {"attempts", st.attempts}, {"failures", st.failures},
               {"backlog", st.held.outcomes.size()}, {"output_backlog", st.held.appends.size()},
               {"retry_in_ms", delay.count()}, {"error", st.last_error}});
  }
  arm_retry(self, delay);
}

void go_down(persistence_pointer self, const caf::error& err, bool on_write) {
  auto& st = self->state;
  if (st.state == link::down) {
    st.last_error = render(err);
    return;
  }
  if (st.state == link::probing) {
    // The reconnect that ended in probing did not hold: one more failed attempt.
    st.state = link::down;
    attempt_failed(self, err);
    return;
  }
  auto now = self->clock().now();
  log::error("database_down", {{"backend", st.db->backend()}, {"error", render(err)}});
  st.state = link::down;
  st.down_since = now;
  st.still_down_logged = now;
  st.down_on_write = on_write;
  st.attempts = 0;
  st.failures = 0;
  st.last_error = render(err);
  if (st.opts.metrics)
    st.opts.metrics->storage_up(false);
  arm_retry(self, next_delay(st, now));
}

/// `outcomes` and `pieces`: what the commit that ended the outage wrote of the writes held
/// during it.
void confirm_up(persistence_pointer self, bool by_commit, size_t outcomes, size_t pieces) {
  auto& st = self->state;
  log::info("database_up", {{"backend", st.db->backend()},
                            {"down_ms", ms_since(st.down_since, self->clock().now())},
                            {"attempts", st.attempts}, {"failures", st.failures},
                            {"confirmed_by", by_commit ? "commit" : "ping"},
                            {"backlog", outcomes}, {"output_backlog", pieces}});
  st.state = link::up;
  // A ping proves nothing about writes: a relapse goes on from the backoff reached.
  if (by_commit)
    st.backoff = milliseconds::zero();
  if (st.opts.metrics)
    st.opts.metrics->storage_up(true);
  maybe_finish_stop(self);
}

// -- one write, from its arrival to its reply ---------------------------------------------
//
// apply() writes inside the open transaction and keeps the result in the write itself;
// answer() delivers it once the commit has made it durable; hold_or_refuse() settles the
// write when the database is away. A batch is a list of such self-contained writes, so no
// reply can reach another request.

using insert_op = persistence_state::insert_op;
using claim_op = persistence_state::claim_op;
using unclaim_op = persistence_state::unclaim_op;
using start_op = persistence_state::start_op;
using finish_op = persistence_state::finish_op;
using append_op = persistence_state::append_op;
using change_op = persistence_state::change_op;

template <class T>
void deliver(caf::typed_response_promise<T>& rp, caf::expected<T>& result) {
  if (result)
    rp.deliver(std::move(*result));
  else
    rp.deliver(result.error());
}

void deliver(caf::typed_response_promise<caf::ok_atom>& rp, const caf::error& result) {
  if (result)
    rp.deliver(result);
  else
    rp.deliver(caf::ok_atom::value);
}

template <class T>
caf::error error_of(const caf::expected<T>& result) {
  return result ? caf::error{} : result.error();
}

caf::error apply(storage::store& db, insert_op& x) {
  x.result = db.insert_task(x.task);
  return error_of(x.result);
}

caf::error apply(storage::store& db, claim_op& x) {
  x.result = db.claim_run(x.task, x.at);
  return error_of(x.result);
}

caf::error apply(storage::store& db, unclaim_op& x) {
  return x.result = db.unclaim_run(x.run);
}

caf::error apply(storage::store& db, start_op& x) {
  return x.result = db.record_start(x.start);
}

caf::error apply(storage::store& db, finish_op& x) {
  return x.result = db.finish_run(x.outcome);
}

caf::error apply(storage::store& db, append_op& x) {
  return x.result = db.append_output(x.piece.run, x.piece.offset, x.piece.data);
}

caf::error apply(storage::store& db, change_op& x) {
  using kind = change_op::kind;
  switch (x.what) {
    case kind::cancel:
      x.result = db.cancel_task(x.task, x.at, x.key);
      break;
    case kind::trigger:
      x.result = db.trigger_task(x.task, x.at, x.key);
      break;
    case kind::pause:
      x.result = db.pause_task(x.task, x.at, x.key);
      break;
    case kind::resume:
      x.result = db.resume_task(x.task, x.at, x.key);
      break;
    case kind::edit:
      x.result = db.update_task(*x.edit, x.at);
      break;
  }
  return error_of(x.result);
}

void log_append_failed(const output_piece& p, const caf::error& err) {
  log::warn("append_output_failed",
            {{"run", p.run}, {"offset", p.offset}, {"error", render(err)}});
}

template <class Op>
void answer(Op& x) {
  deliver(x.rp, x.result);
}

void answer(start_op& x) {
  if (x.result)
    log::warn("record_start_failed", {{"run", x.start.run}, {"error", render(x.result)}});
}

void answer(append_op& x) {
  if (x.result)
    log_append_failed(x.piece, x.result);
}

// Outcomes, process starts and output may wait for the database: their processes already ran.
// Everything else is refused so the client learns at once that nothing was stored. What
// waits is bounded by max_backlog_bytes, which also sizes the recovery file.
template <class Op>
void hold_or_refuse(persistence_state&, Op& x, const caf::error& err) {
  x.rp.deliver(err);
}

bool fits(persistence_state& st, size_t size) {
  if (st.backlog_bytes + size > st.opts.max_backlog_bytes)
    return false;
  st.backlog_bytes += size;
  return true;
}

void hold_or_refuse(persistence_state& st, start_op& x, const caf::error&) {
  // Only crash recovery reads it (to kill a leftover); the outcome still lands.
  if (!fits(st, held_size(x.start))) {
    log::warn("record_start_dropped",
              {{"run", x.start.run}, {"error", "database unavailable and backlog full"}});
    return;
  }
  st.held.starts.push_back(x.start);
  note_backlog(st);
}

void hold_or_refuse(persistence_state& st, finish_op& x, const caf::error&) {
  if (!fits(st, held_size(x.outcome))) {
    st.refused_outcomes.insert(x.outcome.run);
    x.rp.deliver(make_error(ec::unavailable, "database unavailable and backlog full"));
    return;
  }
  st.refused_outcomes.erase(x.outcome.run);
  st.held.outcomes.push_back(std::move(x.outcome));
  x.rp.deliver(caf::ok_atom::value);
  note_backlog(st);
}

// A piece that does not fit is dropped, and so is the rest of that run's stream (the store
// takes a stream only in order): a follower loses the live view, while the outcome, which
// carries the tail, still waits or is retried.
void hold_or_refuse(persistence_state& st, append_op& x, const caf::error&) {
  if (st.output_gaps.count(x.piece.run) > 0)
    return;
  if (!fits(st, held_size(x.piece))) {
    st.output_gaps.insert(x.piece.run);
    log::warn("output_dropped", {{"run", x.piece.run},
                                 {"offset", x.piece.offset},
                                 {"bytes", x.piece.data.size()},
                                 {"error", "database unavailable and backlog full"}});
    return;
  }
  st.held.appends.push_back(std::move(x.piece));
  note_backlog(st);
}

using write_ops = std::vector<persistence_state::write_op>;

void hold_or_refuse_all(persistence_state& st, write_ops& ops, const caf::error& err) {
  for (auto& op : ops)
    std::visit([&](auto& x) { hold_or_refuse(st, x, err); }, op);
}

// -- the group commit ---------------------------------------------------------------------

// Writes the held writes and then `ops` in one transaction. Results are kept in the writes
// until the commit: nothing is acknowledged before it is durable. Returns the outage that
// undid it all, if any; the held writes are then still held.
caf::error commit_all(persistence_state& st, write_ops& ops) {
  auto began = std::chrono::steady_clock::now();
  auto rows = ops.size() + st.held.count();
  caf::error outage;
  auto note = [&](caf::error err) {
    if (err && is_outage(err) && !outage)
      outage = err;
    return err;
  };
  // A transaction that cannot begin is an outage, whatever the reason.
  if (auto err = st.db->begin())
    outage = is_outage(err) ? err : make_error(ec::unavailable, render(err));
  if (!outage) {
    for (auto& s : st.held.starts)
      if (auto err = note(st.db->record_start(s)); err && !outage)
        log::warn("record_start_failed", {{"run", s.run}, {"error", render(err)}});
    for (auto& a : st.held.appends)
      if (auto err = note(st.db->append_output(a.run, a.offset, a.data)); err && !outage)
        log_append_failed(a, err);
    for (auto& o : st.held.outcomes)
      if (auto err = note(st.db->finish_run(o)); err && !outage)
        log::warn("finish_run_failed", {{"run", o.run}, {"error", render(err)}});
  }
  for (auto& op : ops) {
    if (outage)
      break;
    std::visit([&](auto& x) { note(apply(*st.db, x)); }, op);
  }
  // A commit that failed for any reason made nothing durable.
  if (!outage)
    if (auto err = st.db->commit())
      outage = is_outage(err) ? err : make_error(ec::unavailable, render(err));
  auto took = std::chrono::steady_clock::now() - began;
  if (outage)
    st.db->rollback();
  if (st.opts.metrics)
    st.opts.metrics->transaction(!outage, rows, took);
  if (outage)
    return outage;
  // Slow commits are what an operator looks for when runs start late.
  if (took >= slow_commit)
    log::warn("slow_commit",
              {{"rows", rows},
               {"duration_ms", std::chrono::duration_cast<milliseconds>(took).count()}});
  if (!st.held.empty()) {
    st.held = held_writes{};
    st.backlog_bytes = 0;
    note_backlog(st);
  }
  return caf::none;
}

void maybe_finish_stop(persistence_pointer self) {
  auto& st = self->state;
  if (st.stopping && st.stop_rp.pending() && st.held.empty() && st.batch.empty())
    st.stop_rp.deliver(caf::ok_atom::value);
}

void flush(persistence_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.state == link::down) {
    // Refuse or keep everything gathered; the reconnect loop writes the held writes later.
    hold_or_refuse_all(st, st.batch, make_error(ec::unavailable, "database unavailable"));
    st.batch.clear();
    maybe_finish_stop(self);
    return;
  }
  if (st.batch.empty() && st.held.empty())
    return;
  auto ops = std::move(st.batch);
  st.batch.clear();
  auto outcomes = st.held.outcomes.size();
  auto pieces = st.held.appends.size();
  if (auto outage = commit_all(st, ops)) {
    // Held or refused first: going down at the end of a shutdown saves what is held.
    hold_or_refuse_all(st, ops, outage);
    go_down(self, outage, true);
    return;
  }
  if (st.state == link::probing)
    confirm_up(self, true, outcomes, pieces);
  else
    st.backoff = milliseconds::zero();
  for (auto& op : ops)
    std::visit([](auto& x) { answer(x); }, op);
  maybe_finish_stop(self);
}

// One reconnect attempt of the outage loop (down), or the end of a probation (probing).
void retry(persistence_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  bool stopped = st.stopping && !st.stop_rp.pending();
  if (st.state == link::up || now < st.retry_due || stopped)
    return;
  if (st.state == link::probing) {
    // No write came to prove or disprove the reconnect: the database answers, so it is up.
    if (auto err = st.db->ping())
      go_down(self, err, false);
    else
      confirm_up(self, false, 0, 0);
    return;
  }
  ++st.attempts;
  auto err = st.db->reconnect();
  if (st.opts.metrics)
    st.opts.metrics->reconnect_attempt(!err);
  if (err) {
    attempt_failed(self, err);
    return;
  }
  if (!st.held.empty()) {
    auto outcomes = st.held.outcomes.size();
    auto pieces = st.held.appends.size();
    write_ops none;
    if (auto outage = commit_all(st, none)) {
      attempt_failed(self, outage);
      return;
    }
    confirm_up(self, true, outcomes, pieces);
    return;
  }
  if (auto outage = st.db->ping()) {
    attempt_failed(self, outage);
    return;
  }
  if (!st.down_on_write) {
    confirm_up(self, false, 0, 0);
    return;
  }
  // A write failed and nothing held can show whether writes work again: the next write
  // does, or the probation's end.
  st.state = link::probing;
  arm_retry(self, within_stop(st, now, st.opts.reconnect_max));
}

// -- shutdown -------------------------------------------------------------------------------

// The shutdown's grace is over and the database still refuses the held writes: they go to
// the recovery file, which the next start replays.
void give_up(persistence_pointer self) {
  auto& st = self->state;
  auto& h = st.held;
  if (h.empty()) {
    maybe_finish_stop(self);
    return;
  }
  auto down_ms = ms_since(st.down_since, self->clock().now());
  // Outcomes refused for a full backlog stay with their executors; nothing can save them.
  auto lost = st.refused_outcomes.size();
  caf::error reply;
  if (!st.opts.recovery) {
    log::error("recovery_failed", {{"count", h.count()}, {"outcomes", h.outcomes.size()},
                                   {"lost_outcomes", lost}, {"error", "no recovery file"}});
    reply = make_error(ec::storage_failure,
                       std::to_string(h.count()) + " writes lost: no recovery file");
  } else if (auto bytes = st.opts.recovery->write(h); !bytes) {
    log::error("recovery_failed",
               {{"path", st.opts.recovery->path()}, {"count", h.count()},
                {"outcomes", h.outcomes.size()}, {"lost_outcomes", lost},
                {"error", render(bytes.error())}});
    reply = make_error(ec::storage_failure, std::to_string(h.count()) + " writes lost: "
                                              + render(bytes.error()));
  } else {
    log::error("recovery_written",
               {{"path", st.opts.recovery->path()}, {"count", h.count()}, {"bytes", *bytes},
                {"outcomes", h.outcomes.size()}, {"starts", h.starts.size()},
                {"output_pieces", h.appends.size()}, {"lost_outcomes", lost},
                {"down_ms", down_ms}, {"attempts", st.attempts},
                {"error", st.last_error}});
    reply = make_error(lost > 0 ? ec::storage_failure : ec::unavailable,
                       std::to_string(h.count()) + " writes saved to "
                         + st.opts.recovery->path() + " for the next start"
                         + (lost > 0 ? ", " + std::to_string(lost) + " outcomes lost" : ""));
  }
  st.held = held_writes{};
  st.backlog_bytes = 0;
  note_backlog(st);
  st.stop_rp.deliver(reply);
}

caf::result<caf::ok_atom> begin_stop(persistence_pointer self, int64_t grace_ms) {
  auto& st = self->state;
  if (st.stopping)
    return make_error(ec::shutting_down, "shutdown already in progress");
  st.stopping = true;
  st.stop_deadline = self->clock().now() + milliseconds{std::max<int64_t>(grace_ms, 0)};
  st.stop_rp = self->make_response_promise<caf::ok_atom>();
  auto rp = st.stop_rp;
  flush(self);
  if (st.state == link::down && !st.held.empty()) {
    log::warn("shutdown_with_backlog",
              {{"count", st.held.count()}, {"outcomes", st.held.outcomes.size()},
               {"grace_ms", grace_ms}});
    // At once rather than at the end of the backoff, then on until the deadline.
    arm_retry(self, milliseconds::zero());
  }
  maybe_finish_stop(self);
  return rp;
}

// Reads go straight to the store, outside of any batch; an outage they meet starts the
// reconnect loop like a failed commit.
template <class T>
caf::result<T> read_reply(persistence_pointer self, caf::expected<T> r) {
  if (!r) {
    if (is_outage(r.error()))
      go_down(self, r.error(), false);
    return std::move(r.error());
  }
  return std::move(*r);
}

template <class Op>
void gather(persistence_pointer self, Op op) {
  auto& st = self->state;
  st.batch.emplace_back(std::move(op));
  if (st.batch.size() >= st.opts.max_batch)
    flush(self);
  else
    schedule_flush(self);
}

caf::result<task_change> change(persistence_pointer self, change_op::kind what, task_id id,
                                millis at, request_key key,
                                std::optional<task_edit> edit = std::nullopt) {
  auto rp = self->make_response_promise<task_change>();
  gather(self, change_op{what, id, at, std::move(key), rp, std::move(edit)});
  return rp;
}

} // namespace

persistence_owner_actor::behavior_type persistence(persistence_pointer self,
                                                   std::shared_ptr<storage::store> db,
                                                   persistence_options opts) {
  self->state.db = std::move(db);
  self->state.opts = opts;
  return {
    [=](schedule_atom, new_task& t) {
      auto rp = self->make_response_promise<task_record>();
      gather(self, insert_op{std::move(t), rp});
      return rp;
    },
    [=](caf::get_atom, task_id id) {
      return read_reply(self, self->state.db->get_task(id));
    },
    [=](claim_atom, task_id id, millis at) {
      auto rp = self->make_response_promise<claim>();
      gather(self, claim_op{id, at, rp});
      return rp;
    },
    [=](unclaim_atom, run_id run) {
      auto rp = self->make_response_promise<caf::ok_atom>();
      gather(self, unclaim_op{run, rp});
      return rp;
    },
    [=](started_atom, process_start& p) {
      gather(self, start_op{p});
    },
    [=](finished_atom, run_outcome& o) {
      // The run's stream is over: no piece of it can follow a gap any more.
      self->state.output_gaps.erase(o.run);
      auto rp = self->make_response_promise<caf::ok_atom>();
      gather(self, finish_op{std::move(o), rp});
      return rp;
    },
    [=](append_atom, run_id run, int64_t offset, std::string& data) {
      // After a gap the store would refuse every later piece of the run: drop them here.
      if (self->state.output_gaps.count(run) > 0)
        return;
      gather(self, append_op{output_piece{run, offset, std::move(data)}});
    },
    [=](task_atom, task_id id, int64_t output_tail) {
      return read_reply(self, self->state.db->get_task_info(id, output_tail));
    },
    [=](list_atom, const task_filter& f) { return read_reply(self, self->state.db->list_tasks(f)); },
    [=](list_atom, const run_filter& f) { return read_reply(self, self->state.db->list_runs(f)); },
    [=](run_atom, run_id id, int64_t output_tail) {
      return read_reply(self, self->state.db->get_run(id, output_tail));
    },
    [=](output_atom, run_id id, int64_t offset, int64_t max_bytes) {
      return read_reply(self, self->state.db->read_output(id, offset, max_bytes));
    },
    [=](cancel_atom, task_id id, millis at, request_key& key) {
      return change(self, change_op::kind::cancel, id, at, std::move(key));
    },
    [=](trigger_atom, task_id id, millis at, request_key& key) {
      return change(self, change_op::kind::trigger, id, at, std::move(key));
    },
    [=](pause_atom, task_id id, millis at, request_key& key) {
      return change(self, change_op::kind::pause, id, at, std::move(key));
    },
    [=](resume_atom, task_id id, millis at, request_key& key) {
      return change(self, change_op::kind::resume, id, at, std::move(key));
    },
    [=](edit_atom, task_edit& e, millis at) {
      auto id = e.id;
      return change(self, change_op::kind::edit, id, at, {}, std::move(e));
    },
    [=](ping_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (st.state == link::down)
        return make_error(ec::unavailable, "database unavailable");
      if (auto err = st.db->ping()) {
        if (is_outage(err))
          go_down(self, err, false);
        return err;
      }
      return caf::ok_atom::value;
    },
    [=](flush_atom) { flush(self); },
    [=](retry_atom) { retry(self); },
    [=](shutdown_atom, int64_t grace_ms) { return begin_stop(self, grace_ms); },
  };
}

} // namespace ts
