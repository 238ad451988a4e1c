// The fixture of the storage conformance suite (tests/storage/test_store*.cpp): each case
// runs once per backend, a fresh SQLite file always and MariaDB when TS_TEST_MYSQL_URL names
// one, through WITH_EACH_BACKEND; and the helpers that write in transactions of their own.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <mysql.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "storage/list_query.hpp"
#include "storage/mysql/mysql_sql.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "storage/store.hpp"
#include "tests/storage/controls_check.hpp"
#include "tests/support/store_test_support.hpp"

namespace ts::test::store_cases {

using namespace ts;
using ts::test::backends;
using ts::test::code_of;
using ts::test::error_of;
using ts::test::mysql_url;
using ts::test::ok;
using ts::storage::open_store;
using ts::storage::store;
namespace fs = std::filesystem;

// -- helpers ----------------------------------------------------------------------------------

inline new_task make_task(std::string command, millis due,
                          std::optional<std::string> key = std::nullopt, std::string hash = "") {
  new_task t;
  t.command = std::move(command);
  t.due = due;
  t.created_at = due - 1000;
  t.idempotency_key = std::move(key);
  t.request_hash = std::move(hash);
  return t;
}

/// Inserts in a transaction of its own.
inline task_record insert(store& s, const new_task& t) {
  ok(s.begin());
  auto r = s.insert_task(t);
  if (!r)
    s.rollback();
  auto rec = ok(std::move(r));
  ok(s.commit());
  return rec;
}

inline claim claim_one(store& s, task_id id, millis at) {
  ok(s.begin());
  auto c = s.claim_run(id, at);
  if (!c)
    s.rollback();
  auto out = ok(std::move(c));
  ok(s.commit());
  return out;
}

inline void in_tx(store& s, const caf::error& err) {
  if (err) {
    s.rollback();
    ok(err);
  }
}

/// Runs one write in its own transaction.
template <class F>
inline void write_tx(store& s, F&& f) {
  ok(s.begin());
  caf::error err = f();
  in_tx(s, err);
  ok(s.commit());
}

/// A task that ran once and failed with exit code 3.
inline claim failed_by_exit(store& s) {
  auto c = claim_one(s, insert(s, make_task("exit 3", 1000)).id, 1000);
  run_outcome o;
  o.run = c.run;
  o.task = c.task;
  o.status = task_status::failure;
  o.reason = run_reason::exit;
  o.exit_code = 3;
  o.finished_at = 1010;
  write_tx(s, [&] { return s.finish_run(o); });
  return c;
}

inline std::vector<pending_entry> pending_of(store& s) {
  std::vector<pending_entry> out;
  ok(s.load_pending([&](const pending_entry& e) { out.push_back(e); }));
  std::sort(out.begin(), out.end(),
            [](const pending_entry& a, const pending_entry& b) { return a.id < b.id; });
  return out;
}

inline void check_same(const task_view& a, const task_view& b) {
  CHECK(a.id == b.id);
  CHECK(a.command == b.command);
  CHECK(a.due == b.due);
  CHECK(a.created_at == b.created_at);
  CHECK(a.status == b.status);
  CHECK(a.run == b.run);
  CHECK(a.reason == b.reason);
  CHECK(a.exit_code == b.exit_code);
  CHECK(a.signal == b.signal);
  CHECK(a.output == b.output);
  CHECK(a.output_truncated == b.output_truncated);
  CHECK(a.started_at == b.started_at);
  CHECK(a.finished_at == b.finished_at);
}

/// A fresh folder under $TMPDIR, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ts-store-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code err;
    fs::remove_all(path_, err);
  }
  const std::string& path() const {
    return path_;
  }

private:
  std::string path_;
};

// -- backends ---------------------------------------------------------------------------------

/// A raw MariaDB connection for what the store interface does not offer: wiping the
/// tables before a case and planting a future schema version.
class mysql_raw {
public:
  mysql_raw() {
    conn_ = mysql_init(nullptr);
    REQUIRE(conn_);
    unsigned timeout = 5;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    ts::test::connect_test_mysql(conn_, 0);
  }
  mysql_raw(const mysql_raw&) = delete;
  mysql_raw& operator=(const mysql_raw&) = delete;
  ~mysql_raw() {
    mysql_close(conn_);
  }

  void exec(const std::string& sql) {
    auto rc = mysql_query(conn_, sql.c_str());
    INFO(sql << ": " << mysql_error(conn_));
    REQUIRE(rc == 0);
  }

  /// Every row of a query's result, NULL as "NULL".
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    exec(sql);
    std::vector<std::vector<std::string>> out;
    MYSQL_RES* res = mysql_store_result(conn_);
    REQUIRE(res);
    auto n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      auto& r = out.emplace_back();
      for (unsigned i = 0; i < n; ++i)
        r.emplace_back(row[i] ? row[i] : "NULL");
    }
    mysql_free_result(res);
    return out;
  }

private:
  MYSQL* conn_ = nullptr;
};

/// An empty database of one backend for one test case.
class backend_db {
public:
  explicit backend_db(std::string kind) : kind_(std::move(kind)) {
    if (kind_ == "sqlite") {
      url_ = "sqlite:" + dir_.path() + "/store.db";
    } else {
      url_ = mysql_url();
      mysql_raw raw;
      raw.exec("SET FOREIGN_KEY_CHECKS = 0");
      raw.exec("DROP TABLE IF EXISTS request_keys, run_output, task_labels, runs, tasks,"
               " schema_version");
    }
  }

