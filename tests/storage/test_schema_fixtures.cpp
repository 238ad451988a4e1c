// Older databases move forward in place. Each tests/fixtures/BACKEND_schema_vN.sql is a dump of
// a database that the binary of schema version N wrote through the store interface (the hidden
// case "[.fixture-writer]" below, run by tests/fixtures/make_fixture), with tasks in every
// state. Every fixture is loaded into a fresh database and opened with open_store, the
// production path that migrates; then every task must read back exactly as it was written,
// crash recovery, idempotency keys and new writes must work, and the migrated schema must be
// the one a fresh database gets. A fixture is never regenerated once the schema moves on: it
// stands for the databases the old binary left behind.
//
// SQLite always; MariaDB when TS_TEST_MYSQL_URL names a test database, which each case wipes
// (test_store holds the RESOURCE_LOCK ts_mariadb_db).
#include "storage/store.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <mysql.h>
#include <sqlite3.h>
#include <unistd.h>

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "tests/storage/controls_check.hpp"
#include "tests/support/store_test_support.hpp"

using namespace ts;
using ts::test::backends;
using ts::test::check_controls;
using ts::test::code_of;
using ts::test::mysql_url;
using ts::test::ok;
using ts::storage::open_store;
using ts::storage::store;

namespace fs = std::filesystem;

