// The one storage interface. Two implementations (SQLite, MySQL/MariaDB) keep their SQL
// dialect in their own file; the persistence actor is their only user at run time.
//
// Every call returns errors as values: ec::unavailable when the database cannot be reached
// or timed out (the caller may retry later; nothing was written), ec::not_found,
// ec::idempotency_conflict and ec::not_pending for logical refusals (the transaction stays
// usable), ec::storage_failure for anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/defaults.hpp"
#include "core/types.hpp"

namespace ts::storage {

/// The schema version this binary writes. A database with a newer one is refused
/// (ec::schema_too_new); an older one is migrated forward in place.
constexpr int schema_version = 1;

struct store_options {
  /// MySQL: password when not in the URL (from --db-password-file or the environment).
  std::optional<std::string> password;
  /// MySQL: connect, read and write timeouts, so a hung server cannot freeze the caller.
  int connect_timeout_s = defaults::db_connect_timeout_s;
  int io_timeout_s = defaults::db_io_timeout_s;
};

class store {
public:
  virtual ~store() = default;

  /// "sqlite" or "mysql".
  virtual const char* backend() const = 0;

  // -- transactions: the persistence actor commits writes that arrive together in one ----

  virtual caf::error begin() = 0;
  /// Commits durably (SQLite: WAL with synchronous=FULL; InnoDB: flush at commit).
  virtual caf::error commit() = 0;
  /// Never fails; safe to call when no transaction is open.
  virtual void rollback() = 0;

  // -- writes (inside begin/commit) --------------------------------------------------------

  /// Stores a pending task. With an idempotency key already used: the earlier task with
  /// `replayed = true` when `request_hash` matches, else ec::idempotency_conflict.
  virtual caf::expected<task_record> insert_task(const new_task& t) = 0;

  /// Records a new run as `running` for a pending task (the task becomes `running`) and
  /// returns its command. ec::not_found or ec::not_pending otherwise: a task runs at most once.
  virtual caf::expected<claim> claim_run(task_id task, millis claimed_at) = 0;

  /// Undoes a claim whose process never started (e.g. shutdown came first): deletes the
  /// run and makes the task pending again.
  virtual caf::error unclaim_run(run_id run) = 0;

  /// Records the process of a started run (for crash recovery) and its start time.
  virtual caf::error record_start(const process_start& p) = 0;

  /// Records how a run ended, and sets the task's status to the outcome's.
  virtual caf::error finish_run(const run_outcome& o) = 0;

  // -- reads and maintenance (outside of a transaction) ------------------------------------

  /// A task with its latest run; ec::not_found when there is none.
  virtual caf::expected<task_view> get_task(task_id id) = 0;

  /// Calls `f` for every pending task (id and due time only), in no particular order.
  virtual caf::error load_pending(const std::function<void(const pending_entry&)>& f) = 0;

  /// Ends every run left `running` (by a crash) as failure/interrupted at `now`, with their
  /// tasks, in one transaction, and returns them so their processes can be killed.
  virtual caf::expected<std::vector<orphan_run>> interrupt_running(millis now) = 0;

  /// A cheap round trip that tells whether the database answers.
  virtual caf::error ping() = 0;

  /// Re-establishes a lost connection (MySQL); a no-op where there is nothing to do.
  virtual caf::error reconnect() = 0;
};

/// Opens a store from a URL and brings its schema up to date:
/// - `sqlite:relative/path.db`, `sqlite:/absolute/path.db` (the folder is created if missing)
/// - `mysql://USER:PASSWORD@HOST:PORT/DATABASE`,
///   `mysql://USER@localhost/DATABASE?socket=/path/to/mysqld.sock` (percent-encoded parts)
caf::expected<std::unique_ptr<store>> open_store(const std::string& url,
                                                 const store_options& opts = {});

} // namespace ts::storage
