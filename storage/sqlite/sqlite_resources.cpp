// The SQLite store's v1 resource operations: lists by keyset, one task or run, output in
// chunks, cancel and trigger. The SQL is in sqlite_sql.hpp; the list queries are built by
// storage/list_query.cpp and the columns read by storage/row_mapping.cpp, as for MySQL.
#include <string>
#include <utility>

#include "core/error.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "storage/sqlite/sqlite_store_impl.hpp"

namespace ts::storage::sqlite {

namespace {

const list_dialect dialect{sql::task_select, sql::task_select_by_state, sql::run_select,
                           sql::name_prefix};

} // namespace

caf::error sqlite_store::read_labels(task_info& t) {
  use u{task_labels_};
  u.bind(1, t.id);
  for (;;) {
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      return caf::none;
    if (rc != SQLITE_ROW)
      return fail(rc, "read labels");
    t.labels.push_back(label{u.text(0), u.text(1)});
  }
}

caf::error sqlite_store::run_query(const built_query& q, const char* what,
                                   const std::function<caf::error(const use&)>& f) {
  // Prepared per call: the text depends on the filter (a prepare costs microseconds).
  statement s;
  auto rc = s.prepare(conn_.db, q.sql.c_str(), 0);
  if (rc != SQLITE_OK)
    return fail(rc, what);
  use u{s};
  int i = 1;
  for (auto& p : q.params) {
    if (p.is_text)
      u.bind_text(i++, p.text);
    else
      u.bind(i++, p.integer);
  }
  for (;;) {
    rc = u.step();
    if (rc == SQLITE_DONE)
      return caf::none;
    if (rc != SQLITE_ROW)
      return fail(rc, what);
    if (auto err = f(u))
      return err;
  }
}

caf::expected<task_info> sqlite_store::get_task_info(task_id id, int64_t output_tail) {
  std::optional<caf::expected<task_info>> found;
  {
    use u{get_task_info_};
    u.bind(1, output_tail).bind(2, id);
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      return make_error(ec::not_found, "no task " + std::to_string(id));
    if (rc != SQLITE_ROW)
      return fail(rc, "get task");
    found = read_task(cells{u}, output_tail, "sqlite");
  }
  if (!*found)
    return found->error();
  auto t = std::move(**found);
  if (auto err = read_labels(t))
    return err;
  if (t.latest_run)
    if (auto err = fill_live_output(*this, *t.latest_run, output_tail))
      return err;
  return t;
}

caf::expected<run_info> sqlite_store::get_run(run_id id, int64_t output_tail) {
  std::optional<run_info> run;
  {
    use u{get_run_};
    u.bind(1, output_tail).bind(2, id);
    auto rc = u.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return fail(rc, "get run");
    if (rc == SQLITE_ROW) {
      auto r = read_run(cells{u}, 0, output_tail, "sqlite");
      if (!r)
        return r.error();
      run = std::move(*r);
    }
  }
  if (!run)
    return make_error(ec::not_found, "no run " + std::to_string(id));
  if (auto err = fill_live_output(*this, *run, output_tail))
    return err;
  return std::move(*run);
}

caf::expected<task_page> sqlite_store::list_tasks(const task_filter& f) {
  task_page page;
  auto tail = run_filter{}.output_tail;
  auto err = run_query(tasks_query(dialect, f, tail), "list tasks", [&](const use& u) {
    auto t = read_task(cells{u}, tail, "sqlite");
    if (!t)
      return t.error();
    page.items.push_back(std::move(*t));
    return caf::error{};
  });
  if (err)
    return err;
  close_page(page, f.limit);
  page_labels labels{page};
  if (labels.ids().empty())
    return page;
  err = run_query(labels_query(labels.ids()), "list tasks: labels", [&](const use& u) {
    labels.add(u.int64(0), u.text(1), u.text(2));
    return caf::error{};
  });
  if (err)
    return err;
  return page;
}

caf::expected<run_page> sqlite_store::list_runs(const run_filter& f) {
  run_page page;
  auto err = run_query(runs_query(dialect, f), "list runs", [&](const use& u) {
    auto r = read_run(cells{u}, 0, f.output_tail, "sqlite");
    if (!r)
      return r.error();
    page.items.push_back(std::move(**r));
    return caf::error{};
  });
  if (err)
    return err;
  close_page(page, f.limit);
  return page;
}

caf::error sqlite_store::append_output(run_id run, int64_t offset, const std::string& data) {
  return atomically([&]() -> caf::error {
    int64_t stored = 0;
    int64_t limit = 0;
    {
      use u{output_state_};
      u.bind(1, run);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no run " + std::to_string(run));
      if (rc != SQLITE_ROW)
        return fail(rc, "append output: read run");
      stored = u.int64(0);
      limit = u.int64(1);
    }
    auto end = offset + static_cast<int64_t>(data.size());
    if (auto err = check_append(run, offset, end, stored); err || end <= stored || data.empty())
      return err;  // a replay of what is stored already is done
    {
      use u{append_chunk_};
      u.bind(1, run).bind(2, end).bind_blob(3, data);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "append output");
    }
    {
      use u{set_output_bytes_};
      u.bind(1, run).bind(2, end);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "append output: size");
    }
    // Whole chunks older than the kept tail go; the newest one always stays.
    use u{drop_chunks_};
    u.bind(1, run).bind(2, std::min(end - limit, offset));
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "append output: drop old chunks");
  });
}