namespace {

// -- what every fixture holds -------------------------------------------------------------------

constexpr millis t0 = 1767225600000; // 2026-01-01T00:00:00Z

/// One task of the fixture: how get_task must answer, and the key it was inserted with.
struct fixture_task {
  const char* name;
  task_view view;
  std::optional<std::string> key;
  std::string hash;
  // v1 fields, written from schema version 2 on (older fixtures have none).
  std::optional<std::string> task_name;
  std::vector<label> labels;
};

/// The tail of a long `seq` as the output buffer keeps it: the last whole lines that fit in
/// 64 KiB, with multibyte characters.
std::string large_output() {
  std::vector<std::string> lines;
  size_t size = 0;
  for (int i = 99999; i > 0; --i) {
    char line[64];
    std::snprintf(line, sizeof line,
                  "%05d \xCE\xB1\xCE\xB2\xCE\xB3 \xE2\x9C\x93 the quick brown fox\n", i);
    auto n = std::strlen(line);
    if (size + n > 65536)
      break;
    lines.emplace_back(line, n);
    size += n;
  }
  std::string out;
  out.reserve(size);
  for (auto i = lines.rbegin(); i != lines.rend(); ++i)
    out += *i;
  return out;
}

task_view view(task_id id, std::string command, millis due, millis created) {
  task_view v;
  v.id = id;
  v.command = std::move(command);
  v.due = due;
  v.created_at = created;
  return v;
}

/// Literal expectations: ids, run ids and every field, the same for every schema version.
const std::vector<fixture_task>& fixture_tasks() {
  static const std::vector<fixture_task> all = [] {
    std::vector<fixture_task> out;
    // Pending in the last millisecond of 9999; a command full of quoting.
    auto v = view(1,
                  "printf '%s\\n' \"it's\" 'back\\\\slash' 50%\necho '; DROP TABLE tasks; --'"
                  "\t# \"done\"",
                  253402300799999, t0 + 1);
    out.push_back({"far future", v, std::nullopt, "", std::nullopt, {}});
    // Pending after a claim that was undone (its run 1 deleted); the key ends in a space,
    // which must still count.
    v = view(2, "curl -fsS -X POST 'http://127.0.0.1:9/hook?a=1&b=2'", 1893456000007, t0 + 2);
    out.push_back({"keyed pending", v, "fixture-key 'v1' ",
                   "3b1f6c2e9a0d4b7c8e5f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
                   "hook \xE2\x9C\x93 ", {{"app.example/tier", "web "}, {"env", "prod"}}});
    // Started, then ended by crash recovery.
    v = view(3, "sleep 600", t0 + 1000, t0 + 3);
    v.status = task_status::failure;
    v.run = 2;
    v.reason = run_reason::interrupted;
    v.started_at = t0 + 1000;
    v.finished_at = t0 + 1500;
    out.push_back({"interrupted", v, std::nullopt, "", std::nullopt, {}});
    v = view(4, "echo 'h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
                "\xF0\x9F\x98\x80'",
             t0 + 2000, t0 + 4);
    v.status = task_status::success;
    v.run = 3;
    v.exit_code = 0;
    v.output = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
               "\xF0\x9F\x98\x80\n\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D e\xCC\x81 "
               "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\n";
    v.started_at = t0 + 2001;
    v.finished_at = t0 + 2010;
    out.push_back({"success, unicode", v, "fixture-key-done",
                   "c0ffee00c0ffee11c0ffee22c0ffee33c0ffee44c0ffee55c0ffee66c0ffee77",
                   "greeting", {{"env", "dev"}}});
    v = view(5, "seq -f '%05g \xCE\xB1\xCE\xB2\xCE\xB3 \xE2\x9C\x93 the quick brown fox' 1 99999",
             t0 + 3000, t0 + 5);
    v.status = task_status::success;
    v.run = 4;
    v.exit_code = 0;
    v.output = large_output();
    v.output_truncated = true;
    v.started_at = t0 + 3001;
    v.finished_at = t0 + 3900;
    out.push_back({"success, 64 KiB output", v, std::nullopt, "", std::nullopt, {}});
    v = view(6, "echo oops >&2; exit 3", t0 + 4000, t0 + 6);
    v.status = task_status::failure;
    v.run = 5;
    v.reason = run_reason::exit;
    v.exit_code = 3;
    v.output = "oops\r\n'quoted' \\ \"double\" 100%\n";
    v.started_at = t0 + 4001;
    v.finished_at = t0 + 4020;
    out.push_back({"failure by exit", v, std::nullopt, "", std::nullopt, {}});
    v = view(7, "kill -TERM $$", t0 + 5000, t0 + 7);
    v.status = task_status::failure;
    v.run = 6;
    v.reason = run_reason::signal;
    v.signal = 15;
    v.started_at = t0 + 5001;
    v.finished_at = t0 + 5003;
    out.push_back({"failure by signal", v, std::nullopt, "", std::nullopt, {}});
    v = view(8, "/bin/true", t0 + 6000, t0 + 8);
    v.status = task_status::failure;
    v.run = 7;
    v.reason = run_reason::start_failed;
    v.output = "start_failed: posix_spawn: Resource temporarily unavailable";
    v.finished_at = t0 + 6001;
    out.push_back({"start failed", v, std::nullopt, "", std::nullopt, {}});
    // Left running: crash recovery must end it after the migration.
    v = view(9, "sleep 86400", t0 + 7000, t0 + 9);
    v.status = task_status::running;
    v.run = 8;
    v.started_at = t0 + 7001;
    out.push_back({"running", v, std::nullopt, "", std::nullopt, {}});
    return out;
  }();
  return all;
}

/// The process of the run left running; 2^40 + 42 ticks need more than 32 bits.
const process_start running_process{8, 4242, 4241, 1099511627818ull, t0 + 7001};

constexpr task_id last_fixture_task = 9;
constexpr run_id last_fixture_run = 8;

// From schema version 2 on, one more task: cancelled with an Idempotency-Key, which lives in
// request_keys, so that later migrations are held to keeping those keys too.
constexpr task_id keyed_cancel_task = 10;
const request_key cancel_key{"fixture-cancel-key", "DELETE /v1/tasks/10"};
constexpr millis cancelled_at = t0 + 8000;

// From schema version 3 on, one more: a task with every control set whose first attempt
// failed with a retry, so that its second waits (run 10) when the database is copied.
constexpr task_id retrying_task = 11;
constexpr run_id failed_attempt = 9;
constexpr run_id waiting_attempt = 10;
constexpr millis retrying_due = t0 + 10000;
constexpr millis attempt_failed_at = t0 + 10050;
constexpr millis retry_due = t0 + 60000;
const std::string attempt_message = "exit code 2 â retried";

/// The last task a fixture of `version` holds.
task_id last_task_of(int version) {
  return version >= 3 ? retrying_task : version >= 2 ? keyed_cancel_task : last_fixture_task;
}

/// The last run a fixture of `version` holds.
run_id last_run_of(int version) {
  return version >= 3 ? waiting_attempt : last_fixture_run;
}

const fixture_task& fixture(task_id id) {
  return fixture_tasks().at(static_cast<size_t>(id - 1));
}

void check_view(const task_view& got, const fixture_task& want) {
  CAPTURE(want.name);
  auto& w = want.view;
  CHECK(got.id == w.id);
  CHECK(got.command == w.command);
  CHECK(got.due == w.due);
  CHECK(got.created_at == w.created_at);
  CHECK(got.status == w.status);
  CHECK(got.run == w.run);
  CHECK(got.reason == w.reason);
  CHECK(got.exit_code == w.exit_code);
  CHECK(got.signal == w.signal);
  CHECK(got.output.size() == w.output.size());
  CHECK(got.output == w.output);
  CHECK(got.output_truncated == w.output_truncated);
  CHECK(got.started_at == w.started_at);
  CHECK(got.finished_at == w.finished_at);
}

new_task as_new(const fixture_task& f) {
  new_task t;
  t.command = f.view.command;
  t.due = f.view.due;
  t.created_at = f.view.created_at;
  t.idempotency_key = f.key;
  t.request_hash = f.hash;
  t.name = f.task_name;
  t.labels = f.labels;
  return t;
}

/// What the v1 reads show of a fixture task written by schema version `version`: a
/// version-1 task gets the values the migration derives from its columns.
void check_info(store& s, const fixture_task& want, int version) {
  CAPTURE(want.name, version);
  auto& w = want.view;
  auto info = ok(s.get_task_info(w.id, 65536));
  // Written without controls, or migrated from before they were stored: the defaults.
  check_controls(info.controls, task_controls{});
  CHECK(info.command == w.command);
  CHECK(info.due == w.due);
  CHECK(info.created_at == w.created_at);
  CHECK(info.output_limit_bytes == defaults::output_limit_bytes);
  CHECK_FALSE(info.time_zone);
  if (version >= 2) {
    CHECK(info.name == want.task_name);
    CHECK(info.labels == want.labels);
  } else {
    CHECK_FALSE(info.name);
    CHECK(info.labels.empty());
    CHECK(info.version == 1);
    CHECK(info.updated_at == w.created_at);
  }
  bool pending = w.status == task_status::pending;
  CHECK(info.state
        == (pending || w.status == task_status::running ? task_state::active
                                                        : task_state::completed));
  CHECK(info.next_run_at == (pending ? std::optional<millis>{w.due} : std::nullopt));
  CHECK(info.latest_run.has_value() == w.run.has_value());
  if (!w.run)
    return;
  auto run = ok(s.get_run(*w.run, 65536));
  CHECK(run.task == w.id);
  CHECK(run.attempt == 1);
  CHECK(run.trigger == run_trigger::schedule);
  CHECK(run.scheduled_for == w.due);
  CHECK(run.status
        == (w.status == task_status::success   ? run_status::success
            : w.status == task_status::failure ? run_status::failure
                                               : run_status::running));
  CHECK(run.reason == w.reason);
  CHECK(run.started_at == w.started_at);
  CHECK(run.finished_at == w.finished_at);
  CHECK(run.exit_code == w.exit_code);
  CHECK(run.signal == w.signal);
  CHECK(run.output == w.output);
  CHECK(run.output_truncated == w.output_truncated);
  CHECK(run.lateness_ms
        == (w.started_at ? std::optional<int64_t>{*w.started_at - w.due} : std::nullopt));
  // The stored output reads by offset too, as one whole that is complete once the run ended.
  auto out = ok(s.read_output(*w.run, 0, 1 << 20));
  CHECK(out.data == w.output);
  CHECK(out.complete == (w.status != task_status::running));
}

/// The task of version 3's fixture that waits for its second attempt.
void check_retrying(store& s) {
  auto v = ok(s.get_task(retrying_task));
  CHECK(v.status == task_status::pending);
  CHECK(v.run == waiting_attempt);
  CHECK(v.due == retry_due);
  CHECK(v.reason == run_reason::none);
  CHECK_FALSE(v.exit_code);
  auto info = ok(s.get_task_info(retrying_task, 65536));
  check_controls(info.controls, ts::test::full_controls());
  CHECK(info.state == task_state::active);
  CHECK(info.next_run_at == retry_due);
  REQUIRE(info.latest_run);
  auto& waiting = *info.latest_run;
  CHECK(waiting.id == waiting_attempt);
  CHECK(waiting.status == run_status::waiting);
  CHECK(waiting.attempt == 2);
  CHECK(waiting.trigger == run_trigger::retry);
  CHECK(waiting.scheduled_for == retrying_due);
  CHECK(waiting.next_attempt_at == retry_due);
  CHECK(waiting.output.empty());
  CHECK(waiting.output_size == 0);
  auto failed = ok(s.get_run(failed_attempt, 65536));
  CHECK(failed.status == run_status::failure);
  CHECK(failed.reason == run_reason::exit);
  CHECK(failed.exit_code == 2);
  CHECK(failed.message == attempt_message);
  CHECK(failed.attempt == 1);
  CHECK(failed.finished_at == attempt_failed_at);
  CHECK_FALSE(failed.next_attempt_at);
  run_filter f;
  f.status = run_status::waiting;
  auto listed = ok(s.list_runs(f));
  REQUIRE(listed.items.size() == 1);
  CHECK(listed.items[0].id == waiting_attempt);
}

/// One write in a transaction of its own.
template <class F>
void write_tx(store& s, F&& f) {
  ok(s.begin());
  caf::error err = f();
  if (err) {
    s.rollback();
    ok(err);
  }
  ok(s.commit());
}

// -- files and raw database access --------------------------------------------------------------

fs::path fixture_dir() {
  return fs::path{TS_SOURCE_DIR} / "tests" / "fixtures";
}

fs::path fixture_file(const std::string& kind, int version) {
  return fixture_dir() / (kind + "_schema_v" + std::to_string(version) + ".sql");
}

std::string read_text(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  INFO(path.string());
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

using rows = std::vector<std::vector<std::string>>;

/// Renders rows one per line, NULL as \N, so whole results compare as text.
std::string as_text(const rows& rs) {
  std::string out;
  for (auto& r : rs) {
    for (auto& c : r)
      out += c + '|';
    out += '\n';
  }
  return out;
}

/// A raw SQLite connection to one file, for what the store does not offer.
class sqlite_raw {
public:
  explicit sqlite_raw(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
  }
  sqlite_raw(const sqlite_raw&) = delete;
  sqlite_raw& operator=(const sqlite_raw&) = delete;
  ~sqlite_raw() {
    sqlite3_close(db_);
  }

  void exec(const std::string& sql) {
    char* msg = nullptr;
    auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    std::string text = msg ? msg : "";
    sqlite3_free(msg);
    INFO(text);
    REQUIRE(rc == SQLITE_OK);
  }

  rows query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    INFO(sql << ": " << sqlite3_errmsg(db_));
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    rows out;
    int rc = SQLITE_ROW;
    // Bounded: the schema and counts queried here are a few dozen rows.
    for (int n = 0; n < 10000 && (rc = sqlite3_step(stmt)) == SQLITE_ROW; ++n) {
      auto& r = out.emplace_back();
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        r.emplace_back(p ? p : "\\N");
      }
    }
    sqlite3_finalize(stmt);
    REQUIRE(rc == SQLITE_DONE);
    return out;
  }

private:
  sqlite3* db_ = nullptr;
};

