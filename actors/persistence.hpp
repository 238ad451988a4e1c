// The persistence actor: the only owner of the database connection. It runs detached (its
// own thread) because every store call blocks. What a shutdown could not write goes to the
// recovery file (actors/recovery_file.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "actors/recovery_file.hpp"
#include "metrics/metrics.hpp"
#include "storage/store.hpp"

namespace ts {

// -- the actor ------------------------------------------------------------------------------

/// Persistence as its owner (actors/system) sees it: the protocol of interfaces.hpp and the
/// shutdown drain, which only stop_service sends.
using persistence_owner_actor = persistence_actor::extend<
  // Shutdown: writes what is held, retrying with backoff for at most `int64_t` ms; then
  // saves what is still unwritten to the recovery file. ok when nothing was left over;
  // ec::unavailable when writes went to the recovery file; ec::storage_failure when some
  // could be saved nowhere (logged).
  caf::replies_to<shutdown_atom, int64_t>::with<caf::ok_atom>>;

struct persistence_options {
  size_t max_batch;
  size_t max_backlog_bytes;
  std::chrono::milliseconds reconnect_min;
  std::chrono::milliseconds reconnect_max;
  /// Null under --metrics=off.
  std::shared_ptr<ts::metrics> metrics = nullptr;
  /// Null: held writes are lost (and logged) when a shutdown cannot write them.
  std::shared_ptr<recovery_file> recovery = nullptr;
};

persistence_options default_persistence_options();

struct persistence_state {
  static inline const char* name = "persistence";

  // One queued write each: what to write, the promise of its reply, and the result of
  // applying it, held until the commit decides whether the reply may go out.
  struct insert_op {
    new_task task;
    caf::typed_response_promise<task_record> rp;
    caf::expected<task_record> result = caf::no_error;
  };
  struct claim_op {
    task_id task;
    millis at;
    caf::typed_response_promise<claim> rp;
    caf::expected<claim> result = caf::no_error;
  };
  struct unclaim_op {
    run_id run;
    caf::typed_response_promise<caf::ok_atom> rp;
    caf::error result{};
  };
  /// Not answered (started is a plain message); a failure is only logged.
  struct start_op {
    process_start start;
    caf::error result{};
  };
  struct finish_op {
    run_outcome outcome;
    caf::typed_response_promise<caf::ok_atom> rp;
    caf::error result{};
  };
  /// A piece of a running command's output; not answered, like start_op.
  struct append_op {
    output_piece piece;
    caf::error result{};
  };
  /// A client's change of a task (cancel, trigger, pause, resume), answered once durable.
  struct change_op {
    enum class kind : uint8_t { cancel, trigger, pause, resume, edit };
    kind what;
    task_id task;
    millis at;
    request_key key;
    caf::typed_response_promise<task_change> rp;
    /// kind::edit: what the task becomes.
    std::optional<task_edit> edit;
    caf::expected<task_change> result = caf::no_error;
  };
  using write_op = std::variant<insert_op, claim_op, unclaim_op, start_op, finish_op, append_op,
                                change_op>;
  using time_point = caf::actor_clock::time_point;

  /// up: writes commit. down: the database failed; writes that can wait are held, the rest
  /// refused, and reconnects are tried with backoff. probing: a reconnect worked after a
  /// failed write with nothing held to prove it: writes are tried again, and the outage
  /// ends at the first commit (or after reconnect_max without a write).
  enum class link { up, down, probing };

  std::shared_ptr<storage::store> db;
  persistence_options opts;
  /// Writes gathered since the last commit; committed together by the next flush.
  std::vector<write_op> batch;
  bool flush_scheduled = false;
  link state = link::up;
  /// The delay of the last reconnect armed; zero until an outage and again after a commit.
  std::chrono::milliseconds backoff{0};
  /// A reconnect message that comes before this is an older one, superseded (CAF 0.17
  /// cannot cancel a delayed message).
  time_point retry_due{};
  /// The current outage: when it began, whether a write or a read found it, reconnect
  /// attempts and failed attempts (a reconnect or a commit) since, the last error, and
  /// when database_still_down was last logged.
  time_point down_since{};
  bool down_on_write = false;
  size_t attempts = 0;
  size_t failures = 0;
  std::string last_error;
  time_point still_down_logged{};
  /// The writes held during an outage, and what they count against opts.max_backlog_bytes.
  held_writes held;
  size_t backlog_bytes = 0;
  /// Runs whose output lost a piece to a full backlog: the store takes a run's stream only
  /// in order, so their later pieces are dropped too (the outcome still carries the tail).
  std::unordered_set<run_id> output_gaps;
  /// Runs whose outcome was refused for a full backlog and not taken since (their
  /// executors retry): at a shutdown that gives up, they are lost.
  std::unordered_set<run_id> refused_outcomes;
  /// Shutdown: its reply, and when the retries end.
  caf::typed_response_promise<caf::ok_atom> stop_rp;
  time_point stop_deadline{};
  bool stopping = false;
};

using persistence_pointer = persistence_owner_actor::stateful_pointer<persistence_state>;

persistence_owner_actor::behavior_type persistence(persistence_pointer self,
                                                   std::shared_ptr<storage::store> db,
                                                   persistence_options opts);

} // namespace ts
