// The storage conformance suite: every case in the first part runs unchanged against each
// backend, a fresh SQLite file always and MariaDB when TS_TEST_MYSQL_URL names one
// (mysql://USER:PASSWORD@HOST:PORT/DATABASE). For MariaDB each case starts by dropping the
// schema's tables (request_keys, run_output, task_labels, runs, tasks, schema_version) through
// a raw client connection, so the store creates them again: the user only needs rights on
// that one database, and cases stay independent. The second part covers what only SQLite has
// (files, folders, locks).
#include "storage/store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <mysql.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.hpp"
#include "storage/db_url.hpp"
#include "storage/list_query.hpp"
#include "storage/mysql/mysql_sql.hpp"
#include "storage/sqlite/sqlite_sql.hpp"
#include "tests/storage/controls_check.hpp"
#include "tests/support/store_test_support.hpp"

#include "tests/storage/store_cases.hpp"

using namespace ts::test::store_cases;
using ts::test::check_controls;

// -- the conformance suite --------------------------------------------------------------------

TEST_CASE("a new store answers ping and names its backend", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  CHECK(std::string{s->backend()} == db.kind());
  ok(s->ping());
  ok(s->reconnect());
  ok(s->ping());
  CHECK(pending_of(*s).empty());
}

TEST_CASE("an inserted task reads back with every field", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  new_task t;
  t.command = "echo hello";
  t.due = 1727024400123;        // 2024-09-22T17:00:00.123Z
  t.created_at = 1727020000457; // milliseconds survive
  auto rec = insert(*s, t);
  CHECK(rec.id > 0);
  CHECK(rec.command == t.command);
  CHECK(rec.due == t.due);
  CHECK(rec.created_at == t.created_at);
  CHECK(rec.status == task_status::pending);
  CHECK_FALSE(rec.replayed);

  auto v = ok(s->get_task(rec.id));
  CHECK(v.id == rec.id);
  CHECK(v.command == "echo hello");
  CHECK(v.due == 1727024400123);
  CHECK(v.created_at == 1727020000457);
  CHECK(v.status == task_status::pending);
  CHECK_FALSE(v.run);
  CHECK(v.reason == run_reason::none);
  CHECK_FALSE(v.exit_code);
  CHECK_FALSE(v.signal);
  CHECK(v.output.empty());
  CHECK_FALSE(v.output_truncated);
  CHECK_FALSE(v.started_at);
  CHECK_FALSE(v.finished_at);

  // The extremes of the accepted range: 1970 and the last millisecond of 9999.
  auto early = insert(*s, make_task("true", 0));
  auto late = insert(*s, make_task("true", 253402300799999));
  CHECK(ok(s->get_task(early.id)).due == 0);
  CHECK(ok(s->get_task(late.id)).due == 253402300799999);
  CHECK(ok(s->get_task(late.id)).created_at == 253402300798999);
}

TEST_CASE("ids increase", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  std::vector<task_id> ids;
  ok(s->begin());
  for (int i = 0; i < 5; ++i)
    ids.push_back(ok(s->insert_task(make_task("true", 1000 + i))).id);
  ok(s->commit());
  for (int i = 0; i < 3; ++i)
    ids.push_back(insert(*s, make_task("true", 2000 + i)).id);
  for (size_t i = 1; i < ids.size(); ++i)
    CHECK(ids[i] > ids[i - 1]);
}

TEST_CASE("unknown ids are not found", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("true", 1000)).id;
  CHECK(code_of(s->get_task(id + 1000).error()) == ec::not_found);
  CHECK(code_of(s->get_task(0).error()) == ec::not_found);
  CHECK(code_of(s->get_task(-5).error()) == ec::not_found);

  ok(s->begin());
  CHECK(code_of(s->claim_run(id + 1000, 5).error()) == ec::not_found);
  CHECK(code_of(s->unclaim_run(424242)) == ec::not_found);
  process_start p;
  p.run = 424242;
  p.pid = 1;
  CHECK(code_of(s->record_start(p)) == ec::not_found);
  run_outcome o;
  o.run = 424242;
  o.task = id;
  o.status = task_status::success;
  CHECK(code_of(s->finish_run(o)) == ec::not_found);
  // Refusals leave the transaction usable.
  auto other = ok(s->insert_task(make_task("true", 2000)));
  ok(s->commit());
  CHECK(ok(s->get_task(other.id)).status == task_status::pending);
  CHECK(ok(s->get_task(id)).status == task_status::pending);
}

TEST_CASE("a run goes pending -> claimed (pending) -> running -> success", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("echo hi", 1727024400000);
  auto id = insert(*s, t).id;

  auto c = claim_one(*s, id, 1727024399990);
  CHECK(c.run > 0);
  CHECK(c.task == id);
  CHECK(c.command == "echo hi");
  CHECK(c.due == 1727024400000);
  auto v = ok(s->get_task(id));
  // Claimed, but no process yet: pending until record_start (schema 2, issue 10).
  CHECK(v.status == task_status::pending);
  CHECK(v.run == c.run);
  CHECK(v.reason == run_reason::none);
  CHECK_FALSE(v.started_at);
  CHECK_FALSE(v.finished_at);
  CHECK_FALSE(v.exit_code);

  process_start p{c.run, 4242, 4242, 123456789012ull, 1727024400002};
  write_tx(*s, [&] { return s->record_start(p); });
  v = ok(s->get_task(id));
  CHECK(v.status == task_status::running);
  CHECK(v.started_at == 1727024400002);

  run_outcome o;
  o.run = c.run;
  o.task = id;
  o.status = task_status::success;
  o.reason = run_reason::none;
  o.exit_code = 0;
  o.output = "hi\n";
  o.started_at = 1727024400002;
  o.finished_at = 1727024400015;
  write_tx(*s, [&] { return s->finish_run(o); });
  v = ok(s->get_task(id));
  CHECK(v.status == task_status::success);
  CHECK(v.run == c.run);
  CHECK(v.reason == run_reason::none);
  CHECK(v.exit_code == 0);
  CHECK_FALSE(v.signal);
  CHECK(v.output == "hi\n");
  CHECK_FALSE(v.output_truncated);
  CHECK(v.started_at == 1727024400002);
  CHECK(v.finished_at == 1727024400015);
  CHECK(pending_of(*s).empty());
}

TEST_CASE("failures record exit code, signal, reason, truncation and times", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto exit_id = insert(*s, make_task("exit 3", 10000)).id;
  auto signal_id = insert(*s, make_task("kill -9 $$", 10000)).id;
  auto nostart_id = insert(*s, make_task("/nonexistent", 10000)).id;
  auto late_start_id = insert(*s, make_task("true", 10000)).id;

  SECTION("exit code") {
    auto c = claim_one(*s, exit_id, 10000);
    write_tx(*s, [&] { return s->record_start({c.run, 100, 100, 5, 10001}); });
    run_outcome o;
    o.run = c.run;
    o.task = exit_id;
    o.status = task_status::failure;
    o.reason = run_reason::exit;
    o.exit_code = 3;
    o.output = "oops\n";
    o.finished_at = 10050;
    write_tx(*s, [&] { return s->finish_run(o); });
    auto v = ok(s->get_task(exit_id));
    CHECK(v.status == task_status::failure);
    CHECK(v.reason == run_reason::exit);
    CHECK(v.exit_code == 3);
    CHECK_FALSE(v.signal);
    CHECK(v.output == "oops\n");
    CHECK(v.started_at == 10001); // kept from record_start: the outcome had none
    CHECK(v.finished_at == 10050);
  }
  SECTION("signal, truncated output") {
    auto c = claim_one(*s, signal_id, 10000);
    write_tx(*s, [&] { return s->record_start({c.run, 101, 101, 6, 10002}); });
    run_outcome o;
    o.run = c.run;
    o.task = signal_id;
    o.status = task_status::failure;
    o.reason = run_reason::signal;
    o.signal = 9;
    o.output = "tail of a long output";
    o.output_truncated = true;
    o.started_at = 10002;
    o.finished_at = 10060;
    write_tx(*s, [&] { return s->finish_run(o); });
    auto v = ok(s->get_task(signal_id));
    CHECK(v.status == task_status::failure);
    CHECK(v.reason == run_reason::signal);
    CHECK_FALSE(v.exit_code);
    CHECK(v.signal == 9);
    CHECK(v.output_truncated);
    CHECK(v.output == "tail of a long output");
    CHECK(v.started_at == 10002);
    CHECK(v.finished_at == 10060);
  }
  SECTION("start failed: never started") {
    auto c = claim_one(*s, nostart_id, 10000);
    run_outcome o;
    o.run = c.run;
    o.task = nostart_id;
    o.status = task_status::failure;
    o.reason = run_reason::start_failed;
    o.output = "cannot start";
    o.finished_at = 10003;
    write_tx(*s, [&] { return s->finish_run(o); });
    auto v = ok(s->get_task(nostart_id));
    CHECK(v.status == task_status::failure);
    CHECK(v.reason == run_reason::start_failed);
    CHECK_FALSE(v.exit_code);
    CHECK_FALSE(v.signal);
    CHECK_FALSE(v.started_at);
    CHECK(v.finished_at == 10003);
  }
  SECTION("the start time can come with the outcome") {
    auto c = claim_one(*s, late_start_id, 10000);
    run_outcome o;
    o.run = c.run;
    o.task = late_start_id;
    o.status = task_status::success;
    o.exit_code = 0;
    o.started_at = 10004;
    o.finished_at = 10005;
    write_tx(*s, [&] { return s->finish_run(o); });
    auto v = ok(s->get_task(late_start_id));
    CHECK(v.status == task_status::success);
    CHECK(v.started_at == 10004);
    CHECK(v.finished_at == 10005);
  }
  // The other tasks were untouched.
  CHECK(pending_of(*s).size() == 3);
}

