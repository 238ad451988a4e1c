// Runs the real taskschedulizer binary for end-to-end tests: spawn it, find its port in the
// `listening on ADDR:PORT` line, signal it, wait for its exit (service.cpp); plus the helpers
// every e2e test needs: fresh directories and databases, scheduling and polling /status, RFC
// 3339 times, bounded waits (helpers.cpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"

namespace ts::e2e {

using namespace std::chrono_literals;

// The e2e tests' names for the shared client (tests/support): one connection a request.
using http_client = test_http::client;
using http_request = test_http::request;
using http_response = test_http::response;
using test_http::header_list;

using env_list = std::vector<std::pair<std::string, std::string>>;

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const {
    return path_;
  }
  /// path() + "/" + name
  std::string file(const std::string& name) const;

private:
  std::string path_;
};

/// The backends the e2e tests run against: "sqlite" always, "mysql" when TS_TEST_MYSQL_URL
/// is set (scripts/test starts a throwaway MariaDB and sets it).
std::vector<std::string> backend_names();

/// A clean database for one test: a new SQLite file in `dir`, or a new MariaDB database
/// (created through TS_TEST_MARIADB_DIR's socket as root and granted to the URL's user),
/// dropped again at destruction.
class test_database {
public:
  test_database(const std::string& backend, const std::string& dir);
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;
  /// The --db URL; empty when error() is set.
  const std::string& url() const {
    return url_;
  }
  /// Why the database could not be prepared, or "".
  const std::string& error() const {
    return error_;
  }

private:
  std::string url_;
  std::string error_;
  std::string mysql_db_;  // to drop at the end
};

/// One instance of the binary at a time; start() again after it exited to restart it on the
/// same database.
class service {
public:
  /// `work_dir` is the binary's working directory and holds its stdout/stderr logs.
  service(std::string work_dir, std::string db_url);
  /// Kills the process (SIGKILL) if it still runs and reaps it.
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Spawns the binary with `--port=0 --db=URL --run-as=current_user()` (each left out when
  /// `args` gives it; --port and --db also with a --config-file) followed by `args`, and waits for its `listening on` line. Returns "" on success, else
  /// why it failed, with the binary's stderr.
  std::string start(std::vector<std::string> args = {}, env_list env = {},
                    std::chrono::milliseconds timeout = 30s);

  /// Spawns the binary with exactly `args` and waits for it to exit (for --help, refused
  /// starts). Returns the exit status as wait() does; stdout/stderr are kept as for start().
  std::optional<int> run_to_exit(std::vector<std::string> args, env_list env = {},
                                 std::chrono::milliseconds timeout = 30s);

  /// Spawns the binary with exactly `args` and returns at once ("" or why it failed); then
  /// wait_listening(), wait() or signal() it.
  std::string launch(std::vector<std::string> args, env_list env = {});
  /// Waits for the `listening on` line of a launched binary, as start() does.
  std::string wait_listening(std::chrono::milliseconds timeout = 30s);

  bool running() const {
    return pid_ > 0;
  }
  pid_t pid() const {
    return pid_;
  }
  uint16_t port() const {
    return port_;
  }
  /// The ADDR of the `listening on ADDR:PORT` line.
  const std::string& address() const {
    return address_;
  }
  /// A client for 127.0.0.1:port().
  http_client client(std::chrono::milliseconds timeout = 15s) const;

  /// Sends a signal to the running binary; false when it is not running.
  bool signal(int sig);
  /// Waits for the binary to exit: its exit code, 128 + N when killed by signal N, nullopt
  /// when it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  /// What the latest run wrote so far.
  std::string stdout_text() const;
  std::string stderr_text() const;
  /// The latest run's stderr, ready for INFO().
  std::string diagnostics() const;

  const std::string& db_url() const {
    return db_url_;
  }
  const std::string& work_dir() const {
    return work_dir_;
  }

private:
  std::string spawn(const std::vector<std::string>& args, const env_list& env);

  std::string work_dir_;
  std::string db_url_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string address_;
  int runs_ = 0;
  std::string stdout_path_;
  std::string stderr_path_;
};

/// Result of a helper process (curl, the mariadb client).
struct command_result {
  int exit_code = -1;  // 128 + N when killed by signal N; -1 when it could not run
  std::string output;  // stdout and stderr together
};

/// Runs argv[0] (looked up in PATH) with extra environment, bounded by `timeout` (killed
/// after it).
command_result run_command(const std::vector<std::string>& argv, env_list env = {},
                           std::chrono::milliseconds timeout = 60s);

/// What most cases start from: a fresh directory, a clean database of `backend` in it
/// (REQUIREd to be ready) and a service on both, not started yet.
struct service_fixture {
  explicit service_fixture(const std::string& backend);
  temp_dir dir;
  test_database db;
  service svc;
};

/// Waits until `pred` holds, trying every `period`, for at most `within`; false then.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds within,
                std::chrono::milliseconds period = 50ms);

