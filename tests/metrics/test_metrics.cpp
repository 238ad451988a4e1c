// The metrics module without the binary: process metrics, the registry's exposition,
// instrumented actors (scheduled and detached) on a real actor system, persistence over a
// real SQLite file, the gateway's readiness and scrape answers with fake actors (healthy,
// failing, hung), and the routing of /metrics, /healthz and /readyz. The end-to-end side is
// tests/e2e/test_metrics_e2e.cpp.
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/error.hpp"
#include "actors/instrumented_actor.hpp"
#include "actors/interfaces.hpp"
#include "metrics/metrics.hpp"
#include "actors/persistence.hpp"
#include "metrics/process_stats.hpp"
#include "http/gateway.hpp"
#include "http/routes.hpp"
#include "storage/store.hpp"

using namespace ts;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

/// The value of the sample `series` (name with its labels as rendered), or nullopt.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
        && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nullopt;
}

/// `name{labels} number`, the name prefixed `taskschedulizer_` or a standard `process_`.
bool well_formed_sample(const std::string& line) {
  std::string_view rest{line};
  bool prefixed = rest.substr(0, 16) == "taskschedulizer_" || rest.substr(0, 8) == "process_";
  size_t name_end = rest.find_first_not_of("abcdefghijklmnopqrstuvwxyz_");
  if (!prefixed || name_end == std::string_view::npos)
    return false;
  rest.remove_prefix(name_end);
  if (rest.front() == '{') {
    auto close = rest.find('}');
    if (close == std::string_view::npos)
      return false;
    rest.remove_prefix(close + 1);
  }
  if (rest.size() < 2 || rest.front() != ' ')
    return false;
  rest.remove_prefix(1);
  return rest == "+Inf" || rest.find_first_not_of("-+0123456789.e") == std::string_view::npos;
}

double value(const metrics& m, const std::string& series) {
  auto text = m.render();
  auto v = sample(text, series);
  INFO(series << " in:\n" << text);
  REQUIRE(v);
  return *v;
}

std::shared_ptr<metrics> make_metrics() {
  auto m = metrics::make();
  REQUIRE(m);
  return *m;
}

/// Polls `pred` every 10 ms for at most `within`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 10s) {
  auto deadline = steady::now() + within;
  for (int i = 0; i < 100000; ++i) {
    if (pred())
      return true;
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

struct test_config : caf::actor_system_config {
  test_config() {
    register_types(*this);
  }
};

// -- a small actor to instrument --------------------------------------------------------

using echo_atom = caf::atom_constant<caf::atom("echo")>;
using block_atom = caf::atom_constant<caf::atom("block")>;

struct echo_state {
  static inline const char* name = "echo";
  int handled = 0;
};

using echo_ptr = caf::stateful_actor<echo_state>*;

/// Answers echo with a running count; `block` waits until `gate` is ready (a stand-in for
/// a handler stuck on a blocking call) so that the mailbox fills behind it.
caf::behavior echo(echo_ptr self, std::shared_future<void> gate) {
  return {
    [self](echo_atom) { return ++self->state.handled; },
    [gate](block_atom) { gate.wait(); },
  };
}

} // namespace

// -- process metrics ---------------------------------------------------------------------

// The parsing of /proc itself is tested in tests/process/test_proc_stat.cpp.
TEST_CASE("process stats: derived values", "[metrics][process]") {
  proc_stat_fields f;
  f.utime_ticks = 150;
  f.stime_ticks = 50;
  f.start_ticks = 250;
  f.vsize_bytes = 1 << 20;
  f.rss_pages = 10;
  auto s = make_process_stats(f, 1000, 100, 4096);
  CHECK(s.cpu_seconds == Approx(2.0));
  CHECK(s.start_time_seconds == Approx(1002.5));
  CHECK(s.resident_bytes == 40960);
  CHECK(s.virtual_bytes == (1u << 20));
}

