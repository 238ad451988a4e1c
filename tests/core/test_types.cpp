// The vocabulary's message types through CAF 0.17's binary serialisation, with their
// optional fields present and absent: a remote executor will one day receive exactly these
// bytes, and CAF 0.17 has no inspect for std::optional of its own (core/optional_field.hpp).
// Also the status and reason names, which the stores and the API read back with the parsers.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/optional.hpp>

#include "core/types.hpp"

using namespace ts;

namespace {

template <class T>
std::vector<char> bytes_of(T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(x);
  REQUIRE(!err);
  return buf;
}

/// Loads `buf` into `into` (which may hold other values first) and requires every byte used.
template <class T>
void load(const std::vector<char>& buf, T& into) {
  caf::binary_deserializer source{nullptr, buf};
  auto err = source(into);
  REQUIRE(!err);
  CHECK(source.remaining() == 0);
}

template <class T>
T round_trip(T x) {
  auto buf = bytes_of(x);
  T out;
  load(buf, out);
  return out;
}

// The fields in declaration order, so that a test compares whole values.
auto fields(const new_task& x) {
  return std::tie(x.command, x.due, x.created_at, x.idempotency_key, x.request_hash);
}
auto fields(const task_record& x) {
  return std::tie(x.id, x.command, x.due, x.created_at, x.status, x.replayed);
}
auto fields(const task_view& x) {
  return std::tie(x.id, x.command, x.due, x.created_at, x.status, x.run, x.reason,
                  x.exit_code, x.signal, x.output, x.output_truncated, x.started_at,
                  x.finished_at);
}
auto fields(const claim& x) {
  return std::tie(x.run, x.task, x.command, x.due, x.output_limit_bytes, x.attempt,
                  x.scheduled_for);
}
auto fields(const process_start& x) {
  return std::tie(x.run, x.pid, x.pgid, x.start_ticks, x.started_at);
}
auto fields(const run_outcome& x) {
  return std::tie(x.run, x.task, x.status, x.reason, x.exit_code, x.signal, x.output,
                  x.output_truncated, x.started_at, x.finished_at, x.retry_at, x.message);
}
auto fields(const pending_entry& x) {
  return std::tie(x.id, x.due);
}

bool same(const orphan_run& a, const orphan_run& b) {
  if (std::tie(a.run, a.task) != std::tie(b.run, b.task)
      || a.process.has_value() != b.process.has_value())
    return false;
  return !a.process || fields(*a.process) == fields(*b.process);
}

task_view full_view() {
  task_view v;
  v.id = 7;
  v.command = "echo \xC3\xA9";
  v.due = 1727024400000;
  v.created_at = 1727024399000;
  v.status = task_status::failure;
  v.run = 3;
  v.reason = run_reason::signal;
  v.exit_code = 0;  // 0 is a value, not absence
  v.signal = 9;
  v.output = std::string(70000, 'x');
  v.output_truncated = true;
  v.started_at = 0;
  v.finished_at = 1727024400015;
  return v;
}

} // namespace

TEST_CASE("new_task: the idempotency key present, empty-but-present and absent", "[types]") {
  new_task t;
  t.command = "echo hi";
  t.due = 1000;
  t.created_at = 900;
  t.idempotency_key = std::string{"key-1"};
  t.request_hash = "abc";
  CHECK(fields(round_trip(t)) == fields(t));
  t.idempotency_key = std::string{};
  auto empty = round_trip(t);
  REQUIRE(empty.idempotency_key.has_value());
  CHECK(empty.idempotency_key->empty());
  t.idempotency_key.reset();
  CHECK(fields(round_trip(t)) == fields(t));
  CHECK_FALSE(round_trip(t).idempotency_key.has_value());
}

TEST_CASE("task_view: every optional present, then every one absent", "[types]") {
  auto v = full_view();
  CHECK(fields(round_trip(v)) == fields(v));

  task_view bare;
  bare.id = 8;
  bare.command = "true";
  bare.due = 5;
  bare.created_at = 4;
  auto back = round_trip(bare);
  CHECK(fields(back) == fields(bare));
  CHECK_FALSE(back.run);
  CHECK_FALSE(back.exit_code);
  CHECK_FALSE(back.signal);
  CHECK_FALSE(back.started_at);
  CHECK_FALSE(back.finished_at);

  // Loading an absent field over a present one clears it.
  auto buf = bytes_of(bare);
  auto target = full_view();
  load(buf, target);
  CHECK(fields(target) == fields(bare));
}

TEST_CASE("task_view: some fields present, some absent", "[types]") {
  task_view v;
  v.id = 1;
  v.status = task_status::running;
  v.run = 2;
  v.started_at = 1000;
  CHECK(fields(round_trip(v)) == fields(v));
  v.started_at.reset();
  v.exit_code = -1;  // negative numbers are values too
  CHECK(fields(round_trip(v)) == fields(v));
}

