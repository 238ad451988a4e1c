// The HTTP server with a fake gateway, on real threads: several clients at once over
// loopback, answered from threads that are not RESTinio's, from the handler's own thread,
// in the handler itself (answer_later), and by responders dropped unanswered, so that the
// responder, the in-flight count and the guarded socket are used from every side at once.
// No actor takes part (the gateway is a request_sink), so scripts/test's ThreadSanitizer
// pass sees every synchronisation involved.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "http/responses.hpp"
#include "http/server.hpp"
#include "tests/support/http_client.hpp"

namespace {

using namespace std::chrono_literals;
namespace api = ts::api;

/// Threads that complete replies after a short delay, as the actors would from elsewhere.
class answer_pool {
public:
  explicit answer_pool(size_t threads) {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] { work(); });
  }
  ~answer_pool() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> guard{mtx_};
        cv_.wait(guard, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty())
          return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      std::this_thread::sleep_for(1ms);
      job();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

ts::task_info some_task(ts::task_id id) {
  ts::task_info t;
  t.id = id;
  t.command = "true";
  t.due = 1727024400000;
  t.created_at = t.updated_at = t.due - 1000;
  return t;
}

/// Stands in for the gateway (server.hpp's request_sink): schedules and v1 reads are
/// answered from the pool's threads, status reads on the server's own thread inside the
/// handler, and GET /v1/runs/{id} never: its reply is dropped on a pool thread, so the
/// responder answers 503 as it goes. No actor: ThreadSanitizer sees all of it.
ts::request_sink fake_gateway(std::shared_ptr<answer_pool> pool) {
  return [pool](api::action act, ts::reply_fn reply) {
    if (auto s = std::get_if<api::schedule_action>(&act)) {
      ts::task_record rec;
      rec.id = 1;
      rec.command = s->task.command;
      rec.due = s->task.due;
      rec.created_at = s->task.created_at;
      pool->post([rec, reply] { reply(api::created(rec)); });
    } else if (auto q = std::get_if<api::status_action>(&act)) {
      ts::task_view v;
      v.id = q->id;
      v.command = "true";
      reply(api::status(v));
    } else if (auto a = std::get_if<api::v1_action>(&act)) {
      if (std::holds_alternative<api::get_run_action>(*a))
        pool->post([dropped = std::move(reply)] {});
      else
        pool->post([reply] { reply(api::task_with_etag(some_task(1))); });
    } else if (std::holds_alternative<api::metrics_action>(act)) {
      reply(api::metrics_text(""));
    } else {
      reply(api::ready());
    }
  };
}

struct fixture {
  fixture() {
    ts::server_options opts;
    opts.bind = "127.0.0.1";
    opts.port = 0;
    opts.threads = 3;
    auto s = ts::start_http_server(opts, fake_gateway(pool));
    REQUIRE(s);
    server = std::move(*s);
  }
  ~fixture() {
    server->stop();
  }

  std::shared_ptr<answer_pool> pool = std::make_shared<answer_pool>(3);
  std::unique_ptr<ts::http_server> server;
};

const std::string task_body = R"({"task":"true","time":"2030-01-01T00:00:00Z"})";

} // namespace

TEST_CASE("server with a fake gateway: concurrent clients answered from every thread",
          "[server][threads]") {
  fixture f;
  auto port = f.server->port();
  // Catch's macros are not thread-safe: the clients keep what went wrong for the main thread.
  std::mutex mtx;
  std::vector<std::string> wrong;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 6; ++i)
    results.push_back(std::async(std::launch::async, [port, i, &mtx, &wrong] {
      ts::test_http::connection c{port};
      int ok = 0;
      for (int k = 0; k < 20; ++k) {
        ts::test_http::response res;
        int want = 200;
        switch ((i + k) % 6) {
          case 0: res = c.post("/taskschedulizer", task_body); want = 201; break;
          case 1: res = c.get("/status?id=4"); break;
          case 2: res = c.get("/v1/tasks/1"); break;
          case 3: res = c.get("/healthz"); break;   // answered in the handler
          case 4: res = c.get("/nope"); want = 404; break;
          default: res = c.get("/v1/runs/3"); want = 503; break;  // dropped: 503
        }
        if (res.status == want) {
          ++ok;
        } else {
          std::lock_guard<std::mutex> guard{mtx};
          wrong.push_back(std::to_string(want) + " expected: " + res.describe());
        }
      }
      return ok;
    }));
  int total = 0;
  for (auto& r : results)
    total += r.get();
  for (auto& w : wrong)
    UNSCOPED_INFO(w);
  CHECK(total == 6 * 20);
}

TEST_CASE("server with a fake gateway: stop while clients are sending", "[server][threads]") {
  fixture f;
  auto port = f.server->port();
  std::atomic<bool> go{false};
  std::atomic<int> unexpected{0};
  std::vector<std::future<void>> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(std::async(std::launch::async, [port, &go, &unexpected] {
      while (!go.load())
        std::this_thread::yield();
      ts::test_http::client c{port, "127.0.0.1", 5s};
      for (int k = 0; k < 40; ++k) {
        auto res = c.post("/taskschedulizer", task_body);
        // Before the stop: created; during it: refused; after it: no server at all.
        if (res.status != 0 && res.status != 201 && res.status != 503)
          ++unexpected;
      }
    }));
  go = true;
  std::this_thread::sleep_for(30ms);
  f.server->stop();
  for (auto& c : clients)
    c.get();
  CHECK(unexpected == 0);
}
