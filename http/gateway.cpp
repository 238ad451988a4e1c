#include "http/gateway.hpp"

#include <string>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

#include "actors/error.hpp"
#include "actors/instrumented_actor.hpp"

namespace ts {

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
      self->request(self->state.coordinator, self->state.timeout, schedule_atom::value,
                    std::move(task))
        .then([reply](const task_record& rec) { reply(api::created(rec)); },
              [reply](const caf::error& err) { reply(api::error_response(err)); });
    },
    [self](caf::get_atom, task_id id, reply_fn& reply) {
      self->request(self->state.persistence, self->state.timeout, caf::get_atom::value, id)
        .then([reply](const task_view& view) { reply(api::status(view)); },
              [reply](const caf::error& err) { reply(api::error_response(err)); });
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
