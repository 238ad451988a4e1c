// The bridge between the HTTP threads and the actors: takes validated requests as
// messages, asks the coordinator or persistence (with a timeout), and answers through a
// callback with the rendered response. Knows no sockets; see server.cpp for those.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include "core/defaults.hpp"
#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "http/api.hpp"
#include "http/routes.hpp"

namespace ts {

/// Completes one HTTP request; called exactly once, from an actor's thread.
using reply_fn = std::function<void(http_response)>;

/// How long /readyz waits for persistence and the coordinator: a hung database must turn
/// a probe into a 503 within seconds, never hold it.
constexpr auto ready_timeout = defaults::ready_timeout;

/// How long a scrape waits for the coordinator's gauges before it shows the last ones.
constexpr auto scrape_timeout = defaults::scrape_timeout;

struct reply_once; // gateway.cpp

/// One schedule or status request in flight: answered once, by its reply or by the sweep.
struct waiting_reply {
  caf::actor_clock::time_point deadline;
  std::shared_ptr<reply_once> reply;
};

struct gateway_state {
  static inline const char* name = "http_gateway";
  coordinator_actor coordinator;
  persistence_actor persistence;
  caf::timespan timeout{};
  /// In arrival order, so deadlines only grow: the sweep looks at the front alone.
  std::deque<waiting_reply> waiting;
  bool sweeping = false;
  /// Null under --metrics=off.
  std::shared_ptr<ts::metrics> metrics;
};

using gateway_actor_ptr = caf::stateful_actor<gateway_state>*;

/// Handles (schedule_atom, new_task, reply_fn), (get_atom, task_id, reply_fn), the v1
/// requests as (api::v1_action, reply_fn), readiness as (ping_atom, reply_fn) and scrapes
/// as (stats_atom, reply_fn).
caf::behavior gateway(gateway_actor_ptr self, coordinator_actor coordinator,
                      persistence_actor persistence, caf::timespan timeout,
                      std::shared_ptr<ts::metrics> m);

/// Spawns the gateway; `timeout` bounds each wait for an actor (then 503). With `m`, the
/// gateway is instrumented and serves the metrics.
caf::actor spawn_gateway(caf::actor_system& sys, coordinator_actor coordinator,
                         persistence_actor persistence,
                         caf::timespan timeout = defaults::request_timeout,
                         std::shared_ptr<ts::metrics> m = nullptr);

} // namespace ts

// Local only: a callback never crosses a process boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ts::reply_fn)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ts::api::v1_action)
