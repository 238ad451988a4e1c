#include "http/gateway.hpp"

#include <algorithm>
#include <string>

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
