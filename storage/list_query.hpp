// The keyset list queries of both backends, built from a filter: the same conditions in the
// same parameter order, with each dialect's own select lists and name-prefix test (from its
// *_sql.hpp). Newest first by id, so that a page's cursor is the last id shown and tasks
// added meanwhile (higher ids) never shift a later page.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"

namespace ts::storage {

/// One positional parameter (`?`) of a built query.
struct sql_param {
  bool is_text = false;
  int64_t integer = 0;
  std::string text;
};

struct built_query {
  std::string sql;
  std::vector<sql_param> params;
};

/// What differs between the dialects.
struct list_dialect {
  /// "SELECT <task and latest run columns> FROM tasks t LEFT JOIN runs r ...", with one
  /// `?` for the output tail.
  const char* task_select;
  /// The same for a `state=` list: the planner must walk tasks_state by (state, id) from
  /// the cursor (MariaDB, left to itself, reads the state's whole prefix and filters the ids:
  /// 10,000 rows for the hundredth page of 100 instead of 101).
  const char* task_select_by_state;
  /// "SELECT <run columns> FROM runs r", with one `?` for the output tail.
  const char* run_select;
  /// A condition on t.name with two `?`, both the prefix.
  const char* name_prefix;
};

/// Asks for one row more than the limit, which tells whether another page follows.
built_query tasks_query(const list_dialect& d, const task_filter& f, int64_t tail);
built_query runs_query(const list_dialect& d, const run_filter& f);

/// The labels of a page's tasks in one query (task_id, label_key, label_value), by task and
/// key: one round trip per page rather than one per task.
built_query labels_query(const std::vector<task_id>& tasks);

/// Hands the rows of labels_query to the tasks of a page.
class page_labels {
public:
  explicit page_labels(task_page& page);
  /// The ids of the page's tasks, for labels_query; empty for an empty page.
  const std::vector<task_id>& ids() const {
    return ids_;
  }
  void add(task_id task, std::string key, std::string value);

private:
  std::unordered_map<task_id, task_info*> by_id_;
  std::vector<task_id> ids_;
};

/// The limit a list applies: 1 to 500 (the front end refuses others; this keeps a store
/// safe without it).
int64_t clamp_limit(int32_t limit);

/// Drops the one row more that the query read, which says that another page follows, and
/// sets the cursor to the last id shown (task_page, run_page).
template <class Page>
void close_page(Page& p, int32_t limit) {
  auto n = static_cast<size_t>(clamp_limit(limit));
  if (p.items.size() <= n)
    return;
  p.items.resize(n);
  p.next = p.items.back().id;
}

} // namespace ts::storage
