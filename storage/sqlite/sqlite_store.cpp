// The SQLite backend: open, insert and the legacy reads (a run's life is in sqlite_runs.cpp,
// the v1 resources in sqlite_resources.cpp). Its SQL lives in sqlite_sql.hpp, prepared once
// at open and reused with bound parameters; what both backends read and write the same way
// is in storage/row_mapping.hpp.
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
    {&set_recurrence_, sql::set_recurrence},
    {&insert_occurrence_run_, sql::insert_occurrence_run},
    {&insert_skipped_run_, sql::insert_skipped_run},
    {&count_skip_, sql::count_skip},
    {&replace_run_, sql::replace_run},
    {&end_replaced_waiting_, sql::end_replaced_waiting},
    {&set_recurring_claim_, sql::set_recurring_claim},
    {&restore_occurrence_, sql::restore_occurrence},
    {&finish_recurring_, sql::finish_recurring},
    {&history_cutoff_, sql::history_cutoff},
    {&history_batch_end_, sql::history_batch_end},
    {&trim_output_, sql::trim_output},
    {&trim_runs_, sql::trim_runs},
    {&pause_task_, sql::pause_task},
    {&resume_task_, sql::resume_task},
    {&insert_run_, sql::insert_run},
    {&claim_waiting_, sql::claim_waiting},
    {&set_task_running_, sql::set_task_running},
    {&run_for_unclaim_, sql::run_for_unclaim},
    {&previous_run_, sql::previous_run},
    {&set_task_pending_, sql::set_task_pending},
    {&delete_run_, sql::delete_run},
    {&delete_run_output_, sql::delete_run_output},
    {&wait_again_, sql::wait_again},
    {&end_unclaimed_cancelled_, sql::end_unclaimed_cancelled},
    {&task_unclaimed_cancelled_, sql::task_unclaimed_cancelled},
    {&record_start_, sql::record_start},
    {&finish_run_, sql::finish_run},
    {&finished_run_, sql::finished_run},
    {&finish_task_, sql::finish_task},
    {&final_output_chunk_, sql::final_output_chunk},
    {&set_output_bytes_, sql::set_output_bytes},
    {&insert_retry_, sql::insert_retry},
    {&set_task_retrying_, sql::set_task_retrying},
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
    {&end_waiting_run_, sql::end_waiting_run},
    {&trigger_task_, sql::trigger_task},
    {&task_labels_, sql::task_labels},
    {&find_request_key_, sql::find_request_key},
    {&insert_request_key_, sql::insert_request_key},
    {&edit_task_, sql::edit_task},
    {&delete_labels_, sql::delete_labels},
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
  auto controls = columns_of(t.controls);
  if (!controls)
    return controls.error();
  auto& c = *controls;
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
        .bind(8, t.output_limit_bytes)
        .bind_opt(9, c.timeout_ms)
        .bind(10, c.kill_grace_ms)
        .bind(11, c.retry_max_attempts)
        .bind(12, c.retry_delay_ms)
        .bind_real(13, c.retry_multiplier)
        .bind(14, c.retry_max_delay_ms)
        .bind_text(15, c.retry_jitter)
        .bind(16, c.retry_on_interrupted)
        .bind_text(17, c.env)
        .bind_opt(18, c.cwd)
        .bind_opt(19, c.run_as);
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
      return write_recurrence(out.id, recurrence_of(t));
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

caf::error sqlite_store::write_recurrence(task_id id, const recurrence_columns& r) {
  if (!r.needed)
    return caf::none;
  use u{set_recurrence_};
  u.bind(1, id)
    .bind_opt(2, r.cron)
    .bind_opt(3, r.every_s)
    .bind_opt(4, r.anchor_ms)
    .bind_opt(5, r.start_ms)
    .bind_opt(6, r.end_ms)
    .bind_opt(7, r.max_runs)
    .bind_text(8, r.misfire)
    .bind(9, r.misfire_grace_ms)
    .bind_text(10, r.overlap)
    .bind(11, r.history_keep)
    .bind_opt(12, r.next_occurrence_ms);
  auto rc = u.step();
  return rc == SQLITE_DONE ? caf::none : fail(rc, "insert task: schedule");
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

} // namespace ts::storage::sqlite

namespace ts::storage {

caf::expected<std::unique_ptr<store>> make_sqlite_store(const std::string& path) {
  auto s = std::make_unique<sqlite::sqlite_store>(path);
  if (auto err = s->open())
    return err;
  return std::unique_ptr<store>{std::move(s)};
}

} // namespace ts::storage
