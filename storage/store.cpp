#include "storage/store.hpp"

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "storage/mysql/mysql_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace ts::storage {

caf::expected<std::unique_ptr<store>> open_store(const std::string& url,
                                                 const store_options& opts) {
  auto parsed = parse_db_url(url);
  if (!parsed)
    return parsed.error();
  if (parsed->scheme == "sqlite")
    return make_sqlite_store(parsed->path);
  if (parsed->scheme == "mysql")
    return make_mysql_store(*parsed, opts);
  return make_error(ec::invalid_argument, "unsupported database scheme");
}

} // namespace ts::storage
