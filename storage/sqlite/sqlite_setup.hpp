// What opening a SQLite database does before the store prepares its statements: the
// connection's settings (WAL, synchronous=FULL, foreign keys, busy timeout) and the schema,
// created or brought forward to storage::schema_version in one IMMEDIATE transaction.
#pragma once

#include <string>

#include <caf/error.hpp>
#include <sqlite3.h>

namespace ts::storage::sqlite {

/// Refuses a file system that cannot keep a WAL rather than run without durability.
caf::error configure(sqlite3* db, const std::string& path);

/// Creates or migrates the schema; ec::schema_too_new for a newer one, nothing changed.
caf::error migrate(sqlite3* db, const std::string& path);

} // namespace ts::storage::sqlite
