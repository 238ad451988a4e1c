// The persistence actor over a real SQLite file, on CAF's test scheduler. A decorator store
// counts transactions (to see group commit) and can simulate an outage.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actors/executor.hpp"
#include "actors/persistence.hpp"
#include "actors/system.hpp"
#include "storage/store.hpp"
#include "tests/support/actor_fakes.hpp"

using namespace ts;
using namespace ts::test;

namespace {

/// Passes every call to a real store, counting transactions; `down` makes every call fail
/// as an unreachable database would, `commit_fails` only the commit.
class flaky_store final : public storage::store {
public:
  explicit flaky_store(std::unique_ptr<storage::store> inner) : inner_(std::move(inner)) {
  }

  std::atomic<bool> down{false};
  std::atomic<bool> commit_fails{false};
  std::atomic<int> begins{0};
  std::atomic<int> commits{0};
  std::atomic<int> reconnects{0};

  const char* backend() const override {
    return inner_->backend();
  }
  caf::error begin() override {
    if (down)
      return outage();
    ++begins;
    return inner_->begin();
  }
  caf::error commit() override {
    if (down || commit_fails)
      return outage();
    ++commits;
    return inner_->commit();
  }
  void rollback() override {
    inner_->rollback();
  }
  caf::expected<task_record> insert_task(const new_task& t) override {
    if (down)
      return outage();
    return inner_->insert_task(t);
  }
  caf::expected<claim> claim_run(task_id task, millis claimed_at) override {
    if (down)
      return outage();
    return inner_->claim_run(task, claimed_at);
  }
  caf::error unclaim_run(run_id run) override {
    if (down)
      return outage();
    return inner_->unclaim_run(run);
  }
  caf::error record_start(const process_start& p) override {
    if (down)
      return outage();
    return inner_->record_start(p);
  }
  caf::error finish_run(const run_outcome& o) override {
    if (down)
      return outage();
    return inner_->finish_run(o);
  }
  caf::error requeue_unstarted(run_id run) override {
    return inner_->requeue_unstarted(run);
  }
  caf::error retry_interrupted(run_id run, millis retry_at) override {
    if (down)
      return outage();
    return inner_->retry_interrupted(run, retry_at);
  }
  caf::expected<task_view> get_task(task_id id) override {
    if (down)
      return outage();
    return inner_->get_task(id);
  }
  caf::error load_pending(const std::function<void(const pending_entry&)>& f) override {
    if (down)
      return outage();
    return inner_->load_pending(f);
  }
  caf::expected<std::vector<orphan_run>> interrupt_running(millis now) override {
    if (down)
      return outage();
    return inner_->interrupt_running(now);
  }
  caf::error append_output(run_id run, int64_t offset, const std::string& data) override {
    if (down)
      return outage();
    return inner_->append_output(run, offset, data);
  }
  caf::expected<task_change> cancel_task(task_id task, millis now,
                                         const request_key& key) override {
    if (down)
      return outage();
    return inner_->cancel_task(task, now, key);
  }
  caf::expected<task_change> trigger_task(task_id task, millis now,
                                          const request_key& key) override {
    if (down)
      return outage();
    return inner_->trigger_task(task, now, key);
  }
  caf::expected<task_change> pause_task(task_id task, millis now,
                                        const request_key& key) override {
    if (down)
      return outage();
    return inner_->pause_task(task, now, key);
  }
  caf::expected<task_change> resume_task(task_id task, millis now,
                                         const request_key& key) override {
    if (down)
      return outage();
    return inner_->resume_task(task, now, key);
  }
  caf::expected<task_change> update_task(const task_edit& e, millis now) override {
    if (down)
      return outage();
    return inner_->update_task(e, now);
  }
  caf::expected<task_info> get_task_info(task_id id, int64_t output_tail) override {
    if (down)
      return outage();
    return inner_->get_task_info(id, output_tail);
  }
  caf::expected<task_page> list_tasks(const task_filter& f) override {
    if (down)
      return outage();
    return inner_->list_tasks(f);
  }
  caf::expected<run_page> list_runs(const run_filter& f) override {
    if (down)
      return outage();
    return inner_->list_runs(f);
  }
  caf::expected<run_info> get_run(run_id id, int64_t output_tail) override {
    if (down)
      return outage();
    return inner_->get_run(id, output_tail);
  }
  caf::expected<output_slice> read_output(run_id id, int64_t offset,
                                          int64_t max_bytes) override {
    if (down)
      return outage();
    return inner_->read_output(id, offset, max_bytes);
  }
  caf::error ping() override {
    if (down)
      return outage();
    return inner_->ping();
  }
  caf::error reconnect() override {
    ++reconnects;
    if (down)
      return outage();
    return inner_->reconnect();
  }

private:
  static caf::error outage() {
    return make_error(ec::unavailable, "simulated outage");
  }
  std::unique_ptr<storage::store> inner_;
};

constexpr auto reconnect_min = std::chrono::milliseconds(100);

struct persistence_fixture : actor_harness {
  std::filesystem::path dir;
  std::string url;
  std::shared_ptr<flaky_store> store;
  persistence_owner_actor db;

  /// `configure` may change the options (a recovery file, metrics) before the spawn.
  explicit persistence_fixture(
    size_t max_batch = 4096, size_t max_backlog_bytes = 64 * 1024 * 1024,
    const std::function<void(persistence_options&, const std::filesystem::path&)>& configure
    = {}) {
    char tmpl[] = "/tmp/ts-persistence-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    url = "sqlite:" + (dir / "t.db").string();
    auto s = storage::open_store(url);
    REQUIRE(s);
    store = std::make_shared<flaky_store>(std::move(*s));
    auto opts = default_persistence_options();
    opts.max_batch = max_batch;
    opts.max_backlog_bytes = max_backlog_bytes;
    opts.reconnect_min = reconnect_min;
    opts.reconnect_max = std::chrono::seconds(5);
    if (configure)
      configure(opts, dir);
    // Detached in production; here the test scheduler must drive it.
    db = sys.spawn(persistence, std::shared_ptr<storage::store>{store}, opts);
    run();
  }

