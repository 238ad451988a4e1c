// The MySQL / MariaDB schema: created or brought forward to storage::schema_version when a
// store opens, under a server-wide lock so that instances starting together migrate once.
#pragma once

#include <caf/error.hpp>

#include "storage/mysql/mysql_connection.hpp"

namespace ts::storage::mysql {

/// ec::schema_too_new for a newer schema (nothing changed); ec::unavailable while another
/// instance holds the migration lock past the lock wait timeout.
caf::error migrate(connection& c);

} // namespace ts::storage::mysql