TEST_CASE("process stats: this process", "[metrics][process]") {
  auto s = read_process_stats();
  REQUIRE(s);
  CHECK(s->resident_bytes > 1024 * 1024);
  CHECK(s->virtual_bytes >= s->resident_bytes);
  CHECK(s->open_fds >= 3);
  CHECK(s->max_fds >= s->open_fds);
  auto now = std::chrono::duration<double>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  // Started within the last day, and not in the future (tick rounding aside).
  CHECK(s->start_time_seconds <= now + 1);
  CHECK(s->start_time_seconds > now - 86400);
  // One more descriptor is seen as one more.
  auto before = s->open_fds;
  int fd = dup(0);
  REQUIRE(fd >= 0);
  auto after = read_process_stats();
  close(fd);
  REQUIRE(after);
  CHECK(after->open_fds == before + 1);
}

// -- the registry -----------------------------------------------------------------------

TEST_CASE("metrics: every family is there from the start at zero", "[metrics]") {
  auto m = make_metrics();
  auto text = m->render();
  for (auto* series :
       {"taskschedulizer_actors_alive{kind=\"executor\"}",
        "taskschedulizer_actor_messages_processed_total{kind=\"coordinator\"}",
        "taskschedulizer_actor_mailbox_messages{kind=\"persistence\"}",
        "taskschedulizer_actor_message_handling_seconds_count{kind=\"http_gateway\"}",
        "taskschedulizer_tasks_pending", "taskschedulizer_tasks_waiting",
        "taskschedulizer_tasks_scheduled_total", "taskschedulizer_tasks_started_total",
        "taskschedulizer_tasks_finished_total{outcome=\"success\",reason=\"none\"}",
        "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"exit\"}",
        "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"signal\"}",
        "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"start_failed\"}",
        "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"interrupted\"}",
        "taskschedulizer_tasks_running", "taskschedulizer_task_dispatch_lateness_seconds_count",
        "taskschedulizer_task_run_duration_seconds_count",
        "taskschedulizer_task_output_bytes_total",
        "taskschedulizer_storage_transactions_total{outcome=\"committed\"}",
        "taskschedulizer_storage_transactions_total{outcome=\"failed\"}",
        "taskschedulizer_storage_commit_rows_count",
        "taskschedulizer_storage_commit_duration_seconds_count",
        "taskschedulizer_storage_reconnects_total{outcome=\"success\"}",
        "taskschedulizer_storage_backlog_writes", "taskschedulizer_run_slots_used",
        "taskschedulizer_run_slots_max"}) {
    INFO(series);
    auto v = sample(text, series);
    REQUIRE(v);
    CHECK(*v == 0);
  }
  CHECK(sample(text, "taskschedulizer_storage_up") == std::optional<double>{1});
  // Process metrics with their standard names.
  for (auto* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_start_time_seconds",
                     "process_open_fds", "process_max_fds"}) {
    INFO(name);
    CHECK(sample(text, name));
    CHECK(text.find(std::string{"# TYPE "} + name + " ") != std::string::npos);
  }
  CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
  CHECK(text.find("# TYPE taskschedulizer_task_dispatch_lateness_seconds histogram")
        != std::string::npos);
  // Single-millisecond resolution for lateness.
  CHECK(sample(text, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"0.001\"}"));
  CHECK(sample(text, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"0.002\"}"));
  // Every sample line is `name{labels} number` with a prefixed or standard name.
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    INFO(line);
    CHECK(well_formed_sample(line));
  }
}