  ~persistence_fixture() {
    self->send_exit(db, caf::exit_reason::user_shutdown);
    drain();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// Another connection to the same file: sees only what was committed.
  std::unique_ptr<storage::store> second_store() {
    auto s = storage::open_store(url);
    REQUIRE(s);
    return std::move(*s);
  }

  static new_task task(const std::string& command, millis due,
                       std::optional<std::string> key = std::nullopt,
                       const std::string& hash = {}) {
    new_task t;
    t.command = command;
    t.due = due;
    t.created_at = due - 1000;
    t.idempotency_key = key;
    t.request_hash = hash;
    return t;
  }

  caf::expected<task_record> schedule(const new_task& t) {
    auto h = self->request(db, caf::infinite, schedule_atom::value, t);
    run();
    auto r = poll_reply<task_record>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }

  caf::expected<claim> claim_task(task_id id, millis at) {
    auto h = self->request(db, caf::infinite, claim_atom::value, id, at);
    run();
    auto r = poll_reply<claim>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }

  caf::expected<task_view> get(task_id id) {
    auto h = self->request(db, caf::infinite, caf::get_atom::value, id);
    run();
    auto r = poll_reply<task_view>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }

  caf::expected<caf::ok_atom> ping() {
    auto h = self->request(db, caf::infinite, ping_atom::value);
    run();
    auto r = poll_reply<caf::ok_atom>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }

  caf::expected<caf::ok_atom> finish(const run_outcome& o) {
    auto h = self->request(db, caf::infinite, finished_atom::value, o);
    run();
    auto r = poll_reply<caf::ok_atom>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }
};

run_outcome success_of(const claim& c, millis started, millis finished, std::string output) {
  run_outcome o;
  o.run = c.run;
  o.task = c.task;
  o.status = task_status::success;
  o.reason = run_reason::none;
  o.exit_code = 0;
  o.output = std::move(output);
  o.started_at = started;
  o.finished_at = finished;
  return o;
}

constexpr millis t0 = 1'700'000'000'000;

} // namespace

TEST_CASE("schedule requests that arrive together share one commit", "[persistence]") {
  persistence_fixture f;
  constexpr int n = 100;
  using handle = decltype(f.self->request(f.db, caf::infinite, schedule_atom::value, new_task{}));
  std::vector<handle> handles;
  for (int i = 0; i < n; ++i)
    handles.push_back(f.self->request(f.db, caf::infinite, schedule_atom::value,
                                      f.task("echo " + std::to_string(i), t0 + i)));
  // Nothing is answered before the scheduler runs: nothing was committed yet.
  CHECK_FALSE(poll_reply<task_record>(f.self, handles.front()));
  f.run();

  std::set<task_id> ids;
  std::vector<task_record> records;
  for (auto& h : handles) {
    auto r = poll_reply<task_record>(f.self, h);
    REQUIRE(r);
    REQUIRE(*r);
    ids.insert((*r)->id);
    records.push_back(**r);
  }
  CHECK(ids.size() == n);
  CHECK(f.store->begins == 1);
  CHECK(f.store->commits == 1);

  // Acknowledged means committed: another connection reads every one of them.
  auto other = f.second_store();
  for (int i = 0; i < n; ++i) {
    auto v = other->get_task(records[i].id);
    REQUIRE(v);
    CHECK(v->command == "echo " + std::to_string(i));
    CHECK(v->due == t0 + i);
    CHECK(v->status == task_status::pending);
  }
}

TEST_CASE("a batch is never larger than max_batch", "[persistence]") {
  persistence_fixture f{10};
  using handle = decltype(f.self->request(f.db, caf::infinite, schedule_atom::value, new_task{}));
  std::vector<handle> handles;
  for (int i = 0; i < 25; ++i)
    handles.push_back(f.self->request(f.db, caf::infinite, schedule_atom::value,
                                      f.task("batch " + std::to_string(i), t0)));
  f.run();
  for (auto& h : handles) {
    auto r = poll_reply<task_record>(f.self, h);
    REQUIRE(r);
    CHECK(*r);
  }
  CHECK(f.store->commits == 3);
}

TEST_CASE("an acknowledged task survives in the file, readable by another connection",
          "[persistence]") {
  persistence_fixture f;
  auto r = f.schedule(f.task("echo durable", t0 + 5000));
  REQUIRE(r);
  CHECK(r->command == "echo durable");
  CHECK(r->due == t0 + 5000);
  CHECK(r->status == task_status::pending);
  CHECK_FALSE(r->replayed);

  auto other = f.second_store();
  auto v = other->get_task(r->id);
  REQUIRE(v);
  CHECK(v->command == "echo durable");
  CHECK(v->due == t0 + 5000);
  std::vector<pending_entry> pending;
  REQUIRE_FALSE(other->load_pending([&](const pending_entry& e) { pending.push_back(e); }));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == r->id);
  CHECK(pending[0].due == t0 + 5000);
}

TEST_CASE("claim, started and finished move a task through its states", "[persistence]") {
  persistence_fixture f;
  auto r = f.schedule(f.task("echo hi", t0));
  REQUIRE(r);

  auto c = f.claim_task(r->id, t0 - 50);
  REQUIRE(c);
  CHECK(c->task == r->id);
  CHECK(c->command == "echo hi");
  CHECK(c->due == t0);
  auto v = f.get(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::pending);  // claimed, not started (issue 10)
  CHECK(v->run == c->run);

  // At most once: a running task cannot be claimed again.
  auto again = f.claim_task(r->id, t0);
  REQUIRE_FALSE(again);
  CHECK(again.error() == ec::not_pending);

  f.self->send(f.db, started_atom::value, process_start{c->run, 4242, 4242, 777, t0 + 1});
  f.run();
  v = f.get(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::running);
  CHECK(v->started_at == t0 + 1);

  auto done = f.finish(success_of(*c, t0 + 1, t0 + 20, "hi\n"));
  REQUIRE(done);
  v = f.get(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->reason == run_reason::none);
  CHECK(v->exit_code == 0);
  CHECK(v->output == "hi\n");
  CHECK(v->started_at == t0 + 1);
  CHECK(v->finished_at == t0 + 20);

  // Every transition was committed, not only answered.
  auto w = f.second_store()->get_task(r->id);
  REQUIRE(w);
  CHECK(w->status == task_status::success);
  CHECK(w->output == "hi\n");

  auto missing = f.get(r->id + 1000);
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::not_found);
}

TEST_CASE("an unclaimed run leaves its task pending and claimable", "[persistence]") {
  persistence_fixture f;
  auto r = f.schedule(f.task("echo later", t0));
  REQUIRE(r);
  auto c = f.claim_task(r->id, t0);
  REQUIRE(c);
  auto h = f.self->request(f.db, caf::infinite, unclaim_atom::value, c->run);
  f.run();
  auto u = poll_reply<caf::ok_atom>(f.self, h);
  REQUIRE(u);
  CHECK(*u);
  auto v = f.get(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::pending);
  std::vector<pending_entry> pending;
  REQUIRE_FALSE(
    f.second_store()->load_pending([&](const pending_entry& e) { pending.push_back(e); }));
  CHECK(pending.size() == 1);
  CHECK(f.claim_task(r->id, t0));
}

TEST_CASE("refusals inside a batch do not fail the other writes", "[persistence]") {
  persistence_fixture f;
  auto first = f.self->request(f.db, caf::infinite, schedule_atom::value,
                               f.task("echo a", t0, "key", "hash-a"));
  auto retry = f.self->request(f.db, caf::infinite, schedule_atom::value,
                               f.task("echo a", t0, "key", "hash-a"));
  auto conflict = f.self->request(f.db, caf::infinite, schedule_atom::value,
                                  f.task("echo b", t0, "key", "hash-b"));
  auto unknown = f.self->request(f.db, caf::infinite, claim_atom::value, task_id{9999}, t0);
  auto other = f.self->request(f.db, caf::infinite, schedule_atom::value, f.task("echo c", t0));
  f.run();
  CHECK(f.store->commits == 1);

  auto a = poll_reply<task_record>(f.self, first);
  REQUIRE(a);
  REQUIRE(*a);
  CHECK_FALSE((*a)->replayed);
  auto b = poll_reply<task_record>(f.self, retry);
  REQUIRE(b);
  REQUIRE(*b);
  CHECK((*b)->replayed);
  CHECK((*b)->id == (*a)->id);
  CHECK(is_error(poll_reply<task_record>(f.self, conflict), ec::idempotency_conflict));
  CHECK(is_error(poll_reply<claim>(f.self, unknown), ec::not_found));
  auto c = poll_reply<task_record>(f.self, other);
  REQUIRE(c);
  REQUIRE(*c);
  CHECK(f.second_store()->get_task((*c)->id));
}

