#include "storage/mysql/mysql_schema.hpp"

#include <string>

#include "core/error.hpp"
#include "storage/row_mapping.hpp"
#include "storage/store.hpp"

namespace ts::storage::mysql {

namespace {

caf::error migrate_locked(connection& c) {
  if (auto err = c.exec_once(sql::create_version_table, "create schema_version"))
    return err;
  int version = 0;
  {
    params p;
    row r{col::integer};
    auto read = [&] { version = static_cast<int>(r.opt_integer(0).value_or(0)); };
    if (auto err = c.query_once(sql::select_version, "read schema version", p, r, read))
      return err;
  }
  if (auto err = check_schema_version(version))
    return err;
  if (sql::migrations.size() != static_cast<size_t>(schema_version))
    return make_error(ec::storage_failure, "mysql: no migration step per schema version");
  for (int v = version + 1; v <= schema_version; ++v) {
    for (auto statement : sql::migrations[static_cast<size_t>(v - 1)])
      if (auto err = c.exec_once(statement, "migration"))
        return err;
    // The version row is replaced in one transaction: exactly one row at any time.
    if (auto err = c.exec_once(sql::begin_version, "migration"))
      return err;
    params p;
    p.integer(v);
    caf::error err = c.exec_once(sql::delete_version, "migration");
    if (!err)
      err = c.run_once(sql::insert_version, "migration", p, nullptr, nullptr);
    if (!err)
      err = c.exec_once(sql::commit_version, "migration");
    if (err) {
      if (c.connected())
        static_cast<void>(c.exec_once(sql::rollback_version, "migration"));
      return err;
    }
  }
  return {};
}

} // namespace

caf::error migrate(connection& c) {
  // Lock names are server-wide: the database name keeps two databases apart. The wait
  // stays below the read timeout.
  std::string lock_name = c.url().database.substr(0, 40);
  bool locked = false;
  {
    params p;
    p.text(lock_name).integer(c.lock_wait_timeout());
    row r{col::integer};
    if (auto err = c.query_once(sql::get_schema_lock, "schema lock", p, r,
                                [&] { locked = r.opt_integer(0) == 1; }))
      return err;
  }
  if (!locked)
    return make_error(ec::unavailable,
                      "mysql: another instance is migrating the schema at " + c.where());
  auto err = migrate_locked(c);
  if (c.connected()) {
    params p;
    p.text(lock_name);
    row r{col::integer};
    static_cast<void>(c.query_once(sql::release_schema_lock, "schema unlock", p, r, [] {}));
  }
  return err;
}

} // namespace ts::storage::mysql