/// A raw MariaDB connection to the test database that runs whole scripts.
class mysql_raw {
public:
  mysql_raw() {
    conn_ = mysql_init(nullptr);
    REQUIRE(conn_);
    unsigned timeout = 10;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(conn_, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    ts::test::connect_test_mysql(conn_, CLIENT_MULTI_STATEMENTS);
  }
  mysql_raw(const mysql_raw&) = delete;
  mysql_raw& operator=(const mysql_raw&) = delete;
  ~mysql_raw() {
    mysql_close(conn_);
  }

  /// Runs every statement of `sql` and drops their results.
  void exec(const std::string& sql) {
    INFO(sql.substr(0, 200));
    int rc = mysql_real_query(conn_, sql.data(), sql.size());
    // Bounded by the number of statements a fixture can hold.
    for (int n = 0; rc == 0 && n < 100000; ++n) {
      if (auto res = mysql_store_result(conn_))
        mysql_free_result(res);
      else if (mysql_field_count(conn_) != 0)
        rc = 1;
      if (rc == 0 && (rc = mysql_next_result(conn_)) == -1) {
        rc = 0;
        break;
      }
    }
    INFO(mysql_error(conn_));
    REQUIRE(rc == 0);
  }

  rows query(const std::string& sql) {
    INFO(sql << ": " << mysql_error(conn_));
    REQUIRE(mysql_real_query(conn_, sql.data(), sql.size()) == 0);
    MYSQL_RES* res = mysql_store_result(conn_);
    REQUIRE(res);
    rows out;
    auto n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      auto lens = mysql_fetch_lengths(res);
      auto& r = out.emplace_back();
      for (unsigned i = 0; i < n; ++i)
        r.emplace_back(row[i] ? std::string(row[i], lens[i]) : std::string{"\\N"});
    }
    mysql_free_result(res);
    return out;
  }

private:
  MYSQL* conn_ = nullptr;
};

