// The SQLite backend's operations. Its SQL lives in sqlite_sql.hpp, prepared once at open
// and reused with bound parameters; what both backends read and write the same way is in
// storage/row_mapping.hpp.
#include "storage/sqlite/sqlite_store.hpp"

#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/error.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_setup.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "storage/sqlite/sqlite_statement.hpp"

namespace ts::storage {

namespace {

using sqlite::connection;
using sqlite::statement;
using sqlite::use;
namespace sql = sqlite::sql;

// -- the store --------------------------------------------------------------------------------

class sqlite_store final : public store {
public:
  explicit sqlite_store(std::string path) : path_(std::move(path)) {
  }

  caf::error open();

  const char* backend() const override {
    return "sqlite";
  }

  caf::error begin() override {
    return run(begin_, "begin");
  }

  caf::error commit() override {
    if (auto err = run(commit_, "commit")) {
      // A failed COMMIT may leave the transaction open; end it so that nothing of it lands.
      rollback();
      return err;
    }
    return caf::none;
  }

  void rollback() override {
    if (!sqlite3_get_autocommit(conn_.db)) {
      use u{rollback_};
      u.step();
    }
  }

  caf::expected<task_record> insert_task(const new_task& t) override;
  caf::expected<claim> claim_run(task_id task, millis claimed_at) override;
  caf::error unclaim_run(run_id run) override;
  caf::error record_start(const process_start& p) override;
  caf::error finish_run(const run_outcome& o) override;
  caf::expected<task_view> get_task(task_id id) override;
  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override;
  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override;

  caf::error ping() override {
    use u{ping_};
    auto rc = u.step();
    return rc == SQLITE_ROW ? caf::none : fail(rc, "ping");
  }

  caf::error reconnect() override {
    return caf::none; // an embedded database has no connection to lose
  }

private:
  caf::error fail(int rc, const char* what) const {
    return sqlite::failure(conn_.db, rc, what);
  }

  /// Runs a statement that returns no rows.
  caf::error run(const statement& s, const char* what) {
    use u{s};
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, what);
  }

  /// Runs `f` all-or-nothing: in a savepoint inside the caller's transaction (a failed
  /// call then leaves the rest of the transaction intact), else in a transaction of its own.
  template <class F>
  caf::error atomically(F&& f) {
    bool own = sqlite3_get_autocommit(conn_.db) != 0;
    if (auto err = run(own ? begin_ : savepoint_, "begin"))
      return err;
    auto err = f();
    if (!err)
      err = own ? commit() : run(release_, "release savepoint");
    if (err) {
      if (own) {
        rollback();
      } else if (!sqlite3_get_autocommit(conn_.db)) {
        // Not when SQLite already rolled the whole transaction back (e.g. after an I/O error).
        run(rollback_to_, "rollback to savepoint");
        run(release_, "release savepoint");
      }
    }
    return err;
  }

  caf::error prepare_all();

  connection conn_;
  std::string path_;