  const std::string& kind() const {
    return kind_;
  }
  const std::string& url() const {
    return url_;
  }

  caf::expected<std::unique_ptr<store>> try_open() const {
    return open_store(url_);
  }

  std::unique_ptr<store> open() const {
    return ok(try_open());
  }

  /// Plants a schema version behind the store's back.
  void set_schema_version(int v) {
    exec("UPDATE schema_version SET version = " + std::to_string(v));
  }

  /// Runs one statement on a connection of its own, behind the store's back.
  void exec(const std::string& sql) {
    if (kind_ == "sqlite") {
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open((dir_.path() + "/store.db").c_str(), &db) == SQLITE_OK);
      auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
      sqlite3_close(db);
      REQUIRE(rc == SQLITE_OK);
    } else {
      mysql_raw raw;
      raw.exec(sql);
    }
  }

  /// The query plan of the list query the store runs for `f`, the parameters inlined.
  std::string explain(const task_filter& f);

private:
  std::string kind_;
  temp_dir dir_;
  std::string url_;
};

/// A list query as text, its parameters inlined, for EXPLAIN.
inline std::string inlined(const storage::built_query& q) {
  std::string out;
  size_t i = 0;
  for (char c : q.sql) {
    if (c != '?' || i == q.params.size()) {
      out += c;
      continue;
    }
    auto& p = q.params[i++];
    out += p.is_text ? "'" + p.text + "'" : std::to_string(p.integer);
  }
  return out;
}

inline std::string backend_db::explain(const task_filter& f) {
  std::string out;
  if (kind_ == "sqlite") {
    namespace sql = storage::sqlite::sql;
    auto q = storage::tasks_query(
      {sql::task_select, sql::task_select_by_state, sql::run_select, sql::name_prefix}, f, 4096);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir_.path() + "/store.db").c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    auto text = "EXPLAIN QUERY PLAN " + inlined(q);
    REQUIRE(sqlite3_prepare_v2(db, text.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW)
      out += std::string{"  "} + reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3))
             + "\n";
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return "  " + inlined(q) + "\n" + out;
  }
  namespace sql = storage::mysql::sql;
  auto q = storage::tasks_query(
    {sql::task_select, sql::task_select_by_state, sql::run_select, sql::name_prefix}, f, 4096);
  mysql_raw raw;
  // MariaDB's ANALYZE runs the query and adds the rows it really read (r_rows).
  for (auto& row : raw.rows("ANALYZE " + inlined(q))) {
    out += " ";
    for (auto& c : row)
      out += " " + c;
    out += "\n";
  }
  return "  " + inlined(q) + "\n  id select_type table type possible_keys key key_len ref rows"
         " r_rows filtered r_filtered Extra\n" + out;
}


inline new_task v1_task(std::string command, millis due, std::optional<std::string> name,
                        std::vector<label> labels) {
  auto t = make_task(std::move(command), due);
  t.name = std::move(name);
  t.labels = std::move(labels);
  return t;
}

inline run_outcome outcome(const claim& c, task_status status, millis finished,
                           std::string output = "") {
  run_outcome o;
  o.run = c.run;
  o.task = c.task;
  o.status = status;
  o.reason = status == task_status::failure ? run_reason::exit : run_reason::none;
  o.exit_code = status == task_status::failure ? 1 : 0;
  o.output = std::move(output);
  o.finished_at = finished;
  return o;
}

/// Claims, starts and ends a task's next run.
inline claim run_to_end(store& s, task_id id, millis at,
                        task_status status = task_status::success) {
  auto c = claim_one(s, id, at);
  write_tx(s, [&] { return s.record_start({c.run, 10, 10, 1, at + 1}); });
  write_tx(s, [&] { return s.finish_run(outcome(c, status, at + 2)); });
  return c;
}

/// A cancel or trigger without an Idempotency-Key.
inline const request_key no_key{};

inline request_key keyed(std::string key, std::string hash) {
  return request_key{std::move(key), std::move(hash)};
}

inline std::vector<task_id> ids_of(const task_page& p) {
  std::vector<task_id> out;
  for (auto& t : p.items)
    out.push_back(t.id);
  return out;
}

inline std::vector<run_id> ids_of(const run_page& p) {
  std::vector<run_id> out;
  for (auto& r : p.items)
    out.push_back(r.id);
  return out;
}

/// A write returning a value in a transaction of its own, committed only when it succeeds.
template <class F>
inline auto in_one_tx_value(store& s, F&& f) -> decltype(f()) {
  ok(s.begin());
  auto x = f();
  if (x)
    ok(s.commit());
  else
    s.rollback();
  return x;
}

template <class F>
inline caf::error in_one_tx(store& s, F&& f) {
  ok(s.begin());
  caf::error err = f();
  if (err)
    s.rollback();
  else
    ok(s.commit());
  return err;
}

} // namespace ts::test::store_cases

// Each case runs once per backend; CAPTURE names the backend in any failure.
#define WITH_EACH_BACKEND(db)                                                                 \
  auto db##_kind = GENERATE(from_range(backends()));                                          \
  CAPTURE(db##_kind);                                                                         \
  backend_db db{db##_kind}
