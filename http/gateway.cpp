#include "http/gateway.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "core/error.hpp"
#include "actors/instrumented_actor.hpp"
#include "http/responses.hpp"

namespace ts {

/// Answers an HTTP request at most once: by the actor's reply, or by the sweep when its
/// deadline passes first. Lives on the gateway's thread only.
struct reply_once {
  explicit reply_once(reply_fn f) : reply(std::move(f)) {
  }

  void operator()(http_response res) {
    if (!done) {
      done = true;
      reply(std::move(res));
      reply = nullptr;
    }
  }

  reply_fn reply;
  bool done = false;
};

namespace {

/// One /readyz probe: ready once persistence and the coordinator have both answered well;
/// the first failure answers at once. Lives on the gateway's thread only.
class ready_check {
public:
  explicit ready_check(reply_fn reply) : reply_(std::move(reply)) {
  }

  void pass() {
    if (!answered_ && ++passed_ == 2) {
      answered_ = true;
      reply_(api::ready());
    }
  }

  void fail(const char* reason) {
    if (!answered_) {
      answered_ = true;
      reply_(api::not_ready(reason));
    }
  }

private:
  reply_fn reply_;
  int passed_ = 0;
  bool answered_ = false;
};

// Requests wait without a CAF timeout: each timed request puts an entry into CAF's clock
// and wakes its thread, which cost ~10 % of the CPU of a status read (perf, bench/run).
// The gateway sweeps its own FIFO of deadlines a few times a second instead.
using sweep_atom = caf::atom_constant<caf::atom("gw_sweep")>;

caf::timespan sweep_interval(caf::timespan timeout) {
  return std::clamp<caf::timespan>(timeout / 4, std::chrono::milliseconds(1),
                                   std::chrono::milliseconds(250));
}

// Forgets answered requests at the front, so the queue holds about what is in flight.
void trim(gateway_state& st) {
  while (!st.waiting.empty() && st.waiting.front().reply->done)
    st.waiting.pop_front();
}

std::shared_ptr<reply_once> track(gateway_actor_ptr self, reply_fn reply) {
  auto& st = self->state;
  auto once = std::make_shared<reply_once>(std::move(reply));
  st.waiting.push_back({self->clock().now() + st.timeout, once});
  if (!st.sweeping) {
    st.sweeping = true;
    self->delayed_send(self, sweep_interval(st.timeout), sweep_atom::value);
  }
  return once;
}

bool timed_out(const caf::error& err) {
  return err == caf::sec::request_timeout;
}

// -- v1 -----------------------------------------------------------------------------------

/// The output tail a task's latest run shows, and one run's (the 4 KiB and 64 KiB).
constexpr int64_t task_output_tail = 4 * 1024;
constexpr int64_t run_output_tail = 64 * 1024;
/// One read of /output returns everything kept: at most --max-output-bytes plus the chunk
/// being written; this bounds it whatever a store holds.
constexpr int64_t max_output_read = 16 * 1024 * 1024;

/// Answers `err`, ec::not_found as a 404 that names `missing` ("no run with this id").
void fail(gateway_actor_ptr self, const std::shared_ptr<reply_once>& once,
          const caf::error& err, const char* missing) {
  if (err == ec::not_found)
    (*once)(api::error_response(make_http_error(api::http_ec::no_such_resource, missing)));
  else
    (*once)(api::error_response(err));
  trim(self->state);
}

/// Asks `dest` and answers with `render` of its reply (a Result: CAF 0.17 checks typed
/// handlers by their argument types, so no generic lambda), or fails naming `missing`.
template <class Result, class Dest, class Render, class... Ts>
void ask(gateway_actor_ptr self, const Dest& dest, const std::shared_ptr<reply_once>& once,
         const char* missing, Render render, Ts&&... xs) {
  self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
    .then(
      [self, once, render](Result& reply) {
        (*once)(render(reply));
        trim(self->state);
      },
      [self, once, missing](const caf::error& err) { fail(self, once, err, missing); });
}

constexpr const char* no_task = "no task with this id";
constexpr const char* no_run = "no run with this id";

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::create_task_action& a) {
  // The answer shows the task as stored (labels sorted, state, version): read it back once
  // the coordinator has it durable. A replay shows the task as it is now.
  self->request(self->state.coordinator, caf::infinite, schedule_atom::value,
                std::move(a.task))
    .then(
      [self, once](const task_record& rec) {
        bool replayed = rec.replayed;
        ask<task_info>(self, self->state.persistence, once, no_task,
            [replayed](const task_info& t) { return api::task_created(t, replayed); },
            task_atom::value, rec.id, task_output_tail);
      },
      [self, once](const caf::error& err) {
        (*once)(api::error_response(err));
        trim(self->state);
      });
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once, api::get_task_action& a) {
  ask<task_info>(self, self->state.persistence, once, no_task,
      [](const task_info& t) { return api::task_with_etag(t); }, task_atom::value, a.id,
      task_output_tail);
}

// -- PATCH /v1/tasks/{id} -------------------------------------------------------------------

/// An edit without a list of tags in If-Match that loses a race to another change of the
/// task (a run's end, another edit) is made again from a fresh read, this many times; then
/// 409 edit_conflict. A busy recurring task changes often, but rarely twice within one read
/// and write, let alone four times. With tags the client named the version it saw: 412.
constexpr int max_edit_retries = 3;

using edit_ptr = std::shared_ptr<const api::edit_task_action>;

void edit_task(gateway_actor_ptr self, const std::shared_ptr<reply_once>& once,
               const edit_ptr& a, int retries) {
  self->request(self->state.persistence, caf::infinite, task_atom::value, a->id, int64_t{0})
    .then(
      [self, once, a, retries](const task_info& current) {
        // Already answered by the sweep: the client was told nothing happened (and the
        // limits may be gone with the request).
        if (once->done)
          return trim(self->state);
        auto e = api::make_edit(current, a->request, a->now, a->limits);
        if (!e)
          return fail(self, once, e.error(), no_task);
        self->request(self->state.coordinator, caf::infinite, edit_atom::value, std::move(*e))
          .then(
            [self, once](const task_change& c) {
              (*once)(api::task_with_etag(c.task));
              trim(self->state);
            },
            [self, once, a, retries](const caf::error& err) {
              if (err != ec::version_mismatch)
                return fail(self, once, err, no_task);
              if (!a->request.may_retry())
                return fail(self, once,
                            make_error(ec::version_mismatch,
                                       "the task changed after its version matched If-Match"),
                            no_task);
              if (retries < max_edit_retries && !once->done)
                return edit_task(self, once, a, retries + 1);
              fail(self, once,
                   api::make_http_error(api::http_ec::edit_conflict,
                                        "the task kept changing while it was edited; try again"),
                   no_task);
            });
      },
      [self, once](const caf::error& err) { fail(self, once, err, no_task); });
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once, api::edit_task_action& a) {
  // Shared by every try: the patch is read again after each fresh read of the task.
  edit_task(self, once, std::make_shared<const api::edit_task_action>(std::move(a)), 0);
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::task_occurrences_action& a) {
  ask<task_info>(self, self->state.persistence, once, no_task,
      [count = a.count, zone = a.zone, now = a.now](const task_info& t) {
        return api::occurrence_list(api::task_occurrences(t, count, now),
                                    *api::task_zone(t, zone));
      },
      task_atom::value, a.id, task_output_tail);
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::list_tasks_action& a) {
  ask<task_page>(self, self->state.persistence, once, no_task,
      [key = a.list.filter_key](const task_page& p) { return api::task_list(p, key); },
      list_atom::value, std::move(a.list.filter));
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::cancel_task_action& a) {
  ask<task_change>(self, self->state.coordinator, once, no_task,
      [](const task_change& c) { return api::task_resource(c.task, c.replayed); },
      cancel_atom::value, a.id, std::move(a.key));
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::trigger_task_action& a) {
  ask<task_change>(self, self->state.coordinator, once, no_task,
      [](const task_change& c) { return api::task_resource(c.task, c.replayed); },
      trigger_atom::value, a.id, std::move(a.key));
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::pause_task_action& a) {
  ask<task_change>(self, self->state.coordinator, once, no_task,
      [](const task_change& c) { return api::task_resource(c.task, c.replayed); },
      pause_atom::value, a.id, std::move(a.key));
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::resume_task_action& a) {
  ask<task_change>(self, self->state.coordinator, once, no_task,
      [](const task_change& c) { return api::task_resource(c.task, c.replayed); },
      resume_atom::value, a.id, std::move(a.key));
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::list_runs_action& a) {
  auto task = a.list.filter.task;
  auto key = a.list.filter_key;
  self->request(self->state.persistence, caf::infinite, list_atom::value,
                std::move(a.list.filter))
    .then(
      [self, once, task, key](const run_page& p) {
        // An empty page of one task's runs: a task without runs, or no such task (404).
        if (!p.items.empty() || !task) {
          (*once)(api::run_list(p, key));
          trim(self->state);
          return;
        }
        ask<task_info>(self, self->state.persistence, once, no_task,
            [p, key](const task_info&) { return api::run_list(p, key); }, task_atom::value,
            *task, int64_t{0});
      },
      [self, once](const caf::error& err) {
        (*once)(api::error_response(err));
        trim(self->state);
      });
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once, api::get_run_action& a) {
  ask<run_info>(self, self->state.persistence, once, no_run,
      [](const run_info& r) { return api::run_resource(r); }, run_atom::value, a.id,
      run_output_tail);
}

void handle(gateway_actor_ptr self, std::shared_ptr<reply_once> once,
            api::read_output_action& a) {
  ask<output_slice>(self, self->state.persistence, once, no_run,
      [](const output_slice& s) { return api::output_text(s); }, output_atom::value, a.id,
      a.offset, max_output_read);
}

} // namespace