TEST_CASE("run_outcome: exited, killed and never started", "[types]") {
  run_outcome exited{4, 2, task_status::success, run_reason::none, 0, std::nullopt,
                     "out", false, 100, 200, std::nullopt, std::nullopt};
  CHECK(fields(round_trip(exited)) == fields(exited));
  run_outcome killed{5, 2, task_status::failure, run_reason::signal, std::nullopt, 15,
                     "", true, 100, 200, 2500, std::string{"retried"}};
  CHECK(fields(round_trip(killed)) == fields(killed));
  run_outcome never{6, 3, task_status::failure, run_reason::start_failed, std::nullopt,
                    std::nullopt, "start_failed: no shell", false, std::nullopt, 300,
                    std::nullopt, std::string{"no shell"}};
  auto back = round_trip(never);
  CHECK(fields(back) == fields(never));
  CHECK_FALSE(back.started_at);
}

TEST_CASE("orphan_run: with and without its process", "[types]") {
  orphan_run with{9, 4, process_start{9, 31337, 31330, 1099511627776ull, 1001}};
  CHECK(same(round_trip(with), with));
  orphan_run without{10, 5, std::nullopt};
  auto back = round_trip(without);
  CHECK(same(back, without));
  CHECK_FALSE(back.process);
  // An absent process loaded over a present one is gone.
  auto buf = bytes_of(without);
  load(buf, with);
  CHECK(same(with, without));
}

TEST_CASE("the types without optional fields", "[types]") {
  task_record r{11, "echo", 10, 9, task_status::pending, true};
  CHECK(fields(round_trip(r)) == fields(r));
  claim c{12, 11, "echo", 10, 4096, 2, 9, task_controls{}, false, {}, {}, {}};
  CHECK(fields(round_trip(c)) == fields(c));
  // A recurring claim's decisions, present.
  claim rc = c;
  rc.skipped = true;
  rc.rearm_at = 20;
  rc.after_run = 7;
  rc.stop_run = 8;
  auto rb = round_trip(rc);
  CHECK(rb.skipped);
  CHECK(rb.rearm_at == 20);
  CHECK(rb.after_run == 7);
  CHECK(rb.stop_run == 8);
  // The controls of a claim, every field set, through the same serialisation.
  claim full = c;
  full.controls.timeout_ms = 1500;
  full.controls.kill_grace_ms = 2500;
  full.controls.retry = retry_policy{5, 100, 1.5, 9000, retry_jitter::equal, true};
  full.controls.env = {{"A", "1"}, {"B", ""}};
  full.controls.cwd = std::string{"/tmp"};
  full.controls.run_as = std::string{"nobody"};
  auto fb = round_trip(full);
  CHECK(fb.attempt == 2);
  CHECK(fb.scheduled_for == 9);
  CHECK(fb.controls.timeout_ms == 1500);
  CHECK(fb.controls.kill_grace_ms == 2500);
  CHECK(fb.controls.retry.max_attempts == 5);
  CHECK(fb.controls.retry.multiplier == 1.5);
  CHECK(fb.controls.retry.jitter == retry_jitter::equal);
  CHECK(fb.controls.retry.on_interrupted);
  CHECK(fb.controls.env == full.controls.env);
  CHECK(fb.controls.cwd == "/tmp");
  CHECK(fb.controls.run_as == "nobody");
  process_start p{12, 100, 100, 5, 42};
  CHECK(fields(round_trip(p)) == fields(p));
  std::vector<pending_entry> entries{{1, 10}, {2, 20}, {3, -5}};
  auto back = round_trip(entries);
  REQUIRE(back.size() == entries.size());
  for (size_t i = 0; i < entries.size(); ++i)
    CHECK(fields(back[i]) == fields(entries[i]));
}

TEST_CASE("ts::opt writes the bytes caf::optional writes", "[types]") {
  // The claim in core/optional_field.hpp: a flag, then the value when present.
  auto as_caf = [](std::optional<int32_t> x) {
    caf::optional<int32_t> y;
    if (x)
      y = *x;
    return bytes_of(y);
  };
  for (auto x : {std::optional<int32_t>{}, std::optional<int32_t>{0},
                 std::optional<int32_t>{-7}}) {
    auto field = opt(x);
    CHECK(bytes_of(field) == as_caf(x));
  }
}

TEST_CASE("messages print with their optional fields", "[types]") {
  // CAF prints a message's elements with a reading inspector of its own.
  auto v = full_view();
  auto text = caf::deep_to_string(v);
  CHECK(text.find("ts.task_view") != std::string::npos);
  task_view bare;
  CHECK_FALSE(caf::deep_to_string(bare).empty());
}

