// The MySQL / MariaDB store's v1 resource operations: lists by keyset, one task or run,
// output in chunks, cancel, trigger, pause and resume. The SQL is in mysql_sql.hpp; the list
// queries are built by storage/list_query.cpp, the columns read by storage/row_mapping.cpp
// and resume decided by storage/recurring.cpp, as for SQLite.
#include <algorithm>
#include <string>
#include <utility>

#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage::mysql {

namespace {

const list_dialect dialect{sql::task_select, sql::task_select_by_state, sql::run_select,
                           sql::name_prefix};

} // namespace

std::vector<col> kinds_of(const std::vector<cell>& cells) {
  std::vector<col> out;
  for (auto c : cells)
    out.push_back(c == cell::integer ? col::integer : c == cell::real ? col::real : col::text);
  return out;
}

caf::error mysql_store::read_labels(task_info& t) {
  params p;
  p.integer(t.id);
  row r{col::text, col::text};
  return c_.query(q::task_labels, p, r,
                  [&] { t.labels.push_back(label{r.text(0), r.text(1)}); });
}

caf::error mysql_store::run_query(const built_query& q, const char* what, row& r,
                                  const std::function<void()>& on_row) {
  // Prepared per call: the text depends on the filter.
  params p;
  for (auto& x : q.params) {
    if (x.is_text)
      p.text(x.text);
    else
      p.integer(x.integer);
  }
  return c_.query_once(q.sql.c_str(), what, p, r, on_row);
}

