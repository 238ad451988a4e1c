#include "storage/list_query.hpp"

#include <algorithm>

namespace ts::storage {

namespace {

constexpr int64_t max_limit = 500;

void integer(built_query& q, int64_t v) {
  q.params.push_back(sql_param{false, v, {}});
}

void text(built_query& q, std::string v) {
  q.params.push_back(sql_param{true, 0, std::move(v)});
}

} // namespace

int64_t clamp_limit(int32_t limit) {
  return std::clamp<int64_t>(limit, 1, max_limit);
}

built_query tasks_query(const list_dialect& d, const task_filter& f, int64_t tail) {
  built_query q;
  q.sql = f.state ? d.task_select_by_state : d.task_select;
  integer(q, tail);
  q.sql += " WHERE 1 = 1";
  if (f.after) {
    q.sql += " AND t.id < ?";
    integer(q, *f.after);
  }
  // With the keyset above, a walk down tasks_state (state, id) or the primary key.
  if (f.state) {
    q.sql += " AND t.state = ?";
    text(q, to_string(*f.state));
  }
  if (f.name_prefix) {
    q.sql += " AND ";
    q.sql += d.name_prefix;
    text(q, *f.name_prefix);
    text(q, *f.name_prefix);
  }
  // Each label a lookup in the primary key (task_id, label_key) of the task at hand.
  for (auto& l : f.labels) {
    q.sql += " AND EXISTS (SELECT 1 FROM task_labels l WHERE l.task_id = t.id"
             " AND l.label_key = ? AND l.label_value = ?)";
    text(q, l.key);
    text(q, l.value);
  }
  q.sql += " ORDER BY t.id DESC LIMIT ?";
  integer(q, clamp_limit(f.limit) + 1);
  return q;
}

built_query labels_query(const std::vector<task_id>& tasks) {
  built_query q;
  q.sql = "SELECT task_id, label_key, label_value FROM task_labels WHERE task_id IN (";
  // The ids are written as numbers, not parameters: a page holds up to 500, more than a
  // statement's parameters should be, and an integer cannot inject anything.
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i)
      q.sql += ", ";
    q.sql += std::to_string(tasks[i]);
  }
  q.sql += ") ORDER BY task_id, label_key";
  return q;
}

page_labels::page_labels(task_page& page) {
  for (auto& t : page.items) {
    by_id_.emplace(t.id, &t);
    ids_.push_back(t.id);
  }
}

void page_labels::add(task_id task, std::string key, std::string value) {
  if (auto i = by_id_.find(task); i != by_id_.end())
    i->second->labels.push_back(label{std::move(key), std::move(value)});
}

built_query runs_query(const list_dialect& d, const run_filter& f) {
  built_query q;
  q.sql = d.run_select;
  integer(q, f.output_tail);
  q.sql += " WHERE 1 = 1";
  if (f.after) {
    q.sql += " AND r.id < ?";
    integer(q, *f.after);
  }
  if (f.task) {
    q.sql += " AND r.task_id = ?";
    integer(q, *f.task);
  }
  if (f.status) {
    q.sql += " AND r.status = ?";
    text(q, to_string(*f.status));
  }
  if (f.since) {
    q.sql += " AND r.scheduled_ms >= ?";
    integer(q, *f.since);
  }
  if (f.until) {
    q.sql += " AND r.scheduled_ms < ?";
    integer(q, *f.until);
  }
  q.sql += " ORDER BY r.id DESC LIMIT ?";
  integer(q, clamp_limit(f.limit) + 1);
  return q;
}

} // namespace ts::storage