TEST_CASE("metrics: task and storage and scheduler values", "[metrics]") {
  auto m = make_metrics();
  for (int i = 0; i < 5; ++i)
    m->task_scheduled();
  m->run_started(1500us);   // 1.5 ms late: between the 1 ms and 2 ms buckets
  m->run_started(-3000us);  // a clock step: counted as on time
  m->run_finished(task_status::success, run_reason::none, 250ms, 12);
  m->run_finished(task_status::failure, run_reason::signal, 2s, 0);
  m->run_finished(task_status::failure, run_reason::start_failed, -1ms, 0);
  m->scheduler_state(7, 2, 3);
  m->run_slots_max(64);
  m->transaction(true, 3, 2ms);
  m->transaction(true, 1, 1ms);
  m->transaction(false, 9, 1ms);
  m->storage_up(false);
  m->reconnect_attempt(false);
  m->reconnect_attempt(true);
  m->storage_backlog(4);

  CHECK(value(*m, "taskschedulizer_tasks_scheduled_total") == 5);
  CHECK(value(*m, "taskschedulizer_tasks_started_total") == 2);
  CHECK(value(*m, "taskschedulizer_task_dispatch_lateness_seconds_count") == 2);
  CHECK(value(*m, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"0.001\"}") == 1);
  CHECK(value(*m, "taskschedulizer_task_dispatch_lateness_seconds_bucket{le=\"0.002\"}") == 2);
  CHECK(value(*m, "taskschedulizer_tasks_finished_total{outcome=\"success\",reason=\"none\"}")
        == 1);
  CHECK(value(*m, "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"signal\"}")
        == 1);
  CHECK(value(*m,
              "taskschedulizer_tasks_finished_total{outcome=\"failure\",reason=\"start_failed\"}")
        == 1);
  // Two started, two ended after starting; the start failure never ran.
  CHECK(value(*m, "taskschedulizer_tasks_running") == 0);
  CHECK(value(*m, "taskschedulizer_task_run_duration_seconds_count") == 2);
  CHECK(value(*m, "taskschedulizer_task_run_duration_seconds_sum") == Approx(2.25));
  CHECK(value(*m, "taskschedulizer_task_output_bytes_total") == 12);
  CHECK(value(*m, "taskschedulizer_tasks_pending") == 7);
  CHECK(value(*m, "taskschedulizer_tasks_waiting") == 2);
  CHECK(value(*m, "taskschedulizer_run_slots_used") == 3);
  CHECK(value(*m, "taskschedulizer_run_slots_max") == 64);
  CHECK(value(*m, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}") == 2);
  CHECK(value(*m, "taskschedulizer_storage_transactions_total{outcome=\"failed\"}") == 1);
  CHECK(value(*m, "taskschedulizer_storage_commit_rows_sum") == 4);
  CHECK(value(*m, "taskschedulizer_storage_commit_duration_seconds_count") == 2);
  CHECK(value(*m, "taskschedulizer_storage_up") == 0);
  CHECK(value(*m, "taskschedulizer_storage_reconnects_total{outcome=\"success\"}") == 1);
  CHECK(value(*m, "taskschedulizer_storage_reconnects_total{outcome=\"failure\"}") == 1);
  CHECK(value(*m, "taskschedulizer_storage_backlog_writes") == 4);
}

TEST_CASE("metrics: HTTP series are bounded by route and status", "[metrics][http]") {
  auto m = make_metrics();
  auto route = [](api::route_id id) { return static_cast<size_t>(id); };
  auto other = api::classify("/../../etc/passwd?x=1");
  REQUIRE(other == api::route_id::other);
  for (int i = 0; i < 1000; ++i) {
    // Hostile paths all land on one label.
    auto id = api::classify("/x" + std::to_string(i));
    m->http_request(route(id), api::route_label(id), 404, 1ms);
  }
  m->http_request(route(api::route_id::schedule), api::route_label(api::route_id::schedule), 201,
                  3ms);
  m->http_request(route(api::route_id::schedule), api::route_label(api::route_id::schedule), 201,
                  3ms);
  // Out of range: ignored, not a crash and not a series.
  m->http_request(metrics::max_http_routes, "bogus", 200, 1ms);
  m->http_request(route(api::route_id::status), "/status", 99, 1ms);
  m->http_request(route(api::route_id::status), "/status", 600, 1ms);
  auto text = m->render();
  CHECK(sample(text, "taskschedulizer_http_requests_total{code=\"404\",route=\"other\"}")
        == std::optional<double>{1000});
  CHECK(sample(text, "taskschedulizer_http_requests_total{code=\"201\",route=\"/taskschedulizer\"}")
        == std::optional<double>{2});
  CHECK(sample(text, "taskschedulizer_http_request_duration_seconds_count{route=\"other\"}")
        == std::optional<double>{1000});
  CHECK(text.find("bogus") == std::string::npos);
  CHECK(text.find("route=\"/status\"") == std::string::npos);
  CHECK(text.find("/x1") == std::string::npos);
  size_t series = 0;
  for (size_t at = text.find("\ntaskschedulizer_http_requests_total{"); at != std::string::npos;
       at = text.find("\ntaskschedulizer_http_requests_total{", at + 1))
    ++series;
  CHECK(series == 2);
}

TEST_CASE("metrics: concurrent HTTP reports create each series once", "[metrics][http]") {
  auto m = make_metrics();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto id = static_cast<api::route_id>(i % api::route_count);
        m->http_request(static_cast<size_t>(id), api::route_label(id), 200 + (i % 3), 1us);
      }
    });
  for (auto& t : threads)
    t.join();
  auto text = m->render();
  double total = 0;
  for (size_t r = 0; r < api::route_count; ++r)
    for (int code = 200; code < 203; ++code)
      total += sample(text, "taskschedulizer_http_requests_total{code=\"" + std::to_string(code)
                              + "\",route=\""
                              + api::route_label(static_cast<api::route_id>(r)) + "\"}")
                 .value_or(0);
  CHECK(total == 8000);
}

