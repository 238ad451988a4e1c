#include "storage/sqlite/sqlite_statement.hpp"

#include <string>
#include <utility>

#include "core/error.hpp"

namespace ts::storage::sqlite {

caf::error failure(sqlite3* db, int rc, const char* what) {
  std::string msg = "sqlite ";
  msg += what;
  msg += ": ";
  msg += sqlite3_errmsg(db);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return make_error(ec::unavailable, std::move(msg));
    default:
      return make_error(ec::storage_failure, std::move(msg));
  }
}

caf::error exec_script(sqlite3* db, const char* script, const char* what) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db, script, nullptr, nullptr, &msg);
  sqlite3_free(msg);
  return rc == SQLITE_OK ? caf::none : failure(db, rc, what);
}

} // namespace ts::storage::sqlite