TEST_CASE("a run ends only as success or failure", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("true", 1000)).id;
  auto c = claim_one(*s, id, 1000);
  ok(s->begin());
  for (auto status : {task_status::pending, task_status::running}) {
    CAPTURE(to_string(status));
    run_outcome o;
    o.run = c.run;
    o.task = id;
    o.status = status;
    o.finished_at = 1001;
    CHECK(code_of(s->finish_run(o)) == ec::invalid_argument);
  }
  ok(s->commit());
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);  // claimed, never started (issue 10)
  CHECK(ok(s->get_run(c.run, 100)).status == run_status::starting);
  CHECK_FALSE(v.finished_at);
}

TEST_CASE("a task shows its latest run's reason where the task's copy disagrees",
          "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto c = failed_by_exit(*s);
  auto id = c.task;
  CHECK(ok(s->get_task(id)).reason == run_reason::exit);
  // tasks.reason is a copy (SCHEMA.md); the run's row records what happened.
  db.exec("UPDATE tasks SET reason = 'signal' WHERE id = " + std::to_string(id));
  CHECK(ok(s->get_task(id)).reason == run_reason::exit);
  // A run without a reason leaves the task's.
  db.exec("UPDATE runs SET reason = NULL WHERE id = " + std::to_string(c.run));
  CHECK(ok(s->get_task(id)).reason == run_reason::signal);
}

TEST_CASE("a status or reason the store does not know is a storage failure", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto c = failed_by_exit(*s);
  auto id = c.task;
  // Never read as "none": a reader must not mistake damage for a clean run.
  db.exec("UPDATE runs SET reason = 'bogus' WHERE id = " + std::to_string(c.run));
  CHECK(code_of(error_of(s->get_task(id))) == ec::storage_failure);
  db.exec("UPDATE runs SET reason = 'exit' WHERE id = " + std::to_string(c.run));
  db.exec("UPDATE tasks SET status = 'bogus' WHERE id = " + std::to_string(id));
  CHECK(code_of(error_of(s->get_task(id))) == ec::storage_failure);
}

TEST_CASE("a task is claimed at most once", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("true", 1000)).id;
  auto first = claim_one(*s, id, 1000);

  ok(s->begin());
  CHECK(code_of(s->claim_run(id, 1001).error()) == ec::not_pending);
  // Both claims in one transaction: the second still fails.
  auto other = ok(s->insert_task(make_task("true", 1000))).id;
  ok(s->claim_run(other, 1002));
  CHECK(code_of(s->claim_run(other, 1003).error()) == ec::not_pending);
  ok(s->commit());

  run_outcome o;
  o.run = first.run;
  o.task = id;
  o.status = task_status::success;
  o.exit_code = 0;
  o.finished_at = 1010;
  write_tx(*s, [&] { return s->finish_run(o); });
  ok(s->begin());
  CHECK(code_of(s->claim_run(id, 1020).error()) == ec::not_pending);
  s->rollback();
  CHECK(ok(s->get_task(id)).run == first.run);
}

TEST_CASE("unclaim restores pending and the latest run", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("true", 5000)).id;
  auto c = claim_one(*s, id, 4990);
  CHECK(pending_of(*s).empty());

  write_tx(*s, [&] { return s->unclaim_run(c.run); });
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK_FALSE(v.run);
  CHECK(v.reason == run_reason::none);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
  CHECK(pending[0].due == 5000);

  // The run is gone, and a new claim gets a new run id.
  ok(s->begin());
  CHECK(code_of(s->unclaim_run(c.run)) == ec::not_found);
  s->rollback();
  auto again = claim_one(*s, id, 5000);
  CHECK(again.run != c.run);
  CHECK(ok(s->get_task(id)).run == again.run);

  // Once the process started, the claim cannot be undone: it would run twice.
  write_tx(*s, [&] { return s->record_start({again.run, 77, 77, 1, 5001}); });
  ok(s->begin());
  CHECK(code_of(s->unclaim_run(again.run)) == ec::not_pending);
  s->rollback();
  v = ok(s->get_task(id));
  CHECK(v.status == task_status::running);
  CHECK(v.run == again.run);
}

TEST_CASE("load_pending lists exactly the pending tasks", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  std::vector<task_id> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(insert(*s, make_task("true", 100000 - i * 7)).id);
  auto c1 = claim_one(*s, ids[1], 1);
  claim_one(*s, ids[4], 1);
  auto c6 = claim_one(*s, ids[6], 1);
  run_outcome o;
  o.run = c1.run;
  o.task = ids[1];
  o.status = task_status::success;
  o.exit_code = 0;
  o.finished_at = 2;
  write_tx(*s, [&] { return s->finish_run(o); });
  write_tx(*s, [&] { return s->unclaim_run(c6.run); });

  auto pending = pending_of(*s);
  std::vector<task_id> expected{ids[0], ids[2], ids[3], ids[5], ids[6], ids[7]};
  REQUIRE(pending.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(pending[i].id == expected[i]);
    auto index = std::find(ids.begin(), ids.end(), expected[i]) - ids.begin();
    CHECK(pending[i].due == 100000 - index * 7);
  }
}

TEST_CASE("interrupt_running fails every running run and returns its process", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto started = insert(*s, make_task("sleep 100", 1000)).id;
  auto unstarted = insert(*s, make_task("sleep 100", 1000)).id;
  auto done = insert(*s, make_task("true", 1000)).id;
  auto waiting = insert(*s, make_task("true", 99999)).id;
  auto c_started = claim_one(*s, started, 1000);
  auto c_unstarted = claim_one(*s, unstarted, 1000);
  auto c_done = claim_one(*s, done, 1000);
  // 2^40 ticks: more than 32 bits survive.
  write_tx(*s, [&] { return s->record_start({c_started.run, 31337, 31330, 1099511627776ull, 1001}); });
  write_tx(*s, [&] { return s->record_start({c_done.run, 31338, 31338, 17, 1001}); });
  run_outcome o;
  o.run = c_done.run;
  o.task = done;
  o.status = task_status::success;
  o.exit_code = 0;
  o.finished_at = 1002;
  write_tx(*s, [&] { return s->finish_run(o); });

  auto orphans = ok(s->interrupt_running(5000));
  REQUIRE(orphans.size() == 2);
  std::sort(orphans.begin(), orphans.end(),
            [](const orphan_run& a, const orphan_run& b) { return a.run < b.run; });
  CHECK(orphans[0].run == c_started.run);
  CHECK(orphans[0].task == started);
  REQUIRE(orphans[0].process);
  CHECK(orphans[0].process->run == c_started.run);
  CHECK(orphans[0].process->pid == 31337);
  CHECK(orphans[0].process->pgid == 31330);
  CHECK(orphans[0].process->start_ticks == 1099511627776ull);
  CHECK(orphans[0].process->started_at == 1001);
  CHECK(orphans[1].run == c_unstarted.run);
  CHECK(orphans[1].task == unstarted);
  CHECK_FALSE(orphans[1].process); // never recorded as started, alike on both backends

  auto v = ok(s->get_task(started));
  CHECK(v.status == task_status::failure);
  CHECK(v.reason == run_reason::interrupted);
  CHECK(v.run == c_started.run);
  CHECK(v.started_at == 1001);
  CHECK(v.finished_at == 5000);
  CHECK_FALSE(v.exit_code);
  v = ok(s->get_task(unstarted));
  CHECK(v.status == task_status::failure);
  CHECK(v.reason == run_reason::interrupted);
  CHECK_FALSE(v.started_at);
  CHECK(v.finished_at == 5000);
  v = ok(s->get_task(done));
  CHECK(v.status == task_status::success);
  CHECK(v.finished_at == 1002);
  CHECK(ok(s->get_task(waiting)).status == task_status::pending);

  // Nothing is left running; an interrupted task is not claimable again.
  CHECK(ok(s->interrupt_running(6000)).empty());
  ok(s->begin());
  CHECK(code_of(s->claim_run(started, 7000).error()) == ec::not_pending);
  s->rollback();
}

TEST_CASE("a large multibyte output round-trips byte for byte", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  // 64 KiB plus a little (the output bound keeps whole characters), 1- to 4-byte sequences.
  std::string output;
  const std::string pieces[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\n",
                                "\t\r\x1b[31m"};
  for (size_t i = 0; output.size() < 65536 + 100; ++i)
    output += pieces[i % 6];
  auto id = insert(*s, make_task("yes | head -c 100000", 1000)).id;
  auto c = claim_one(*s, id, 1000);
  run_outcome o;
  o.run = c.run;
  o.task = id;
  o.status = task_status::success;
  o.exit_code = 0;
  o.output = output;
  o.output_truncated = true;
  o.started_at = 1000;
  o.finished_at = 2000;
  write_tx(*s, [&] { return s->finish_run(o); });
  auto v = ok(s->get_task(id));
  CHECK(v.output.size() == output.size());
  CHECK(v.output == output);
  CHECK(v.output_truncated);
}