/// The database of one backend for one case: empty at first, then loaded from a fixture.
class fixture_db {
public:
  explicit fixture_db(std::string kind) : kind_(std::move(kind)) {
    if (kind_ == "sqlite") {
      const char* base = std::getenv("TMPDIR");
      std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ts-fixture-XXXXXX";
      REQUIRE(mkdtemp(tmpl.data()) != nullptr);
      dir_ = tmpl;
    }
    wipe();
  }
  fixture_db(const fixture_db&) = delete;
  fixture_db& operator=(const fixture_db&) = delete;
  ~fixture_db() {
    std::error_code err;
    if (!dir_.empty())
      fs::remove_all(dir_, err);
  }

  std::string url() const {
    return kind_ == "sqlite" ? "sqlite:" + path() : std::string{mysql_url()};
  }

  /// No tables at all; a SQLite database is a new file each time.
  void wipe() {
    if (kind_ == "sqlite") {
      ++generation_;
    } else {
      mysql_raw raw;
      raw.exec("SET FOREIGN_KEY_CHECKS = 0;"
               " DROP TABLE IF EXISTS request_keys, run_output, task_labels, runs, tasks,"
               " schema_version");
    }
  }

  /// Loads a dump as a client would (foreign keys are checked once all tables exist).
  void load(int version) {
    auto sql = read_text(fixture_file(kind_, version));
    if (kind_ == "sqlite") {
      sqlite_raw{path()}.exec(sql);
    } else {
      mysql_raw raw;
      raw.exec("SET FOREIGN_KEY_CHECKS = 0");
      raw.exec(sql);
    }
  }

