// Raw SQL access to the service's database, for the baselines and the loader only.
// This is deliberately not the service's storage layer: the baselines measure what the
// database itself can do with the same table and the same durability settings, so their SQL
// is written here, by hand. The schema itself comes from the service's own storage library
// (open_store creates or checks it), so the table shape is always the service's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ts::bench {

class raw_db {
public:
  virtual ~raw_db() = default;

  virtual bool begin() = 0;
  virtual bool commit() = 0;

  /// One prepared INSERT of a pending task: the columns the service writes at ingest.
  virtual bool insert_pending(const std::string& command, int64_t due_ms,
                              int64_t created_ms) = 0;

  /// `count` pending rows, written as fast as the backend allows (for loading, not a
  /// measurement): one transaction on SQLite, multi-row INSERTs on MySQL.
  virtual bool load_pending(int64_t count, const std::string& command, int64_t due_ms,
                            int64_t created_ms) = 0;

  /// Makes every task recurring: every `every_s` seconds from its due time (the columns of
  /// storage/SCHEMA.md, version 4), as a client's POST of such a task would store it.
  virtual bool make_recurring(int64_t every_s) = 0;

  /// The service's start-up query: id and due time of every pending task.
  virtual bool read_pending(std::vector<std::pair<int64_t, int64_t>>& out) = 0;

  /// The last error, for a message.
  virtual std::string error() const = 0;
};

/// Creates the service's schema through its storage library, then opens a raw connection
/// with the service's durability settings (SQLite: WAL, synchronous=FULL; MySQL: InnoDB
/// with the server's flush at commit, READ COMMITTED). Null with `error` set on failure.
std::unique_ptr<raw_db> open_raw_db(const std::string& url, std::string& error);

std::unique_ptr<raw_db> open_raw_sqlite(const std::string& path, std::string& error);
std::unique_ptr<raw_db> open_raw_mysql(const std::string& host, unsigned port,
                                       const std::string& socket, const std::string& user,
                                       const std::string& password,
                                       const std::string& database, std::string& error);

} // namespace ts::bench