TEST_CASE("unicode and SQL-like commands round-trip", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  const std::string commands[] = {
    "echo \xF0\x9F\x98\x80 \xF0\x9F\x8E\x89",                      // emoji
    "echo \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", // ZWJ
    "echo \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE4\xB8\xAD\xE6\x96\x87",  // CJK
    "echo e\xCC\x81 n\xCC\x83 a\xCC\x8A\xCC\x81",                  // combining marks
    "echo \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",                       // right to left
    "echo 'it''s' \"quoted\" back\\slash \\\\ \\' \\\"",
    "'; DROP TABLE tasks; --",
    "\"); DELETE FROM runs; /*",
    "echo %s %d %% _ ? ?1 :name $1 @x",
    "printf 'a\\tb\\n'\nsecond line\r\nthird",
  };
  std::vector<task_id> ids;
  for (auto& cmd : commands)
    ids.push_back(insert(*s, make_task(cmd, 1000)).id);
  for (size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(i);
    CHECK(ok(s->get_task(ids[i])).command == commands[i]);
    CHECK(claim_one(*s, ids[i], 1000).command == commands[i]);
  }
  // The tables are all still there.
  auto after = insert(*s, make_task("true", 1000)).id;
  CHECK(ok(s->get_task(after)).status == task_status::pending);
}

TEST_CASE("idempotency keys replay or conflict", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("echo once", 5000, "key-1", "hash-a");
  auto changed = make_task("echo other", 6000, "key-1", "hash-b");

  SECTION("inside one transaction") {
    ok(s->begin());
    auto first = ok(s->insert_task(t));
    CHECK_FALSE(first.replayed);
    auto again = ok(s->insert_task(t));
    CHECK(again.replayed);
    CHECK(again.id == first.id);
    CHECK(again.command == "echo once");
    CHECK(again.due == 5000);
    CHECK(again.created_at == t.created_at);
    CHECK(code_of(s->insert_task(changed).error()) == ec::idempotency_conflict);
    // The refusal did not spoil the transaction.
    auto other = ok(s->insert_task(make_task("echo next", 7000, "key-2", "hash-a")));
    CHECK(other.id != first.id);
    ok(s->commit());
    CHECK(ok(s->get_task(first.id)).command == "echo once");
    CHECK(ok(s->get_task(other.id)).command == "echo next");
    CHECK(pending_of(*s).size() == 2);
  }
  SECTION("across transactions, after the task ran") {
    auto first = insert(*s, t);
    auto c = claim_one(*s, first.id, 5000);
    auto again = insert(*s, t);
    CHECK(again.replayed);
    CHECK(again.id == first.id);
    CHECK(again.status == task_status::running);
    ok(s->begin());
    CHECK(code_of(s->insert_task(changed).error()) == ec::idempotency_conflict);
    s->rollback();
    CHECK(pending_of(*s).empty());
    CHECK(ok(s->get_task(first.id)).run == c.run);
  }
  SECTION("without a key, every insert is a new task") {
    auto a = insert(*s, make_task("true", 1000));
    auto b = insert(*s, make_task("true", 1000));
    CHECK(a.id != b.id);
    CHECK_FALSE(b.replayed);
    // An empty hash is a hash like any other.
    auto k1 = insert(*s, make_task("true", 1000, "k", ""));
    auto k2 = insert(*s, make_task("true", 1000, "k", ""));
    CHECK(k2.replayed);
    CHECK(k2.id == k1.id);
  }
}

TEST_CASE("rollback discards a transaction", "[store]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  s->rollback(); // safe without a transaction
  auto kept = insert(*s, make_task("true", 1000)).id;

  ok(s->begin());
  auto dropped = ok(s->insert_task(make_task("echo gone", 1000, "key", "h1")));
  ok(s->claim_run(kept, 1000));
  s->rollback();
  s->rollback();
  CHECK(code_of(s->get_task(dropped.id).error()) == ec::not_found);
  CHECK(ok(s->get_task(kept)).status == task_status::pending);
  CHECK_FALSE(ok(s->get_task(kept)).run);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == kept);
  // The key was never used.
  auto fresh = insert(*s, make_task("echo new", 1000, "key", "h2"));
  CHECK_FALSE(fresh.replayed);
}

TEST_CASE("a database with a newer schema is refused", "[store]") {
  WITH_EACH_BACKEND(db);
  db.open().reset(); // creates the schema
  db.set_schema_version(99);
  auto s = db.try_open();
  REQUIRE_FALSE(s);
  CHECK(code_of(s.error()) == ec::schema_too_new);
  CHECK(render(s.error())
        == "schema_too_new: database schema version 99 is newer than this binary supports ("
             + std::to_string(storage::schema_version) + ")");
  // The current version opens again.
  db.set_schema_version(storage::schema_version);
  ok(db.open()->ping());
}

TEST_CASE("everything survives closing and reopening", "[store]") {
  WITH_EACH_BACKEND(db);
  std::vector<task_view> before;
  std::vector<task_id> ids;
  {
    auto s = db.open();
    for (int i = 0; i < 4; ++i)
      ids.push_back(insert(*s, make_task("echo " + std::to_string(i), 1000 + i,
                                         "k" + std::to_string(i), "h"))
                      .id);
    auto c0 = claim_one(*s, ids[0], 1000);
    auto c1 = claim_one(*s, ids[1], 1001);
    write_tx(*s, [&] { return s->record_start({c0.run, 900, 900, 12, 1002}); });
    write_tx(*s, [&] { return s->record_start({c1.run, 901, 901, 13, 1003}); });
    run_outcome o;
    o.run = c0.run;
    o.task = ids[0];
    o.status = task_status::failure;
    o.reason = run_reason::exit;
    o.exit_code = 1;
    o.output = "out";
    o.finished_at = 1100;
    write_tx(*s, [&] { return s->finish_run(o); });
    for (auto id : ids)
      before.push_back(ok(s->get_task(id)));
  }
  auto s = db.open();
  for (size_t i = 0; i < ids.size(); ++i)
    check_same(ok(s->get_task(ids[i])), before[i]);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].id == ids[2]);
  CHECK(pending[1].id == ids[3]);
  // Keys and the running run survive too.
  CHECK(insert(*s, make_task("echo 2", 1002, "k2", "h")).replayed);
  auto orphans = ok(s->interrupt_running(2000));
  REQUIRE(orphans.size() == 1);
  REQUIRE(orphans[0].process);
  CHECK(orphans[0].process->pid == 901);
  // New ids continue after the old ones.
  CHECK(insert(*s, make_task("true", 1)).id > ids.back());
}

TEST_CASE("a committed task survives the writer being killed", "[store]") {
  WITH_EACH_BACKEND(db);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  auto child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // No Catch2 in the child: report through the pipe, then die without any cleanup.
    close(fds[0]);
    auto s = open_store(db.url());
    task_id id = -1;
    if (s && !(*s)->begin()) {
      auto rec = (*s)->insert_task(make_task("echo durable", 4242));
      if (rec && !(*s)->commit())
        id = rec->id;
    }
    if (write(fds[1], &id, sizeof id) != sizeof id)
      _exit(3);
    // An open transaction that must not land.
    if (s && !(*s)->begin())
      (void) (*s)->insert_task(make_task("echo lost", 4243));
    raise(SIGKILL);
    _exit(4);
  }
  close(fds[1]);
  task_id id = 0;
  auto n = read(fds[0], &id, sizeof id);
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  REQUIRE(n == sizeof id);
  REQUIRE(id > 0);
  auto s = db.open();
  auto v = ok(s->get_task(id));
  CHECK(v.command == "echo durable");
  CHECK(v.due == 4242);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
}

TEST_CASE("concurrent writers on two connections all land", "[store]") {
  WITH_EACH_BACKEND(db);
  constexpr int per_writer = 500;
  constexpr int batch = 10;
  auto a = db.open();
  auto b = db.open();
  struct result {
    std::vector<task_id> ids;
    std::string error;
  };
  // Catch2 assertions are not thread-safe: writers only collect, the main thread checks.
  auto writer = [&](store& s, int who, result& out) {
    for (int i = 0; i < per_writer && out.error.empty(); i += batch) {
      if (auto err = s.begin()) {
        out.error = render(err);
        break;
      }
      for (int j = 0; j < batch; ++j) {
        auto rec = s.insert_task(
          make_task("echo " + std::to_string(who) + "-" + std::to_string(i + j), 1000 + i + j));
        if (!rec) {
          out.error = render(rec.error());
          break;
        }
        out.ids.push_back(rec->id);
      }
      if (!out.error.empty()) {
        s.rollback();
        break;
      }
      if (auto err = s.commit())
        out.error = render(err);
    }
  };
  result ra, rb;
  std::thread ta{writer, std::ref(*a), 1, std::ref(ra)};
  std::thread tb{writer, std::ref(*b), 2, std::ref(rb)};
  ta.join();
  tb.join();
  CHECK(ra.error == "");
  CHECK(rb.error == "");
  REQUIRE(ra.ids.size() == per_writer);
  REQUIRE(rb.ids.size() == per_writer);
  std::set<task_id> all(ra.ids.begin(), ra.ids.end());
  all.insert(rb.ids.begin(), rb.ids.end());
  CHECK(all.size() == 2 * per_writer);
  auto pending = pending_of(*a);
  CHECK(pending.size() == 2 * per_writer);
  CHECK(ok(a->get_task(rb.ids.back())).command == "echo 2-" + std::to_string(per_writer - 1));
  CHECK(ok(b->get_task(ra.ids.back())).command == "echo 1-" + std::to_string(per_writer - 1));
}

// -- the v1 resources (schema version 2) --------------------------------------------------------


