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

namespace {

/// A group commit taking this long is logged.
constexpr auto slow_commit = std::chrono::seconds(1);

bool is_outage(const caf::error& err) {
  return err == ec::unavailable;
}

void note_backlog(const persistence_state& st) {
  if (st.opts.metrics)
    st.opts.metrics->storage_backlog(st.start_backlog.size() + st.append_backlog.size()
                                     + st.outcome_backlog.size());
}

void schedule_flush(persistence_pointer self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    // Goes behind every message already queued: whatever arrived together commits together.
    self->send(self, flush_atom::value);
  }
}

void go_down(persistence_pointer self, const caf::error& err) {
  auto& st = self->state;
  if (st.up) {
    log::error("database_down", {{"backend", st.db->backend()}, {"error", render(err)}});
    st.up = false;
    st.down_since = std::chrono::steady_clock::now();
    if (st.opts.metrics)
      st.opts.metrics->storage_up(false);
    st.backoff = st.opts.reconnect_min;
    self->delayed_send(self, st.backoff, retry_atom::value);
  }
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
using cancel_op = persistence_state::cancel_op;
using trigger_op = persistence_state::trigger_op;

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
  return x.result = db.append_output(x.run, x.offset, x.data);
}

caf::error apply(storage::store& db, cancel_op& x) {
  x.result = db.cancel_task(x.task, x.at, x.key);
  return error_of(x.result);
}

caf::error apply(storage::store& db, trigger_op& x) {
  x.result = db.trigger_task(x.task, x.at, x.key);
  return error_of(x.result);
}

void log_append_failed(run_id run, int64_t offset, const caf::error& err) {
  log::warn("append_output_failed", {{"run", run}, {"offset", offset}, {"error", render(err)}});
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
    log_append_failed(x.run, x.offset, x.result);
}

// Outcomes, process starts and output may wait for the database: their processes already ran.
// Everything else is refused so the client learns at once that nothing was stored.
template <class Op>
void hold_or_refuse(persistence_state&, Op& x, const caf::error& err) {
  x.rp.deliver(err);
}

void hold_or_refuse(persistence_state& st, start_op& x, const caf::error&) {
  st.start_backlog.push_back(x.start);
  note_backlog(st);
}

void hold_or_refuse(persistence_state& st, finish_op& x, const caf::error&) {
  auto size = x.outcome.output.size() + sizeof(run_outcome);
  if (st.backlog_bytes + size > st.opts.max_backlog_bytes) {
    x.rp.deliver(make_error(ec::unavailable, "database unavailable and backlog full"));
    return;
  }
  st.backlog_bytes += size;
  st.outcome_backlog.push_back(std::move(x.outcome));
  x.rp.deliver(caf::ok_atom::value);
  note_backlog(st);
}

// Output shares the outcomes' bound. A piece that does not fit is dropped, and so is the rest
// of that run's stream (the store takes a stream only in order): a follower loses the live
// view, while the outcome, which carries the tail, still waits or is retried.
void hold_or_refuse(persistence_state& st, append_op& x, const caf::error&) {
  if (st.output_gaps.count(x.run) > 0)
    return;
  auto size = x.data.size() + sizeof(append_op);
  if (st.backlog_bytes + size > st.opts.max_backlog_bytes) {
    st.output_gaps.insert(x.run);
    log::warn("output_dropped", {{"run", x.run},
                                 {"offset", x.offset},
                                 {"bytes", x.data.size()},
                                 {"error", "database unavailable and backlog full"}});
    return;
  }
  st.backlog_bytes += size;
  st.append_backlog.push_back(std::move(x));
  note_backlog(st);
}

using write_ops = std::vector<persistence_state::write_op>;

bool backlog_empty(const persistence_state& st) {
  return st.start_backlog.empty() && st.append_backlog.empty() && st.outcome_backlog.empty();
}

void hold_or_refuse_all(persistence_state& st, write_ops& ops, const caf::error& err) {
  for (auto& op : ops)
    std::visit([&](auto& x) { hold_or_refuse(st, x, err); }, op);
}

// -- the group commit ---------------------------------------------------------------------