caf::expected<task_info> mysql_store::get_task_info(task_id id, int64_t output_tail) {
  if (auto err = c_.usable())
    return err;
  params p;
  p.integer(output_tail).integer(id);
  row r{kinds_of(task_cells)};
  std::optional<caf::expected<task_info>> found;
  if (auto err = c_.query(q::get_task_info, p, r,
                          [&] { found = read_task(cells{r}, output_tail, "mysql"); }))
    return err;
  if (!found)
    return make_error(ec::not_found, "no task " + std::to_string(id));
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

caf::expected<run_info> mysql_store::get_run(run_id id, int64_t output_tail) {
  if (auto err = c_.usable())
    return err;
  params p;
  p.integer(output_tail).integer(id);
  row r{kinds_of(run_cells)};
  std::optional<caf::expected<std::optional<run_info>>> found;
  if (auto err = c_.query(q::get_run, p, r,
                          [&] { found = read_run(cells{r}, 0, output_tail, "mysql"); }))
    return err;
  if (!found)
    return make_error(ec::not_found, "no run " + std::to_string(id));
  if (!*found)
    return found->error();
  auto run = std::move(***found);
  if (auto err = fill_live_output(*this, run, output_tail))
    return err;
  return run;
}

caf::expected<task_page> mysql_store::list_tasks(const task_filter& f) {
  if (auto err = c_.usable())
    return err;
  task_page page;
  auto tail = run_filter{}.output_tail;
  row r{kinds_of(task_cells)};
  caf::error bad;
  auto err = run_query(tasks_query(dialect, f, tail), "list tasks", r, [&] {
    auto t = read_task(cells{r}, tail, "mysql");
    if (t)
      page.items.push_back(std::move(*t));
    else if (!bad)
      bad = t.error();
  });
  if (err)
    return err;
  if (bad)
    return bad;
  close_page(page, f.limit);
  page_labels labels{page};
  if (labels.ids().empty())
    return page;
  row l{col::integer, col::text, col::text};
  if (auto err = run_query(labels_query(labels.ids()), "list tasks: labels", l,
                           [&] { labels.add(l.integer(0), l.text(1), l.text(2)); }))
    return err;
  return page;
}

caf::expected<run_page> mysql_store::list_runs(const run_filter& f) {
  if (auto err = c_.usable())
    return err;
  run_page page;
  row r{kinds_of(run_cells)};
  caf::error bad;
  auto err = run_query(runs_query(dialect, f), "list runs", r, [&] {
    auto x = read_run(cells{r}, 0, f.output_tail, "mysql");
    if (x)
      page.items.push_back(std::move(**x));
    else if (!bad)
      bad = x.error();
  });
  if (err)
    return err;
  if (bad)
    return bad;
  close_page(page, f.limit);
  return page;
}

caf::error mysql_store::append_output(run_id run, int64_t offset, const std::string& data) {
  return atomically([&]() -> caf::error {
    params p;
    p.integer(run);
    row r{col::integer, col::integer, col::text};
    bool found = false;
    int64_t stored = 0;
    int64_t limit = 0;
    if (auto err = c_.query(q::output_state, p, r, [&] {
          found = true;
          stored = r.integer(0);
          limit = r.integer(1);
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no run " + std::to_string(run));
    auto end = offset + static_cast<int64_t>(data.size());
    if (auto err = check_append(run, offset, end, stored); err || end <= stored || data.empty())
      return err;  // a replay of what is stored already is done
    params a;
    a.integer(run).integer(end).blob(data);
    if (auto err = c_.execute(q::append_chunk, a))
      return err;
    params b;
    b.integer(end).integer(run);
    if (auto err = c_.execute(q::set_output_bytes, b))
      return err;
    // Whole chunks older than the kept tail go; the newest one always stays.
    params d;
    d.integer(run).integer(std::min(end - limit, offset));
    return c_.execute(q::drop_chunks, d);
  });
}

caf::expected<output_slice> mysql_store::read_output(run_id id, int64_t offset,
                                                     int64_t max_bytes) {
  if (auto err = c_.usable())
    return err;
  params p;
  p.integer(id);
  row r{col::integer, col::integer, col::text};
  bool found = false;
  int64_t stored = 0;
  bool ended = false;
  if (auto err = c_.query(q::output_state, p, r, [&] {
        found = true;
        stored = r.integer(0);
        ended = run_ended(r.text(2));
      }))
    return err;
  if (!found)
    return make_error(ec::not_found, "no run " + std::to_string(id));
  slice_builder b{id, offset, max_bytes};
  params c;
  c.integer(id).integer(offset);
  row chunk{col::integer, col::text};
  bool more = true;
  if (auto err = c_.query(q::read_chunks, c, chunk, [&] {
        if (more)
          more = b.add(chunk.integer(0), chunk.text(1));
      }))
    return err;
  return b.finish(ended, stored);
}

caf::expected<bool> mysql_store::is_replay(task_id task, const request_key& key) {
  if (!key.idempotency_key)
    return false;
  params k;
  k.text(*key.idempotency_key);
  row r{col::text, col::integer};
  std::optional<caf::error> used;
  if (auto err = c_.query(q::find_request_key, k, r,
                          [&] { used = check_replay(key, task, r.text(0), r.integer(1)); }))
    return err;
  if (used) {
    if (*used)
      return std::move(*used);
    return true;
  }
  params t;
  t.text(*key.idempotency_key);
  row created{col::integer, col::text, col::integer, col::integer, col::text, col::text};
  bool by_create = false;
  if (auto err = c_.query(q::select_task_by_key, t, created, [&] { by_create = true; }))
    return err;
  if (by_create)
    return key_of_a_create();
  return false;
}

caf::expected<task_change>
mysql_store::change_task(task_id task, millis now, const request_key& key,
                         const std::function<caf::error(task_change&)>& change) {
  task_change out;
  auto err = atomically([&]() -> caf::error {
    out = task_change{};
    if (key.idempotency_key) {
      // The task's row lock first: a retry on another connection waits for this one to
      // commit and then finds its key (READ COMMITTED reads the latest commit).
      params p;
      p.integer(task);
      row r{col::text, col::text, col::integer, col::text};
      if (auto err = c_.query(q::task_for_change, p, r, [] {}))
        return err;
    }
    auto replay = is_replay(task, key);
    if (!replay)
      return replay.error();
    out.replayed = *replay;
    if (!out.replayed) {
      if (auto err = change(out))
        return err;
      if (key.idempotency_key) {
        params k;
        k.text(*key.idempotency_key).text(key.request_hash).integer(task).integer(now);
        if (auto err = c_.execute(q::insert_request_key, k)) {
          // Used meanwhile for another task: the lock above serializes retries of this one.
          if (c_.last_errno() == ER_DUP_ENTRY)
            return make_error(ec::idempotency_conflict,
                              "the idempotency key was used with a different request");
          return err;
        }
      }
    }
    auto t = get_task_info(task, run_filter{}.output_tail);
    if (!t)
      return t.error();
    out.task = std::move(*t);
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::expected<task_change> mysql_store::cancel_task(task_id task, millis now,
                                                    const request_key& key) {
  return change_task(task, now, key, [&](task_change& out) -> caf::error {
    params p;
    p.integer(task);
    row r{col::text, col::text, col::integer, col::text};
    bool found = false;
    std::string status;
    std::string state;
    std::optional<int64_t> latest;
    bool waiting = false;
    if (auto err = c_.query(q::task_for_change, p, r, [&] {
          found = true;
          status = r.text(0);
          state = r.text(1);
          latest = r.opt_integer(2);
          waiting = r.text(3) == to_string(run_status::waiting);
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(task));
    if (state != to_string(task_state::active) && state != to_string(task_state::paused))
      return invalid_state(task, "only an active or paused task can be cancelled, not a "
                                   + state + " one");
    params c;
    c.integer(waiting).integer(waiting).integer(now).integer(task);
    if (auto err = c_.execute(q::cancel_task, c))
      return err;
    // A waiting retry has no process: it ends here.
    if (waiting) {
      params w;
      w.integer(now).integer(*latest);
      if (auto err = c_.execute(q::end_waiting_run, w))
        return err;
    }
    // The task is `running` from the claim on: a run starting is stopped too.
    if (status == to_string(task_status::running) && latest) {
      params s;
      s.integer(now).integer(*latest);
      if (auto err = c_.execute(q::request_stop, s))
        return err;
      out.stop_run = latest;
    }
    return {};
  });
}

caf::expected<task_change> mysql_store::trigger_task(task_id task, millis now,
                                                     const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    params p;
    p.integer(task);
    row r{col::text, col::text, col::integer, col::text};
    bool found = false;
    caf::error refused;
    if (auto err = c_.query(q::task_for_change, p, r, [&] {
          found = true;
          refused = check_trigger(task, r.text(0), r.text(1), r.text(3));
        }))
      return err;
    if (!found)
      return make_error(ec::not_found, "no task " + std::to_string(task));
    if (refused)
      return refused;
    params t;
    t.integer(now).integer(now).integer(task);
    return c_.execute(q::trigger_task, t);
  });
}

caf::expected<std::string> mysql_store::task_state_for_change(task_id task) {
  params p;
  p.integer(task);
  row r{col::text, col::text, col::integer, col::text};
  std::optional<std::string> state;
  if (auto err = c_.query(q::task_for_change, p, r, [&] { state = r.text(1); }))
    return err;
  if (!state)
    return make_error(ec::not_found, "no task " + std::to_string(task));
  return std::move(*state);
}

caf::expected<task_change> mysql_store::pause_task(task_id task, millis now,
                                                   const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    auto state = task_state_for_change(task);
    if (!state)
      return state.error();
    if (*state == to_string(task_state::paused))
      return {};
    if (*state != to_string(task_state::active))
      return invalid_state(task, "only an active task can be paused, not a " + *state + " one");
    params p;
    p.integer(now).integer(now).integer(task);
    return c_.execute(q::pause_task, p);
  });
}

caf::expected<recurring_row> mysql_store::recurring_row_of(task_id task) {
  params p;
  p.integer(task);
  row r{claim_kinds()};
  std::optional<caf::expected<recurring_row>> read;
  if (auto err = c_.query(q::select_claimed, p, r,
                          [&] { read = read_recurring_row(cells{r}, task, "mysql"); }))
    return err;
  if (!read)
    return make_error(ec::not_found, "no task " + std::to_string(task));
  return std::move(*read);
}

caf::expected<task_change> mysql_store::resume_task(task_id task, millis now,
                                                    const request_key& key) {
  return change_task(task, now, key, [&](task_change&) -> caf::error {
    auto state = task_state_for_change(task);
    if (!state)
      return state.error();
    if (*state == to_string(task_state::active))
      return {};
    if (*state != to_string(task_state::paused))
      return invalid_state(task, "only a paused task can be resumed, not a " + *state + " one");
    auto read = recurring_row_of(task);
    if (!read)
      return read.error();
    auto w = decide_resume(*read, now, "mysql");
    if (!w)
      return w.error();
    if (w->skip) {
      params k;
      k.integer(task)
        .integer(now)
        .integer(now)
        .integer(w->skip->first)
        .text(to_string(w->skip->reason))
        .integer(w->skip->count);
      if (auto err = c_.execute(q::insert_skipped_run, k))
        return err;
    }
    params u;
    u.integer(w->completes)
      .integer_or_null(w->next_run)
      .integer_or_null(w->next_occurrence)
      .integer_or_null(w->next_run)
      .integer(now)
      .integer(task);
    return c_.execute(q::resume_task, u);
  });
}

} // namespace ts::storage::mysql