TEST_CASE("a v1 task reads back with name, labels, limit, state, version and next run",
          "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = v1_task("echo v1", 50000, "nightly \xE2\x9C\x93 ",
                   {{"team", "ops"}, {"app.kubernetes.io/name", "web "}});
  t.time_zone = "Europe/Zurich";
  t.output_limit_bytes = 1234;
  auto rec = insert(*s, t);
  auto info = ok(s->get_task_info(rec.id, 65536));
  CHECK(info.id == rec.id);
  CHECK(info.command == "echo v1");
  CHECK(info.name == "nightly \xE2\x9C\x93 ");
  REQUIRE(info.labels.size() == 2);
  CHECK(info.labels[0] == label{"app.kubernetes.io/name", "web "});
  CHECK(info.labels[1] == label{"team", "ops"});
  CHECK(info.due == 50000);
  CHECK(info.time_zone == "Europe/Zurich");
  CHECK(info.output_limit_bytes == 1234);
  CHECK(info.state == task_state::active);
  CHECK(info.version == 1);
  CHECK(info.next_run_at == 50000);
  CHECK(info.created_at == t.created_at);
  CHECK(info.updated_at == t.created_at);
  CHECK_FALSE(info.latest_run);

  // A legacy task gets the defaults.
  auto legacy = ok(s->get_task_info(insert(*s, make_task("true", 1000)).id, 100));
  CHECK_FALSE(legacy.name);
  CHECK(legacy.labels.empty());
  CHECK_FALSE(legacy.time_zone);
  CHECK(legacy.output_limit_bytes == defaults::output_limit_bytes);
  CHECK(code_of(error_of(s->get_task_info(424242, 100))) == ec::not_found);
  CHECK(code_of(error_of(s->get_run(424242, 100))) == ec::not_found);

  // A claim carries the task's output limit to the executor.
  CHECK(claim_one(*s, rec.id, 50000).output_limit_bytes == 1234);
  CHECK(claim_one(*s, legacy.id, 1000).output_limit_bytes == defaults::output_limit_bytes);
}

TEST_CASE("a run goes starting -> running -> success, and the legacy view follows",
          "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("echo hi", 10000)).id;
  auto c = claim_one(*s, id, 9990);

  auto r = ok(s->get_run(c.run, 100));
  CHECK(r.task == id);
  CHECK(r.attempt == 1);
  CHECK(r.trigger == run_trigger::schedule);
  CHECK(r.scheduled_for == 10000);
  CHECK(r.status == run_status::starting);
  CHECK_FALSE(r.started_at);
  CHECK_FALSE(r.lateness_ms);
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::active);
  CHECK_FALSE(info.next_run_at);
  CHECK(info.version == 2);
  REQUIRE(info.latest_run);
  CHECK(info.latest_run->id == c.run);
  // The process does not exist yet: the legacy view says pending (issue 10).
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK(v.run == c.run);

  write_tx(*s, [&] { return s->record_start({c.run, 7, 7, 1, 10025}); });
  r = ok(s->get_run(c.run, 100));
  CHECK(r.status == run_status::running);
  CHECK(r.started_at == 10025);
  CHECK(r.lateness_ms == 25);
  CHECK(ok(s->get_task(id)).status == task_status::running);

  write_tx(*s, [&] { return s->finish_run(outcome(c, task_status::success, 10040, "hi\n")); });
  r = ok(s->get_run(c.run, 100));
  CHECK(r.status == run_status::success);
  CHECK(r.reason == run_reason::none);
  CHECK(r.finished_at == 10040);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "hi\n");
  CHECK_FALSE(r.output_truncated);
  info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::completed);
  CHECK(info.version == 3);
  CHECK(info.updated_at == 10040);
  CHECK_FALSE(info.next_run_at);
  // The final output is readable by offset too.
  auto out = ok(s->read_output(c.run, 0, 1000));
  CHECK(out.data == "hi\n");
  CHECK(out.complete);
  CHECK(ok(s->get_task(id)).due == 10000);
}

TEST_CASE("tasks list newest first, by keyset pages that stay stable", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  std::vector<task_id> ids;
  for (int i = 0; i < 7; ++i)
    ids.push_back(insert(*s, make_task("true", 1000 + i)).id);
  task_filter f;
  f.limit = 3;
  auto p1 = ok(s->list_tasks(f));
  CHECK(ids_of(p1) == std::vector<task_id>{ids[6], ids[5], ids[4]});
  REQUIRE(p1.next == ids[4]);
  // A task added meanwhile does not shift the following pages.
  auto added = insert(*s, make_task("true", 5000)).id;
  f.after = p1.next;
  auto p2 = ok(s->list_tasks(f));
  CHECK(ids_of(p2) == std::vector<task_id>{ids[3], ids[2], ids[1]});
  f.after = p2.next;
  auto p3 = ok(s->list_tasks(f));
  CHECK(ids_of(p3) == std::vector<task_id>{ids[0]});
  CHECK_FALSE(p3.next);
  // Exactly a full last page: no cursor to an empty one.
  f = task_filter{};
  f.limit = 8;
  auto all = ok(s->list_tasks(f));
  CHECK(all.items.size() == 8);
  CHECK(all.items.front().id == added);
  CHECK_FALSE(all.next);
  // Limits are clamped to 1..500.
  f.limit = 0;
  CHECK(ok(s->list_tasks(f)).items.size() == 1);
  f.limit = 100000;
  CHECK(ok(s->list_tasks(f)).items.size() == 8);
}

TEST_CASE("tasks list by state, every label and a byte-exact name prefix", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto a = insert(*s, v1_task("true", 1000, "backup db", {{"env", "prod"}, {"team", "ops"}})).id;
  auto b = insert(*s, v1_task("true", 1000, "backup files", {{"env", "prod"}})).id;
  auto c = insert(*s, v1_task("true", 1000, "Backup logs", {{"env", "dev"}, {"team", "ops"}})).id;
  auto d = insert(*s, v1_task("true", 1000, "backup", {{"env", "prod "}, {"team", "ops"}})).id;
  auto e = insert(*s, make_task("true", 1000)).id;
  run_to_end(*s, b, 1000);
  ok(s->cancel_task(c, 1100, no_key));

  task_filter f;
  f.state = task_state::active;
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{e, d, a});
  f.state = task_state::completed;
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{b});
  f.state = task_state::cancelled;
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{c});

  f = task_filter{};
  f.labels = {{"env", "prod"}};
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{b, a});  // "prod " is another value
  f.labels = {{"env", "prod"}, {"team", "ops"}};
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{a});
  f.labels = {{"team", "ops"}};
  f.state = task_state::active;
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{d, a});

  f = task_filter{};
  f.name_prefix = "backup ";
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{b, a});  // not "backup", "Backup"
  f.name_prefix = "backup";
  CHECK(ids_of(ok(s->list_tasks(f))) == std::vector<task_id>{d, b, a});
  f.name_prefix = "b%";
  CHECK(ok(s->list_tasks(f)).items.empty());
  // Labels come with every listed task.
  f = task_filter{};
  f.after = b;
  auto page = ok(s->list_tasks(f));
  REQUIRE(ids_of(page) == std::vector<task_id>{a});
  CHECK(page.items[0].labels == std::vector<label>{{"env", "prod"}, {"team", "ops"}});
}

TEST_CASE("cancel: no further runs, a run in progress ends cancelled", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto pending = insert(*s, make_task("true", 1000)).id;
  auto running = insert(*s, make_task("sleep 100", 1000)).id;
  auto done = insert(*s, make_task("true", 1000)).id;
  run_to_end(*s, done, 1000);

  ok(s->begin());
  auto r = ok(s->cancel_task(pending, 500, no_key));
  ok(s->commit());
  CHECK(r.task.state == task_state::cancelled);
  CHECK(r.task.version == 2);
  CHECK_FALSE(r.task.next_run_at);
  CHECK_FALSE(r.stop_run);
  auto v = ok(s->get_task(pending));
  CHECK(v.status == task_status::cancelled);
  CHECK_FALSE(v.run);
  CHECK(pending_of(*s).size() == 1);  // only `running`, until it is claimed
  ok(s->begin());
  CHECK(code_of(error_of(s->claim_run(pending, 1000))) == ec::not_pending);
  CHECK(code_of(error_of(s->cancel_task(pending, 600, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->cancel_task(done, 600, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->cancel_task(424242, 600, no_key))) == ec::not_found);
  s->rollback();

  auto c = claim_one(*s, running, 1000);
  write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });
  ok(s->begin());
  r = ok(s->cancel_task(running, 1500, no_key));
  ok(s->commit());
  CHECK(r.stop_run == c.run);
  CHECK(r.task.state == task_state::cancelled);
  CHECK(ok(s->get_run(c.run, 100)).stop_requested);
  CHECK(ok(s->get_task(running)).status == task_status::running);  // until it has stopped
  auto o = outcome(c, task_status::failure, 1600);
  o.reason = run_reason::signal;
  o.exit_code.reset();
  o.signal = 15;
  write_tx(*s, [&] { return s->finish_run(o); });
  auto run = ok(s->get_run(c.run, 100));
  CHECK(run.status == run_status::failure);
  CHECK(run.reason == run_reason::cancelled);
  CHECK(run.signal == 15);
  v = ok(s->get_task(running));
  CHECK(v.status == task_status::failure);
  CHECK(v.reason == run_reason::cancelled);
  CHECK(ok(s->get_task_info(running, 100)).state == task_state::cancelled);
}