caf::expected<output_slice> sqlite_store::read_output(run_id id, int64_t offset,
                                                      int64_t max_bytes) {
  int64_t stored = 0;
  bool ended = false;
  {
    use u{output_state_};
    u.bind(1, id);
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      return make_error(ec::not_found, "no run " + std::to_string(id));
    if (rc != SQLITE_ROW)
      return fail(rc, "read output: read run");
    stored = u.int64(0);
    ended = run_ended(u.text_view(2));
  }
  slice_builder b{id, offset, max_bytes};
  use u{read_chunks_};
  u.bind(1, id).bind(2, offset);
  for (;;) {
    auto rc = u.step();
    if (rc == SQLITE_DONE)
      break;
    if (rc != SQLITE_ROW)
      return fail(rc, "read output");
    if (!b.add(u.int64(0), u.blob_view(1)))
      break;
  }
  return b.finish(ended, stored);
}

caf::expected<task_info> sqlite_store::task_after_change(task_id id) {
  return get_task_info(id, run_filter{}.output_tail);
}

caf::expected<bool> sqlite_store::is_replay(task_id task, const request_key& key) {
  if (!key.idempotency_key)
    return false;
  {
    use u{find_request_key_};
    u.bind_opt(1, key.idempotency_key);
    auto rc = u.step();
    if (rc == SQLITE_ROW) {
      if (auto err = check_replay(key, task, u.text_view(0), u.int64(1)))
        return err;
      return true;
    }
    if (rc != SQLITE_DONE)
      return fail(rc, "find request key");
  }
  use u{find_by_key_};
  u.bind_opt(1, key.idempotency_key);
  auto rc = u.step();
  if (rc == SQLITE_ROW)
    return key_of_a_create();
  if (rc != SQLITE_DONE)
    return fail(rc, "find idempotency key");
  return false;
}

caf::error sqlite_store::remember_key(task_id task, millis now, const request_key& key) {
  if (!key.idempotency_key)
    return caf::none;
  use u{insert_request_key_};
  u.bind_opt(1, key.idempotency_key).bind_text(2, key.request_hash).bind(3, task).bind(4, now);
  auto rc = u.step();
  return rc == SQLITE_DONE ? caf::none : fail(rc, "remember request key");
}

caf::expected<task_change>
sqlite_store::change_task(task_id task, millis now, const request_key& key,
                          const std::function<caf::error(task_change&)>& change) {
  task_change out;
  // BEGIN IMMEDIATE serializes the writers: no other can use the key between the lookup
  // and the insert.
  auto err = atomically([&]() -> caf::error {
    out = task_change{};
    auto replay = is_replay(task, key);
    if (!replay)
      return replay.error();
    out.replayed = *replay;
    if (!out.replayed) {
      if (auto err = change(out))
        return err;
      if (auto err = remember_key(task, now, key))
        return err;
    }
    auto t = task_after_change(task);
    if (!t)
      return t.error();
    out.task = std::move(*t);
    return caf::none;
  });
  if (err)
    return err;
  return out;
}

