// The MySQL / MariaDB store's edit of a task (PATCH): storage/edit.hpp decides, this writes,
// as the SQLite store does.
#include <optional>
#include <string>
#include <utility>

#include "storage/edit.hpp"
#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage::mysql {

caf::expected<task_change> mysql_store::update_task(const task_edit& e, millis now) {
  auto c = columns_of(e.task.controls);
  if (!c)
    return c.error();
  return change_task(e.id, now, request_key{}, [&](task_change&) -> caf::error {
    auto read = recurring_row_of(e.id);
    if (!read)
      return read.error();
    auto w = decide_edit(*read, e, now, "mysql");
    if (!w)
      return w.error();
    auto& t = e.task;
    params u;
    u.text(t.command)
      .text_or_null(t.name)
      .text_or_null(t.time_zone)
      .integer(t.output_limit_bytes)
      .integer_or_null(c->timeout_ms)
      .integer(c->kill_grace_ms)
      .integer(c->retry_max_attempts)
      .integer(c->retry_delay_ms)
      .real(c->retry_multiplier)
      .integer(c->retry_max_delay_ms)
      .text(c->retry_jitter)
      .integer(c->retry_on_interrupted)
      .text(c->env)
      .text_or_null(c->cwd)
      .text_or_null(c->run_as)
      .integer(w->due)
      .integer_or_null(w->next_run)
      .text(w->state)
      .integer(w->pending)
      .integer(w->pending)
      .integer(now)
      .integer(e.id);
    if (auto err = c_.execute(q::edit_task, u))
      return err;
    auto recurrence = recurrence_of(t);
    recurrence.needed = true;
    recurrence.next_occurrence_ms = w->next_occurrence;
    if (auto err = write_recurrence(e.id, recurrence))
      return err;
    params d;
    d.integer(e.id);
    if (auto err = c_.execute(q::delete_labels, d))
      return err;
    for (auto& l : t.labels) {
      params lp;
      lp.integer(e.id).text(l.key).text(l.value);
      if (auto err = c_.execute(q::insert_label, lp))
        return err;
    }
    return caf::none;
  });
}

} // namespace ts::storage::mysql