// -- instrumented actors ------------------------------------------------------------------

TEST_CASE("instrumented actors: alive and processed and mailbox and handling time",
          "[metrics][actors]") {
  auto m = make_metrics();
  test_config cfg;
  caf::actor_system sys{cfg};
  std::promise<void> open;
  std::shared_future<void> gate = open.get_future().share();
  auto kind = [](const char* name) { return std::string{name} + "{kind=\"executor\"}"; };
  bool detached = GENERATE(false, true);
  INFO((detached ? "detached" : "scheduled"));
  {
    auto a = detached
               ? spawn_instrumented<caf::detached>(sys, m.get(), actor_kind::executor, echo, gate)
               : spawn_instrumented(sys, m.get(), actor_kind::executor, echo, gate);
    CHECK(value(*m, kind("taskschedulizer_actors_alive")) == 1);
    caf::scoped_actor self{sys};
    for (int i = 1; i <= 10; ++i)
      self->request(a, 5s, echo_atom::value).receive([&](int n) { CHECK(n == i); },
                                                     [&](caf::error& err) {
                                                       FAIL(sys.render(err));
                                                     });
    // The reply leaves during the handler; the count follows when the handler returns.
    CHECK(eventually([&] {
      return sample(m->render(), kind("taskschedulizer_actor_messages_processed_total"))
             == 10.0;
    }));
    CHECK(value(*m, kind("taskschedulizer_actor_message_handling_seconds_count")) == 10);
    CHECK(value(*m, kind("taskschedulizer_actor_mailbox_messages")) == 0);

    // A handler that blocks: the messages behind it are seen waiting.
    self->send(a, block_atom::value);
    for (int i = 0; i < 5; ++i)
      self->send(a, echo_atom::value);
    CHECK(eventually([&] {
      return sample(m->render(), kind("taskschedulizer_actor_mailbox_messages")) == 5.0;
    }));
    open.set_value();
    CHECK(eventually([&] {
      return sample(m->render(), kind("taskschedulizer_actor_messages_processed_total"))
             == 16.0;
    }));
    CHECK(value(*m, kind("taskschedulizer_actor_mailbox_messages")) == 0);
    self->send_exit(a, caf::exit_reason::user_shutdown);
  }
  CHECK(eventually([&] { return sample(m->render(), kind("taskschedulizer_actors_alive")) == 0.0; }));
  // Other kinds saw nothing.
  CHECK(value(*m, "taskschedulizer_actors_alive{kind=\"coordinator\"}") == 0);
  CHECK(value(*m, "taskschedulizer_actor_messages_processed_total{kind=\"coordinator\"}") == 0);
}