TEST_CASE("every write of a mixed batch gets its own reply", "[persistence]") {
  persistence_fixture f;
  auto a = f.schedule(f.task("echo A", t0));
  auto b = f.schedule(f.task("echo B", t0));
  auto c = f.schedule(f.task("echo C", t0));
  auto d = f.schedule(f.task("echo D", t0));
  auto e = f.schedule(f.task("echo E", t0));
  REQUIRE((a && b && c && d && e));
  auto ca = f.claim_task(a->id, t0);
  auto cb = f.claim_task(b->id, t0);
  auto ce = f.claim_task(e->id, t0);
  REQUIRE((ca && cb && ce));
  auto commits = f.store->commits.load();

  // One batch of every kind, refusals between successes, replies of the same type next to
  // each other: a reply delivered to its neighbour shows in the values or error codes.
  auto& self = f.self;
  auto s1 = self->request(f.db, caf::infinite, schedule_atom::value, f.task("echo n1", t0 + 1));
  auto claim_c = self->request(f.db, caf::infinite, claim_atom::value, c->id, t0);
  self->send(f.db, started_atom::value, process_start{ca->run, 101, 101, 7, t0 + 3});
  auto finish_b = self->request(f.db, caf::infinite, finished_atom::value,
                                success_of(*cb, t0 + 4, t0 + 5, "b-out"));
  auto claim_unknown = self->request(f.db, caf::infinite, claim_atom::value, task_id{9999}, t0);
  auto s2 = self->request(f.db, caf::infinite, schedule_atom::value, f.task("echo n2", t0 + 2));
  // A has started earlier in this batch: its claim can no longer be undone.
  auto unclaim_a = self->request(f.db, caf::infinite, unclaim_atom::value, ca->run);
  auto finish_a = self->request(f.db, caf::infinite, finished_atom::value,
                                success_of(*ca, t0 + 3, t0 + 6, "a-out"));
  auto unclaim_e = self->request(f.db, caf::infinite, unclaim_atom::value, ce->run);
  auto claim_d = self->request(f.db, caf::infinite, claim_atom::value, d->id, t0);
  auto unknown_outcome = success_of(*ca, t0, t0 + 1, "");
  unknown_outcome.run = 9999;
  auto finish_unknown = self->request(f.db, caf::infinite, finished_atom::value,
                                      unknown_outcome);
  // C was claimed earlier in this batch.
  auto claim_c_again = self->request(f.db, caf::infinite, claim_atom::value, c->id, t0);
  auto not_an_end = success_of(*cb, t0, t0 + 1, "");
  not_an_end.status = task_status::pending;
  auto finish_invalid = self->request(f.db, caf::infinite, finished_atom::value, not_an_end);
  auto s3 = self->request(f.db, caf::infinite, schedule_atom::value, f.task("echo n3", t0 + 3));
  f.run();
  CHECK(f.store->commits == commits + 1);

  auto check_record = [&](auto& handle, const std::string& command, millis due) {
    auto r = poll_reply<task_record>(self, handle);
    REQUIRE(r);
    REQUIRE(*r);
    CHECK((*r)->command == command);
    CHECK((*r)->due == due);
    CHECK_FALSE((*r)->replayed);
    return (*r)->id;
  };
  std::set<task_id> ids{check_record(s1, "echo n1", t0 + 1), check_record(s2, "echo n2", t0 + 2),
                        check_record(s3, "echo n3", t0 + 3)};
  CHECK(ids.size() == 3);

  auto check_claim = [&](auto& handle, const task_record& task) {
    auto r = poll_reply<claim>(self, handle);
    REQUIRE(r);
    REQUIRE(*r);
    CHECK((*r)->task == task.id);
    CHECK((*r)->command == task.command);
    return (*r)->run;
  };
  auto run_c = check_claim(claim_c, *c);
  auto run_d = check_claim(claim_d, *d);
  CHECK(run_c != run_d);
  CHECK(is_error(poll_reply<claim>(self, claim_unknown), ec::not_found));
  CHECK(is_error(poll_reply<claim>(self, claim_c_again), ec::not_pending));

  auto ok = [&](auto& handle) {
    auto r = poll_reply<caf::ok_atom>(self, handle);
    REQUIRE(r);
    return static_cast<bool>(*r);
  };
  CHECK(ok(finish_b));
  CHECK(ok(finish_a));
  CHECK(ok(unclaim_e));
  CHECK(is_error(poll_reply<caf::ok_atom>(self, unclaim_a), ec::not_pending));
  CHECK(is_error(poll_reply<caf::ok_atom>(self, finish_unknown), ec::not_found));
  CHECK(is_error(poll_reply<caf::ok_atom>(self, finish_invalid), ec::invalid_argument));

  // And every acknowledged write is what another connection reads.
  auto other = f.second_store();
  auto va = other->get_task(a->id);
  REQUIRE(va);
  CHECK(va->status == task_status::success);
  CHECK(va->output == "a-out");
  CHECK(va->started_at == t0 + 3);
  auto vb = other->get_task(b->id);
  REQUIRE(vb);
  CHECK(vb->status == task_status::success);
  CHECK(vb->output == "b-out");
  auto vc = other->get_task(c->id);
  REQUIRE(vc);
  CHECK(vc->status == task_status::pending);  // claimed, not started (issue 10)
  CHECK(vc->run == run_c);
  auto vd = other->get_task(d->id);
  REQUIRE(vd);
  CHECK(vd->run == run_d);
  auto ve = other->get_task(e->id);
  REQUIRE(ve);
  CHECK(ve->status == task_status::pending);
}

TEST_CASE("ping answers while the database does, unavailable while it is down",
          "[persistence]") {
  persistence_fixture f;
  CHECK(f.ping());
  f.store->down = true;
  auto p = f.ping();
  REQUIRE_FALSE(p);
  CHECK(p.error() == ec::unavailable);
  f.store->down = false;
  f.advance(reconnect_min.count());  // the reconnect loop notices
  CHECK(f.ping());
}

TEST_CASE("during an outage inserts are refused, outcomes are kept and written once it ends",
          "[persistence][outage]") {
  persistence_fixture f;
  auto r = f.schedule(f.task("echo kept", t0));
  REQUIRE(r);
  auto c = f.claim_task(r->id, t0);
  REQUIRE(c);

  f.store->down = true;
  auto ins = f.self->request(f.db, caf::infinite, schedule_atom::value,
                             f.task("echo during outage", t0));
  f.self->send(f.db, started_atom::value, process_start{c->run, 555, 555, 99, t0 + 2});
  auto fin = f.self->request(f.db, caf::infinite, finished_atom::value,
                             success_of(*c, t0 + 2, t0 + 30, "kept\n"));
  f.run();
  // Never acknowledged without being stored...
  CHECK(is_error(poll_reply<task_record>(f.self, ins), ec::unavailable));
  // ...while the outcome of a process that already ran is kept for later.
  auto kept = poll_reply<caf::ok_atom>(f.self, fin);
  REQUIRE(kept);
  CHECK(*kept);

  CHECK(is_error(std::optional{f.ping()}, ec::unavailable));
  CHECK(is_error(std::optional{f.get(r->id)}, ec::unavailable));
  CHECK(is_error(std::optional{f.schedule(f.task("echo refused", t0))}, ec::unavailable));
  CHECK(is_error(std::optional{f.claim_task(r->id, t0)}, ec::unavailable));

  // Still down after several reconnect attempts: nothing reached the file.
  f.advance(1000);
  CHECK(f.store->reconnects >= 2);
  auto v = f.second_store()->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::pending);  // claimed, not started (issue 10)

  // The database comes back; the backlog lands after the next reconnect attempt.
  f.store->down = false;
  f.advance(5000);
  v = f.second_store()->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->output == "kept\n");
  CHECK(v->started_at == t0 + 2);
  CHECK(v->finished_at == t0 + 30);

  CHECK(f.ping());
  auto after = f.schedule(f.task("echo after", t0));
  REQUIRE(after);
  // The refused inserts left no trace.
  std::vector<pending_entry> pending;
  auto other = f.second_store();
  REQUIRE_FALSE(other->load_pending([&](const pending_entry& e) { pending.push_back(e); }));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == after->id);
}

TEST_CASE("a failed commit acknowledges nothing it held, and keeps outcomes",
          "[persistence][outage]") {
  persistence_fixture f;
  auto r = f.schedule(f.task("echo first", t0));
  REQUIRE(r);
  auto c = f.claim_task(r->id, t0);
  REQUIRE(c);

  f.store->commit_fails = true;
  auto ins = f.self->request(f.db, caf::infinite, schedule_atom::value,
                             f.task("echo rolled back", t0));
  auto fin = f.self->request(f.db, caf::infinite, finished_atom::value,
                             success_of(*c, t0 + 1, t0 + 2, "done\n"));
  f.run();
  CHECK(is_error(poll_reply<task_record>(f.self, ins), ec::unavailable));
  auto kept = poll_reply<caf::ok_atom>(f.self, fin);
  REQUIRE(kept);
  CHECK(*kept);
  auto other = f.second_store();
  std::vector<pending_entry> pending;
  REQUIRE_FALSE(other->load_pending([&](const pending_entry& e) { pending.push_back(e); }));
  CHECK(pending.empty());  // the insert was rolled back
  auto v = other->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::pending);  // claimed, not started (issue 10)

  f.store->commit_fails = false;
  f.advance(5000);
  v = f.second_store()->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->output == "done\n");
}