TEST_CASE("trigger: one more run now, marked manual", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("true", 1000)).id;
  auto first = run_to_end(*s, id, 1000);

  ok(s->begin());
  auto t = ok(s->trigger_task(id, 7000, no_key)).task;
  ok(s->commit());
  CHECK(t.state == task_state::active);
  CHECK(t.next_run_at == 7000);
  REQUIRE(t.latest_run);
  CHECK(t.latest_run->id == first.run);
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK(v.due == 7000);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
  CHECK(pending[0].due == 7000);

  auto second = claim_one(*s, id, 7000);
  CHECK(second.due == 7000);
  auto r = ok(s->get_run(second.run, 100));
  CHECK(r.trigger == run_trigger::manual);
  CHECK(r.scheduled_for == 7000);
  ok(s->begin());
  // In progress:
  CHECK(code_of(error_of(s->trigger_task(id, 7001, no_key))) == ec::invalid_state);
  s->rollback();
  write_tx(*s, [&] { return s->finish_run(outcome(second, task_status::failure, 7005)); });
  v = ok(s->get_task(id));
  CHECK(v.status == task_status::failure);
  CHECK(v.due == 7000);

  // The task's runs, newest first, with filters; unclaim gives the trigger back.
  run_filter f;
  f.task = id;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{second.run, first.run});
  f.status = run_status::success;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{first.run});
  f = run_filter{};
  f.task = id;
  f.since = 5000;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{second.run});
  f.since.reset();
  f.until = 7000;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{first.run});

  ok(s->begin());
  ok(s->trigger_task(id, 9000, no_key));
  ok(s->commit());
  auto third = claim_one(*s, id, 9000);
  write_tx(*s, [&] { return s->unclaim_run(third.run); });
  auto again = claim_one(*s, id, 9000);
  CHECK(ok(s->get_run(again.run, 100)).trigger == run_trigger::manual);

  ok(s->cancel_task(id, 9500, no_key));
  ok(s->begin());
  CHECK(code_of(error_of(s->trigger_task(id, 9600, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->trigger_task(424242, 9600, no_key))) == ec::not_found);
  s->rollback();
}

TEST_CASE("cancel stops a run that is claimed but not started yet", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("sleep 100", 1000)).id;
  auto c = claim_one(*s, id, 990);
  auto r = ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 995, no_key); }));
  CHECK(r.stop_run == c.run);
  CHECK_FALSE(r.replayed);
  CHECK(ok(s->get_run(c.run, 100)).stop_requested);
}

TEST_CASE("an unclaim after a cancel of the claim ends the run cancelled, never pending again",
          "[store][v1]") {
  // Shutdown unclaims the runs claimed ahead of their time; a cancel of one of them that
  // committed first must win, or the next start would run a cancelled task.
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("sleep 100", 1000)).id;
  auto c = claim_one(*s, id, 990);
  ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 995, no_key); }));
  write_tx(*s, [&] { return s->unclaim_run(c.run); });
  auto r = ok(s->get_run(c.run, 100));
  CHECK(r.status == run_status::failure);
  CHECK(r.reason == run_reason::cancelled);
  CHECK(r.finished_at == 995);
  CHECK_FALSE(r.started_at);
  auto t = ok(s->get_task_info(id, 100));
  CHECK(t.state == task_state::cancelled);
  auto legacy = ok(s->get_task(id));
  CHECK(legacy.status == task_status::failure);
  CHECK(legacy.reason == run_reason::cancelled);
  CHECK(pending_of(*s).empty());
  ok(s->begin());
  CHECK(code_of(s->claim_run(id, 2000).error()) == ec::not_pending);
  s->rollback();
}

TEST_CASE("after a crash a run that provably never started is requeued, not interrupted",
          "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  SECTION("a first attempt") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 990);
    auto orphans = ok(s->interrupt_running(2000));
    REQUIRE(orphans.size() == 1);
    write_tx(*s, [&] { return s->requeue_unstarted(c.run); });
    auto t = ok(s->get_task_info(id, 100));
    CHECK(t.state == task_state::active);
    CHECK_FALSE(t.latest_run);
    CHECK(t.next_run_at == 1000);
    CHECK(ok(s->get_task(id)).status == task_status::pending);
    auto p = pending_of(*s);
    REQUIRE(p.size() == 1);
    CHECK(p[0].id == id);
    // It is claimed again, once.
    auto again = claim_one(*s, id, 2100);
    CHECK(again.attempt == 1);
  }
  SECTION("a started run is not") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 990);
    write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });
    ok(s->interrupt_running(2000));
    ok(s->begin());
    CHECK(code_of(s->requeue_unstarted(c.run)) == ec::not_pending);
    s->rollback();
    CHECK(ok(s->get_run(c.run, 100)).reason == run_reason::interrupted);
  }
  SECTION("one a cancel had asked to stop ends cancelled") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 990);
    ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 995, no_key); }));
    ok(s->interrupt_running(2000));
    write_tx(*s, [&] { return s->requeue_unstarted(c.run); });
    CHECK(ok(s->get_run(c.run, 100)).reason == run_reason::cancelled);
    CHECK(ok(s->get_task_info(id, 100)).state == task_state::cancelled);
    CHECK(pending_of(*s).empty());
  }
}

TEST_CASE("cancel and trigger replay a retry of their Idempotency-Key, and change nothing",
          "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto cancel = [&](task_id id, millis now, const request_key& k) {
    return in_one_tx_value(*s, [&] { return s->cancel_task(id, now, k); });
  };
  auto trigger = [&](task_id id, millis now, const request_key& k) {
    return in_one_tx_value(*s, [&] { return s->trigger_task(id, now, k); });
  };

  SECTION("cancel") {
    auto id = insert(*s, make_task("sleep 100", 1000)).id;
    auto c = claim_one(*s, id, 1000);
    write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });
    auto k = keyed("cancel-1", "DELETE /v1/tasks/1");
    auto first = ok(cancel(id, 1500, k));
    CHECK_FALSE(first.replayed);
    CHECK(first.stop_run == c.run);
    CHECK(first.task.state == task_state::cancelled);
    // The retry is answered, not refused as a cancel of a cancelled task; nothing is asked
    // to stop again.
    auto again = ok(cancel(id, 1600, k));
    CHECK(again.replayed);
    CHECK_FALSE(again.stop_run);
    CHECK(again.task.state == task_state::cancelled);
    CHECK(again.task.version == first.task.version);
    CHECK(again.task.updated_at == 1500);
    CHECK(ok(s->get_task_info(id, 100)).version == first.task.version);
    // The task as it is now: the run has ended meanwhile.
    write_tx(*s, [&] { return s->finish_run(outcome(c, task_status::failure, 1700)); });
    again = ok(cancel(id, 1800, k));
    CHECK(again.replayed);
    REQUIRE(again.task.latest_run);
    CHECK(again.task.latest_run->reason == run_reason::cancelled);
    CHECK(again.task.version == first.task.version + 1);
    // Another request under the key is a conflict: another hash, or another task.
    auto other = insert(*s, make_task("true", 1000)).id;
    CHECK(code_of(error_of(cancel(id, 1900, keyed("cancel-1", "POST /v1/tasks/1/trigger"))))
          == ec::idempotency_conflict);
    CHECK(code_of(error_of(trigger(id, 1900, keyed("cancel-1", "POST /v1/tasks/1/trigger"))))
          == ec::idempotency_conflict);
    CHECK(code_of(error_of(cancel(other, 1900, k))) == ec::idempotency_conflict);
    CHECK(ok(s->get_task_info(other, 100)).state == task_state::active);
  }

  SECTION("trigger") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto first_run = run_to_end(*s, id, 1000);
    auto k = keyed("trigger-1", "POST /v1/tasks/1/trigger");
    auto first = ok(trigger(id, 7000, k));
    CHECK_FALSE(first.replayed);
    CHECK(first.task.next_run_at == 7000);
    auto again = ok(trigger(id, 7001, k));
    CHECK(again.replayed);
    CHECK(again.task.version == first.task.version);
    CHECK(again.task.next_run_at == 7000);
    auto pending = pending_of(*s);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].due == 7000);
    // While the triggered run runs, the retry is answered too, and no second run is due.
    auto second = claim_one(*s, id, 7000);
    again = ok(trigger(id, 7002, k));
    CHECK(again.replayed);
    CHECK_FALSE(again.task.next_run_at);
    REQUIRE(again.task.latest_run);
    CHECK(again.task.latest_run->id == second.run);
    write_tx(*s, [&] { return s->finish_run(outcome(second, task_status::success, 7010)); });
    CHECK(ok(trigger(id, 7020, k)).replayed);
    CHECK(pending_of(*s).empty());
    run_filter f;
    f.task = id;
    CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{second.run, first_run.run});
    CHECK(code_of(error_of(trigger(id, 7030, keyed("trigger-1", "other"))))
          == ec::idempotency_conflict);
    CHECK(code_of(error_of(cancel(id, 7030, keyed("trigger-1", "DELETE /v1/tasks/1"))))
          == ec::idempotency_conflict);
    CHECK(ok(s->get_task_info(id, 100)).state == task_state::completed);
  }

  SECTION("a key a create used, and a create with a key a change used") {
    auto created = insert(*s, make_task("true", 1000, "create-1", "POST /v1/tasks")).id;
    for (auto hash : {"POST /v1/tasks", "DELETE /v1/tasks/1"}) {
      CAPTURE(hash);
      CHECK(code_of(error_of(cancel(created, 1100, keyed("create-1", hash))))
            == ec::idempotency_conflict);
      CHECK(code_of(error_of(trigger(created, 1100, keyed("create-1", hash))))
            == ec::idempotency_conflict);
    }
    auto info = ok(s->get_task_info(created, 100));
    CHECK(info.state == task_state::active);
    CHECK(info.version == 1);
    ok(cancel(created, 1200, keyed("cancel-2", "DELETE /v1/tasks/1")));
    ok(s->begin());
    CHECK(code_of(error_of(s->insert_task(make_task("true", 1000, "cancel-2", "POST /v1/tasks"))))
          == ec::idempotency_conflict);
    s->rollback();
    // The create's own retry still replays.
    CHECK(insert(*s, make_task("true", 1000, "create-1", "POST /v1/tasks")).replayed);
  }

  SECTION("a failed change does not use its key") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 1000);
    auto k = keyed("trigger-2", "POST /v1/tasks/1/trigger");
    CHECK(code_of(error_of(trigger(id, 1001, k))) == ec::invalid_state);  // in progress
    CHECK(code_of(error_of(trigger(424242, 1001, k))) == ec::not_found);
    write_tx(*s, [&] { return s->finish_run(outcome(c, task_status::success, 1005)); });
    auto later = ok(trigger(id, 2000, k));
    CHECK_FALSE(later.replayed);
    CHECK(later.task.next_run_at == 2000);
    // A cancel of a finished task is refused, and its key stays free for another request.
    auto done = insert(*s, make_task("true", 1000)).id;
    run_to_end(*s, done, 1000);
    auto ck = keyed("cancel-3", "DELETE /v1/tasks/2");
    CHECK(code_of(error_of(cancel(done, 3000, ck))) == ec::invalid_state);
    CHECK_FALSE(ok(cancel(id, 3000, keyed("cancel-3", "DELETE /v1/tasks/1"))).replayed);
    // A rolled-back transaction forgets the key with the change.
    auto third = insert(*s, make_task("true", 1000)).id;
    auto rk = keyed("cancel-4", "DELETE /v1/tasks/3");
    ok(s->begin());
    ok(s->cancel_task(third, 3100, rk));
    s->rollback();
    CHECK(ok(s->get_task_info(third, 100)).state == task_state::active);
    CHECK_FALSE(ok(cancel(third, 3200, rk)).replayed);
  }

  SECTION("in one transaction, and after reopening") {
    auto id = insert(*s, make_task("true", 5000)).id;
    auto k = keyed("cancel-5", "DELETE /v1/tasks/1");
    // A batch of the persistence actor: the retry sees the change before the commit.
    ok(s->begin());
    auto first = ok(s->cancel_task(id, 1000, k));
    auto again = ok(s->cancel_task(id, 1001, k));
    ok(s->commit());
    CHECK_FALSE(first.replayed);
    CHECK(again.replayed);
    CHECK(again.task.version == first.task.version);
    s.reset();
    s = db.open();
    auto after = ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 2000, k); }));
    CHECK(after.replayed);
    CHECK(after.task.version == first.task.version);
    CHECK(code_of(error_of(in_one_tx_value(
            *s, [&] { return s->cancel_task(id, 2000, keyed("cancel-5", "x")); })))
          == ec::idempotency_conflict);
  }
}