caf::behavior gateway(gateway_actor_ptr self, coordinator_actor coordinator,
                      persistence_actor persistence, caf::timespan timeout,
                      std::shared_ptr<ts::metrics> m) {
  self->state.coordinator = std::move(coordinator);
  self->state.persistence = std::move(persistence);
  self->state.timeout = timeout;
  self->state.metrics = std::move(m);
  return {
    [self](schedule_atom, new_task& task, reply_fn& reply) {
      auto once = track(self, std::move(reply));
      self->request(self->state.coordinator, caf::infinite, schedule_atom::value,
                    std::move(task))
        .then(
          [self, once](const task_record& rec) {
            (*once)(api::created(rec));
            trim(self->state);
          },
          [self, once](const caf::error& err) {
            (*once)(api::error_response(err));
            trim(self->state);
          });
    },
    [self](caf::get_atom, task_id id, reply_fn& reply) {
      auto once = track(self, std::move(reply));
      self->request(self->state.persistence, caf::infinite, caf::get_atom::value, id)
        .then(
          [self, once](const task_view& view) {
            (*once)(api::status(view));
            trim(self->state);
          },
          [self, once](const caf::error& err) {
            (*once)(api::error_response(err));
            trim(self->state);
          });
    },
    [self](api::v1_action& a, reply_fn& reply) {
      auto once = track(self, std::move(reply));
      std::visit([&](auto& x) { handle(self, once, x); }, a);
    },
    [self](sweep_atom) {
      auto& st = self->state;
      auto now = self->clock().now();
      while (!st.waiting.empty()
             && (st.waiting.front().reply->done || st.waiting.front().deadline <= now)) {
        (*st.waiting.front().reply)(
          api::error_response(caf::make_error(caf::sec::request_timeout)));
        st.waiting.pop_front();
      }
      if (st.waiting.empty())
        st.sweeping = false;
      else
        self->delayed_send(self, sweep_interval(st.timeout), sweep_atom::value);
    },
    [self](ping_atom, reply_fn& reply) {
      auto check = std::make_shared<ready_check>(std::move(reply));
      self->request(self->state.persistence, ready_timeout, ping_atom::value)
        .then([check](caf::ok_atom) { check->pass(); },
              [check](const caf::error& err) {
                check->fail(timed_out(err) ? "the database did not answer in time"
                                           : "the database is unavailable");
              });
      self->request(self->state.coordinator, ready_timeout, stats_atom::value)
        .then(
          [check](const coordinator_stats& s) {
            if (s.shutting_down)
              check->fail("the service is shutting down");
            else
              check->pass();
          },
          [check](const caf::error&) { check->fail("the coordinator is not running"); });
    },
    [self](stats_atom, reply_fn& reply) {
      auto m = self->state.metrics;
      if (!m) {
        reply(api::metrics_disabled());
        return;
      }
      // The coordinator's gauges are read on request: counting them per message would
      // cost every tick what a scrape every few seconds can ask once.
      self->request(self->state.coordinator, scrape_timeout, stats_atom::value)
        .then(
          [m, reply](const coordinator_stats& s) {
            m->scheduler_state(s.pending, s.waiting, s.running);
            reply(api::metrics_text(m->render()));
          },
          [m, reply](const caf::error&) { reply(api::metrics_text(m->render())); });
    },
  };
}

caf::actor spawn_gateway(caf::actor_system& sys, coordinator_actor coordinator,
                         persistence_actor persistence, caf::timespan timeout,
                         std::shared_ptr<ts::metrics> m) {
  auto* probe_owner = m.get();
  return spawn_instrumented(sys, probe_owner, actor_kind::http_gateway, gateway,
                            std::move(coordinator), std::move(persistence), timeout,
                            std::move(m));
}

} // namespace ts