TEST_CASE("instrumented actors: messages left at exit leave the mailbox gauge",
          "[metrics][actors]") {
  auto m = make_metrics();
  test_config cfg;
  caf::actor_system sys{cfg};
  std::promise<void> open;
  std::shared_future<void> gate = open.get_future().share();
  auto mailbox = "taskschedulizer_actor_mailbox_messages{kind=\"executor\"}";
  {
    auto a = spawn_instrumented(sys, m.get(), actor_kind::executor, echo, gate);
    caf::scoped_actor self{sys};
    self->send(a, block_atom::value);
    for (int i = 0; i < 3; ++i)
      self->send(a, echo_atom::value);
    // Killed while busy: the exit message jumps the queue, the three echoes are dropped.
    self->send_exit(a, caf::exit_reason::kill);
    CHECK(eventually([&] { return sample(m->render(), mailbox) >= 3.0; }));
    open.set_value();
  }
  CHECK(eventually([&] {
    auto text = m->render();
    return sample(text, mailbox) == 0.0
           && sample(text, "taskschedulizer_actors_alive{kind=\"executor\"}") == 0.0;
  }));
}

TEST_CASE("instrumented actors: without metrics a plain actor and nothing counted", "[metrics][actors]") {
  auto m = make_metrics();
  test_config cfg;
  caf::actor_system sys{cfg};
  std::promise<void> open;
  open.set_value();
  auto a = spawn_instrumented(sys, nullptr, actor_kind::executor, echo,
                              open.get_future().share());
  caf::scoped_actor self{sys};
  self->request(a, 5s, echo_atom::value).receive([](int n) { CHECK(n == 1); },
                                                 [&](caf::error& err) {
                                                   FAIL(sys.render(err));
                                                 });
  // The same behaviour runs, as CAF's own stateful actor, and no registry is touched.
  auto* raw = caf::actor_cast<caf::abstract_actor*>(a);
  CHECK(dynamic_cast<instrumented_actor<caf::stateful_actor<echo_state>>*>(raw) == nullptr);
  CHECK(value(*m, "taskschedulizer_actor_messages_processed_total{kind=\"executor\"}") == 0);
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

// -- persistence over SQLite ----------------------------------------------------------------

TEST_CASE("persistence: transactions and rows per commit and commit time", "[metrics][storage]") {
  auto m = make_metrics();
  char tmpl[] = "/tmp/ts-metrics-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::filesystem::path dir{tmpl};
  {
    auto store = storage::open_store("sqlite:" + (dir / "t.db").string());
    REQUIRE(store);
    test_config cfg;
    caf::actor_system sys{cfg};
    auto opts = default_persistence_options();
    opts.metrics = m;
    auto db = spawn_instrumented<caf::detached>(sys, m.get(), actor_kind::persistence,
                                                persistence,
                                                std::shared_ptr<storage::store>{std::move(*store)},
                                                opts);
    caf::scoped_actor self{sys};
    // Three inserts sent together, then awaited: one or more commits, three rows in all.
    for (int i = 0; i < 3; ++i) {
      new_task t;
      t.command = "true";
      t.due = 1000 + i;
      t.created_at = 1;
      self->request(db, 10s, schedule_atom::value, t)
        .receive([](const task_record&) {}, [&](caf::error& err) { FAIL(sys.render(err)); });
    }
    self->request(db, 10s, ping_atom::value)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { FAIL(sys.render(err)); });
    auto committed = value(*m, "taskschedulizer_storage_transactions_total{outcome=\"committed\"}");
    CHECK(committed >= 1);
    CHECK(committed <= 3);
    CHECK(value(*m, "taskschedulizer_storage_commit_rows_sum") == 3);
    CHECK(value(*m, "taskschedulizer_storage_commit_duration_seconds_count") == committed);
    CHECK(value(*m, "taskschedulizer_storage_transactions_total{outcome=\"failed\"}") == 0);
    CHECK(value(*m, "taskschedulizer_storage_up") == 1);
    CHECK(value(*m, "taskschedulizer_actors_alive{kind=\"persistence\"}") == 1);
    CHECK(value(*m, "taskschedulizer_actor_messages_processed_total{kind=\"persistence\"}") >= 4);
    self->send_exit(db, caf::exit_reason::user_shutdown);
  }
  CHECK(value(*m, "taskschedulizer_actors_alive{kind=\"persistence\"}") == 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// -- the gateway: readiness and scrapes ----------------------------------------------------

namespace {

/// How a fake answers: well, with an error, or never (a hung database).
enum class mode { ok, fail, hang, shutting_down };

caf::behavior fake_backend(caf::event_based_actor* self, mode how) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [=](ping_atom) -> caf::result<caf::ok_atom> {
      if (how == mode::fail)
        return make_error(ec::unavailable, "database unavailable");
      if (how == mode::hang) {
        held->push_back(self->make_response_promise());
        return caf::delegated<caf::ok_atom>{};
      }
      return caf::ok_atom::value;
    },
    [=](stats_atom) -> caf::result<coordinator_stats> {
      if (how == mode::hang) {
        held->push_back(self->make_response_promise());
        return caf::delegated<coordinator_stats>{};
      }
      coordinator_stats s;
      s.pending = 4;
      s.waiting = 1;
      s.running = 2;
      s.shutting_down = how == mode::shutting_down;
      return s;
    },
  };
}

struct gateway_fixture {
  gateway_fixture(mode persistence_mode, mode coordinator_mode, std::shared_ptr<metrics> m) {
    persistence = sys.spawn(fake_backend, persistence_mode);
    coordinator = sys.spawn(fake_backend, coordinator_mode);
    gateway = spawn_gateway(sys, caf::actor_cast<coordinator_actor>(coordinator),
                            caf::actor_cast<persistence_actor>(persistence), 5s, std::move(m));
  }
  ~gateway_fixture() {
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
  }

  /// Sends (Atom, reply_fn) and waits for the answer; status 0 when none came in 10 s.
  template <class Atom>
  std::pair<http_response, double> ask(Atom atom) {
    auto answer = std::make_shared<std::promise<http_response>>();
    auto fut = answer->get_future();
    reply_fn reply = [answer](http_response r) { answer->set_value(std::move(r)); };
    auto t0 = steady::now();
    caf::anon_send(gateway, atom, std::move(reply));
    if (fut.wait_for(10s) != std::future_status::ready)
      return {http_response{0, {}, {}}, 10};
    return {fut.get(), std::chrono::duration<double>(steady::now() - t0).count()};
  }

  test_config cfg;
  caf::actor_system sys{cfg};
  caf::actor persistence;
  caf::actor coordinator;
  caf::actor gateway;
};

std::string reason_of(const http_response& res) {
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (!j.is_object() || !j.contains("reason"))
    return {};
  return j["reason"].get<std::string>();
}

} // namespace