TEST_CASE("runs list over all tasks by keyset", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  std::vector<run_id> runs;
  for (int i = 0; i < 5; ++i)
    runs.push_back(run_to_end(*s, insert(*s, make_task("true", 1000 + i)).id, 1000 + i,
                              i % 2 ? task_status::failure : task_status::success)
                     .run);
  run_filter f;
  f.limit = 2;
  auto p1 = ok(s->list_runs(f));
  CHECK(ids_of(p1) == std::vector<run_id>{runs[4], runs[3]});
  f.after = p1.next;
  auto p2 = ok(s->list_runs(f));
  CHECK(ids_of(p2) == std::vector<run_id>{runs[2], runs[1]});
  f.after = p2.next;
  auto p3 = ok(s->list_runs(f));
  CHECK(ids_of(p3) == std::vector<run_id>{runs[0]});
  CHECK_FALSE(p3.next);
  f = run_filter{};
  f.status = run_status::failure;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{runs[3], runs[1]});
}

TEST_CASE("output is appended in chunks, read by offset, and keeps its tail", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("seq 100", 1000);
  t.output_limit_bytes = 10;
  auto id = insert(*s, t).id;
  auto c = claim_one(*s, id, 1000);
  write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });

  auto empty = ok(s->read_output(c.run, 0, 100));
  CHECK(empty.data.empty());
  CHECK_FALSE(empty.complete);
  CHECK(empty.next_offset == 0);

  write_tx(*s, [&] { return s->append_output(c.run, 0, "hello "); });
  write_tx(*s, [&] { return s->append_output(c.run, 6, std::string("w\0rld\n", 6)); });
  auto all = ok(s->read_output(c.run, 0, 100));
  CHECK(all.offset == 0);
  CHECK(all.data == std::string("hello w\0rld\n", 12));
  CHECK(all.next_offset == 12);
  CHECK_FALSE(all.complete);
  auto from = ok(s->read_output(c.run, 3, 5));
  CHECK(from.data == std::string("lo w\0", 5));
  CHECK(from.next_offset == 8);
  CHECK(ok(s->read_output(c.run, 12, 100)).data.empty());

  // A replay changes nothing; a gap or an overlap is refused.
  write_tx(*s, [&] { return s->append_output(c.run, 0, "hello "); });
  CHECK(code_of(in_one_tx(*s, [&] { return s->append_output(c.run, 20, "x"); }))
        == ec::invalid_argument);
  CHECK(code_of(in_one_tx(*s, [&] { return s->append_output(c.run, 10, "xyz"); }))
        == ec::invalid_argument);
  CHECK(code_of(in_one_tx(*s, [&] { return s->append_output(424242, 0, "x"); }))
        == ec::not_found);
  CHECK(ok(s->read_output(c.run, 0, 100)).next_offset == 12);

  // Past the limit of 10 bytes, whole old chunks go; offsets stay those of the stream.
  write_tx(*s, [&] { return s->append_output(c.run, 12, "0123456789"); });
  auto tail = ok(s->read_output(c.run, 0, 100));
  CHECK(tail.offset == 12);
  CHECK(tail.data == "0123456789");
  CHECK(tail.next_offset == 22);
  auto live = ok(s->get_run(c.run, 4));
  CHECK(live.output == "6789");
  CHECK(live.output_truncated);
  CHECK(live.output_size == 22);

  auto o = outcome(c, task_status::success, 1100, "0123456789");
  o.output_truncated = true;
  write_tx(*s, [&] { return s->finish_run(o); });
  auto end = ok(s->read_output(c.run, 18, 100));
  CHECK(end.data == "6789");
  CHECK(end.complete);
  CHECK(ok(s->read_output(c.run, 22, 100)).complete);
  auto r = ok(s->get_run(c.run, 65536));
  CHECK(r.output == "0123456789");
  CHECK(r.output_truncated);
  CHECK(ok(s->get_task(id)).output == "0123456789");
}

TEST_CASE("a run's tail is cut on a character boundary", "[store][v1]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto c = claim_one(*s, insert(*s, make_task("true", 1000)).id, 1000);
  write_tx(*s, [&] {
    return s->finish_run(outcome(c, task_status::success, 1001, "a\xE2\x9C\x93z"));
  });
  auto r = ok(s->get_run(c.run, 3));  // the last 3 bytes start inside the check mark
  CHECK(r.output == "z");
  CHECK(r.output_truncated);
  run_filter f;
  f.output_tail = 4;
  auto listed = ok(s->list_runs(f));
  REQUIRE(listed.items.size() == 1);
  CHECK(listed.items[0].output == "\xE2\x9C\x93z");
  CHECK(listed.items[0].output_truncated);
}

// -- execution controls and retries (schema version 3) ----------------------------------------

namespace {

/// A task whose first attempt (claimed at its due time, started 1 ms later) failed with a
/// retry due at `retry_at`; returns the claim of that first attempt.
claim failed_with_retry(store& s, task_id id, millis retry_at) {
  auto due = ok(s.get_task_info(id, 0)).next_run_at.value_or(0);
  auto c = claim_one(s, id, due);
  write_tx(s, [&] { return s.record_start({c.run, 20, 20, 1, due + 1}); });
  auto o = outcome(c, task_status::failure, due + 2);
  o.retry_at = retry_at;
  write_tx(s, [&] { return s.finish_run(o); });
  return c;
}

/// The run waiting for its attempt: the task's latest.
run_info waiting_run(store& s, task_id id) {
  auto info = ok(s.get_task_info(id, 100));
  REQUIRE(info.latest_run);
  CHECK(info.latest_run->status == run_status::waiting);
  return *info.latest_run;
}

} // namespace

TEST_CASE("a task's controls round-trip, absent and present, the env in its order",
          "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("env", 5000);
  t.controls = ts::test::full_controls();
  auto full = insert(*s, t).id;
  auto plain = insert(*s, make_task("true", 5000)).id;

  check_controls(ok(s->get_task_info(full, 100)).controls, ts::test::full_controls());
  auto defaults = ok(s->get_task_info(plain, 100)).controls;
  check_controls(defaults, task_controls{});
  CHECK_FALSE(defaults.timeout_ms);
  CHECK(defaults.env.empty());
  CHECK_FALSE(defaults.cwd);
  CHECK_FALSE(defaults.run_as);
  auto page = ok(s->list_tasks(task_filter{}));
  REQUIRE(ids_of(page) == std::vector<task_id>{plain, full});
  check_controls(page.items[0].controls, task_controls{});
  check_controls(page.items[1].controls, ts::test::full_controls());
  // The executor gets them with the claim; a first attempt is attempt 1 of its due time.
  auto c = claim_one(*s, full, 5000);
  check_controls(c.controls, ts::test::full_controls());
  CHECK(c.attempt == 1);
  CHECK(c.scheduled_for == 5000);
  check_controls(claim_one(*s, plain, 5000).controls, task_controls{});

  // An env JSON cannot carry (the front end lets none through) is refused; nothing lands.
  auto bad = make_task("env", 5000);
  bad.controls.env = {{"BAD", "\xFF"}};
  ok(s->begin());
  CHECK(code_of(error_of(s->insert_task(bad))) == ec::invalid_argument);
  s->rollback();
  CHECK(ok(s->list_tasks(task_filter{})).items.size() == 2);
}