  statement begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
  statement insert_task_, find_by_key_;
  statement task_for_claim_, insert_run_, set_task_running_;
  statement run_for_unclaim_, previous_run_, set_task_pending_, delete_run_;
  statement record_start_, finish_run_, finish_task_;
  statement get_task_, load_pending_;
  statement running_runs_, interrupt_run_, interrupt_task_;
  statement ping_;
};

caf::error sqlite_store::open() {
  namespace fs = std::filesystem;
  auto parent = fs::path{path_}.parent_path();
  if (!parent.empty()) {
    std::error_code err;
    fs::create_directories(parent, err);
    if (err)
      return make_error(ec::unavailable, "sqlite: cannot create folder " + parent.string()
                                           + ": " + err.message());
  }
  // NOMUTEX: one owner (the persistence actor) uses the connection. SQLite opens the
  // database, WAL and shm files with O_CLOEXEC, so commands never inherit them.
  auto rc = sqlite3_open_v2(path_.c_str(), &conn_.db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  if (rc != SQLITE_OK) {
    if (!conn_.db)
      return make_error(ec::unavailable, "sqlite open " + path_ + ": out of memory");
    return fail(rc, ("open " + path_).c_str());
  }
  if (auto err = sqlite::configure(conn_.db, path_))
    return err;
  if (auto err = sqlite::migrate(conn_.db, path_))
    return err;
  return prepare_all();
}

caf::error sqlite_store::prepare_all() {
  const std::pair<statement*, const char*> all[] = {
    {&begin_, sql::begin},
    {&commit_, sql::commit},
    {&rollback_, sql::rollback},
    {&savepoint_, sql::savepoint},
    {&release_, sql::release},
    {&rollback_to_, sql::rollback_to},
    {&insert_task_, sql::insert_task},
    {&find_by_key_, sql::find_by_key},
    {&task_for_claim_, sql::task_for_claim},
    {&insert_run_, sql::insert_run},
    {&set_task_running_, sql::set_task_running},
    {&run_for_unclaim_, sql::run_for_unclaim},
    {&previous_run_, sql::previous_run},
    {&set_task_pending_, sql::set_task_pending},
    {&delete_run_, sql::delete_run},
    {&record_start_, sql::record_start},
    {&finish_run_, sql::finish_run},
    {&finish_task_, sql::finish_task},
    {&get_task_, sql::get_task},
    {&load_pending_, sql::load_pending},
    {&running_runs_, sql::running_runs},
    {&interrupt_run_, sql::interrupt_run},
    {&interrupt_task_, sql::interrupt_task},
    {&ping_, sql::ping},
  };
  for (auto& [stmt, text] : all) {
    auto rc = stmt->prepare(conn_.db, text, SQLITE_PREPARE_PERSISTENT);
    if (rc != SQLITE_OK)
      return fail(rc, "prepare");
  }
  return caf::none;
}

caf::expected<task_record> sqlite_store::insert_task(const new_task& t) {
  task_record out;
  auto err = atomically([&]() -> caf::error {
    {
      use u{insert_task_};
      u.bind_text(1, t.command)
        .bind(2, t.due)
        .bind(3, t.created_at)
        .bind_opt(4, t.idempotency_key)
        .bind_text_or_null(5, t.request_hash);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "insert task");
    }
    if (sqlite3_changes(conn_.db) == 1) {
      out = inserted_task(t, sqlite3_last_insert_rowid(conn_.db));
      return caf::none;
    }
    // The key was used before: a retry of the same request, or a different one. (Only a
    // key conflicts; without one, `= NULL` finds no row and the error below says so.)
    use u{find_by_key_};
    u.bind_opt(1, t.idempotency_key);
    auto rc = u.step();
    if (rc != SQLITE_ROW)
      return rc == SQLITE_DONE
               ? make_error(ec::storage_failure, "sqlite insert task: conflict without a row")
               : fail(rc, "find idempotency key");
    auto replayed = replayed_task({u.int64(0), u.text(1), u.int64(2), u.int64(3),
                                   u.text_view(4), u.text_view(5)},
                                  t, "sqlite");
    if (!replayed)
      return replayed.error();
    out = std::move(*replayed);
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::expected<claim> sqlite_store::claim_run(task_id task, millis claimed_at) {
  claim out;
  auto err = atomically([&]() -> caf::error {
    {
      use u{task_for_claim_};
      u.bind(1, task);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no task " + std::to_string(task));
      if (rc != SQLITE_ROW)
        return fail(rc, "claim: read task");
      if (u.text_view(0) != to_string(task_status::pending))
        return not_pending(task, u.text_view(0));
      out.task = task;
      out.command = u.text(1);
      out.due = u.int64(2);
    }
    {
      use u{insert_run_};
      u.bind(1, task).bind(2, claimed_at);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "claim: insert run");
      out.run = sqlite3_last_insert_rowid(conn_.db);
    }
    use u{set_task_running_};
    u.bind(1, task).bind(2, out.run);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "claim: update task");
  });
  if (err)
    return err;
  return out;
}

caf::error sqlite_store::unclaim_run(run_id run) {
  return atomically([&]() -> caf::error {
    task_id task = 0;
    {
      use u{run_for_unclaim_};
      u.bind(1, run);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: read run");
      if (auto err = check_unclaimable(run, u.text_view(1), !u.is_null(2)))
        return err;
      task = u.int64(0);
    }
    std::optional<int64_t> previous;
    {
      use u{previous_run_};
      u.bind(1, task).bind(2, run);
      auto rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "unclaim: previous run");
      previous = u.opt_int64(0);
    }
    {
      // The task first: nothing may point at the run once it is deleted.
      use u{set_task_pending_};
      u.bind(1, task).bind_opt(2, previous);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "unclaim: update task");
    }
    use u{delete_run_};
    u.bind(1, run);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "unclaim: delete run");
  });
}