TEST_CASE("gateway: /readyz answers from persistence and the coordinator", "[metrics][ready]") {
  SECTION("both answer") {
    gateway_fixture f{mode::ok, mode::ok, nullptr};
    auto [res, took] = f.ask(ping_atom::value);
    CHECK(res.status == 200);
    CHECK(res.body == R"({"status":"ready"})");
  }
  SECTION("the database is down") {
    gateway_fixture f{mode::fail, mode::ok, nullptr};
    auto [res, took] = f.ask(ping_atom::value);
    CHECK(res.status == 503);
    CHECK(reason_of(res) == "the database is unavailable");
    CHECK(res.body.find("\"status\":\"not_ready\"") != std::string::npos);
  }
  SECTION("the database hangs: 503 after the readiness timeout, not a hang") {
    gateway_fixture f{mode::hang, mode::ok, nullptr};
    auto [res, took] = f.ask(ping_atom::value);
    CHECK(res.status == 503);
    CHECK(reason_of(res) == "the database did not answer in time");
    CHECK(took >= 1.5);
    CHECK(took < 8);
  }
  SECTION("the coordinator is shutting down") {
    gateway_fixture f{mode::ok, mode::shutting_down, nullptr};
    auto [res, took] = f.ask(ping_atom::value);
    CHECK(res.status == 503);
    CHECK(reason_of(res) == "the service is shutting down");
  }
  SECTION("the coordinator is gone") {
    gateway_fixture f{mode::ok, mode::ok, nullptr};
    caf::anon_send_exit(f.coordinator, caf::exit_reason::kill);
    CHECK(eventually([&] { return f.ask(ping_atom::value).first.status == 503; }));
    CHECK(reason_of(f.ask(ping_atom::value).first) == "the coordinator is not running");
  }
}