TEST_CASE("a failed attempt with retry_at waits as the next one, which runs in its place",
          "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("flaky", 10000);
  t.controls.retry.max_attempts = 3;
  auto id = insert(*s, t).id;
  auto c1 = claim_one(*s, id, 9990);
  CHECK(c1.attempt == 1);
  CHECK(c1.scheduled_for == 10000);
  write_tx(*s, [&] { return s->record_start({c1.run, 20, 20, 1, 10001}); });
  auto o = outcome(c1, task_status::failure, 10050, "try 1\n");
  o.retry_at = 20000;
  o.message = "exit code 1";
  write_tx(*s, [&] { return s->finish_run(o); });

  // The attempt ended as usual, with its message.
  auto r1 = ok(s->get_run(c1.run, 100));
  CHECK(r1.status == run_status::failure);
  CHECK(r1.reason == run_reason::exit);
  CHECK(r1.message == "exit code 1");
  CHECK(r1.output == "try 1\n");
  CHECK_FALSE(r1.next_attempt_at);
  // The next one waits: the task stays active, due at the retry.
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::active);
  CHECK(info.next_run_at == 20000);
  CHECK(info.version == 3);
  CHECK(info.updated_at == 10050);
  auto w = waiting_run(*s, id);
  CHECK(w.id != c1.run);
  CHECK(w.attempt == 2);
  CHECK(w.trigger == run_trigger::retry);
  CHECK(w.scheduled_for == 10000);
  CHECK(w.next_attempt_at == 20000);
  CHECK(w.reason == run_reason::none);
  CHECK_FALSE(w.started_at);
  CHECK_FALSE(w.finished_at);
  CHECK_FALSE(w.message);
  CHECK(w.output.empty());
  CHECK(w.output_size == 0);
  CHECK_FALSE(ok(s->read_output(w.id, 0, 100)).complete);
  run_filter f;
  f.task = id;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{w.id, c1.run});
  f.status = run_status::waiting;
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{w.id});
  // /status: pending for the waiting attempt, at its time.
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK(v.run == w.id);
  CHECK(v.due == 20000);
  CHECK(v.reason == run_reason::none);
  CHECK_FALSE(v.exit_code);
  CHECK(v.output.empty());
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
  CHECK(pending[0].due == 20000);

  // Its claim takes the waiting run, with the first attempt's time.
  auto c2 = claim_one(*s, id, 19990);
  CHECK(c2.run == w.id);
  CHECK(c2.attempt == 2);
  CHECK(c2.due == 20000);
  CHECK(c2.scheduled_for == 10000);
  CHECK(c2.controls.retry.max_attempts == 3);
  CHECK(ok(s->get_run(c2.run, 100)).status == run_status::starting);
  CHECK(ok(s->list_runs(f)).items.empty());
  CHECK(pending_of(*s).empty());
  ok(s->begin());
  CHECK(code_of(error_of(s->claim_run(id, 19995))) == ec::not_pending);
  s->rollback();
  // Late by 5 ms for its own due time, not by the 10 s since the first.
  write_tx(*s, [&] { return s->record_start({c2.run, 21, 21, 1, 20005}); });
  CHECK(ok(s->get_run(c2.run, 100)).lateness_ms == 5);
  CHECK(ok(s->get_task(id)).status == task_status::running);

  // Attempt 2 fails too: attempt 3 is still of the first occurrence.
  o = outcome(c2, task_status::failure, 20010);
  o.retry_at = 40000;
  write_tx(*s, [&] { return s->finish_run(o); });
  auto w3 = waiting_run(*s, id);
  CHECK(w3.attempt == 3);
  CHECK(w3.scheduled_for == 10000);
  CHECK(w3.next_attempt_at == 40000);
  auto c3 = claim_one(*s, id, 40000);
  CHECK(c3.run == w3.id);
  CHECK(c3.attempt == 3);
  CHECK(c3.scheduled_for == 10000);
  write_tx(*s, [&] { return s->record_start({c3.run, 22, 22, 1, 40001}); });
  // Without retry_at the run ends the task as before.
  write_tx(*s, [&] { return s->finish_run(outcome(c3, task_status::success, 40002, "ok\n")); });
  info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::completed);
  CHECK_FALSE(info.next_run_at);
  REQUIRE(info.latest_run);
  CHECK(info.latest_run->id == c3.run);
  CHECK(info.latest_run->status == run_status::success);
  v = ok(s->get_task(id));
  CHECK(v.status == task_status::success);
  CHECK(v.output == "ok\n");
  CHECK(v.due == 10000);
  f.status.reset();
  CHECK(ids_of(ok(s->list_runs(f))) == std::vector<run_id>{c3.run, c2.run, c1.run});
  CHECK(pending_of(*s).empty());
}

TEST_CASE("an undone claim of a retry waits again", "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("flaky", 1000)).id;
  failed_with_retry(*s, id, 5000);
  auto w = waiting_run(*s, id);
  auto c = claim_one(*s, id, 4990);
  REQUIRE(c.run == w.id);
  write_tx(*s, [&] { return s->unclaim_run(c.run); });

  auto again = waiting_run(*s, id);
  CHECK(again.id == w.id);
  CHECK(again.attempt == 2);
  CHECK(again.next_attempt_at == 5000);
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.next_run_at == 5000);
  CHECK(info.state == task_state::active);
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK(v.run == w.id);
  CHECK(v.due == 5000);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].due == 5000);
  auto c2 = claim_one(*s, id, 5000);
  CHECK(c2.run == w.id);
  CHECK(c2.attempt == 2);
  CHECK(c2.scheduled_for == 1000);
}

TEST_CASE("cancel while a retry waits ends that attempt cancelled", "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("flaky", 1000)).id;
  auto first = failed_with_retry(*s, id, 5000);
  auto w = waiting_run(*s, id);

  auto r = ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 3000, no_key); }));
  CHECK_FALSE(r.stop_run);  // nothing runs: nothing to stop
  CHECK(r.task.state == task_state::cancelled);
  CHECK_FALSE(r.task.next_run_at);
  REQUIRE(r.task.latest_run);
  CHECK(r.task.latest_run->id == w.id);
  CHECK(r.task.latest_run->status == run_status::failure);
  CHECK(r.task.latest_run->reason == run_reason::cancelled);
  CHECK(r.task.latest_run->finished_at == 3000);
  CHECK_FALSE(r.task.latest_run->next_attempt_at);
  CHECK(ok(s->get_run(first.run, 100)).reason == run_reason::exit);
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::failure);
  CHECK(v.reason == run_reason::cancelled);
  CHECK(v.run == w.id);
  CHECK(v.finished_at == 3000);
  CHECK(pending_of(*s).empty());
  run_filter f;
  f.status = run_status::waiting;
  CHECK(ok(s->list_runs(f)).items.empty());
  ok(s->begin());
  CHECK(code_of(error_of(s->claim_run(id, 5000))) == ec::not_pending);
  CHECK(code_of(error_of(s->trigger_task(id, 5000, no_key))) == ec::invalid_state);
  CHECK(code_of(error_of(s->cancel_task(id, 5000, no_key))) == ec::invalid_state);
  s->rollback();
}

TEST_CASE("trigger is refused while a retry waits", "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto id = insert(*s, make_task("flaky", 1000)).id;
  failed_with_retry(*s, id, 5000);
  auto before = ok(s->get_task_info(id, 100));
  ok(s->begin());
  auto err = error_of(s->trigger_task(id, 3000, keyed("trigger-during-retry", "POST t")));
  s->rollback();
  CHECK(code_of(err) == ec::invalid_state);
  CHECK(render(err).find("a retry of the task is waiting") != std::string::npos);
  auto after = ok(s->get_task_info(id, 100));
  CHECK(after.version == before.version);
  CHECK(after.next_run_at == 5000);
  CHECK(waiting_run(*s, id).id == before.latest_run->id);
}

TEST_CASE("a retry never follows a cancellation or a success", "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  SECTION("the task was cancelled while the attempt ran") {
    auto id = insert(*s, make_task("sleep 100", 1000)).id;
    auto c = claim_one(*s, id, 1000);
    write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });
    ok(in_one_tx_value(*s, [&] { return s->cancel_task(id, 1500, no_key); }));
    auto o = outcome(c, task_status::failure, 1600);
    o.reason = run_reason::signal;
    o.exit_code.reset();
    o.signal = 15;
    o.retry_at = 9000;
    write_tx(*s, [&] { return s->finish_run(o); });
    CHECK(ok(s->get_run(c.run, 100)).reason == run_reason::cancelled);
    auto info = ok(s->get_task_info(id, 100));
    CHECK(info.state == task_state::cancelled);
    CHECK_FALSE(info.next_run_at);
    CHECK(info.latest_run->id == c.run);
  }
  SECTION("the run ended cancelled") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 1000);
    auto o = outcome(c, task_status::failure, 1001);
    o.reason = run_reason::cancelled;
    o.retry_at = 9000;
    write_tx(*s, [&] { return s->finish_run(o); });
    CHECK(ok(s->get_task_info(id, 100)).state == task_state::completed);
  }
  SECTION("the run succeeded") {
    auto id = insert(*s, make_task("true", 1000)).id;
    auto c = claim_one(*s, id, 1000);
    auto o = outcome(c, task_status::success, 1001);
    o.retry_at = 9000;
    write_tx(*s, [&] { return s->finish_run(o); });
    CHECK(ok(s->get_task_info(id, 100)).state == task_state::completed);
  }
  CHECK(ok(s->list_runs(run_filter{})).items.size() == 1);
  CHECK(pending_of(*s).empty());
}

