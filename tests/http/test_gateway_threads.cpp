// The gateway with a fake coordinator and persistence, on real threads: several client
// threads send it requests at once, as the server's threads do, and each must be answered
// exactly once, by the actors' reply or by the gateway's own deadline sweep (a coordinator
// that holds a schedule past the timeout). scripts/test runs these under ThreadSanitizer as
// well (test_http_tsan), where every actor runs on one CAF thread through the sharing
// policy: its mutex is a hand-off TSan sees, unlike the stealing policy's queues, which are
// atomics inside Debian's uninstrumented libcaf_core. tests/tsan.supp names the CAF frames of
// the one hand-off it still cannot see, the mailbox.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <catch2/catch.hpp>

#include "actors/interfaces.hpp"
#include "http/gateway.hpp"
#include "http/routes.hpp"
#include "tests/support/actor_fakes.hpp"

namespace {

using namespace std::chrono_literals;
namespace api = ts::api;

struct test_config : caf::actor_system_config {
  test_config() {
    ts::register_types(*this);
#ifdef TS_TSAN_BUILD
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads", 1);
#endif
  }
};

/// Schedules are created, except the command "hold", whose promise is kept unanswered (the
/// gateway's sweep answers 503); cancel answers the task; the rest is refused.
ts::coordinator_actor::behavior_type fake_coordinator(ts::coordinator_actor::pointer self) {
  using namespace ts;
  auto held = std::make_shared<std::vector<caf::typed_response_promise<task_record>>>();
  auto refused = [] { return make_error(ec::unavailable, "fake coordinator"); };
  return {
    [=](schedule_atom, new_task& t) -> caf::result<task_record> {
      auto rp = self->make_response_promise<task_record>();
      if (t.command == "hold") {
        held->push_back(rp);
        return rp;
      }
      task_record rec;
      rec.id = 1;
      rec.command = t.command;
      rec.due = t.due;
      rec.created_at = t.created_at;
      rp.deliver(rec);
      return rp;
    },
    [=](load_atom, std::vector<pending_entry>&) {},
    [=](tick_atom) {},
    [=](done_atom, run_id) {},
    [=](rearm_atom, task_id, millis) {},
    [=](stats_atom) { return coordinator_stats{}; },
    [=](cancel_atom, task_id id, request_key&) -> caf::result<task_change> {
      task_change c;
      c.task.id = id;
      c.task.command = "true";
      c.task.state = task_state::cancelled;
      return c;
    },
    [=](trigger_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](pause_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](resume_atom, task_id, request_key&) -> caf::result<task_change> { return refused(); },
    [=](edit_atom, task_edit&) -> caf::result<task_change> { return refused(); },
    [=](shutdown_atom, int64_t) { return caf::ok_atom::value; },
    [=](kill_atom) {},
    [=](retry_atom) {},
  };
}

/// Every answer, by request: the client threads add them, the test reads them.
struct answers {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::vector<int>> statuses;
  size_t answered = 0;

  ts::reply_fn for_request(size_t i, const std::shared_ptr<answers>& self) {
    return [self, i](ts::http_response res) {
      std::lock_guard<std::mutex> guard{self->mtx};
      if (self->statuses[i].empty())
        ++self->answered;
      self->statuses[i].push_back(res.status);
      self->cv.notify_all();
    };
  }
};

ts::new_task task(std::string command) {
  ts::new_task t;
  t.command = std::move(command);
  t.due = 1727024400000;
  t.created_at = t.due - 1000;
  return t;
}

} // namespace

TEST_CASE("gateway with a fake coordinator: requests from several threads are answered once",
          "[gateway][threads]") {
  test_config cfg;
  caf::actor_system sys{cfg};
  auto db = std::make_shared<ts::test::fake_db>();
  ts::task_record one;
  one.id = 1;
  one.command = "true";
  one.due = 1727024400000;
  db->tasks[1] = one;
  db->next_task = 2;
  // Made before the actors are spawned: the reply functions reach the gateway inside
  // messages, a hand-off TSan cannot see (tests/tsan.supp), while the spawn is one it does.
  constexpr size_t threads = 4, per_thread = 24;
  auto got = std::make_shared<answers>();
  got->statuses.resize(threads * per_thread);
  auto coordinator = sys.spawn(fake_coordinator);
  auto persistence = sys.spawn(ts::test::fake_persistence, db);
  // Long enough that no answered request meets it under ThreadSanitizer on a busy machine.
  constexpr auto timeout = 1500ms;
  auto gateway = ts::spawn_gateway(sys, coordinator, persistence, timeout);

  std::vector<int> expected(threads * per_thread);
  std::vector<std::thread> clients;
  for (size_t t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      for (size_t k = 0; k < per_thread; ++k) {
        size_t i = t * per_thread + k;
        auto reply = got->for_request(i, got);
        switch ((t + k) % 8) {
          case 0:
            caf::anon_send(gateway, ts::schedule_atom::value, task("echo hi"), reply);
            break;
          case 1:  // held by the coordinator: the sweep answers
            caf::anon_send(gateway, ts::schedule_atom::value, task("hold"), reply);
            break;
          case 2: caf::anon_send(gateway, caf::get_atom::value, ts::task_id{1}, reply); break;
          case 3: caf::anon_send(gateway, caf::get_atom::value, ts::task_id{99}, reply); break;
          case 4:
            caf::anon_send(gateway, api::v1_action{api::get_task_action{1}}, reply);
            break;
          case 5:
            caf::anon_send(gateway, api::v1_action{api::cancel_task_action{1, {}}}, reply);
            break;
          case 6:
            caf::anon_send(gateway, api::v1_action{api::list_tasks_action{}}, reply);
            break;
          default: caf::anon_send(gateway, ts::ping_atom::value, reply); break;
        }
      }
    });
  for (size_t t = 0; t < threads; ++t)
    for (size_t k = 0; k < per_thread; ++k) {
      static const int by_kind[] = {201, 503, 200, 404, 200, 200, 200, 200};
      expected[t * per_thread + k] = by_kind[(t + k) % 8];
    }
  for (auto& c : clients)
    c.join();
  {
    std::unique_lock<std::mutex> guard{got->mtx};
    got->cv.wait_for(guard, 20s, [&] { return got->answered == got->statuses.size(); });
  }
  // Long enough for a second answer to a swept request, if the held reply could give one.
  std::this_thread::sleep_for(timeout / 3);
  std::lock_guard<std::mutex> guard{got->mtx};
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("request " << i);
    REQUIRE(got->statuses[i].size() == 1);
    CHECK(got->statuses[i][0] == expected[i]);
  }
  caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(persistence, caf::exit_reason::user_shutdown);
}
