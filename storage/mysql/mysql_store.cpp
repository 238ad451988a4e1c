// The MySQL / MariaDB backend (MariaDB Connector/C): the factory. The class and its legacy
// operations are in mysql_store_impl.hpp, the v1 resources in mysql_resources.cpp; its SQL
// lives in mysql_sql.hpp, prepared on every connection by mysql_connection, which also maps
// outages; what both backends read and write the same way is in storage/row_mapping.hpp.
#include "storage/mysql/mysql_store.hpp"

#include <utility>

#include "storage/mysql/mysql_store_impl.hpp"

namespace ts::storage {

caf::expected<std::unique_ptr<store>> make_mysql_store(const db_url& url,
                                                       const store_options& opts) {
  auto result = std::make_unique<mysql::mysql_store>(url, opts);
  if (auto err = result->open())
    return err;
  return std::unique_ptr<store>{std::move(result)};
}

} // namespace ts::storage