void flush(persistence_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (!st.up) {
    // Refuse or keep everything gathered; the reconnect loop writes the backlog later.
    hold_or_refuse_all(st, st.batch, make_error(ec::unavailable, "database unavailable"));
    st.batch.clear();
    return;
  }
  if (st.batch.empty() && backlog_empty(st))
    return;
  auto ops = std::move(st.batch);
  st.batch.clear();
  auto began = std::chrono::steady_clock::now();
  auto rows = ops.size() + st.start_backlog.size() + st.append_backlog.size()
              + st.outcome_backlog.size();
  // Results are held in the writes until the commit: nothing is acknowledged before it is
  // durable.
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
    for (auto& s : st.start_backlog)
      if (auto err = note(st.db->record_start(s)); err && !outage)
        log::warn("record_start_failed", {{"run", s.run}, {"error", render(err)}});
    // A run's output before its end, which fixes what the run keeps.
    for (auto& a : st.append_backlog)
      if (auto err = note(st.db->append_output(a.run, a.offset, a.data)); err && !outage)
        log_append_failed(a.run, a.offset, err);
    for (auto& o : st.outcome_backlog)
      if (auto err = note(st.db->finish_run(o)); err && !outage)
        log::warn("finish_run_failed", {{"run", o.run}, {"error", render(err)}});
  }
  for (auto& op : ops) {
    if (outage)
      break;
    std::visit([&](auto& x) { note(apply(*st.db, x)); }, op);
  }
  if (!outage) {
    if (auto err = st.db->commit()) {
      // A commit that failed for any reason made nothing durable.
      outage = is_outage(err) ? err : make_error(ec::unavailable, render(err));
    }
  }
  if (outage) {
    st.db->rollback();
    if (st.opts.metrics)
      st.opts.metrics->transaction(false, rows, std::chrono::steady_clock::now() - began);
    go_down(self, outage);
    // The backlog is still unwritten; the batch is kept or refused as during an outage.
    hold_or_refuse_all(st, ops, outage);
    return;
  }
  auto took = std::chrono::steady_clock::now() - began;
  if (st.opts.metrics) {
    st.opts.metrics->transaction(true, rows, took);
    if (!backlog_empty(st))
      st.opts.metrics->storage_backlog(0);
  }
  // Slow commits are what an operator looks for when runs start late.
  if (took >= slow_commit)
    log::warn("slow_commit",
              {{"rows", rows},
               {"duration_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(took).count()}});
  st.start_backlog.clear();
  st.append_backlog.clear();
  st.outcome_backlog.clear();
  st.backlog_bytes = 0;
  for (auto& op : ops)
    std::visit([](auto& x) { answer(x); }, op);
}

// Reads go straight to the store, outside of any batch; an outage they meet starts the
// reconnect loop like a failed commit.
template <class T>
caf::result<T> read_reply(persistence_pointer self, caf::expected<T> r) {
  if (!r) {
    if (is_outage(r.error()))
      go_down(self, r.error());
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

} // namespace

persistence_actor::behavior_type persistence(persistence_pointer self,
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
      gather(self, append_op{run, offset, std::move(data)});
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
      auto rp = self->make_response_promise<task_change>();
      gather(self, cancel_op{id, at, std::move(key), rp});
      return rp;
    },
    [=](trigger_atom, task_id id, millis at, request_key& key) {
      auto rp = self->make_response_promise<task_change>();
      gather(self, trigger_op{id, at, std::move(key), rp});
      return rp;
    },
    [=](ping_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.up)
        return make_error(ec::unavailable, "database unavailable");
      if (auto err = st.db->ping()) {
        if (is_outage(err))
          go_down(self, err);
        return err;
      }
      return caf::ok_atom::value;
    },
    [=](flush_atom) { flush(self); },
    [=](retry_atom) {
      auto& st = self->state;
      if (st.up)
        return;
      if (auto err = st.db->reconnect()) {
        if (st.opts.metrics)
          st.opts.metrics->reconnect_attempt(false);
        st.backoff = std::min(st.backoff * 2, st.opts.reconnect_max);
        self->delayed_send(self, st.backoff, retry_atom::value);
        return;
      }
      auto down_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - st.down_since)
                       .count();
      log::info("database_up", {{"backend", st.db->backend()}, {"down_ms", down_ms},
                                {"backlog", st.outcome_backlog.size()},
                                {"output_backlog", st.append_backlog.size()}});
      st.up = true;
      if (st.opts.metrics) {
        st.opts.metrics->reconnect_attempt(true);
        st.opts.metrics->storage_up(true);
      }
      // Writes the outcomes kept during the outage.
      schedule_flush(self);
    },
  };
}

} // namespace ts
