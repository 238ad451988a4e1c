// Thin owners of the SQLite C API handles, so that sqlite_store reads as its operations:
// the connection, a prepared statement, and one execution of it with its bindings and
// column reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <sqlite3.h>

namespace ts::storage::sqlite {

/// `rc` as an error: ec::unavailable for what may pass (busy, locked, full, I/O, cannot
/// open), so that the caller retries later; ec::storage_failure for everything else.
caf::error failure(sqlite3* db, int rc, const char* what);

/// Runs statements that return no rows (settings, schema); sqlite3_exec's own message is
/// dropped for sqlite3_errmsg's, which failure() quotes.
caf::error exec_script(sqlite3* db, const char* script, const char* what);

/// Declared first in the store, so it closes the connection after the statements finalize.
struct connection {
  sqlite3* db = nullptr;
  ~connection() {
    sqlite3_close_v2(db);
  }
};

/// Owns a prepared statement for the store's lifetime.
class statement {
public:
  statement() = default;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() {
    sqlite3_finalize(stmt_);
  }

  int prepare(sqlite3* db, const char* sql, unsigned flags) {
    return sqlite3_prepare_v3(db, sql, -1, flags, &stmt_, nullptr);
  }

  sqlite3_stmt* get() const {
    return stmt_;
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// One execution of a prepared statement. Resets it on scope exit, so that no statement
/// stays active and holds a read snapshot (which would block WAL checkpoints).
class use {
public:
  explicit use(const statement& s) : s_(s.get()) {
  }
  use(const use&) = delete;
  use& operator=(const use&) = delete;
  ~use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  use& bind(int i, int64_t v) {
    return check(sqlite3_bind_int64(s_, i, v));
  }
  /// NULL for nullopt.
  use& bind_opt(int i, const std::optional<int64_t>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }
  /// Named apart from bind: an int argument would fit both.
  use& bind_real(int i, double v) {
    return check(sqlite3_bind_double(s_, i, v));
  }
  use& bind_null(int i) {
    return check(sqlite3_bind_null(s_, i));
  }
  /// The bytes are copied by SQLite only when needed; they outlive the step here.
  use& bind_text(int i, std::string_view v) {
    return check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  /// NULL for an empty string.
  use& bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind_text(i, v);
  }
  use& bind_opt(int i, const std::optional<std::string_view>& v) {
    return v ? bind_text(i, *v) : bind_null(i);
  }
  use& bind_blob(int i, std::string_view v) {
    return check(sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC));
  }
  use& bind_opt(int i, const std::optional<std::string>& v) {
    return v ? bind_text(i, *v) : bind_null(i);
  }

  /// The first binding error, else the step's result code.
  int step() {
    return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_);
  }

  bool is_null(int col) const {
    return sqlite3_column_type(s_, col) == SQLITE_NULL;
  }
  int64_t int64(int col, int64_t if_null = 0) const {
    return is_null(col) ? if_null : sqlite3_column_int64(s_, col);
  }
  std::optional<int64_t> opt_int64(int col) const {
    if (is_null(col))
      return std::nullopt;
    return sqlite3_column_int64(s_, col);
  }
  std::optional<double> opt_real(int col) const {
    if (is_null(col))
      return std::nullopt;
    return sqlite3_column_double(s_, col);
  }
  /// Valid until the next step or the end of this execution; empty for NULL.
  std::string_view text_view(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    auto n = sqlite3_column_bytes(s_, col);
    return p ? std::string_view(p, static_cast<size_t>(n)) : std::string_view{};
  }
  /// The bytes of a BLOB column (no conversion to text); valid like text_view.
  std::string_view blob_view(int col) const {
    auto p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    auto n = sqlite3_column_bytes(s_, col);
    return p ? std::string_view(p, static_cast<size_t>(n)) : std::string_view{};
  }
  std::optional<std::string_view> opt_text_view(int col) const {
    if (is_null(col))
      return std::nullopt;
    return text_view(col);
  }
  std::string text(int col) const {
    return std::string{text_view(col)};
  }

private:
  use& check(int rc) {
    if (rc_ == SQLITE_OK)
      rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int rc_ = SQLITE_OK;
};

} // namespace ts::storage::sqlite
