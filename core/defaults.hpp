// Every tunable default in one place; configs/taskschedulizer.ini documents the options.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ts::defaults {

constexpr uint16_t port = 8081;
constexpr const char* bind = "127.0.0.1";
constexpr const char* db = "sqlite:data/taskschedulizer.db";
/// Most scheduled commands wait on I/O rather than CPU, so more than the core count.
constexpr size_t max_running = 64;
constexpr int64_t shutdown_grace_s = 30;
/// Between SIGTERM and SIGKILL of a run's process group at shutdown.
constexpr auto kill_escalation = std::chrono::seconds(5);
/// Tasks due this soon are claimed (committed as started) ahead of their time, so the
/// commit's sync does not make their start late.
constexpr int64_t claim_lead_ms = 100;
/// The coordinator checks the wall clock at least this often, to follow clock steps.
constexpr int64_t max_sleep_ms = 1000;
/// Writes gathered into one transaction at most.
constexpr size_t max_batch = 4096;
/// Outcomes kept in memory while the database is away, in bytes of output.
constexpr size_t max_backlog_bytes = 64 * 1024 * 1024;
/// Reconnect backoff while the database is away.
constexpr auto reconnect_min = std::chrono::milliseconds(100);
constexpr auto reconnect_max = std::chrono::seconds(5);
/// How long the front end waits for an actor's answer before a 503.
constexpr auto request_timeout = std::chrono::seconds(20);

} // namespace ts::defaults
