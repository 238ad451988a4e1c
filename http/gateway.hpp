// The bridge between the HTTP threads and the actors: takes validated requests as
// messages, asks the coordinator or persistence (with a timeout), and answers through a
// callback with the rendered response. Knows no sockets; see server.cpp for those.
#pragma once

#include <functional>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include "actors/defaults.hpp"
#include "actors/interfaces.hpp"
#include "http/api.hpp"

namespace ts {

/// Completes one HTTP request; called exactly once, from an actor's thread.
using reply_fn = std::function<void(http_response)>;

struct gateway_state {
  static inline const char* name = "http_gateway";
  coordinator_actor coordinator;
  persistence_actor persistence;
  caf::timespan timeout{};
};

using gateway_actor_ptr = caf::stateful_actor<gateway_state>*;

/// Handles (schedule_atom, new_task, reply_fn) and (get_atom, task_id, reply_fn).
caf::behavior gateway(gateway_actor_ptr self, coordinator_actor coordinator,
                      persistence_actor persistence, caf::timespan timeout);

/// Spawns the gateway; `timeout` bounds each wait for an actor (then 503).
caf::actor spawn_gateway(caf::actor_system& sys, coordinator_actor coordinator,
                         persistence_actor persistence,
                         caf::timespan timeout = defaults::request_timeout);

} // namespace ts

// Local only: a callback never crosses a process boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ts::reply_fn)
