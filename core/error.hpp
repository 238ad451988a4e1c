// Errors travel as values (caf::error) from storage and actors to http/responses.cpp, the one
// place that turns them into status codes.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace ts {

enum class ec : uint8_t {
  none = 0,
  /// No task with that id.
  not_found,
  /// An Idempotency-Key reused with a different request body.
  idempotency_conflict,
  /// The database cannot be reached (or timed out); the request was not carried out.
  unavailable,
  /// The service is shutting down and takes no new work.
  shutting_down,
  /// The database holds a schema newer than this binary understands.
  schema_too_new,
  /// The database answered with an error that is not an outage.
  storage_failure,
  /// A malformed argument (e.g. a database URL).
  invalid_argument,
  /// A task could not be claimed because it is no longer pending.
  not_pending,
  /// The process could not be started.
  start_failed,
  /// The task's state does not allow the request (cancel a finished task, trigger one that
  /// is running or cancelled).
  invalid_state,
  /// An edit was made from another version of the task than the stored one (If-Match).
  version_mismatch,
};

const char* to_string(ec);

/// The category atom CAF uses to tell our errors from its own.
constexpr caf::atom_value ec_category = caf::atom("ts");

caf::error make_error(ec code);
caf::error make_error(ec code, std::string context);

/// Renders any error for logs and messages; secrets never enter an error's context.
std::string render(const caf::error& err);

/// Registers the renderer so `actor_system::render` knows our category.
void add_error_category(caf::actor_system_config& cfg);

} // namespace ts
