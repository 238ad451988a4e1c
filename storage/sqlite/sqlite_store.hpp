#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "storage/store.hpp"

namespace ts::storage {

/// Opens (creating the file and its folder if missing) and migrates a SQLite database in
/// WAL mode with synchronous=FULL.
caf::expected<std::unique_ptr<store>> make_sqlite_store(const std::string& path);

} // namespace ts::storage
