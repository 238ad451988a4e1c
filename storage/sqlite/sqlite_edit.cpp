// The SQLite store's edit of a task (PATCH): storage/edit.hpp decides, this writes.
#include <optional>
#include <string>
#include <utility>

#include <sqlite3.h>

#include "core/error.hpp"
#include "storage/edit.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_store_impl.hpp"

namespace ts::storage::sqlite {

caf::expected<task_change> sqlite_store::update_task(const task_edit& e, millis now) {
  auto c = columns_of(e.task.controls);
  if (!c)
    return c.error();
  return change_task(e.id, now, request_key{}, [&](task_change&) -> caf::error {
    auto row = recurring_row_of(e.id, "edit: read task");
    if (!row)
      return row.error();
    auto w = decide_edit(*row, e, now, backend());
    if (!w)
      return w.error();
    auto& t = e.task;
    {
      use u{edit_task_};
      u.bind(1, e.id)
        .bind_text(2, t.command)
        .bind_opt(3, t.name)
        .bind_opt(4, t.time_zone)
        .bind(5, t.output_limit_bytes)
        .bind_opt(6, c->timeout_ms)
        .bind(7, c->kill_grace_ms)
        .bind(8, c->retry_max_attempts)
        .bind(9, c->retry_delay_ms)
        .bind_real(10, c->retry_multiplier)
        .bind(11, c->retry_max_delay_ms)
        .bind_text(12, c->retry_jitter)
        .bind(13, c->retry_on_interrupted)
        .bind_text(14, c->env)
        .bind_opt(15, c->cwd)
        .bind_opt(16, c->run_as)
        .bind(17, w->due)
        .bind_opt(18, w->next_run)
        .bind_text(19, w->state)
        .bind(20, w->pending ? 1 : 0)
        .bind(21, now);
      if (auto rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "edit task");
    }
    auto recurrence = recurrence_of(t);
    recurrence.needed = true;
    recurrence.next_occurrence_ms = w->next_occurrence;
    if (auto err = write_recurrence(e.id, recurrence))
      return err;
    if (auto err = run_with(delete_labels_, e.id, "edit: delete labels"))
      return err;
    for (auto& l : t.labels) {
      use u{insert_label_};
      u.bind(1, e.id).bind_text(2, l.key).bind_text(3, l.value);
      if (auto rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "edit: insert label");
    }
    return caf::none;
  });
}

} // namespace ts::storage::sqlite
