// The keyset list queries of both backends, built from a filter: the same conditions in the
// same parameter order, with each dialect's own select lists and name-prefix test (from its
// *_sql.hpp). Newest first by id, so that a page's cursor is the last id shown and tasks
// added meanwhile (higher ids) never shift a later page.
#pragma once

#include <cstdint>
#include <string>
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
  /// "SELECT <run columns> FROM runs r", with one `?` for the output tail.
  const char* run_select;
  /// A condition on t.name with two `?`, both the prefix.
  const char* name_prefix;
};

/// Asks for one row more than the limit, which tells whether another page follows.
built_query tasks_query(const list_dialect& d, const task_filter& f, int64_t tail);
built_query runs_query(const list_dialect& d, const run_filter& f);

/// The limit a list applies: 1 to 500 (the front end refuses others; this keeps a store
/// safe without it).
int64_t clamp_limit(int32_t limit);

} // namespace ts::storage