TEST_CASE("gateway: scrapes", "[metrics][scrape]") {
  SECTION("metrics off: 404") {
    gateway_fixture f{mode::ok, mode::ok, nullptr};
    auto [res, took] = f.ask(stats_atom::value);
    CHECK(res.status == 404);
    CHECK(res.body.find("\"not_found\"") != std::string::npos);
  }
  SECTION("the coordinator's gauges are read at scrape time") {
    auto m = make_metrics();
    gateway_fixture f{mode::ok, mode::ok, m};
    auto [res, took] = f.ask(stats_atom::value);
    REQUIRE(res.status == 200);
    REQUIRE(res.header("Content-Type"));
    CHECK(*res.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(sample(res.body, "taskschedulizer_tasks_pending") == std::optional<double>{4});
    CHECK(sample(res.body, "taskschedulizer_tasks_waiting") == std::optional<double>{1});
    CHECK(sample(res.body, "taskschedulizer_run_slots_used") == std::optional<double>{2});
    // The gateway itself is instrumented.
    CHECK(value(*m, "taskschedulizer_actors_alive{kind=\"http_gateway\"}") == 1);
  }
  SECTION("a hung coordinator delays a scrape, never stops it") {
    auto m = make_metrics();
    gateway_fixture f{mode::ok, mode::hang, m};
    auto [res, took] = f.ask(stats_atom::value);
    CHECK(res.status == 200);
    CHECK(sample(res.body, "taskschedulizer_tasks_pending") == std::optional<double>{0});
    CHECK(took < 8);
  }
}

// -- routing of the new endpoints -----------------------------------------------------------

namespace {

api::request_view request(std::string_view method, std::string_view path) {
  api::request_view r;
  r.method = method;
  r.path = path;
  return r;
}

http_response immediate(const api::action& a) {
  REQUIRE(std::holds_alternative<http_response>(a));
  return std::get<http_response>(a);
}

} // namespace

TEST_CASE("route: /healthz and /readyz and /metrics", "[metrics][api]") {
  constexpr millis now = 1'700'000'000'000;
  SECTION("health endpoints are open, even with a token") {
    auto h = api::route(request("GET", "/healthz"), "tok", false, now, true);
    CHECK(immediate(h).status == 200);
    CHECK(immediate(h).body == R"({"status":"ok"})");
    CHECK(std::holds_alternative<api::ready_action>(
      api::route(request("GET", "/readyz"), "tok", false, now, true)));
  }
  SECTION("while stopping: alive, not ready") {
    CHECK(immediate(api::route(request("GET", "/healthz"), "", true, now)).status == 200);
    auto r = immediate(api::route(request("GET", "/readyz"), "", true, now));
    CHECK(r.status == 503);
    CHECK(reason_of(r) == "the service is shutting down");
  }
  SECTION("only GET") {
    for (auto* path : {"/healthz", "/readyz", "/metrics"}) {
      INFO(path);
      auto r = immediate(api::route(request("POST", path), "", false, now, true));
      CHECK(r.status == 405);
      REQUIRE(r.header("Allow"));
      CHECK(*r.header("Allow") == "GET");
    }
  }
  SECTION("/metrics needs the token when one is set") {
    CHECK(immediate(api::route(request("GET", "/metrics"), "tok", false, now, true)).status
          == 401);
    auto r = request("GET", "/metrics");
    r.authorization = "Bearer tok";
    CHECK(std::holds_alternative<api::metrics_action>(api::route(r, "tok", false, now, true)));
    CHECK(std::holds_alternative<api::metrics_action>(
      api::route(request("GET", "/metrics"), "", false, now, true)));
  }
  SECTION("/metrics is 404 under --metrics=off") {
    auto r = immediate(api::route(request("GET", "/metrics"), "", false, now, false));
    CHECK(r.status == 404);
    CHECK(r.body.find("--metrics=off") != std::string::npos);
  }
  SECTION("route labels are patterns, never raw paths") {
    CHECK(api::classify("/taskschedulizer") == api::route_id::schedule);
    CHECK(api::classify("/status") == api::route_id::status);
    CHECK(api::classify("/metrics") == api::route_id::metrics);
    CHECK(api::classify("/healthz") == api::route_id::healthz);
    CHECK(api::classify("/readyz") == api::route_id::readyz);
    for (auto* path : {"/", "/status/", "/metrics/x", "/STATUS", "/%00", "/a/b/c/../../d"})
      CHECK(api::classify(path) == api::route_id::other);
    CHECK(std::string{api::route_label(api::route_id::other)} == "other");
    CHECK(std::string{api::route_label(api::route_id::status)} == "/status");
  }
}

// -- cost (hidden: run with `test_metrics "[.bench]"`) ---------------------------------------

namespace {

using count_atom = caf::atom_constant<caf::atom("count")>;

struct counter_state {
  static inline const char* name = "counter";
  caf::response_promise done;
};

/// Sends itself `n` messages, one after the other, then answers: a loop of pure message
/// handling on the scheduler, nothing else.
caf::behavior self_counter(caf::stateful_actor<counter_state>* self) {
  return {
    [self](count_atom, int n) -> caf::result<int> {
      self->state.done = self->make_response_promise();
      self->send(self, count_atom::value, n, true);
      return caf::delegated<int>{};
    },
    [self](count_atom, int left, bool) {
      if (left > 0)
        self->send(self, count_atom::value, left - 1, true);
      else
        self->state.done.deliver(0);
    },
  };
}

} // namespace

TEST_CASE("instrumented actors: cost per message", "[.bench][metrics]") {
  auto m = make_metrics();
  test_config cfg;
  caf::actor_system sys{cfg};
  constexpr int messages = 1'000'000;
  auto run = [&](metrics* meters) {
    auto a = spawn_instrumented(sys, meters, actor_kind::executor, self_counter);
    caf::scoped_actor self{sys};
    auto t0 = steady::now();
    self->request(a, 60s, count_atom::value, messages).receive([](int) {}, [&](caf::error& e) {
      FAIL(sys.render(e));
    });
    auto ns = std::chrono::duration<double, std::nano>(steady::now() - t0).count();
    self->send_exit(a, caf::exit_reason::user_shutdown);
    return ns / messages;
  };
  for (int rep = 0; rep < 5; ++rep) {
    auto off = run(nullptr);
    auto on = run(m.get());
    WARN("wall time per message: plain " << off << " ns, instrumented " << on << " ns (+"
                                         << on - off << " ns)");
  }
  // The probe alone, without CAF: what one message adds, clock reads included.
  auto& probe = m->actor(actor_kind::coordinator);
  constexpr int rounds = 1'000'000;
  auto t0 = steady::now();
  for (int i = 0; i < rounds; ++i) {
    probe.enqueued();
    probe.dequeued();
    auto s = steady::now();
    probe.handled(steady::now() - s);
  }
  auto per_message = std::chrono::duration<double, std::nano>(steady::now() - t0).count() / rounds;
  WARN("probe per message: " << per_message << " ns");
}
