#include "http/gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/error.hpp"

namespace ts {

caf::behavior gateway(gateway_actor_ptr self, coordinator_actor coordinator,
                      persistence_actor persistence, caf::timespan timeout) {
  self->state.coordinator = std::move(coordinator);
  self->state.persistence = std::move(persistence);
  self->state.timeout = timeout;
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
  };
}

caf::actor spawn_gateway(caf::actor_system& sys, coordinator_actor coordinator,
                         persistence_actor persistence, caf::timespan timeout) {
  return sys.spawn(gateway, std::move(coordinator), std::move(persistence), timeout);
}

} // namespace ts