  rows query(const std::string& sql) {
    if (kind_ == "sqlite")
      return sqlite_raw{path()}.query(sql);
    return mysql_raw{}.query(sql);
  }

  void exec(const std::string& sql) {
    if (kind_ == "sqlite")
      sqlite_raw{path()}.exec(sql);
    else
      mysql_raw{}.exec(sql);
  }

  /// Tables, columns with their types, indexes and foreign keys, as text: what a migration
  /// must reproduce. MariaDB: from information_schema, because SHOW CREATE TABLE also names
  /// auto-increment counters and the server's default character set.
  std::string schema() {
    if (kind_ == "sqlite")
      return as_text(query("SELECT type, name, tbl_name, sql FROM sqlite_schema"
                           " ORDER BY type, name"));
    return as_text(query("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES"
                         " WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"))
           + as_text(query("SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT,"
                           " IS_NULLABLE, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA"
                           " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                           " ORDER BY TABLE_NAME, ORDINAL_POSITION"))
           + as_text(query("SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME,"
                           " NON_UNIQUE, SUB_PART FROM information_schema.STATISTICS"
                           " WHERE TABLE_SCHEMA = DATABASE()"
                           " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"))
           + as_text(query("SELECT k.CONSTRAINT_NAME, k.TABLE_NAME, k.COLUMN_NAME,"
                           " k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE,"
                           " r.DELETE_RULE FROM information_schema.KEY_COLUMN_USAGE k"
                           " JOIN information_schema.REFERENTIAL_CONSTRAINTS r"
                           " ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA"
                           " AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME"
                           " WHERE k.TABLE_SCHEMA = DATABASE()"
                           " ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION"));
  }

private:
  std::string path() const {
    return dir_ + "/store" + std::to_string(generation_) + ".db";
  }

  std::string kind_;
  std::string dir_;
  int generation_ = 0;
};

std::vector<pending_entry> pending_of(store& s) {
  std::vector<pending_entry> out;
  ok(s.load_pending([&](const pending_entry& e) { out.push_back(e); }));
  std::sort(out.begin(), out.end(),
            [](const pending_entry& a, const pending_entry& b) { return a.id < b.id; });
  return out;
}

} // namespace

// -- the fixtures ---------------------------------------------------------------------------------

TEST_CASE("every schema version has a fixture for each backend", "[store][fixture]") {
  for (const char* kind : {"sqlite", "mysql"}) {
    for (int v = 1; v <= storage::schema_version; ++v) {
      auto path = fixture_file(kind, v);
      CAPTURE(path.string());
      REQUIRE(fs::is_regular_file(path));
      // The header says where it came from and that it stays as it is.
      auto sql = read_text(path);
      CHECK(sql.rfind("-- ", 0) == 0);
      CHECK(sql.find("never be regenerated") != std::string::npos);
    }
  }
}

TEST_CASE("an older database opens migrated with every task as it was", "[store][fixture]") {
  auto kind = GENERATE(from_range(backends()));
  auto version = GENERATE(range(1, storage::schema_version + 1));
  CAPTURE(kind, version);
  fixture_db db{kind};

  // The schema a fresh database gets from this binary, for comparison.
  { auto fresh = ok(open_store(db.url())); }
  auto fresh_schema = db.schema();
  db.wipe();

  db.load(version);
  REQUIRE(db.query("SELECT version FROM schema_version") == rows{{std::to_string(version)}});

  SECTION("every task reads back, and the store works on") {
    auto s = ok(open_store(db.url()));
    CHECK(db.query("SELECT version FROM schema_version")
          == rows{{std::to_string(storage::schema_version)}});
    CHECK(db.schema() == fresh_schema);

    for (auto& f : fixture_tasks()) {
      check_view(ok(s->get_task(f.view.id)), f);
      check_info(*s, f, version);
    }
    CHECK(code_of(s->get_task(last_task_of(version) + 1).error()) == ec::not_found);
    if (version >= 2)
      check_controls(ok(s->get_task_info(keyed_cancel_task, 100)).controls, task_controls{});
    if (version >= 3) {
      check_retrying(*s);
      // The waiting attempt is what a claim takes, with the first attempt's time.
      ok(s->begin());
      auto c = ok(s->claim_run(retrying_task, retry_due));
      CHECK(c.run == waiting_attempt);
      CHECK(c.attempt == 2);
      CHECK(c.scheduled_for == retrying_due);
      CHECK(c.due == retry_due);
      check_controls(c.controls, ts::test::full_controls());
      s->rollback();
    }
    if (version >= 2) {
      // The cancel's key replays, and counts as used for any other request.
      auto before = ok(s->get_task_info(keyed_cancel_task, 100));
      CHECK(before.state == task_state::cancelled);
      CHECK(before.updated_at == cancelled_at);
      ok(s->begin());
      auto again = ok(s->cancel_task(keyed_cancel_task, cancelled_at + 1000, cancel_key));
      CHECK(again.replayed);
      CHECK(again.task.version == before.version);
      auto other = cancel_key;
      other.request_hash += "?";
      CHECK(code_of(s->cancel_task(keyed_cancel_task, cancelled_at + 1000, other).error())
            == ec::idempotency_conflict);
      auto create = as_new(fixture(1));
      create.idempotency_key = cancel_key.idempotency_key;
      CHECK(code_of(s->insert_task(create).error()) == ec::idempotency_conflict);
      s->rollback();
    }
    // The label filter and the lists find the old tasks.
    task_filter by_label;
    by_label.labels = {{"env", "prod"}};
    auto labelled = ok(s->list_tasks(by_label));
    CHECK(labelled.items.size() == (version >= 2 ? 1u : 0u));
    task_filter active;
    active.state = task_state::active;
    auto listed = ok(s->list_tasks(active));
    std::vector<task_id> active_ids;
    for (auto& t : listed.items)
      active_ids.push_back(t.id);
    CHECK(active_ids
          == (version >= 3 ? std::vector<task_id>{retrying_task, 9, 2, 1}
                           : std::vector<task_id>{9, 2, 1}));

    auto pending = pending_of(*s);
    REQUIRE(pending.size() == (version >= 3 ? 3u : 2u));
    CHECK(pending[0].id == 1);
    CHECK(pending[0].due == fixture(1).view.due);
    CHECK(pending[1].id == 2);
    CHECK(pending[1].due == fixture(2).view.due);
    if (version >= 3) {
      CHECK(pending[2].id == retrying_task);
      CHECK(pending[2].due == retry_due);
    }

    // Idempotency keys replay the old tasks, byte for byte (the trailing space counts).
    for (task_id id : {2, 4}) {
      CAPTURE(id);
      ok(s->begin());
      auto again = ok(s->insert_task(as_new(fixture(id))));
      CHECK(again.replayed);
      CHECK(again.id == id);
      CHECK(again.command == fixture(id).view.command);
      CHECK(again.due == fixture(id).view.due);
      CHECK(again.created_at == fixture(id).view.created_at);
      CHECK(again.status == fixture(id).view.status);
      auto changed = as_new(fixture(id));
      changed.request_hash[0] = changed.request_hash[0] == '0' ? '1' : '0';
      CHECK(code_of(s->insert_task(changed).error()) == ec::idempotency_conflict);
      s->rollback();
    }

    // Crash recovery ends the run left running, and hands back its process; a waiting
    // retry has none and keeps waiting.
    constexpr millis now = t0 + 86400000;
    auto orphans = ok(s->interrupt_running(now));
    REQUIRE(orphans.size() == 1);
    CHECK(orphans[0].run == running_process.run);
    CHECK(orphans[0].task == 9);
    REQUIRE(orphans[0].process);
    CHECK(orphans[0].process->run == running_process.run);
    CHECK(orphans[0].process->pid == running_process.pid);
    CHECK(orphans[0].process->pgid == running_process.pgid);
    CHECK(orphans[0].process->start_ticks == running_process.start_ticks);
    CHECK(orphans[0].process->started_at == running_process.started_at);
    auto interrupted = fixture(9);
    interrupted.view.status = task_status::failure;
    interrupted.view.reason = run_reason::interrupted;
    interrupted.view.finished_at = now;
    check_view(ok(s->get_task(9)), interrupted);
    CHECK(ok(s->interrupt_running(now + 1)).empty());
    if (version >= 3)
      check_retrying(*s);

    // New tasks and runs get new ids, after the old ones (the deleted run 1 included).
    auto key = *fixture(2).key;
    key.pop_back(); // without its trailing space: another key
    new_task fresh;
    fresh.command = "echo after the migration";
    fresh.due = now + 1000;
    fresh.created_at = now;
    fresh.idempotency_key = key;
    fresh.request_hash = fixture(2).hash;
    ok(s->begin());
    auto rec = ok(s->insert_task(fresh));
    ok(s->commit());
    CHECK_FALSE(rec.replayed);
    CHECK(rec.id > last_task_of(version));
    ok(s->begin());
    auto c_new = ok(s->claim_run(rec.id, now + 1000));
    auto c_old = ok(s->claim_run(1, now + 1000));
    ok(s->commit());
    CHECK(c_new.run > last_run_of(version));
    CHECK(c_old.run > c_new.run);
    CHECK(c_old.command == fixture(1).view.command);
    write_tx(*s, [&] { return s->record_start({c_new.run, 100, 100, 7, now + 1001}); });
    run_outcome o;
    o.run = c_new.run;
    o.task = rec.id;
    o.status = task_status::success;
    o.exit_code = 0;
    o.output = "after the migration\n";
    o.finished_at = now + 1002;
    write_tx(*s, [&] { return s->finish_run(o); });
    auto v = ok(s->get_task(rec.id));
    CHECK(v.status == task_status::success);
    CHECK(v.output == "after the migration\n");
    CHECK(v.started_at == now + 1001);
    CHECK(ok(s->get_task(1)).status == task_status::pending);  // claimed, not started
    pending = pending_of(*s);
    REQUIRE(pending.size() == (version >= 3 ? 2u : 1u));
    CHECK(pending[0].id == 2);

    // Opening again finds nothing left to migrate.
    s.reset();
    s = ok(open_store(db.url()));
    check_view(ok(s->get_task(4)), fixture(4));
    CHECK(db.query("SELECT version FROM schema_version")
          == rows{{std::to_string(storage::schema_version)}});
  }

  SECTION("bumped past this binary, it is refused and left as it was") {
    auto future = storage::schema_version + 1;
    db.exec("UPDATE schema_version SET version = " + std::to_string(future));
    auto tasks_before = db.query("SELECT * FROM tasks ORDER BY id");
    auto runs_before = db.query("SELECT * FROM runs ORDER BY id");
    auto schema_before = db.schema();
    auto s = open_store(db.url());
    REQUIRE_FALSE(s);
    CHECK(code_of(s.error()) == ec::schema_too_new);
    CHECK(render(s.error())
          == "schema_too_new: database schema version " + std::to_string(future)
               + " is newer than this binary supports ("
               + std::to_string(storage::schema_version) + ")");
    CHECK(db.query("SELECT version FROM schema_version") == rows{{std::to_string(future)}});
    CHECK(db.query("SELECT * FROM tasks ORDER BY id") == tasks_before);
    CHECK(db.query("SELECT * FROM runs ORDER BY id") == runs_before);
    CHECK(db.schema() == schema_before);
  }
}

// -- writing a fixture (tests/fixtures/make_fixture runs this, once per schema version) ---------

TEST_CASE("write the schema fixture database", "[.fixture-writer]") {
  const char* url = std::getenv("TS_FIXTURE_WRITE_URL");
  INFO("TS_FIXTURE_WRITE_URL must name an empty database");
  REQUIRE(url);
  auto s = ok(open_store(url));
  REQUIRE(code_of(s->get_task(1).error()) == ec::not_found);

  for (auto& f : fixture_tasks()) {
    ok(s->begin());
    auto rec = ok(s->insert_task(as_new(f)));
    ok(s->commit());
    REQUIRE(rec.id == f.view.id);
  }
  auto claim_at = [&](task_id id, millis at, run_id expected_run) {
    ok(s->begin());
    auto c = ok(s->claim_run(id, at));
    ok(s->commit());
    REQUIRE(c.run == expected_run);
    return c;
  };
  auto finish = [&](const claim& c, bool started) {
    auto& v = fixture(c.task).view;
    if (started)
      write_tx(*s, [&] {
        auto pid = static_cast<int32_t>(7000 + c.task);
        return s->record_start({c.run, pid, pid, static_cast<uint64_t>(555000 + c.task),
                                *v.started_at});
      });
    run_outcome o;
    o.run = c.run;
    o.task = c.task;
    o.status = v.status;
    o.reason = v.reason;
    o.exit_code = v.exit_code;
    o.signal = v.signal;
    o.output = v.output;
    o.output_truncated = v.output_truncated;
    o.finished_at = *v.finished_at;
    write_tx(*s, [&] { return s->finish_run(o); });
  };

  // Run 1: claimed, then undone before its process started (a shutdown came first).
  auto undone = claim_at(2, t0 + 100, 1);
  write_tx(*s, [&] { return s->unclaim_run(undone.run); });
  // Run 2: started, then the service died; the next start ended it.
  auto lost = claim_at(3, t0 + 990, 2);
  write_tx(*s, [&] {
    return s->record_start({lost.run, 7003, 7003, 555003, *fixture(3).view.started_at});
  });
  REQUIRE(ok(s->interrupt_running(*fixture(3).view.finished_at)).size() == 1);
  for (task_id id = 4; id <= 8; ++id)
    finish(claim_at(id, t0 + (id - 2) * 1000 - 10, *fixture(id).view.run), id != 8);
  // Run 8: running when the database was copied.
  claim_at(9, t0 + 6990, running_process.run);
  write_tx(*s, [&] { return s->record_start(running_process); });
  // Cancelled before it ran, under an Idempotency-Key.
  ok(s->begin());
  auto keyed = ok(s->insert_task(as_new({"keyed cancel", view(keyed_cancel_task, "true",
                                                              t0 + 9000, t0 + 10),
                                         std::nullopt, "", std::nullopt, {}})));
  REQUIRE(keyed.id == keyed_cancel_task);
  ok(s->cancel_task(keyed_cancel_task, cancelled_at, cancel_key));
  ok(s->commit());
  // Every control set; the first attempt failed and its retry waits.
  auto retrying = as_new({"retrying", view(retrying_task, "exit 2", retrying_due, t0 + 11),
                          std::nullopt, "", std::nullopt, {}});
  retrying.controls = ts::test::full_controls();
  ok(s->begin());
  REQUIRE(ok(s->insert_task(retrying)).id == retrying_task);
  ok(s->commit());
  auto first = claim_at(retrying_task, retrying_due - 10, failed_attempt);
  write_tx(*s, [&] { return s->record_start({first.run, 7011, 7011, 555011, retrying_due + 1}); });
  run_outcome failed;
  failed.run = first.run;
  failed.task = retrying_task;
  failed.status = task_status::failure;
  failed.reason = run_reason::exit;
  failed.exit_code = 2;
  failed.output = "attempt 1\n";
  failed.finished_at = attempt_failed_at;
  failed.retry_at = retry_due;
  failed.message = attempt_message;
  write_tx(*s, [&] { return s->finish_run(failed); });

  for (auto& f : fixture_tasks())
    check_view(ok(s->get_task(f.view.id)), f);
  check_retrying(*s);
}
