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
#include "storage/sqlite/sqlite_store_impl.hpp"

namespace ts::storage::sqlite {

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
  static const std::string get_task_info_sql = std::string{sql::task_select} + " WHERE t.id = ?";
  static const std::string get_run_sql = std::string{sql::run_select} + " WHERE r.id = ?";
  const std::pair<statement*, const char*> all[] = {
    {&begin_, sql::begin},
    {&commit_, sql::commit},
    {&rollback_, sql::rollback},
    {&savepoint_, sql::savepoint},
    {&release_, sql::release},
    {&rollback_to_, sql::rollback_to},
    {&insert_task_, sql::insert_task},
    {&insert_label_, sql::insert_label},
    {&find_by_key_, sql::find_by_key},
    {&task_for_claim_, sql::task_for_claim},
    {&insert_run_, sql::insert_run},
    {&set_task_running_, sql::set_task_running},
    {&run_for_unclaim_, sql::run_for_unclaim},
    {&previous_run_, sql::previous_run},
    {&set_task_pending_, sql::set_task_pending},
    {&delete_run_, sql::delete_run},
    {&delete_run_output_, sql::delete_run_output},
    {&record_start_, sql::record_start},
    {&finish_run_, sql::finish_run},
    {&finished_run_, sql::finished_run},
    {&finish_task_, sql::finish_task},
    {&final_output_chunk_, sql::final_output_chunk},
    {&set_output_bytes_, sql::set_output_bytes},
    {&get_task_, sql::get_task},
    {&load_pending_, sql::load_pending},
    {&running_runs_, sql::running_runs},
    {&interrupt_run_, sql::interrupt_run},
    {&interrupt_task_, sql::interrupt_task},
    {&ping_, sql::ping},
    {&output_state_, sql::output_state},
    {&append_chunk_, sql::append_chunk},
    {&drop_chunks_, sql::drop_chunks},
    {&read_chunks_, sql::read_chunks},
    {&task_for_change_, sql::task_for_change},
    {&cancel_task_, sql::cancel_task},
    {&request_stop_, sql::request_stop},
    {&trigger_task_, sql::trigger_task},
    {&task_labels_, sql::task_labels},
    {&find_request_key_, sql::find_request_key},
    {&insert_request_key_, sql::insert_request_key},
    {&get_task_info_, get_task_info_sql.c_str()},
    {&get_run_, get_run_sql.c_str()},
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
    if (t.idempotency_key) {
      use u{find_request_key_};
      u.bind_opt(1, t.idempotency_key);
      auto rc = u.step();
      if (rc == SQLITE_ROW)
        return key_of_a_change();
      if (rc != SQLITE_DONE)
        return fail(rc, "insert task: find request key");
    }
    {
      use u{insert_task_};
      u.bind_text(1, t.command)
        .bind(2, t.due)
        .bind(3, t.created_at)
        .bind_opt(4, t.idempotency_key)
        .bind_text_or_null(5, t.request_hash)
        .bind_opt(6, t.name)
        .bind_opt(7, t.time_zone)
        .bind(8, t.output_limit_bytes);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "insert task");
    }
    if (sqlite3_changes(conn_.db) == 1) {
      out = inserted_task(t, sqlite3_last_insert_rowid(conn_.db));
      for (auto& l : t.labels) {
        use u{insert_label_};
        u.bind(1, out.id).bind_text(2, l.key).bind_text(3, l.value);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "insert label");
      }
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
  std::string trigger;
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
      trigger = u.text(3);
      out.output_limit_bytes = u.int64(4);
    }
    {
      use u{insert_run_};
      u.bind(1, task).bind(2, claimed_at).bind(3, out.due).bind_text(4, trigger);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "claim: insert run");
      out.run = sqlite3_last_insert_rowid(conn_.db);
    }
    use u{set_task_running_};
    u.bind(1, task).bind(2, out.run).bind(3, claimed_at);
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
    int64_t scheduled = 0;
    std::string trigger;
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
      scheduled = u.int64(3);
      trigger = u.text(4);
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
      u.bind(1, task).bind_opt(2, previous).bind(3, scheduled).bind_text(4, trigger);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "unclaim: update task");
    }
    if (auto err = run_with(delete_run_output_, run, "unclaim: delete output"))
      return err;
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
    // What the run ended as (a stop request may have turned it into a cancellation).
    task_id task = 0;
    std::string status;
    std::optional<std::string> reason;
    int64_t output_bytes = 0;
    {
      use u{finished_run_};
      u.bind(1, o.run);
      auto rc = u.step();
      if (rc != SQLITE_ROW)
        return fail(rc, "finish run: read run");
      task = u.int64(0);
      status = u.text(1);
      if (!u.is_null(2))
        reason = u.text(2);
      output_bytes = u.int64(3);
    }
    if (output_bytes == 0 && !o.output.empty()) {
      auto size = static_cast<int64_t>(o.output.size());
      {
        use u{final_output_chunk_};
        u.bind(1, o.run).bind(2, size).bind_text(3, o.output);
        auto rc = u.step();
        if (rc != SQLITE_DONE)
          return fail(rc, "finish run: output");
      }
      use u{set_output_bytes_};
      u.bind(1, o.run).bind(2, size);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "finish run: output size");
    }
    use u{finish_task_};
    u.bind(1, task).bind_text(2, status).bind_opt(3, reason).bind(4, o.finished_at);
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
  r.run_status = u.opt_text_view(14);
  r.next_run_at = u.opt_int64(15);
  r.run_scheduled_for = u.opt_int64(16);
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
      u.bind(1, o.task).bind(2, now);
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

} // namespace ts::storage::sqlite

namespace ts::storage {

caf::expected<std::unique_ptr<store>> make_sqlite_store(const std::string& path) {
  auto s = std::make_unique<sqlite::sqlite_store>(path);
  if (auto err = s->open())
    return err;
  return std::unique_ptr<store>{std::move(s)};
}

} // namespace ts::storage