TEST_CASE("outcomes kept during an outage are bounded in memory", "[persistence][outage]") {
  persistence_fixture f{4096, 16 * 1024};
  auto a = f.schedule(f.task("echo small", t0));
  auto b = f.schedule(f.task("echo large", t0));
  REQUIRE(a);
  REQUIRE(b);
  auto ca = f.claim_task(a->id, t0);
  auto cb = f.claim_task(b->id, t0);
  REQUIRE(ca);
  REQUIRE(cb);
  f.store->down = true;
  CHECK(f.finish(success_of(*ca, t0, t0 + 1, std::string(1000, 's'))));
  // Over the bound: refused, so the executor keeps it and tries again later.
  auto refused = f.finish(success_of(*cb, t0, t0 + 1, std::string(20 * 1024, 'l')));
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ec::unavailable);

  f.store->down = false;
  f.advance(5000);
  auto other = f.second_store();
  auto va = other->get_task(a->id);
  REQUIRE(va);
  CHECK(va->status == task_status::success);
  CHECK(va->output.size() == 1000);
  auto vb = other->get_task(b->id);
  REQUIRE(vb);
  CHECK(vb->status == task_status::pending);  // claimed, not started (issue 10)
  // Once the database is back, the retried outcome is taken.
  CHECK(f.finish(success_of(*cb, t0, t0 + 1, std::string(20 * 1024, 'l'))));
  vb = f.second_store()->get_task(b->id);
  REQUIRE(vb);
  CHECK(vb->status == task_status::success);
}

// -- output, reads, cancel and trigger ------------------------------------------------------

namespace {

/// A task claimed and started in the store, ready for output (through persistence).
struct running_fixture : persistence_fixture {
  explicit running_fixture(size_t max_backlog_bytes = 64 * 1024 * 1024)
    : persistence_fixture(4096, max_backlog_bytes) {
    auto r = schedule(task("echo running", t0));
    REQUIRE(r);
    auto c = claim_task(r->id, t0);
    REQUIRE(c);
    job = *c;
    self->send(db, started_atom::value, process_start{job.run, 4242, 4242, 777, t0 + 1});
    run();
  }

  claim job;

  void append(int64_t offset, const std::string& data) {
    self->send(db, append_atom::value, job.run, offset, data);
  }

  /// What a follower reads of the run's stream: another connection, from byte `offset`.
  output_slice follow(int64_t offset = 0) {
    auto s = second_store()->read_output(job.run, offset, 1 << 30);
    REQUIRE(s);
    return std::move(*s);
  }

  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    auto h = self->request(db, caf::infinite, std::forward<Ts>(xs)...);
    run();
    auto r = poll_reply<T>(self, h);
    REQUIRE(r);
    return std::move(*r);
  }
};

} // namespace

TEST_CASE("output pieces are written with the other writes that arrive together",
          "[persistence][output]") {
  running_fixture f;
  auto commits = f.store->commits.load();
  f.append(0, "one\n");
  f.append(4, "two\n");
  auto other = f.self->request(f.db, caf::infinite, schedule_atom::value,
                               f.task("echo beside", t0));
  f.append(8, "three\n");
  f.run();
  CHECK(f.store->commits == commits + 1);
  auto s = f.follow();
  CHECK(s.data == "one\ntwo\nthree\n");
  CHECK(s.next_offset == 14);
  CHECK_FALSE(s.complete);
  CHECK(f.follow(4).data == "two\nthree\n");
  auto r = poll_reply<task_record>(f.self, other);
  REQUIRE(r);
  CHECK(*r);
}

TEST_CASE("a run's output is applied before its end in the same batch",
          "[persistence][output]") {
  running_fixture f;
  f.append(0, "aaaa");
  f.append(4, "bbbb");
  f.append(8, "cccc");
  // The outcome carries only the tail: applied first, it would become the stream.
  auto o = success_of(f.job, t0 + 1, t0 + 9, "cccc");
  o.output_truncated = true;
  auto fin = f.self->request(f.db, caf::infinite, finished_atom::value, o);
  f.run();
  auto ok = poll_reply<caf::ok_atom>(f.self, fin);
  REQUIRE(ok);
  CHECK(*ok);
  auto s = f.follow();
  CHECK(s.data == "aaaabbbbcccc");
  CHECK(s.complete);
  auto v = f.second_store()->get_task(f.job.task);
  REQUIRE(v);
  CHECK(v->output == "cccc");
}

TEST_CASE("output that arrives during an outage is written before the run's end once back",
          "[persistence][output][outage]") {
  running_fixture f;
  f.append(0, "before\n");
  f.run();
  f.store->down = true;
  f.append(7, "during\n");
  f.append(14, "end\n");
  CHECK(f.finish(success_of(f.job, t0 + 1, t0 + 9, "before\nduring\nend\n")));
  f.store->down = false;
  f.advance(5000);
  auto s = f.follow();
  CHECK(s.data == "before\nduring\nend\n");
  CHECK(s.complete);
  auto v = f.second_store()->get_task(f.job.task);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
}

TEST_CASE("output beyond the backlog's bound is dropped with the rest of its run, the outcome "
          "still lands", "[persistence][output][outage]") {
  running_fixture f{16 * 1024};
  f.store->down = true;
  f.append(0, std::string(1000, 'a'));
  f.append(1000, std::string(20 * 1024, 'b'));  // does not fit
  f.append(1000 + 20 * 1024, "c");                // fits, but would follow a gap
  auto tail = std::string(1000, 'b') + "c";
  auto o = success_of(f.job, t0 + 1, t0 + 9, tail);
  o.output_truncated = true;
  CHECK(f.finish(o));
  f.store->down = false;
  f.advance(5000);
  auto s = f.follow();
  CHECK(s.data == std::string(1000, 'a'));
  CHECK(s.complete);
  auto v = f.second_store()->get_task(f.job.task);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->output == tail);
}

TEST_CASE("the v1 reads answer from the store", "[persistence][reads]") {
  running_fixture f;
  auto other = f.schedule(f.task("echo other", t0 + 1000));
  REQUIRE(other);
  f.append(0, "hello ");
  f.append(6, "world\n");
  f.run();

  auto t = f.ask<task_info>(task_atom::value, f.job.task, int64_t{6});
  REQUIRE(t);
  CHECK(t->command == "echo running");
  REQUIRE(t->latest_run);
  CHECK(t->latest_run->id == f.job.run);
  CHECK(t->latest_run->status == run_status::running);
  CHECK(t->latest_run->output == "world\n");
  CHECK(t->latest_run->output_size == 12);

  auto tasks = f.ask<task_page>(list_atom::value, task_filter{});
  REQUIRE(tasks);
  REQUIRE(tasks->items.size() == 2);
  CHECK(tasks->items[0].id == other->id);  // newest first

  run_filter rf;
  rf.task = f.job.task;
  auto runs = f.ask<run_page>(list_atom::value, rf);
  REQUIRE(runs);
  REQUIRE(runs->items.size() == 1);
  CHECK(runs->items[0].id == f.job.run);

  auto r = f.ask<run_info>(run_atom::value, f.job.run, int64_t{1024});
  REQUIRE(r);
  CHECK(r->output == "hello world\n");

  auto piece = f.ask<output_slice>(output_atom::value, f.job.run, int64_t{6}, int64_t{3});
  REQUIRE(piece);
  CHECK(piece->offset == 6);
  CHECK(piece->data == "wor");
  CHECK(piece->next_offset == 9);
  CHECK_FALSE(piece->complete);

  auto missing = f.ask<run_info>(run_atom::value, run_id{9999}, int64_t{0});
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::not_found);
}

