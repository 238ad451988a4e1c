// The MySQL / MariaDB backend (MariaDB Connector/C): insert, the legacy reads and the
// factory. The class is in mysql_store_impl.hpp, a run's life in mysql_runs.cpp, the v1
// resources in mysql_resources.cpp; its SQL lives in mysql_sql.hpp, prepared on every
// connection by mysql_connection, which also maps outages; what both backends read and
// write the same way is in storage/row_mapping.hpp.
#include "storage/mysql/mysql_store.hpp"

#include <utility>

#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage::mysql {

caf::expected<task_record> mysql_store::insert_task(const new_task& t) {
  if (auto err = c_.usable())
    return err;
  auto controls = columns_of(t.controls);
  if (!controls)
    return controls.error();
  auto& c = *controls;
  if (t.idempotency_key) {
    params k;
    k.text(*t.idempotency_key);
    row r{col::text, col::integer};
    bool used = false;
    if (auto err = c_.query(q::find_request_key, k, r, [&] { used = true; }))
      return err;
    if (used)
      return key_of_a_change();
  }
  params p;
  p.text(t.command)
    .integer(t.due)
    .integer(t.created_at)
    .text_or_null(t.idempotency_key)
    .text(t.request_hash, !t.idempotency_key)  // the hash only tells retries apart
    .text_or_null(t.name)
    .text_or_null(t.time_zone)
    .integer(t.output_limit_bytes)
    .integer(t.due)
    .integer(t.created_at)
    .integer_or_null(c.timeout_ms)
    .integer(c.kill_grace_ms)
    .integer(c.retry_max_attempts)
    .integer(c.retry_delay_ms)
    .real(c.retry_multiplier)
    .integer(c.retry_max_delay_ms)
    .text(c.retry_jitter)
    .integer(c.retry_on_interrupted)
    .text(c.env)
    .text_or_null(c.cwd)
    .text_or_null(c.run_as);
  auto recurrence = recurrence_of(t);
  std::optional<task_record> inserted;
  unsigned failed_with = 0;
  auto insert = [&]() -> caf::error {
    if (auto err = c_.execute(q::insert_task, p)) {
      failed_with = c_.last_errno();
      return err;
    }
    inserted = inserted_task(t, static_cast<task_id>(c_.insert_id(q::insert_task)));
    for (auto& l : t.labels) {
      params lp;
      lp.integer(inserted->id).text(l.key).text(l.value);
      if (auto err = c_.execute(q::insert_label, lp))
        return err;
    }
    return write_recurrence(inserted->id, recurrence);
  };
  // With labels or a schedule, one unit (a failed label must not leave half a task);
  // without, the one statement is, and a batch of inserts saves the savepoint's round trip.
  auto err = t.labels.empty() && !recurrence.needed ? insert() : atomically(insert);
  if (!err)
    return std::move(*inserted);
  if (failed_with != ER_DUP_ENTRY)
    return err;
  // The key was used before. InnoDB undid only the failed statement, so the transaction
  // goes on; the earlier row is committed or our own (a duplicate insert waits for a
  // concurrent one to commit or roll back first).
  params k;
  k.text_or_null(t.idempotency_key);
  row r{col::integer, col::text, col::integer, col::integer, col::text, col::text};
  std::optional<caf::expected<task_record>> found;
  if (auto err2 = c_.query(q::select_task_by_key, k, r, [&] {
        found = replayed_task({r.integer(0), std::move(r.text(1)), r.integer(2),
                               r.integer(3), r.text(4), r.text(5)},
                              t, "mysql");
      }))
    return err2;
  if (!found)
    return make_error(ec::storage_failure, "mysql: duplicate idempotency key, but no row");
  return std::move(*found);
}

caf::error mysql_store::write_recurrence(task_id id, const recurrence_columns& r) {
  if (!r.needed)
    return {};
  params p;
  p.text_or_null(r.cron)
    .integer_or_null(r.every_s)
    .integer_or_null(r.anchor_ms)
    .integer_or_null(r.start_ms)
    .integer_or_null(r.end_ms)
    .integer_or_null(r.max_runs)
    .text(r.misfire)
    .integer(r.misfire_grace_ms)
    .text(r.overlap)
    .integer(r.history_keep)
    .integer_or_null(r.next_occurrence_ms)
    .integer(id);
  return c_.execute(q::set_recurrence, p);
}

caf::expected<task_view> mysql_store::get_task(task_id id) {
  if (auto err = c_.usable())
    return err;
  params p;
  p.integer(id);
  row r{col::integer, col::text,    col::integer, col::integer, col::text,
        col::text,    col::integer, col::text,    col::integer, col::integer,
        col::text,    col::integer, col::integer, col::integer, col::text,
        col::integer, col::integer};
  std::optional<caf::expected<task_view>> found;
  if (auto err = c_.query(q::get_task, p, r, [&] {
        task_row t;
        t.id = r.integer(0);
        t.command = std::move(r.text(1));
        t.due = r.integer(2);
        t.created_at = r.integer(3);
        t.status = r.text(4);
        t.task_reason = r.opt_text(5);
        t.latest_run = r.opt_integer(6);
        t.run_reason = r.opt_text(7);
        t.exit_code = r.opt_integer(8);
        t.signal = r.opt_integer(9);
        t.output = std::move(r.text(10));
        t.output_truncated = r.opt_integer(11);
        t.started_at = r.opt_integer(12);
        t.finished_at = r.opt_integer(13);
        t.run_status = r.opt_text(14);
        t.next_run_at = r.opt_integer(15);
        t.run_scheduled_for = r.opt_integer(16);
        found = to_task_view(std::move(t), "mysql");
      }))
    return err;
  if (!found)
    return make_error(ec::not_found, "no task " + std::to_string(id));
  return std::move(*found);
}

caf::error mysql_store::load_pending(const std::function<void(const pending_entry&)>& f) {
  if (auto err = c_.usable())
    return err;
  // Gathered first: `f` may be slow or call back into the store.
  std::vector<pending_entry> all;
  params p;
  row r{col::integer, col::integer};
  if (auto err = c_.query(q::load_pending, p, r,
                          [&] { all.push_back(pending_entry{r.integer(0), r.integer(1)}); }))
    return err;
  for (auto& e : all)
    f(e);
  return {};
}

} // namespace ts::storage::mysql

namespace ts::storage {

caf::expected<std::unique_ptr<store>> make_mysql_store(const db_url& url,
                                                       const store_options& opts) {
  auto result = std::make_unique<mysql::mysql_store>(url, opts);
  if (auto err = result->open())
    return err;
  return std::unique_ptr<store>{std::move(result)};
}

} // namespace ts::storage