caf::expected<task_change> sqlite_store::cancel_task(task_id task, millis now,
                                                     const request_key& key) {
  return change_task(task, now, key, [&](task_change& out) -> caf::error {
    std::optional<run_id> latest;
    std::optional<run_id> waiting;
    {
      use u{task_for_change_};
      u.bind(1, task);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no task " + std::to_string(task));
      if (rc != SQLITE_ROW)
        return fail(rc, "cancel: read task");
      if (u.text_view(1) != to_string(task_state::active)
          && u.text_view(1) != to_string(task_state::paused))
        return invalid_state(task, "only an active or paused task can be cancelled, not a "
                                     + u.text(1) + " one");
      // The task is `running` from the claim on: a run starting is stopped too.
      if (u.text_view(0) == to_string(task_status::running))
        latest = u.opt_int64(2);
      // A waiting retry has no process: it ends here.
      if (u.text_view(3) == to_string(run_status::waiting))
        waiting = u.opt_int64(2);
    }
    {
      use u{cancel_task_};
      u.bind(1, task).bind(2, now).bind(3, waiting ? 1 : 0);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "cancel task");
    }
    if (waiting) {
      use u{end_waiting_run_};
      u.bind(1, *waiting).bind(2, now);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "cancel: end the waiting retry");
    }
    if (latest) {
      use u{request_stop_};
      u.bind(1, *latest).bind(2, now);
      auto rc = u.step();
      if (rc != SQLITE_DONE)
        return fail(rc, "cancel: stop the run");
      out.stop_run = latest;
    }
    return caf::none;
  });
}

caf::expected<task_change> sqlite_store::trigger_task(task_id task, millis now,
                                                      const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    {
      use u{task_for_change_};
      u.bind(1, task);
      auto rc = u.step();
      if (rc == SQLITE_DONE)
        return make_error(ec::not_found, "no task " + std::to_string(task));
      if (rc != SQLITE_ROW)
        return fail(rc, "trigger: read task");
      if (auto err = check_trigger(task, u.text_view(0), u.text_view(1), u.text_view(3)))
        return err;
    }
    use u{trigger_task_};
    u.bind(1, task).bind(2, now);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "trigger task");
  });
}

caf::expected<std::string> sqlite_store::task_state_for_change(task_id task, const char* what) {
  use u{task_for_change_};
  u.bind(1, task);
  auto rc = u.step();
  if (rc == SQLITE_DONE)
    return make_error(ec::not_found, "no task " + std::to_string(task));
  if (rc != SQLITE_ROW)
    return fail(rc, what);
  return u.text(1);
}

caf::expected<task_change> sqlite_store::pause_task(task_id task, millis now,
                                                    const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    auto state = task_state_for_change(task, "pause: read task");
    if (!state)
      return state.error();
    if (*state == to_string(task_state::paused))
      return caf::none;
    if (*state != to_string(task_state::active))
      return invalid_state(task, "only an active task can be paused, not a " + *state + " one");
    use u{pause_task_};
    u.bind(1, task).bind(2, now);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "pause task");
  });
}

caf::expected<recurring_row> sqlite_store::recurring_row_of(task_id task, const char* what) {
  use u{task_for_claim_};
  u.bind(1, task);
  auto rc = u.step();
  if (rc == SQLITE_DONE)
    return make_error(ec::not_found, "no task " + std::to_string(task));
  if (rc != SQLITE_ROW)
    return fail(rc, what);
  return read_recurring_row(cells{u}, task, backend());
}

caf::expected<task_change> sqlite_store::resume_task(task_id task, millis now,
                                                     const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    auto state = task_state_for_change(task, "resume: read task");
    if (!state)
      return state.error();
    if (*state == to_string(task_state::active))
      return caf::none;
    if (*state != to_string(task_state::paused))
      return invalid_state(task, "only a paused task can be resumed, not a " + *state + " one");
    auto row = recurring_row_of(task, "resume: read task");
    if (!row)
      return row.error();
    auto w = decide_resume(*row, now, backend());
    if (!w)
      return w.error();
    if (w->skip) {
      use u{insert_skipped_run_};
      u.bind(1, task).bind(2, now).bind(3, w->skip->first)
        .bind_text(4, to_string(w->skip->reason)).bind(5, w->skip->count);
      if (auto rc = u.step(); rc != SQLITE_DONE)
        return fail(rc, "resume: record the paused occurrences");
    }
    use u{resume_task_};
    u.bind(1, task).bind(2, now).bind_opt(3, w->next_run).bind_opt(4, w->next_occurrence)
      .bind(7, w->completes ? 1 : 0);
    auto rc = u.step();
    return rc == SQLITE_DONE ? caf::none : fail(rc, "resume task");
  });
}

} // namespace ts::storage::sqlite
