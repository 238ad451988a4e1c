#include "metrics/metrics.hpp"

#include <exception>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/error.hpp"
#include "metrics/process_stats.hpp"

namespace ts {

namespace {

using prometheus::Histogram;

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Message handling is mostly microseconds; a blocking database call can take seconds.
const Histogram::BucketBoundaries handling_buckets{
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
  0.01,    0.025,    0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
// Fine enough to tell 1 ms from 2 ms; a start minutes late still lands in a bucket.
const Histogram::BucketBoundaries lateness_buckets{
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05,
  0.1,    0.25,  0.5,   1,     2.5,   5,      10,   30,    60};
// Commands run from milliseconds to a day.
const Histogram::BucketBoundaries duration_buckets{
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400};
const Histogram::BucketBoundaries http_buckets{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// Up to the persistence actor's largest batch (4096).
const Histogram::BucketBoundaries rows_buckets{1,  2,   4,   8,   16,   32,  64,
                                               128, 256, 512, 1024, 2048, 4096};
const Histogram::BucketBoundaries commit_buckets{
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

prometheus::MetricFamily gauge_family(const char* name, const char* help, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Gauge;
  f.metric.emplace_back();
  f.metric.back().gauge.value = value;
  return f;
}

prometheus::MetricFamily counter_family(const char* name, const char* help, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Counter;
  f.metric.emplace_back();
  f.metric.back().counter.value = value;
  return f;
}

} // namespace

const char* to_string(actor_kind k) {
  switch (k) {
    case actor_kind::coordinator: return "coordinator";
    case actor_kind::executor: return "executor";
    case actor_kind::persistence: return "persistence";
    case actor_kind::http_gateway: return "http_gateway";
  }
  return "unknown";
}

// -- actor_probe ------------------------------------------------------------------------

void actor_probe::spawned() {
  alive_->Increment();
}

void actor_probe::terminated() {
  alive_->Decrement();
}

void actor_probe::enqueued() {
  mailbox_->Increment();
}

void actor_probe::dequeued() {
  mailbox_->Decrement();
}

void actor_probe::handled(std::chrono::steady_clock::duration took) {
  processed_->Increment();
  handling_->Observe(seconds(took));
}

void actor_probe::dropped(int64_t n) {
  if (n > 0)
    mailbox_->Decrement(static_cast<double>(n));
}

// -- metrics ----------------------------------------------------------------------------

metrics::metrics() : registry_(std::make_shared<prometheus::Registry>()) {
}

metrics::~metrics() = default;

caf::expected<std::shared_ptr<metrics>> metrics::make() {
  // prometheus-cpp reports invalid names and buckets by throwing; all of ours are constant,
  // so this only fails on a programming error, and then at start-up.
  try {
    std::shared_ptr<metrics> m{new metrics()};
    m->build();
    return m;
  } catch (const std::exception& e) {
    return make_error(ec::invalid_argument, std::string{"cannot build the metrics: "}
                                              + e.what());
  }
}

void metrics::build() {
  auto& reg = *registry_;
  auto& alive = prometheus::BuildGauge()
                  .Name("taskschedulizer_actors_alive")
                  .Help("Actors of each kind that exist now.")
                  .Register(reg);
  auto& processed = prometheus::BuildCounter()
                      .Name("taskschedulizer_actor_messages_processed_total")
                      .Help("Messages handled by the actors of each kind.")
                      .Register(reg);
  auto& mailbox = prometheus::BuildGauge()
                    .Name("taskschedulizer_actor_mailbox_messages")
                    .Help("Messages waiting in the mailboxes of the actors of each kind.")
                    .Register(reg);
  auto& handling = prometheus::BuildHistogram()
                     .Name("taskschedulizer_actor_message_handling_seconds")
                     .Help("Time spent handling one message, by actor kind.")
                     .Register(reg);
  for (size_t i = 0; i < actor_kind_count; ++i) {
    prometheus::Labels kind{{"kind", to_string(static_cast<actor_kind>(i))}};
    actors_[i].alive_ = &alive.Add(kind);
    actors_[i].processed_ = &processed.Add(kind);
    actors_[i].mailbox_ = &mailbox.Add(kind);
    actors_[i].handling_ = &handling.Add(kind, handling_buckets);
  }

  tasks_pending_ = &prometheus::BuildGauge()
                      .Name("taskschedulizer_tasks_pending")
                      .Help("Tasks armed in the coordinator's timer wheel, not yet due.")
                      .Register(reg)
                      .Add({});
  tasks_waiting_ = &prometheus::BuildGauge()
                      .Name("taskschedulizer_tasks_waiting")
                      .Help("Due tasks waiting for a run slot (or for the database).")
                      .Register(reg)
                      .Add({});
  run_slots_used_ = &prometheus::BuildGauge()
                       .Name("taskschedulizer_run_slots_used")
                       .Help("Run slots in use: claims in flight, claimed and running runs.")
                       .Register(reg)
                       .Add({});
  run_slots_max_ = &prometheus::BuildGauge()
                      .Name("taskschedulizer_run_slots_max")
                      .Help("Run slots in all (--max-running).")
                      .Register(reg)
                      .Add({});

  tasks_scheduled_ = &prometheus::BuildCounter()
                        .Name("taskschedulizer_tasks_scheduled_total")
                        .Help("New tasks stored (idempotent replays not counted).")
                        .Register(reg)
                        .Add({});
  tasks_started_ = &prometheus::BuildCounter()
                      .Name("taskschedulizer_tasks_started_total")
                      .Help("Runs whose command was started.")
                      .Register(reg)
                      .Add({});
  auto& finished = prometheus::BuildCounter()
                     .Name("taskschedulizer_tasks_finished_total")
                     .Help("Runs that ended, by outcome and failure reason.")
                     .Register(reg);
  for (auto reason : {run_reason::none, run_reason::exit, run_reason::signal,
                      run_reason::start_failed, run_reason::interrupted}) {
    bool success = reason == run_reason::none;
    tasks_finished_[static_cast<size_t>(reason)] = &finished.Add(
      {{"outcome", success ? "success" : "failure"}, {"reason", to_string(reason)}});
  }
  tasks_running_ = &prometheus::BuildGauge()
                      .Name("taskschedulizer_tasks_running")
                      .Help("Commands running now.")
                      .Register(reg)
                      .Add({});
  lateness_ = &prometheus::BuildHistogram()
                 .Name("taskschedulizer_task_dispatch_lateness_seconds")
                 .Help("Actual start of a run minus its scheduled time.")
                 .Register(reg)
                 .Add({}, lateness_buckets);
  run_duration_ = &prometheus::BuildHistogram()
                     .Name("taskschedulizer_task_run_duration_seconds")
                     .Help("How long a run's command ran, from start to exit.")
                     .Register(reg)
                     .Add({}, duration_buckets);
  output_bytes_ = &prometheus::BuildCounter()
                     .Name("taskschedulizer_task_output_bytes_total")
                     .Help("Bytes of command output kept (after the 64 KiB tail limit).")
                     .Register(reg)
                     .Add({});

  auto& transactions = prometheus::BuildCounter()
                         .Name("taskschedulizer_storage_transactions_total")
                         .Help("Group-commit transactions, by outcome.")
                         .Register(reg);
  transactions_committed_ = &transactions.Add({{"outcome", "committed"}});
  transactions_failed_ = &transactions.Add({{"outcome", "failed"}});
  commit_rows_ = &prometheus::BuildHistogram()
                    .Name("taskschedulizer_storage_commit_rows")
                    .Help("Writes committed together in one group-commit transaction.")
                    .Register(reg)
                    .Add({}, rows_buckets);
  commit_duration_ = &prometheus::BuildHistogram()
                        .Name("taskschedulizer_storage_commit_duration_seconds")
                        .Help("One group commit, from BEGIN to the end of COMMIT.")
                        .Register(reg)
                        .Add({}, commit_buckets);
  storage_up_ = &prometheus::BuildGauge()
                   .Name("taskschedulizer_storage_up")
                   .Help("1 while the database connection works, 0 during an outage.")
                   .Register(reg)
                   .Add({});
  auto& reconnects = prometheus::BuildCounter()
                       .Name("taskschedulizer_storage_reconnects_total")
                       .Help("Attempts to reconnect to the database after an outage.")
                       .Register(reg);
  reconnects_ok_ = &reconnects.Add({{"outcome", "success"}});
  reconnects_failed_ = &reconnects.Add({{"outcome", "failure"}});
  storage_backlog_ = &prometheus::BuildGauge()
                        .Name("taskschedulizer_storage_backlog_writes")
                        .Help("Process starts and outcomes kept in memory until the database "
                              "is back.")
                        .Register(reg)
                        .Add({});
  storage_up_->Set(1);

  // Series are added on first use (see http_counter).
  http_requests_family_ = &prometheus::BuildCounter()
    .Name("taskschedulizer_http_requests_total")
    .Help("Answered HTTP requests, by route pattern and status code.")
    .Register(reg);
  http_latency_family_ = &prometheus::BuildHistogram()
    .Name("taskschedulizer_http_request_duration_seconds")
    .Help("From a request's arrival at the handler to its answer, by route pattern.")
    .Register(reg);
}

actor_probe& metrics::actor(actor_kind kind) {
  return actors_[static_cast<size_t>(kind)];
}

void metrics::scheduler_state(uint64_t pending, uint64_t waiting, uint64_t slots_used) {
  tasks_pending_->Set(static_cast<double>(pending));
  tasks_waiting_->Set(static_cast<double>(waiting));
  run_slots_used_->Set(static_cast<double>(slots_used));
}

void metrics::run_slots_max(size_t n) {
  run_slots_max_->Set(static_cast<double>(n));
}

void metrics::task_scheduled() {
  tasks_scheduled_->Increment();
}

void metrics::run_started(std::chrono::microseconds lateness) {
  tasks_started_->Increment();
  tasks_running_->Increment();
  // A wall-clock step can make a start look early; it was not late.
  lateness_->Observe(lateness.count() > 0 ? std::chrono::duration<double>(lateness).count()
                                          : 0.0);
}

void metrics::run_finished(task_status status, run_reason reason,
                           std::chrono::milliseconds duration, size_t output_bytes) {
  auto index = status == task_status::success ? static_cast<size_t>(run_reason::none)
                                              : static_cast<size_t>(reason);
  if (status != task_status::success && reason == run_reason::none)
    index = static_cast<size_t>(run_reason::exit);
  if (index < tasks_finished_.size())
    tasks_finished_[index]->Increment();
  if (duration.count() >= 0) {
    tasks_running_->Decrement();
    run_duration_->Observe(std::chrono::duration<double>(duration).count());
  }
  output_bytes_->Increment(static_cast<double>(output_bytes));
}

void metrics::transaction(bool committed, size_t rows,
                          std::chrono::steady_clock::duration took) {
  if (committed) {
    transactions_committed_->Increment();
    commit_rows_->Observe(static_cast<double>(rows));
    commit_duration_->Observe(seconds(took));
  } else {
    transactions_failed_->Increment();
  }
}

void metrics::storage_up(bool up) {
  storage_up_->Set(up ? 1 : 0);
}

void metrics::reconnect_attempt(bool succeeded) {
  (succeeded ? reconnects_ok_ : reconnects_failed_)->Increment();
}

void metrics::storage_backlog(size_t writes) {
  storage_backlog_->Set(static_cast<double>(writes));
}

prometheus::Counter* metrics::http_counter(size_t route, std::string_view label, int status) {
  auto& slot = http_requests_[route][static_cast<size_t>(status - min_status)];
  if (auto* c = slot.load(std::memory_order_acquire))
    return c;
  std::lock_guard<std::mutex> guard{http_mtx_};
  if (auto* c = slot.load(std::memory_order_relaxed))
    return c;
  auto* c = &http_requests_family_->Add({{"route", std::string{label}}, {"code", std::to_string(status)}});
  slot.store(c, std::memory_order_release);
  return c;
}

prometheus::Histogram* metrics::http_histogram(size_t route, std::string_view label) {
  auto& slot = http_latency_[route];
  if (auto* h = slot.load(std::memory_order_acquire))
    return h;
  std::lock_guard<std::mutex> guard{http_mtx_};
  if (auto* h = slot.load(std::memory_order_relaxed))
    return h;
  auto* h = &http_latency_family_->Add({{"route", std::string{label}}}, http_buckets);
  slot.store(h, std::memory_order_release);
  return h;
}

void metrics::http_request(size_t route, std::string_view label, int status,
                           std::chrono::steady_clock::duration took) {
  if (route >= max_http_routes || status < min_status || status >= min_status + status_slots)
    return;
  try {
    http_counter(route, label, status)->Increment();
    http_histogram(route, label)->Observe(seconds(took));
  } catch (const std::exception&) {
    // Creating a series allocates; a failure loses one sample, never the request.
  }
}

std::string metrics::render() const {
  auto families = registry_->Collect();
  if (auto p = read_process_stats()) {
    families.push_back(counter_family("process_cpu_seconds_total",
                                      "Total user and system CPU time spent in seconds.",
                                      p->cpu_seconds));
    families.push_back(gauge_family("process_resident_memory_bytes",
                                    "Resident memory size in bytes.",
                                    static_cast<double>(p->resident_bytes)));
    families.push_back(gauge_family("process_virtual_memory_bytes",
                                    "Virtual memory size in bytes.",
                                    static_cast<double>(p->virtual_bytes)));
    families.push_back(gauge_family("process_start_time_seconds",
                                    "Start time of the process since unix epoch in seconds.",
                                    p->start_time_seconds));
    families.push_back(gauge_family("process_open_fds", "Number of open file descriptors.",
                                    static_cast<double>(p->open_fds)));
    if (p->max_fds > 0)
      families.push_back(gauge_family("process_max_fds",
                                      "Maximum number of open file descriptors.",
                                      static_cast<double>(p->max_fds)));
  }
  return prometheus::TextSerializer{}.Serialize(families);
}

} // namespace ts