TEST_CASE("status and reason names parse back, and nothing else parses", "[types]") {
  for (auto s : {task_status::pending, task_status::running, task_status::success,
                 task_status::failure})
    CHECK(parse_task_status(to_string(s)) == s);
  for (auto r : {run_reason::none, run_reason::exit, run_reason::signal,
                 run_reason::start_failed, run_reason::interrupted})
    CHECK(parse_run_reason(to_string(r)) == r);
  // "unknown" is what to_string gives a value outside the enum.
  for (auto text : {"", "unknown", "Pending", "pending ", "none\n", "NULL"}) {
    CHECK_FALSE(parse_task_status(text));
    CHECK_FALSE(parse_run_reason(text));
  }
  CHECK_FALSE(parse_task_status("interrupted"));  // a reason, not a status
  CHECK_FALSE(parse_run_reason("failure"));       // a status, not a reason
}

TEST_CASE("the v1 resources round-trip, their optional fields present and absent", "[types]") {
  run_info r;
  r.id = 12;
  r.task = 7;
  r.attempt = 2;
  r.trigger = run_trigger::manual;
  r.scheduled_for = 1727024400000;
  r.status = run_status::failure;
  r.reason = run_reason::cancelled;
  r.started_at = 1727024400003;
  r.finished_at = 1727024400050;
  r.signal = 15;
  r.message = "stopped by a cancel";
  r.output = "partial\n";
  r.output_truncated = true;
  r.lateness_ms = 3;
  r.stop_requested = true;
  r.output_size = 70000;
  task_info t;
  t.id = 7;
  t.command = "sleep 100";
  t.name = "nightly";
  t.labels = {{"env", "prod"}, {"team", "ops"}};
  t.due = 1727024400000;
  t.time_zone = "Europe/Zurich";
  t.output_limit_bytes = 1 << 20;
  t.state = task_state::cancelled;
  t.version = 4;
  t.created_at = 1727024300000;
  t.updated_at = 1727024400040;
  t.latest_run = r;
  auto same_run = [](const run_info& a, const run_info& b) {
    return std::tie(a.id, a.task, a.attempt, a.trigger, a.scheduled_for, a.status, a.reason,
                    a.started_at, a.finished_at, a.exit_code, a.signal, a.message, a.output,
                    a.output_truncated, a.lateness_ms, a.stop_requested, a.output_size)
           == std::tie(b.id, b.task, b.attempt, b.trigger, b.scheduled_for, b.status, b.reason,
                       b.started_at, b.finished_at, b.exit_code, b.signal, b.message, b.output,
                       b.output_truncated, b.lateness_ms, b.stop_requested, b.output_size);
  };
  auto back = round_trip(t);
  CHECK(back.name == t.name);
  CHECK(back.labels == t.labels);
  CHECK(back.time_zone == t.time_zone);
  CHECK(back.state == task_state::cancelled);
  CHECK(back.version == 4);
  CHECK_FALSE(back.next_run_at);
  CHECK(back.updated_at == t.updated_at);
  REQUIRE(back.latest_run);
  CHECK(same_run(*back.latest_run, r));
  // Absent: no name, no zone, no run; a run never started.
  task_info bare;
  bare.id = 8;
  bare.next_run_at = 0;
  auto bare_back = round_trip(bare);
  CHECK_FALSE(bare_back.name);
  CHECK_FALSE(bare_back.latest_run);
  CHECK(bare_back.next_run_at == 0);
  run_info fresh;
  CHECK(same_run(round_trip(fresh), fresh));

  task_page page{{t, bare}, 8};
  auto page_back = round_trip(page);
  REQUIRE(page_back.items.size() == 2);
  CHECK(page_back.next == 8);
  output_slice s{12, 100, std::string("a\0b", 3), 103, true};
  auto s_back = round_trip(s);
  CHECK(s_back.data == s.data);
  CHECK(s_back.next_offset == 103);
  CHECK(s_back.complete);
  task_change c{t, 12, true};
  auto c_back = round_trip(c);
  CHECK(c_back.stop_run == 12);
  CHECK(c_back.replayed);
  CHECK(c_back.task.id == t.id);
  request_key k{std::string{"key"}, "hash"};
  auto k_back = round_trip(k);
  CHECK(k_back.idempotency_key == "key");
  CHECK(k_back.request_hash == "hash");
  CHECK_FALSE(round_trip(request_key{}).idempotency_key);
}

TEST_CASE("the v1 names read back as what they were written as", "[types]") {
  for (auto x : {task_state::active, task_state::completed, task_state::cancelled})
    CHECK(parse_task_state(to_string(x)) == x);
  for (auto x : {run_status::waiting, run_status::starting, run_status::running,
                 run_status::success, run_status::failure})
    CHECK(parse_run_status(to_string(x)) == x);
  for (auto x : {run_trigger::schedule, run_trigger::manual})
    CHECK(parse_run_trigger(to_string(x)) == x);
  CHECK(parse_run_reason("cancelled") == run_reason::cancelled);
  CHECK(parse_task_status("cancelled") == task_status::cancelled);
  CHECK_FALSE(parse_run_status("pending"));
  CHECK_FALSE(parse_task_state("Active"));
}
