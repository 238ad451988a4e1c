// The service's Prometheus metrics: one registry (prometheus-cpp core) and typed handles
// for everything the actors, storage and HTTP front end count. Components get a
// std::shared_ptr<metrics>; it is null under --metrics=off, and every call site checks it,
// so that instrumentation then costs one branch. Hot-path calls are atomic increments (and,
// for histograms, prometheus-cpp's uncontended per-histogram lock); no strings are built
// per event. docs/metrics.md lists every metric.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "core/types.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
} // namespace prometheus

namespace ts {

/// The actor kinds that are instrumented (label `kind`).
enum class actor_kind : uint8_t { coordinator, executor, persistence, http_gateway };
constexpr size_t actor_kind_count = 4;
const char* to_string(actor_kind);

/// One actor kind's instruments, fed by instrumented_actor.
class actor_probe {
public:
  /// An actor of this kind was created / has terminated.
  void spawned();
  void terminated();
  /// A message entered a mailbox.
  void enqueued();
  /// A message left a mailbox to be handled.
  void dequeued();
  /// A message was handled in `took`.
  void handled(std::chrono::steady_clock::duration took);
  /// `n` messages left mailboxes unhandled (the actor was gone).
  void dropped(int64_t n);

private:
  friend class metrics;
  prometheus::Gauge* alive_ = nullptr;
  prometheus::Counter* processed_ = nullptr;
  prometheus::Gauge* mailbox_ = nullptr;
  prometheus::Histogram* handling_ = nullptr;
};

class metrics {
public:
  /// Routes the HTTP front end may report (each a small index with a fixed label).
  static constexpr size_t max_http_routes = 24;

  /// Builds the registry with every metric family.
  static caf::expected<std::shared_ptr<metrics>> make();

  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;
  ~metrics();

  actor_probe& actor(actor_kind kind);

  // -- coordinator ----------------------------------------------------------------------

  /// The coordinator's gauges, as its stats reply tells them.
  void scheduler_state(uint64_t pending, uint64_t waiting, uint64_t slots_used);
  void run_slots_max(size_t n);

  // -- tasks and runs -------------------------------------------------------------------

  /// A new task was stored (idempotent replays are not new).
  void task_scheduled();
  /// A run's process started `lateness` after its due time.
  void run_started(std::chrono::microseconds lateness);
  /// A run ended; `duration` only when its process started (else negative).
  void run_finished(task_status status, run_reason reason, std::chrono::milliseconds duration,
                    size_t output_bytes);

  // -- storage --------------------------------------------------------------------------

  /// A group commit ended (committed or rolled back) after `took`, holding `rows` writes.
  void transaction(bool committed, size_t rows, std::chrono::steady_clock::duration took);
  void storage_up(bool up);
  void reconnect_attempt(bool succeeded);
  /// Process starts and outcomes kept in memory while the database is away.
  void storage_backlog(size_t writes);

  // -- HTTP -----------------------------------------------------------------------------

  /// One answered request. `route` < max_http_routes always comes with the same `label`
  /// (a route pattern, never a raw URL), so the label set stays bounded.
  void http_request(size_t route, std::string_view label, int status,
                    std::chrono::steady_clock::duration took);

  // -- exposition -----------------------------------------------------------------------

  /// Every metric in the Prometheus text format 0.0.4, with the process metrics read now.
  std::string render() const;

private:
  metrics();
  void build();
  prometheus::Counter* http_counter(size_t route, std::string_view label, int status);
  prometheus::Histogram* http_histogram(size_t route, std::string_view label);

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<actor_probe, actor_kind_count> actors_{};

  prometheus::Gauge* tasks_pending_ = nullptr;
  prometheus::Gauge* tasks_waiting_ = nullptr;
  prometheus::Gauge* run_slots_used_ = nullptr;
  prometheus::Gauge* run_slots_max_ = nullptr;

  prometheus::Counter* tasks_scheduled_ = nullptr;
  prometheus::Counter* tasks_started_ = nullptr;
  /// Indexed by run_reason; success is run_reason::none.
  std::array<prometheus::Counter*, 5> tasks_finished_{};
  prometheus::Gauge* tasks_running_ = nullptr;
  prometheus::Histogram* lateness_ = nullptr;
  prometheus::Histogram* run_duration_ = nullptr;
  prometheus::Counter* output_bytes_ = nullptr;

  prometheus::Counter* transactions_committed_ = nullptr;
  prometheus::Counter* transactions_failed_ = nullptr;
  prometheus::Histogram* commit_rows_ = nullptr;
  prometheus::Histogram* commit_duration_ = nullptr;
  prometheus::Gauge* storage_up_ = nullptr;
  prometheus::Counter* reconnects_ok_ = nullptr;
  prometheus::Counter* reconnects_failed_ = nullptr;
  prometheus::Gauge* storage_backlog_ = nullptr;

  /// Series are created on first use, then found with one atomic load.
  static constexpr int min_status = 100;
  static constexpr int status_slots = 500;  // 100..599
  std::mutex http_mtx_;
  prometheus::Family<prometheus::Counter>* http_requests_family_ = nullptr;
  prometheus::Family<prometheus::Histogram>* http_latency_family_ = nullptr;
  std::array<std::array<std::atomic<prometheus::Counter*>, status_slots>, max_http_routes>
    http_requests_{};
  std::array<std::atomic<prometheus::Histogram*>, max_http_routes> http_latency_{};
};

} // namespace ts