caf::error sqlite_store::record_start(const process_start& p) {
  return atomically([&]() -> caf::error {
    use u{record_start_};
    u.bind(1, p.run)
      .bind(2, p.pid)
      .bind(3, p.pgid)
      .bind(4, static_cast<int64_t>(p.start_ticks))
      .bind(5, p.started_at);
    auto rc = u.step();
    if (rc != SQLITE_DONE)
      return fail(rc, "record start");
    if (sqlite3_changes(conn_.db) == 0)
      return make_error(ec::not_found, "no run " + std::to_string(p.run));
    return caf::none;
  });
}

caf::error sqlite_store::finish_run(const run_outcome& o) {
  auto cols = columns_of(o);
  if (!cols)
    return cols.error();
  return atomically([&]() -> caf::error {
    {
      use u{finish_run_};
      u.bind(1, o.run)
        .bind_text(2, cols->status)
        .bind_opt(3, cols->run_reason)
        .bind_opt(4, cols->exit_code)
        .bind_opt(5, cols->signal)
        .bind_text(6, o.output)
        .bind(7, cols->output_truncated)
        .bind(8, o.finished_at)
        .bind_opt(9, cols->started_at);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "finish run");
      if (sqlite3_changes(conn_.db) == 0)
        return make_error(ec::not_found, "no run " + std::to_string(o.run));
    }
    use u{finish_task_};
    u.bind(1, o.run).bind_text(2, cols->status).bind_opt(3, cols->task_reason);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "finish run: update task");
  });
}

caf::expected<task_view> sqlite_store::get_task(task_id id) {
  use u{get_task_};
  u.bind(1, id);
  auto rc = u.step();
  if (rc == SQLITE_DONE)
    return make_error(ec::not_found, "no task " + std::to_string(id));
  if (rc != SQLITE_ROW)
    return fail(rc, "get task");
  task_row r;
  r.id = u.int64(0);
  r.command = u.text(1);
  r.due = u.int64(2);
  r.created_at = u.int64(3);
  r.status = u.text_view(4);
  r.task_reason = u.opt_text_view(5);
  r.latest_run = u.opt_int64(6);
  r.run_reason = u.opt_text_view(7);
  r.exit_code = u.opt_int64(8);
  r.signal = u.opt_int64(9);
  r.output = u.text(10);
  r.output_truncated = u.opt_int64(11);
  r.started_at = u.opt_int64(12);
  r.finished_at = u.opt_int64(13);
  return to_task_view(std::move(r), "sqlite");
}

caf::error sqlite_store::load_pending(const std::function<void(const pending_entry&)>& f) {
  use u{load_pending_};
  for (;;) {
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      return caf::none;
    if (rc != SQLITE_ROW)
      return fail(rc, "load pending");
    f(pending_entry{u.int64(0), u.int64(1)});
  }
}

caf::expected<std::vector<orphan_run>> sqlite_store::interrupt_running(millis now) {
  std::vector<orphan_run> out;
  auto err = atomically([&]() -> caf::error {
    out.clear();
    {
      use u{running_runs_};
      for (;;) {
        auto rc = u.step();
        if (rc == SQLITE_DONE)
          break;
        if (rc != SQLITE_ROW)
          return fail(rc, "interrupt: read runs");
        out.push_back(to_orphan({u.int64(0), u.int64(1), u.opt_int64(2), u.opt_int64(3),
                                 u.opt_int64(4), u.opt_int64(5)}));
      }
    }
    for (auto& o : out) {
      {
        use u{interrupt_run_};
        u.bind(1, o.run).bind(2, now);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "interrupt: update run");
      }
      use u{interrupt_task_};
      u.bind(1, o.task);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "interrupt: update task");
    }
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

} // namespace

caf::expected<std::unique_ptr<store>> make_sqlite_store(const std::string& path) {
  auto s = std::make_unique<sqlite_store>(path);
  if (auto err = s->open())
    return err;
  return std::unique_ptr<store>{std::move(s)};
}

} // namespace ts::storage