/// Result of polling /status.
struct status_poll {
  bool met = false;       // the predicate held before the deadline
  nlohmann::json last;    // the last JSON body seen (null when none)
  std::string last_raw;   // the last response, described, for diagnostics
};

/// Polls GET /status?id=ID until `pred` holds on a 200 answer's body, for at most `within`.
status_poll poll_status(const http_client& client, int64_t id,
                        const std::function<bool(const nlohmann::json&)>& pred,
                        std::chrono::milliseconds within = 30s);

/// Schedules a command; REQUIREs a 201 with an integer id and well-formed times, and returns
/// the id.
int64_t schedule(const http_client& client, const std::string& command,
                 const std::string& time, header_list headers = {});

/// Polls until the task is done and returns its status body; REQUIREs that it finished, and
/// checks its times are well-formed.
nlohmann::json wait_finished(const service& svc, int64_t id,
                             std::chrono::milliseconds within = 30s);

/// Statuses are plain strings that the spec says will grow; these compare exactly.
bool has_status(const nlohmann::json& j, const char* status);
/// The task is done: `success` or `failure`.
bool is_finished(const nlohmann::json& j);

/// Milliseconds since the Unix epoch, now (the wall clock the service uses too).
int64_t now_ms();
/// "2024-09-22T17:00:00.000Z" for an instant in ms.
std::string format_utc_ms(int64_t ms);
/// True for exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`.
bool is_rfc3339_utc_ms(const std::string& text);
/// The instant of a `YYYY-MM-DDTHH:MM:SS.mmmZ` text; nullopt for anything else.
std::optional<int64_t> parse_utc_ms(const std::string& text);
/// Every time field the service wrote in `j` (time, created_at, started_at, finished_at)
/// is null or RFC 3339 UTC with milliseconds; returns the offending field or "".
std::string bad_time_field(const nlohmann::json& j);
/// The instant of the time field `key` of `j`; -1 when it is null, absent or malformed.
int64_t ms_field(const nlohmann::json& j, const char* key);
/// Sleeps until the wall clock passes `ms`; returns at once when it has.
void sleep_until_ms(int64_t ms);

// -- the v1 API, as every v1 e2e test drives it

/// POST /v1/tasks; REQUIREs a 201 whose Location names the task, and returns the task.
nlohmann::json create_v1_task(const http_client& client, const nlohmann::json& body,
                              header_list headers = {});

/// GET `target`; REQUIREs a 200 with a JSON body, and returns it.
nlohmann::json get_ok(const http_client& client, const std::string& target);

/// Polls GET /v1/tasks/ID until `pred` holds on the task; REQUIREs that it did within
/// `within`, and returns the task.
nlohmann::json wait_task(const http_client& client, int64_t id,
                         const std::function<bool(const nlohmann::json&)>& pred,
                         std::chrono::milliseconds within = 30s);

/// A POST /taskschedulizer body.
std::string task_body(const std::string& command, const std::string& time);

/// Reads a whole file; "" when it does not exist.
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
/// Writes (replaces) a file; false on failure.
bool write_file(const std::string& path, const std::string& content);
/// Processes of process group `pgid` that are still alive (zombies count as dead), from
/// /proc.
std::vector<int> live_group_members(int pgid);

/// Shell-quotes a word for /bin/sh.
std::string sh_quote(const std::string& word);

/// The source tree (for configs/), derived from this file's path.
std::string source_dir();

/// The lines of the README's first ``` block after the first line that starts with
/// `heading`: the examples that the tests run as written.
std::vector<std::string> readme_block(const std::string& heading);

/// The user name the tests run as (what `whoami` prints).
std::string current_user();

/// Sleeps a short step; every poll loop in the tests uses this with a deadline.
void pause_briefly(std::chrono::milliseconds step = 50ms);

} // namespace ts::e2e