TEST_CASE("a read that meets an outage takes the database down until a reconnect",
          "[persistence][reads][outage]") {
  running_fixture f;
  f.store->down = true;
  auto t = f.ask<task_info>(task_atom::value, f.job.task, int64_t{0});
  REQUIRE_FALSE(t);
  CHECK(t.error() == ec::unavailable);
  CHECK(is_error(std::optional{f.ask<task_page>(list_atom::value, task_filter{})},
                 ec::unavailable));
  CHECK(is_error(std::optional{f.ask<run_page>(list_atom::value, run_filter{})},
                 ec::unavailable));
  CHECK(is_error(std::optional{f.ask<output_slice>(output_atom::value, f.job.run, int64_t{0},
                                                   int64_t{10})},
                 ec::unavailable));
  // Back, but persistence does not know yet: it answers unavailable until it reconnects.
  f.store->down = false;
  CHECK(is_error(std::optional{f.ping()}, ec::unavailable));
  f.advance(reconnect_min.count());
  CHECK(f.ping());
  CHECK(f.ask<run_info>(run_atom::value, f.job.run, int64_t{0}));
}

TEST_CASE("cancel and trigger are answered once committed, each with its own result",
          "[persistence][change]") {
  running_fixture f;
  auto idle = f.schedule(f.task("echo idle", t0 + 60'000));
  REQUIRE(idle);
  auto commits = f.store->commits.load();
  const request_key no_key{};
  auto& self = f.self;
  auto stop = self->request(f.db, caf::infinite, cancel_atom::value, f.job.task, t0 + 5, no_key);
  auto drop = self->request(f.db, caf::infinite, cancel_atom::value, idle->id, t0 + 5,
                            request_key{std::string{"k1"}, "cancel idle"});
  auto busy = self->request(f.db, caf::infinite, trigger_atom::value, f.job.task, t0 + 5, no_key);
  auto unknown = self->request(f.db, caf::infinite, cancel_atom::value, task_id{9999}, t0 + 5,
                               no_key);
  f.run();
  CHECK(f.store->commits == commits + 1);

  auto stopped = poll_reply<task_change>(self, stop);
  REQUIRE(stopped);
  REQUIRE(*stopped);
  CHECK((*stopped)->task.id == f.job.task);
  CHECK((*stopped)->stop_run == f.job.run);  // the running run is the caller's to stop
  auto dropped = poll_reply<task_change>(self, drop);
  REQUIRE(dropped);
  REQUIRE(*dropped);
  CHECK((*dropped)->task.state == task_state::cancelled);
  CHECK_FALSE((*dropped)->stop_run);
  CHECK_FALSE((*dropped)->replayed);
  // The cancel of a running task leaves a run in progress: no trigger meanwhile. (Its
  // order in the batch decides nothing here: the run is in progress either way.)
  CHECK(is_error(poll_reply<task_change>(self, busy), ec::invalid_state));
  CHECK(is_error(poll_reply<task_change>(self, unknown), ec::not_found));
  auto v = f.second_store()->get_task_info(idle->id, 0);
  REQUIRE(v);
  CHECK(v->state == task_state::cancelled);

  // A retry under the same key changes nothing and says so.
  auto again = f.ask<task_change>(cancel_atom::value, idle->id, t0 + 6,
                                  request_key{std::string{"k1"}, "cancel idle"});
  REQUIRE(again);
  CHECK(again->replayed);
}

TEST_CASE("a trigger makes a completed task due again, durably", "[persistence][change]") {
  running_fixture f;
  CHECK(f.finish(success_of(f.job, t0 + 1, t0 + 2, "done\n")));
  auto c = f.ask<task_change>(trigger_atom::value, f.job.task, t0 + 10, request_key{});
  REQUIRE(c);
  CHECK(c->task.state == task_state::active);
  CHECK(c->task.next_run_at == t0 + 10);
  auto v = f.second_store()->get_task_info(f.job.task, 0);
  REQUIRE(v);
  CHECK(v->next_run_at == t0 + 10);
  // During an outage a change is refused at once, never kept for later.
  f.store->down = true;
  auto refused = f.ask<task_change>(cancel_atom::value, f.job.task, t0 + 11, request_key{});
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ec::unavailable);
  f.store->down = false;
  f.advance(5000);
  v = f.second_store()->get_task_info(f.job.task, 0);
  REQUIRE(v);
  CHECK(v->state == task_state::active);
}

// -- outages seen over time, shutdown and the recovery file ----------------------------------

namespace {

/// What the log writes while it lives, at info: the log writes fd 2 itself, so fd 2 points
/// at a file meanwhile.
class captured_log {
public:
  captured_log() {
    char tmpl[] = "/tmp/ts-log-XXXXXX";
    fd_ = mkstemp(tmpl);
    REQUIRE(fd_ >= 0);
    path_ = tmpl;
    fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    dup2(fd_, STDERR_FILENO);
    log::set_level(log::level::info);
  }
  ~captured_log() {
    log::set_level(log::level::error);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(fd_);
    unlink(path_.c_str());
  }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  /// The lines of `event`.
  std::vector<std::string> lines(const std::string& event) const {
    std::ifstream in{path_};
    std::vector<std::string> out;
    auto tag = " event=" + event;
    for (std::string line; std::getline(in, line);) {
      auto at = line.find(tag);
      if (at != std::string::npos
          && (at + tag.size() == line.size() || line[at + tag.size()] == ' '))
        out.push_back(line);
    }
    return out;
  }

private:
  std::string path_;
  int fd_ = -1;
  int saved_ = -1;
};

/// A fresh directory, removed with its content also when a REQUIRE ends the test early.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const char* prefix) {
    std::string tmpl = std::string{"/tmp/"} + prefix + "-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

double storage_up(const ts::metrics& m) {
  std::istringstream in{m.render()};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("taskschedulizer_storage_up ", 0) == 0)
      return std::stod(line.substr(line.find(' ') + 1));
  FAIL("no taskschedulizer_storage_up");
  return -1;
}

/// A fixture whose persistence saves to a recovery file beside the database.
struct recovery_fixture {
  std::shared_ptr<recovery_file> file;
  persistence_fixture f{4096, 1 << 20, [this](persistence_options& o, const auto& dir) {
                          auto r = recovery_file::open((dir / "t.db.recovery").string());
                          REQUIRE(r);
                          REQUIRE_FALSE((*r)->reset(recovery_file::bytes_for(o.max_backlog_bytes)));
                          file = *r;
                          o.recovery = file;
                        }};
  claim job;

  /// A run claimed and started, committed.
  recovery_fixture() {
    auto r = f.schedule(f.task("echo held", t0));
    REQUIRE(r);
    auto c = f.claim_task(r->id, t0);
    REQUIRE(c);
    job = *c;
    f.self->send(f.db, started_atom::value, process_start{job.run, 4242, 4242, 777, t0 + 1});
    f.run();
  }

  auto stop(int64_t grace_ms) {
    return f.self->request(f.db, caf::infinite, shutdown_atom::value, grace_ms);
  }
};

} // namespace

