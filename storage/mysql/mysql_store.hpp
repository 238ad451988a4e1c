#pragma once

#include <memory>

#include <caf/expected.hpp>

#include "storage/db_url.hpp"
#include "storage/store.hpp"

namespace ts::storage {

/// Connects (with connect/read/write timeouts) and migrates a MySQL/MariaDB database.
/// ec::unavailable when the server cannot be reached.
caf::expected<std::unique_ptr<store>> make_mysql_store(const db_url& url,
                                                       const store_options& opts);

} // namespace ts::storage
