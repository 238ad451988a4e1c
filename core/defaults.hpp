// Every tunable default in one place. The options' defaults are what --help shows (its text
// is built from them); configs/taskschedulizer.ini and scripts/run repeat them for users,
// and tests/app/test_defaults.cpp fails when either, or --help, disagrees with this file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ts::defaults {

// -- options (an option that may be absent, such as --api-token-file, has no default) ---
// --api-token-file absent: no token (loopback only); --audit-log absent: the audit lines go
// to the main log (stderr).

constexpr uint16_t port = 8081;
constexpr const char* bind = "127.0.0.1";
constexpr const char* db = "sqlite:data/taskschedulizer.db";
/// Seconds to retry an unreachable database at start-up; 0 fails at once.
constexpr size_t db_wait_s = 0;
/// Most scheduled commands wait on I/O rather than CPU, so more than the core count.
constexpr size_t max_running = 64;
constexpr int64_t shutdown_grace_s = 30;
/// Threads serving HTTP.
constexpr size_t http_threads = 2;
/// How much nicer the HTTP threads are than the rest of the process: when the CPU is
/// contended, starting due tasks and finishing admitted requests go before reading new
/// ones (0 turns that off).
constexpr size_t http_nice = 10;
/// Open HTTP connections; beyond them, 503 overloaded at accept (never a queue).
constexpr size_t max_connections = 1024;
/// HTTP requests being served at once; beyond them, 503 overloaded.
constexpr size_t max_in_flight = 4096;
/// Seconds a client has to send a request head (408 after).
constexpr size_t header_timeout_s = 10;
/// Seconds an idle keep-alive connection is kept open (RESTinio's read time limit, which
/// also bounds reading a whole request).
constexpr size_t idle_timeout_s = 60;
constexpr const char* log_level = "info";
constexpr const char* log_format = "text";
/// "on" or "off".
constexpr const char* metrics = "on";
/// The IANA zone naive times are read in; "local" is the process's zone (TZ, else
/// /etc/localtime), what they meant before the option existed.
constexpr const char* default_time_zone = "local";
/// Plain HTTP on an address other than loopback is refused unless this says otherwise.
constexpr bool insecure_http = false;

// -- tunables without an option ----------------------------------------------------------

/// Between SIGTERM and SIGKILL of a run's process group at shutdown.
constexpr auto kill_escalation = std::chrono::seconds(5);
/// A task's kill_grace_s unless it names one (between SIGTERM and SIGKILL on timeout or
/// cancel), and the most it may name.
constexpr int64_t kill_grace_ms = 10000;
constexpr int64_t max_kill_grace_ms = 600000;
/// At shutdown a run's kill grace is capped by this (--shutdown-kill-grace, in seconds).
constexpr int64_t shutdown_kill_grace_ms = 5000;
constexpr size_t shutdown_kill_grace_s = 5;
/// As root, commands run as this system user unless --run-as names another (scripts/deps
/// and the package create it).
constexpr const char* run_as_user = "taskschedulizer";
/// --kill-mode: cgroup where the service can create one, else the /proc scan.
constexpr const char* kill_mode = "auto";
/// Tasks due this soon are claimed (committed as started) ahead of their time, so the
/// commit's sync does not make their start late.
constexpr int64_t claim_lead_ms = 100;
/// The coordinator checks the wall clock at least this often, to follow clock steps.
constexpr int64_t max_sleep_ms = 1000;
/// The tail of a run's output a task keeps unless it names its own output_limit_bytes.
constexpr int64_t output_limit_bytes = 64 * 1024;
/// Recurring tasks: an occurrence that could not start this long after its time is missed.
constexpr int64_t misfire_grace_ms = 60000;
/// Runs a task keeps (history_keep); older ones are deleted in the background.
constexpr int32_t history_keep = 100;
constexpr int32_t max_history_keep = 10000;
/// At most this many old runs are deleted after each run's end: a lowered history_keep
/// catches up over the next runs instead of stalling one write.
constexpr int64_t history_trim_batch = 100;
/// Skipped occurrences are counted up to this many per record (counting never blocks).
constexpr int64_t max_counted_skips = 10000;
/// misfire run_all runs at most this many missed occurrences; older ones are skipped.
constexpr int64_t max_catch_up_runs = 100;
/// The largest output_limit_bytes a task may ask for (--max-output-bytes).
constexpr int64_t max_output_bytes = 8 * 1024 * 1024;
/// A running command's output is stored this often (and at its end), so that a crash keeps
/// what it wrote and a follower sees it, without a database write per line.
constexpr auto output_flush_interval = std::chrono::milliseconds(250);
/// ... or as soon as this much is gathered.
constexpr size_t output_flush_bytes = 256 * 1024;
/// Writes gathered into one transaction at most.
constexpr size_t max_batch = 4096;
/// Outcomes kept in memory while the database is away, in bytes of output.
constexpr size_t max_backlog_bytes = 64 * 1024 * 1024;
/// Reconnect backoff while the database is away (also between --db-wait attempts).
constexpr auto reconnect_min = std::chrono::milliseconds(100);
constexpr auto reconnect_max = std::chrono::seconds(5);
/// MySQL connect, read and write timeouts, so a hung server cannot freeze the caller.
constexpr int db_connect_timeout_s = 3;
constexpr int db_io_timeout_s = 5;
/// How long the front end waits for an actor's answer before a 503.
constexpr auto request_timeout = std::chrono::seconds(20);
/// How long /readyz waits for persistence and the coordinator: a hung database must turn
/// a probe into a 503 within seconds, never hold it.
constexpr auto ready_timeout = std::chrono::seconds(2);
/// How long a scrape waits for the coordinator's gauges before it shows the last ones.
constexpr auto scrape_timeout = std::chrono::seconds(2);
/// How long stopping the HTTP server waits for requests in flight.
constexpr auto drain_timeout = std::chrono::seconds(30);
/// An accepted request left unanswered this long is dropped by RESTinio (a safety net only).
constexpr auto handle_request_timeout = std::chrono::seconds(60);

// Every accepted request gets its answer (the gateway's 503 at the latest) before the
// server gives up on it.
static_assert(drain_timeout > request_timeout);
static_assert(handle_request_timeout > request_timeout);

} // namespace ts::defaults