TEST_CASE("a reconnect that works while commits fail backs off exponentially and logs the "
          "outage once",
          "[persistence][outage][backoff]") {
  auto m = ts::metrics::make();
  REQUIRE(m);
  auto meters = *m;
  persistence_fixture f{4096, 1 << 20, [&](persistence_options& o, const auto&) {
                          o.metrics = meters;
                        }};
  auto r = f.schedule(f.task("echo held", t0));
  REQUIRE(r);
  auto c = f.claim_task(r->id, t0);
  REQUIRE(c);
  captured_log log;
  // A full disk: every commit fails, while the connection (and each reconnect) is fine.
  f.store->commit_fails = true;
  CHECK(f.finish(success_of(*c, t0 + 1, t0 + 2, "held\n")));
  CHECK(storage_up(*meters) == 0);
  auto began = f.now();
  std::vector<int64_t> at;  // ms after the failed commit, one per reconnect
  while (f.now() - began < 70000) {
    auto before = f.store->reconnects.load();
    f.advance(10);
    if (f.store->reconnects > before)
      at.push_back(f.now() - began);
  }
  // 100, 200, 400 ... 5000 ms apart: 18 attempts in 70 s, where a reset after each
  // reconnect made one every 100 ms (700).
  INFO("reconnects at (ms): " << Catch::Detail::stringify(at));
  CHECK(at.size() == 18);
  int64_t expected = reconnect_min.count();
  for (size_t i = 0; i < at.size(); ++i) {
    auto gap = at[i] - (i == 0 ? 0 : at[i - 1]);
    CHECK(gap >= expected);
    CHECK(gap <= expected + 10);  // the steps of advance()
    expected = std::min<int64_t>(expected * 2, 5000);
  }
  CHECK(log.lines("database_down").size() == 1);
  CHECK(log.lines("database_up").empty());
  auto still = log.lines("database_still_down");
  REQUIRE(still.size() == 1);  // once a minute
  CHECK(has(still[0], "failures="));
  CHECK(storage_up(*meters) == 0);
  auto v = f.second_store()->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status != task_status::success);

  // Room on the disk again: the next attempt commits; the outage ends once, with its count.
  auto attempts = f.store->reconnects.load() + 1;
  f.store->commit_fails = false;
  f.advance(5000);
  auto up = log.lines("database_up");
  REQUIRE(up.size() == 1);
  CHECK(has(up[0], "attempts=" + std::to_string(attempts)));
  CHECK(has(up[0], "failures=" + std::to_string(attempts - 1)));
  CHECK(has(up[0], "confirmed_by=commit"));
  CHECK(has(up[0], "backlog=1"));
  CHECK(log.lines("database_down").size() == 1);
  CHECK(storage_up(*meters) == 1);
  v = f.second_store()->get_task(r->id);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->output == "held\n");

  // The next outage starts again from reconnect_min: a commit went through.
  f.store->commit_fails = true;
  CHECK(is_error(std::optional{f.schedule(f.task("echo refused", t0))}, ec::unavailable));
  auto before = f.store->reconnects.load();
  f.advance(reconnect_min.count());
  CHECK(f.store->reconnects == before + 1);
  CHECK(log.lines("database_down").size() == 2);
}

TEST_CASE("with nothing held, a failed write's outage ends at a commit or after a quiet "
          "probation, never at a reconnect alone",
          "[persistence][outage][backoff]") {
  persistence_fixture f;
  captured_log log;
  f.store->commit_fails = true;
  CHECK(is_error(std::optional{f.schedule(f.task("echo refused", t0))}, ec::unavailable));
  f.advance(reconnect_min.count());  // reconnects, pings: probing
  REQUIRE(f.store->reconnects == 1);
  CHECK(log.lines("database_up").empty());

  SECTION("a write that fails again is one more failed attempt, not a new outage") {
    CHECK(is_error(std::optional{f.schedule(f.task("echo again", t0))}, ec::unavailable));
    f.advance(190);
    CHECK(f.store->reconnects == 1);  // 200 ms after, not 100
    f.advance(10);
    CHECK(f.store->reconnects == 2);
    f.store->commit_fails = false;
    auto ok = f.schedule(f.task("echo through", t0));
    REQUIRE(ok);
    auto up = log.lines("database_up");
    REQUIRE(up.size() == 1);
    CHECK(has(up[0], "confirmed_by=commit"));
    CHECK(has(up[0], "failures=1"));
    CHECK(log.lines("database_down").size() == 1);
  }
  SECTION("no write for reconnect_max: the database answers, so it is up") {
    f.store->commit_fails = false;
    f.advance(4990);
    CHECK(log.lines("database_up").empty());
    f.advance(10);
    auto up = log.lines("database_up");
    REQUIRE(up.size() == 1);
    CHECK(has(up[0], "confirmed_by=ping"));
    CHECK(f.ping());
  }
}

TEST_CASE("a shutdown retries the held writes until its grace ends, then saves them to the "
          "recovery file",
          "[persistence][shutdown][recovery]") {
  recovery_fixture rf;
  auto& f = rf.f;
  captured_log log;
  f.store->commit_fails = true;
  f.self->send(f.db, append_atom::value, rf.job.run, int64_t{0}, std::string{"partial\n"});
  auto outcome = success_of(rf.job, t0 + 1, t0 + 9, "partial\nend\n");
  CHECK(f.finish(outcome));  // held
  auto begins = f.store->begins.load();
  auto stop = rf.stop(3000);
  f.run();
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, stop));
  f.advance(2990);
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, stop));
  // At once, then with backoff: at 0, 200, 600 and 1400 ms, and the last at the deadline.
  CHECK(f.store->begins - begins == 4);
  f.advance(20);
  CHECK(f.store->begins - begins == 5);
  auto r = poll_reply<caf::ok_atom>(f.self, stop);
  REQUIRE(r);
  REQUIRE_FALSE(*r);
  CHECK(r->error() == ec::unavailable);
  auto written = log.lines("recovery_written");
  REQUIRE(written.size() == 1);
  CHECK(has(written[0], "count=2"));
  CHECK(has(written[0], "outcomes=1"));
  CHECK(has(written[0], "lost_outcomes=0"));
  auto saved = rf.file->read();
  REQUIRE(saved);
  CHECK(saved->starts.empty());  // committed before the outage
  REQUIRE(saved->appends.size() == 1);
  CHECK(saved->appends[0].run == rf.job.run);
  CHECK(saved->appends[0].data == "partial\n");
  REQUIRE(saved->outcomes.size() == 1);
  CHECK(saved->outcomes[0].run == rf.job.run);
  CHECK(saved->outcomes[0].output == "partial\nend\n");
  CHECK(saved->outcomes[0].finished_at == t0 + 9);
  // No more attempts after the reply.
  f.advance(10000);
  CHECK(f.store->begins - begins == 5);
}

TEST_CASE("a shutdown whose database comes back within the grace writes everything and "
          "saves nothing",
          "[persistence][shutdown][recovery]") {
  recovery_fixture rf;
  auto& f = rf.f;
  captured_log log;
  f.store->down = true;
  CHECK(f.finish(success_of(rf.job, t0 + 1, t0 + 9, "late\n")));
  auto stop = rf.stop(10000);
  f.advance(1000);
  CHECK_FALSE(poll_reply<caf::ok_atom>(f.self, stop));
  f.store->down = false;
  f.advance(2000);
  auto r = poll_reply<caf::ok_atom>(f.self, stop);
  REQUIRE(r);
  CHECK(*r);
  CHECK(log.lines("recovery_written").empty());
  CHECK(log.lines("database_up").size() == 1);
  auto saved = rf.file->read();
  REQUIRE(saved);
  CHECK(saved->empty());
  auto v = f.second_store()->get_task(rf.job.task);
  REQUIRE(v);
  CHECK(v->status == task_status::success);
  CHECK(v->output == "late\n");
}

TEST_CASE("a shutdown with nothing held answers at once, also during an outage",
          "[persistence][shutdown]") {
  recovery_fixture rf;
  auto& f = rf.f;
  f.store->down = true;
  CHECK(is_error(std::optional{f.ping()}, ec::unavailable));
  auto stop = rf.stop(30000);
  f.run();
  auto r = poll_reply<caf::ok_atom>(f.self, stop);
  REQUIRE(r);
  CHECK(*r);
}