TEST_CASE("retry_interrupted turns a run a crash ended into a waiting retry", "[store][v3]") {
  WITH_EACH_BACKEND(db);
  auto s = db.open();
  auto t = make_task("sleep 100", 1000);
  t.controls.retry.on_interrupted = true;
  auto id = insert(*s, t).id;
  auto c = claim_one(*s, id, 1000);
  write_tx(*s, [&] { return s->record_start({c.run, 9, 9, 1, 1001}); });
  auto cancelled = insert(*s, make_task("sleep 100", 1000)).id;
  auto cc = claim_one(*s, cancelled, 1000);
  ok(in_one_tx_value(*s, [&] { return s->cancel_task(cancelled, 1100, no_key); }));
  REQUIRE(ok(s->interrupt_running(2000)).size() == 2);

  // The caller reads the policy and the attempt, then asks for the retry.
  auto info = ok(s->get_task_info(id, 100));
  CHECK(info.controls.retry.on_interrupted);
  CHECK(info.latest_run->reason == run_reason::interrupted);
  CHECK(info.latest_run->attempt == 1);
  write_tx(*s, [&] { return s->retry_interrupted(c.run, 7000); });
  info = ok(s->get_task_info(id, 100));
  CHECK(info.state == task_state::active);
  CHECK(info.next_run_at == 7000);
  CHECK(info.updated_at == 2000);
  auto w = waiting_run(*s, id);
  CHECK(w.attempt == 2);
  CHECK(w.trigger == run_trigger::retry);
  CHECK(w.scheduled_for == 1000);
  CHECK(w.next_attempt_at == 7000);
  CHECK(ok(s->get_run(c.run, 100)).reason == run_reason::interrupted);
  auto v = ok(s->get_task(id));
  CHECK(v.status == task_status::pending);
  CHECK(v.due == 7000);
  auto pending = pending_of(*s);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
  CHECK(pending[0].due == 7000);

  // A waiting retry has no process: the next crash recovery leaves it waiting.
  CHECK(ok(s->interrupt_running(3000)).empty());
  CHECK(waiting_run(*s, id).id == w.id);

  // Only the latest, interrupted run of a task that is not cancelled.
  auto exited = failed_by_exit(*s).run;
  ok(s->begin());
  CHECK(code_of(s->retry_interrupted(c.run, 8000)) == ec::invalid_state);
  CHECK(code_of(s->retry_interrupted(w.id, 8000)) == ec::invalid_state);
  CHECK(code_of(s->retry_interrupted(cc.run, 8000)) == ec::invalid_state);
  CHECK(code_of(s->retry_interrupted(exited, 8000)) == ec::invalid_state);
  CHECK(code_of(s->retry_interrupted(424242, 8000)) == ec::not_found);
  s->rollback();
  CHECK(ok(s->get_task_info(cancelled, 100)).state == task_state::cancelled);
}

// The figures of issue 10: a list page by keyset costs the same at any depth. Loads 100,000
// tasks (every other one completed, so that `state=active` skips half), walks 100 pages of
// 100 with the default order and with state=active, times the first and the hundredth page
// (median of 25 reads each), and prints each query's plan (SQLite: EXPLAIN QUERY PLAN;
// MariaDB: ANALYZE, EXPLAIN with the rows each step really read). Run:
//   TS_TEST_MYSQL_URL=... build/v1/tests/test_store "list pages over 100000 tasks"
TEST_CASE("list pages over 100000 tasks", "[.bench]") {
  WITH_EACH_BACKEND(db);
  constexpr int total = 100000;
  constexpr int batch = 10000;
  constexpr int page_size = 100;
  auto s = db.open();
  for (int i = 0; i < total; i += batch) {
    ok(s->begin());
    for (int j = 0; j < batch; ++j)
      ok(s->insert_task(v1_task("true", 1727024400000 + i + j, "task " + std::to_string(i + j),
                                {{"shard", std::to_string((i + j) % 16)}})));
    ok(s->commit());
  }
  db.exec("UPDATE tasks SET state = 'completed', status = 'success' WHERE id % 2 = 0");
  using clock = std::chrono::steady_clock;
  auto median_us = [&](const task_filter& f) {
    std::vector<int64_t> us;
    for (int i = 0; i < 25; ++i) {
      auto t0 = clock::now();
      auto p = ok(s->list_tasks(f));
      us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0)
                     .count());
      REQUIRE(p.items.size() == static_cast<size_t>(page_size));
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  for (bool by_state : {false, true}) {
    task_filter f;
    f.limit = page_size;
    if (by_state)
      f.state = task_state::active;
    auto first = f;
    for (int page = 1; page < 100; ++page)
      f.after = ok(s->list_tasks(f)).next;
    REQUIRE(f.after);
    auto first_us = median_us(first);
    auto hundredth_us = median_us(f);
    std::cout << db.kind() << (by_state ? " state=active" : " default order")
              << ": page 1 " << first_us << " us, page 100 (after id " << *f.after << ") "
              << hundredth_us << " us\n";
    std::cout << db.explain(f) << "\n";
  }
}

TEST_CASE("load_pending over a million pending tasks", "[.bench]") {
  WITH_EACH_BACKEND(db);
  constexpr int total = 1000000;
  constexpr int batch = 10000;
  auto s = db.open();
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  for (int i = 0; i < total; i += batch) {
    ok(s->begin());
    for (int j = 0; j < batch; ++j)
      ok(s->insert_task(make_task("true", 1727024400000 + (i + j) % 86400000)));
    ok(s->commit());
  }
  auto t1 = clock::now();
  int64_t count = 0;
  int64_t sum = 0;
  ok(s->load_pending([&](const pending_entry& e) {
    ++count;
    sum += e.id;
  }));
  auto t2 = clock::now();
  auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::cout << db.kind() << ": inserted " << total << " tasks in " << ms(t1 - t0)
            << " ms; load_pending took " << ms(t2 - t1) << " ms\n";
  CHECK(count == total);
  CHECK(sum > 0);
}

// -- SQLite only ------------------------------------------------------------------------------

TEST_CASE("sqlite creates missing folders, relative to the working directory", "[store][sqlite]") {
  temp_dir dir;
  auto absolute = dir.path() + "/a/b/c/tasks.db";
  ok(ok(open_store("sqlite:" + absolute))->ping());
  CHECK(fs::is_regular_file(absolute));

  auto cwd = fs::current_path();
  REQUIRE(chdir(dir.path().c_str()) == 0);
  auto s = open_store("sqlite:data/nested/rel.db");
  REQUIRE(chdir(cwd.c_str()) == 0);
  ok(ok(std::move(s))->ping());
  CHECK(fs::is_regular_file(dir.path() + "/data/nested/rel.db"));
}

TEST_CASE("sqlite uses WAL and keeps its files from child processes", "[store][sqlite]") {
  temp_dir dir;
  auto path = dir.path() + "/wal.db";
  auto s = ok(open_store("sqlite:" + path));
  insert(*s, make_task("true", 1));

  // WAL is a property of the file, visible to any connection.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(std::string{reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))} == "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);

  // Every descriptor on the database's files is close-on-exec.
  int seen = 0;
  for (auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code err;
    auto target = fs::read_symlink(entry.path(), err);
    if (err || target.string().rfind(dir.path(), 0) != 0)
      continue;
    auto fd = std::stoi(entry.path().filename().string());
    CAPTURE(target.string());
    auto flags = fcntl(fd, F_GETFD);
    REQUIRE(flags >= 0);
    CHECK((flags & FD_CLOEXEC) != 0);
    ++seen;
  }
  CHECK(seen >= 2); // the database and its WAL at least
  CHECK(fs::exists(path + "-wal"));
}

TEST_CASE("sqlite open errors map to error codes", "[store][sqlite]") {
  temp_dir dir;
  // A folder where the file should be: cannot open.
  fs::create_directories(dir.path() + "/is_a_dir.db");
  auto r = open_store("sqlite:" + dir.path() + "/is_a_dir.db");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ec::unavailable);
  // A file where a folder should be.
  { std::ofstream{dir.path() + "/file"} << "x"; }
  r = open_store("sqlite:" + dir.path() + "/file/x.db");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ec::unavailable);
  // Not a database.
  { std::ofstream{dir.path() + "/junk.db"} << std::string(4096, 'j'); }
  r = open_store("sqlite:" + dir.path() + "/junk.db");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ec::storage_failure);
  CHECK(render(r.error()).find("not a database") != std::string::npos);
  // Bad URLs never reach a backend.
  r = open_store("sqlite:");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ec::invalid_argument);
  r = open_store("mysql://u:topsecret@h:0/d");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == ec::invalid_argument);
  CHECK(render(r.error()).find("topsecret") == std::string::npos);
}

TEST_CASE("sqlite writers wait for a lock, then report unavailable", "[store][sqlite]") {
  temp_dir dir;
  auto path = dir.path() + "/busy.db";
  auto s = ok(open_store("sqlite:" + path));
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);

  SECTION("a lock released in time: the writer waits and succeeds") {
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::atomic<int> commit_rc{-1};
    std::thread releaser{[&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      commit_rc = sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
    }};
    auto err = s->begin();
    releaser.join();
    CHECK(commit_rc == SQLITE_OK);
    ok(err);
    ok(s->insert_task(make_task("true", 1)));
    ok(s->commit());
    CHECK(pending_of(*s).size() == 1);
  }
  SECTION("a lock held past the busy timeout: unavailable, nothing written") {
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    auto err = s->begin();
    CHECK(code_of(err) == ec::unavailable);
    s->rollback();
    REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(pending_of(*s).empty());
    ok(s->ping());
  }
  sqlite3_close(other);
}
