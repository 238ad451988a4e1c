// The persistence actor: the only owner of the database connection. It runs detached (its
// own thread) because every store call blocks.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "storage/store.hpp"

namespace ts {

struct persistence_options {
  size_t max_batch;
  size_t max_backlog_bytes;
  std::chrono::milliseconds reconnect_min;
  std::chrono::milliseconds reconnect_max;
  /// Null under --metrics=off.
  std::shared_ptr<ts::metrics> metrics = nullptr;
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
    run_id run;
    int64_t offset;
    std::string data;
    caf::error result{};
  };
  struct cancel_op {
    task_id task;
    millis at;
    request_key key;
    caf::typed_response_promise<task_change> rp;
    caf::expected<task_change> result = caf::no_error;
  };
  struct trigger_op {
    task_id task;
    millis at;
    request_key key;
    caf::typed_response_promise<task_change> rp;
    caf::expected<task_change> result = caf::no_error;
  };
  using write_op = std::variant<insert_op, claim_op, unclaim_op, start_op, finish_op, append_op,
                                cancel_op, trigger_op>;

  std::shared_ptr<storage::store> db;
  persistence_options opts;
  /// Writes gathered since the last commit; committed together by the next flush.
  std::vector<write_op> batch;
  bool flush_scheduled = false;
  /// False while the database is away: writes that can wait are kept, the rest refused.
  bool up = true;
  std::chrono::milliseconds backoff{0};
  /// When the outage began (for the log line that ends it).
  std::chrono::steady_clock::time_point down_since{};
  /// Process starts, output and outcomes that arrived during an outage, written once it is
  /// back in this order (a run's output before its end).
  std::deque<process_start> start_backlog;
  std::deque<append_op> append_backlog;
  std::deque<run_outcome> outcome_backlog;
  /// Output and outcomes in the backlogs, in bytes (bounded by opts.max_backlog_bytes).
  size_t backlog_bytes = 0;
  /// Runs whose output lost a piece to a full backlog: the store takes a run's stream only
  /// in order, so their later pieces are dropped too (the outcome still carries the tail).
  std::unordered_set<run_id> output_gaps;
};

using persistence_pointer = persistence_actor::stateful_pointer<persistence_state>;

persistence_actor::behavior_type persistence(persistence_pointer self,
                                             std::shared_ptr<storage::store> db,
                                             persistence_options opts);

} // namespace ts