TEST_CASE("the recovery file refuses what it cannot trust", "[recovery]") {
  scratch_dir dir{"ts-recovery"};
  auto path = (dir.path / "r.recovery").string();
  auto f = recovery_file::open(path);
  REQUIRE(f);
  auto& file = **f;
  // Reserved and never written: nothing to replay.
  REQUIRE_FALSE(file.reset(recovery_file::bytes_for(4096)));
  CHECK(std::filesystem::file_size(path) == recovery_file::bytes_for(4096));
  auto empty = file.read();
  REQUIRE(empty);
  CHECK(empty->empty());

  held_writes w;
  w.starts.push_back(process_start{7, 70, 70, 700, t0});
  w.appends.push_back(output_piece{7, 0, std::string("out\0put\n", 8)});
  run_outcome o;
  o.run = 7;
  o.task = 3;
  o.status = task_status::failure;
  o.reason = run_reason::exit;
  o.exit_code = 2;
  o.output = "out";
  o.started_at = t0;
  o.finished_at = t0 + 5;
  w.outcomes.push_back(o);
  auto bytes = file.write(w);
  REQUIRE(bytes);
  auto back = file.read();
  REQUIRE(back);
  REQUIRE(back->count() == 3);
  CHECK(back->appends[0].data == std::string("out\0put\n", 8));
  CHECK(back->outcomes[0].exit_code == 2);
  CHECK_FALSE(back->outcomes[0].signal);

  auto patch = [&](size_t at, const std::string& bytes) {
    std::fstream io{path, std::ios::in | std::ios::out | std::ios::binary};
    io.seekp(static_cast<std::streamoff>(at));
    io.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  auto refused = [&](const std::string& why) {
    auto r = file.read();
    REQUIRE_FALSE(r);
    INFO(render(r.error()));
    CHECK(has(render(r.error()), why));
  };
  SECTION("a flipped payload byte") {
    patch(*bytes - 1, "\x7f");
    refused("checksum");
  }
  SECTION("cut short") {
    std::filesystem::resize_file(path, *bytes - 10);
    refused("truncated");
  }
  SECTION("cut inside the header") {
    std::filesystem::resize_file(path, 20);
    refused("truncated");
  }
  SECTION("another binary's records") {
    patch(16, "0123456789abcdef");
    refused("another record layout");
  }
  SECTION("not a recovery file") {
    patch(0, "SQLite f");
    refused("not a recovery file");
  }
}

TEST_CASE("a start replays the recovery file before crash recovery, idempotently, and refuses "
          "a corrupt one",
          "[system][recovery]") {
  scratch_dir dir{"ts-replay"};
  auto url = "sqlite:" + (dir.path / "t.db").string();
  auto path = (dir.path / "t.db.recovery").string();
  auto opened = storage::open_store(url);
  REQUIRE(opened);
  std::shared_ptr<storage::store> db{std::move(*opened)};
  // A run that was running when the last shutdown found the database away.
  REQUIRE_FALSE(db->begin());
  auto t = db->insert_task(persistence_fixture::task("echo saved", t0));
  REQUIRE(t);
  auto c = db->claim_run(t->id, t0);
  REQUIRE(c);
  REQUIRE_FALSE(db->record_start(process_start{c->run, 0, 0, 0, t0 + 1}));
  REQUIRE_FALSE(db->commit());
  held_writes w;
  w.appends.push_back(output_piece{c->run, 0, "saved\n"});
  w.outcomes.push_back(success_of(*c, t0 + 1, t0 + 2, "saved\n"));
  auto save = [&] {
    auto f = recovery_file::open(path);
    REQUIRE(f);
    auto bytes = (*f)->write(w);
    REQUIRE(bytes);
    return *bytes;
  };

  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto wall = std::make_shared<manual_wall_clock>(t0 * 1000 + 10'000'000);
  service_options opts;
  opts.recovery_path = path;
  auto start = [&] {
    return start_service(sys, db, std::make_shared<fake_runner>(wall), wall, opts);
  };
  captured_log log;
  save();
  for (int round = 0; round < 2; ++round) {
    // The second round: a start that stopped after the commit, before the file was emptied.
    if (round == 1)
      save();
    auto actors = start();
    REQUIRE(actors);
    CHECK_FALSE(stop_service(sys, *actors, 0));
    auto v = db->get_task(t->id);
    REQUIRE(v);
    CHECK(v->status == task_status::success);  // not interrupted
    CHECK(v->output == "saved\n");
    auto out = db->read_output(c->run, 0, 1024);
    REQUIRE(out);
    CHECK(out->data == "saved\n");
    auto left = recovery_file::open(path);
    REQUIRE(left);
    auto rest = (*left)->read();
    REQUIRE(rest);
    CHECK(rest->empty());
    // Reserved again for this run's shutdown.
    CHECK(std::filesystem::file_size(path) == recovery_file::bytes_for(opts.persistence.max_backlog_bytes));
  }
  auto replayed = log.lines("recovery_replayed");
  REQUIRE(replayed.size() == 2);
  CHECK(has(replayed[1], "count=2"));
  CHECK(has(replayed[1], "skipped=0"));
  CHECK(log.lines("run_interrupted_by_crash").empty());

  // Corrupt: the start is refused and the file kept for the operator.
  auto size = save() - 1;
  std::filesystem::resize_file(path, size);
  auto refused = start();
  if (refused)
    stop_service(sys, *refused, 0);
  REQUIRE_FALSE(refused);
  CHECK(has(render(refused.error()), "truncated"));
  CHECK(has(render(refused.error()), "move it away"));
  CHECK(std::filesystem::file_size(path) == size);
  CHECK(log.lines("recovery_refused").size() == 1);
}

// -- the executor over this persistence and a fake runner ------------------------------------

namespace {

struct executor_fixture : running_fixture {
  std::shared_ptr<fake_runner> runner = std::make_shared<fake_runner>(wall);
  std::shared_ptr<std::vector<run_id>> done = std::make_shared<std::vector<run_id>>();
  std::shared_ptr<std::vector<std::pair<task_id, millis>>> rearmed =
    std::make_shared<std::vector<std::pair<task_id, millis>>>();
  coordinator_actor coord = sys.spawn(fake_coordinator, done, rearmed);
  executor_actor exec;

  /// Spawns the executor of the claimed run, which prepares its process held, and releases
  /// it at once, as the coordinator does at the due time.
  void spawn() {
    exec = sys.spawn(executor, job, persistence_actor{db}, coord,
                     std::shared_ptr<process_runner>{runner}, std::shared_ptr<wall_clock>{wall},
                     std::shared_ptr<ts::metrics>{});
    self->send(exec, release_atom::value);
  }

  ~executor_fixture() {
    runner->end_all();
    drain();
    runner->processes.clear();  // the handlers hold the executor
    self->send_exit(coord, caf::exit_reason::user_shutdown);
    drain();
  }

  caf::expected<run_info> stored_run() {
    return second_store()->get_run(job.run, 1024);
  }

  int32_t pgid() const {
    return runner->processes.at(0).spawned.pgid;
  }
};

} // namespace

TEST_CASE("the executor stores a running command's output in pieces, every so often",
          "[executor][output]") {
  executor_fixture f;
  f.job.output_limit_bytes = 1000;
  f.spawn();
  f.run();
  REQUIRE(f.runner->processes.size() == 1);
  CHECK(f.runner->processes[0].options.output_limit == 1000);
  auto commits = f.store->commits.load();

  std::string lines;
  for (int i = 0; i < 10; ++i) {
    lines += "line " + std::to_string(i) + "\n";
    f.runner->write(0, "line " + std::to_string(i) + "\n");
  }
  f.run();
  // Gathered, not a write per line...
  CHECK(f.follow().data.empty());
  CHECK(f.store->commits == commits);
  // ...until the flush interval has passed: then one write, read while the command runs.
  f.advance(defaults::output_flush_interval.count());
  CHECK(f.follow().data == lines);
  CHECK(f.store->commits == commits + 1);
  f.runner->write(0, "more\n");
  f.advance(defaults::output_flush_interval.count());
  CHECK(f.follow().data == lines + "more\n");
  // Offsets count the stream's bytes from 0.
  CHECK(f.follow(static_cast<int64_t>(lines.size())).data == "more\n");
  // A large piece goes at once. (The store keeps the task's 64 KiB tail in whole pieces:
  // a read from 0 starts at the oldest piece kept.)
  std::string big(defaults::output_flush_bytes, 'x');
  f.runner->write(0, big);
  f.run();
  auto before_big = static_cast<int64_t>(lines.size() + 5);
  auto s = f.follow();
  CHECK(s.offset == before_big);
  CHECK(s.next_offset == before_big + static_cast<int64_t>(big.size()));
  // The rest goes before the outcome, which keeps the tail the runner reports.
  f.runner->write(0, "last\n");
  f.runner->end(0, 0, std::nullopt, "x\nlast\n");
  f.run();
  s = f.follow();
  CHECK(s.offset == before_big);
  bool whole_rest = s.data == big + "last\n";  // (not printed: 256 KiB)
  CHECK(whole_rest);
  CHECK(s.complete);
  auto r = f.stored_run();
  REQUIRE(r);
  CHECK(r->status == run_status::success);
  CHECK(r->output == "x\nlast\n");
  CHECK(*f.done == std::vector<run_id>{f.job.run});
}

TEST_CASE("a cancel stops the command with SIGTERM then SIGKILL and ends the run cancelled",
          "[executor][cancel]") {
  executor_fixture f;
  f.spawn();
  f.run();
  using signals = std::vector<std::pair<int32_t, int>>;
  f.self->send(f.exec, cancel_atom::value);
  f.run();
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}});
  // Another cancel, or the shutdown's kill, does not cut the grace short...
  f.advance(1000);
  f.self->send(f.exec, cancel_atom::value);
  f.self->send(f.exec, kill_atom::value, int64_t{60000});
  auto grace = f.job.controls.kill_grace_ms;
  f.advance(grace - 1000 - 10);
  CHECK(f.runner->signals.size() == 1);
  // ...which ends with SIGKILL.
  f.advance(10);
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}, {f.pgid(), SIGKILL}});
  f.runner->end(0, 0, SIGKILL);
  f.run();
  auto r = f.stored_run();
  REQUIRE(r);
  CHECK(r->status == run_status::failure);
  CHECK(r->reason == run_reason::cancelled);  // a cancel wins over the shutdown's kill
  CHECK(*f.done == std::vector<run_id>{f.job.run});
}

