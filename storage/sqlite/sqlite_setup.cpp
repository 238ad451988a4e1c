#include "storage/sqlite/sqlite_setup.hpp"

#include "core/error.hpp"
#include "storage/row_mapping.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "storage/sqlite/sqlite_statement.hpp"
#include "storage/store.hpp"

namespace ts::storage::sqlite {

namespace {

/// Writers wait this long for another connection's lock before giving up (ec::unavailable).
constexpr int busy_timeout_ms = 5000;

} // namespace

caf::error configure(sqlite3* db, const std::string& path) {
  sqlite3_busy_timeout(db, busy_timeout_ms);
  statement journal;
  auto rc = journal.prepare(db, sql::journal_mode_wal, 0);
  if (rc != SQLITE_OK)
    return failure(db, rc, "journal_mode");
  {
    use u{journal};
    rc = u.step();
    if (rc != SQLITE_ROW)
      return failure(db, rc, "journal_mode");
    if (u.text(0) != "wal")
      return make_error(ec::storage_failure, "sqlite: cannot enable WAL mode on " + path
                                               + " (journal mode is " + u.text(0) + ")");
  }
  return exec_script(db, sql::pragmas, "pragmas");
}

caf::error migrate(sqlite3* db, const std::string& path) {
  if (auto err = exec_script(db, sql::begin_schema, "begin schema check"))
    return err;
  auto result = [&]() -> caf::error {
    statement exists;
    auto rc = exists.prepare(db, sql::schema_exists, 0);
    if (rc != SQLITE_OK)
      return failure(db, rc, "schema check");
    bool found = false;
    {
      use u{exists};
      rc = u.step();
      if (rc != SQLITE_ROW)
        return failure(db, rc, "schema check");
      found = u.int64(0) > 0;
    }
    if (!found)
      if (auto err = exec_script(db, sql::schema_v1, "create schema"))
        return err;
    statement read;
    rc = read.prepare(db, sql::read_version, 0);
    if (rc != SQLITE_OK)
      return failure(db, rc, "read schema version");
    int64_t version = 0;
    {
      use u{read};
      rc = u.step();
      if (rc != SQLITE_ROW || u.int64(1) != 1)
        return rc == SQLITE_ROW || rc == SQLITE_DONE
                 ? make_error(ec::storage_failure,
                              "sqlite: schema_version of " + path + " must hold one row")
                 : failure(db, rc, "read schema version");
      version = u.int64(0);
    }
    if (auto err = check_schema_version(version))
      return err;
    if (version < 1)
      return make_error(ec::storage_failure,
                        "sqlite: invalid schema version " + std::to_string(version));
    if (sql::migrations.size() + 1 != static_cast<size_t>(schema_version))
      return make_error(ec::storage_failure, "sqlite: migration list does not reach version "
                                               + std::to_string(schema_version));
    if (version == schema_version)
      return caf::none;
    for (auto v = version; v < schema_version; ++v)
      if (auto err = exec_script(db, sql::migrations[static_cast<size_t>(v - 1)], "migrate"))
        return err;
    statement set;
    rc = set.prepare(db, sql::set_version, 0);
    if (rc != SQLITE_OK)
      return failure(db, rc, "set schema version");
    use u{set};
    u.bind(1, schema_version);
    rc = u.step();
    return rc == SQLITE_DONE ? caf::none : failure(db, rc, "set schema version");
  }();
  if (result) {
    exec_script(db, sql::rollback_schema, "rollback schema");
    return result;
  }
  return exec_script(db, sql::commit_schema, "commit schema");
}

} // namespace ts::storage::sqlite
