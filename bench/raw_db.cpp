#include "bench/raw_db.hpp"

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "storage/store.hpp"

namespace ts::bench {

std::unique_ptr<raw_db> open_raw_db(const std::string& url, std::string& error) {
  auto parsed = storage::parse_db_url(url);
  if (!parsed) {
    error = render(parsed.error());
    return nullptr;
  }
  {
    // The service's own schema, created (or checked) by the service's own code.
    auto store = storage::open_store(url);
    if (!store) {
      error = render(store.error());
      return nullptr;
    }
  }
  auto& u = *parsed;
  if (u.scheme == "sqlite")
    return open_raw_sqlite(u.path, error);
  return open_raw_mysql(u.host, u.port, u.socket, u.user, u.password, u.database, error);
}

} // namespace ts::bench