TEST_CASE("a shutdown kill still ends the run interrupted", "[executor][cancel]") {
  executor_fixture f;
  f.spawn();
  f.run();
  f.self->send(f.exec, kill_atom::value, int64_t{5000});
  f.run();
  f.runner->end(0, 0, SIGTERM);
  f.run();
  auto r = f.stored_run();
  REQUIRE(r);
  CHECK(r->status == run_status::failure);
  CHECK(r->reason == run_reason::interrupted);
}

TEST_CASE("a cancel after the exit or of a start that failed changes nothing",
          "[executor][cancel]") {
  SECTION("after the exit") {
    executor_fixture f;
    f.spawn();
    f.run();
    f.runner->end(0, 0, std::nullopt, "ok\n");
    f.self->send(f.exec, cancel_atom::value);  // behind the exit in the mailbox
    f.run();
    CHECK(f.runner->signals.empty());
    auto r = f.stored_run();
    REQUIRE(r);
    CHECK(r->status == run_status::success);
    CHECK(r->reason == run_reason::none);
  }
  SECTION("before a start that failed") {
    executor_fixture f;
    f.runner->fail_starts = true;
    f.spawn();
    f.self->send(f.exec, cancel_atom::value);
    f.run();
    CHECK(f.runner->signals.empty());
    auto r = f.stored_run();
    REQUIRE(r);
    CHECK(r->status == run_status::failure);
    CHECK(r->reason == run_reason::start_failed);
    CHECK(*f.done == std::vector<run_id>{f.job.run});
  }
}

TEST_CASE("a shutdown caps the kill grace a cancel started", "[executor][cancel]") {
  executor_fixture f;
  f.job.controls.kill_grace_ms = 30000;
  f.spawn();
  f.run();
  using signals = std::vector<std::pair<int32_t, int>>;
  f.self->send(f.exec, cancel_atom::value);
  f.run();
  f.advance(1000);
  // Shutdown: at most 2 s more, not the 29 s the cancel's grace has left.
  f.self->send(f.exec, kill_atom::value, int64_t{2000});
  f.advance(1990);
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}});
  f.advance(20);
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}, {f.pgid(), SIGKILL}});
}

TEST_CASE("timeout_s stops the command and ends the run timeout", "[executor][timeout]") {
  executor_fixture f;
  f.job.controls.timeout_ms = 1500;
  f.job.controls.kill_grace_ms = 3000;
  f.spawn();
  f.run();
  using signals = std::vector<std::pair<int32_t, int>>;
  f.advance(1490);
  CHECK(f.runner->signals.empty());
  f.advance(20);
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}});
  // It ignores SIGTERM: SIGKILL after the task's kill grace (SIGTERM went at 1500).
  f.advance(2980);
  CHECK(f.runner->signals.size() == 1);
  f.advance(20);
  CHECK(f.runner->signals == signals{{f.pgid(), SIGTERM}, {f.pgid(), SIGKILL}});
  f.runner->end(0, 0, SIGKILL);
  f.run();
  auto r = f.stored_run();
  REQUIRE(r);
  CHECK(r->status == run_status::failure);
  CHECK(r->reason == run_reason::timeout);
  REQUIRE(r->message);
  CHECK(r->message->find("timeout_s") != std::string::npos);
}

TEST_CASE("a command that ends before its timeout is not signalled", "[executor][timeout]") {
  executor_fixture f;
  f.job.controls.timeout_ms = 1000;
  f.spawn();
  f.run();
  f.runner->end(0, 0);
  f.run();
  f.advance(5000);
  CHECK(f.runner->signals.empty());
  auto r = f.stored_run();
  REQUIRE(r);
  CHECK(r->status == run_status::success);
}

TEST_CASE("a failed attempt with attempts left is armed again after its delay",
          "[executor][retry]") {
  executor_fixture f;
  f.job.controls.retry.max_attempts = 3;
  f.job.controls.retry.delay_ms = 4000;
  f.job.controls.retry.jitter = retry_jitter::equal;
  f.spawn();
  f.run();
  f.runner->end(0, 1);
  f.run();
  REQUIRE(f.rearmed->size() == 1);
  auto [task, at] = f.rearmed->front();
  CHECK(task == f.job.task);
  auto now = f.wall->now_ms();
  // Equal jitter: between half the delay and the delay after the end.
  CHECK(at >= now + 2000 - 50);
  CHECK(at <= now + 4000 + 50);
  CHECK(*f.done == std::vector<run_id>{f.job.run});
}

TEST_CASE("no retry for success, cancel, the last attempt, or an interrupt by default",
          "[executor][retry]") {
  SECTION("success") {
    executor_fixture f;
    f.job.controls.retry.max_attempts = 3;
    f.spawn();
    f.run();
    f.runner->end(0, 0);
    f.run();
    CHECK(f.rearmed->empty());
  }
  SECTION("cancel") {
    executor_fixture f;
    f.job.controls.retry.max_attempts = 3;
    f.spawn();
    f.run();
    f.self->send(f.exec, cancel_atom::value);
    f.run();
    f.runner->end(0, 0, SIGTERM);
    f.run();
    CHECK(f.rearmed->empty());
  }
  SECTION("the last attempt") {
    executor_fixture f;
    f.job.controls.retry.max_attempts = 3;
    f.job.attempt = 3;
    f.spawn();
    f.run();
    f.runner->end(0, 1);
    f.run();
    CHECK(f.rearmed->empty());
  }
  SECTION("interrupted") {
    executor_fixture f;
    f.job.controls.retry.max_attempts = 3;
    f.spawn();
    f.run();
    f.self->send(f.exec, kill_atom::value, int64_t{5000});
    f.run();
    f.runner->end(0, 0, SIGTERM);
    f.run();
    CHECK(f.rearmed->empty());
  }
}
