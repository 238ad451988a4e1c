#include "storage/row_mapping.hpp"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "storage/store.hpp"

namespace ts::storage {

namespace {

/// The columns are INT (SCHEMA.md); both APIs read every integer as 64 bits.
std::optional<int32_t> to_int32(const std::optional<int64_t>& x) {
  if (!x)
    return std::nullopt;
  return static_cast<int32_t>(*x);
}

} // namespace

caf::expected<task_view> to_task_view(task_row&& r, const char* backend) {
  auto status = parse_task_status(r.status);
  // Claimed but not started: the process does not exist yet (issue 10).
  if (status == task_status::running && r.run_status
      && (*r.run_status == to_string(run_status::starting)
          || *r.run_status == to_string(run_status::waiting)))
    status = task_status::pending;
  // The run's row records what happened; tasks.reason is a copy kept for the task alone.
  auto reason_text = r.run_reason ? r.run_reason : r.task_reason;
  auto reason = reason_text ? parse_run_reason(*reason_text) : run_reason::none;
  if (!status || !reason)
    return make_error(ec::storage_failure, std::string{backend}
                                             + ": unknown status or reason of task "
                                             + std::to_string(r.id));
  task_view v;
  v.id = r.id;
  v.command = std::move(r.command);
  // The scheduled time: a trigger moves the next run, and a finished run keeps its own.
  v.due = r.next_run_at ? *r.next_run_at : r.run_scheduled_for ? *r.run_scheduled_for : r.due;
  v.created_at = r.created_at;
  v.status = *status;
  v.run = r.latest_run;
  v.reason = *reason;
  v.exit_code = to_int32(r.exit_code);
  v.signal = to_int32(r.signal);
  v.output = std::move(r.output);
  v.output_truncated = r.output_truncated.value_or(0) != 0;
  v.started_at = r.started_at;
  v.finished_at = r.finished_at;
  return v;
}

task_record inserted_task(const new_task& t, task_id id) {
  task_record out;
  out.id = id;
  out.command = t.command;
  out.due = t.due;
  out.created_at = t.created_at;
  out.status = task_status::pending;
  return out;
}

caf::expected<task_record> replayed_task(keyed_row&& r, const new_task& t,
                                         const char* backend) {
  if (r.request_hash != t.request_hash)
    return make_error(ec::idempotency_conflict,
                      "the idempotency key was used with a different request");
  auto status = parse_task_status(r.status);
  if (!status)
    return make_error(ec::storage_failure, std::string{backend} + ": unknown status of task "
                                             + std::to_string(r.id));
  task_record out;
  out.id = r.id;
  out.command = std::move(r.command);
  out.due = r.due;
  out.created_at = r.created_at;
  out.status = *status;
  out.replayed = true;
  return out;
}

caf::error key_of_a_change() {
  return make_error(ec::idempotency_conflict,
                    "the idempotency key was used by a cancel or trigger");
}

caf::error check_replay(const request_key& key, task_id task, std::string_view used_hash,
                        task_id used_task) {
  // The hash covers the path, so another task cannot match; the id is checked all the same,
  // so that a replay never answers with a task the request did not name.
  if (used_hash == key.request_hash && used_task == task)
    return caf::none;
  return make_error(ec::idempotency_conflict,
                    "the idempotency key was used with a different request");
}

caf::error key_of_a_create() {
  return make_error(ec::idempotency_conflict, "the idempotency key was used to create a task");
}

orphan_run to_orphan(const running_row& r) {
  orphan_run o;
  o.run = r.run;
  o.task = r.task;
  // record_start writes the four columns in one statement: without all of them the process
  // cannot be told from another one that reuses its pid, so it counts as never recorded.
  if (r.pid && r.pgid && r.start_ticks && r.started_at)
    o.process = process_start{r.run, static_cast<int32_t>(*r.pid),
                              static_cast<int32_t>(*r.pgid),
                              static_cast<uint64_t>(*r.start_ticks), *r.started_at};
  return o;
}

caf::expected<outcome_columns> columns_of(const run_outcome& o) {
  if (o.status != task_status::success && o.status != task_status::failure)
    return make_error(ec::invalid_argument, "a run ends as success or failure");
  outcome_columns c;
  c.status = to_string(o.status);
  if (o.reason != run_reason::none)
    c.run_reason = to_string(o.reason);
  if (o.status == task_status::failure)
    c.task_reason = c.run_reason;
  c.exit_code = o.exit_code;
  c.signal = o.signal;
  c.output_truncated = o.output_truncated ? 1 : 0;
  c.started_at = o.started_at;
  return c;
}

bool retries(const run_outcome& o, std::string_view status, std::string_view reason,
             std::string_view state) {
  return o.retry_at && status == to_string(run_status::failure)
         && reason != to_string(run_reason::cancelled)
         && reason != to_string(run_reason::replaced)
         && state != to_string(task_state::cancelled);
}

caf::error check_retry_interrupted(run_id run, std::string_view status,
                                   std::string_view reason, bool latest,
                                   std::string_view state) {
  if (status != to_string(run_status::failure) || reason != to_string(run_reason::interrupted)
      || !latest)
    return make_error(ec::invalid_state, "run " + std::to_string(run)
                                           + " is not its task's latest, interrupted run");
  if (state == to_string(task_state::cancelled))
    return make_error(ec::invalid_state, "run " + std::to_string(run) + ": its task is cancelled");
  return caf::none;
}

caf::expected<controls_columns> columns_of(const task_controls& c) {
  controls_columns out;
  out.timeout_ms = c.timeout_ms;
  out.kill_grace_ms = c.kill_grace_ms;
  out.retry_max_attempts = c.retry.max_attempts;
  out.retry_delay_ms = c.retry.delay_ms;
  out.retry_multiplier = c.retry.multiplier;
  out.retry_max_delay_ms = c.retry.max_delay_ms;
  out.retry_jitter = to_string(c.retry.jitter);
  out.retry_on_interrupted = c.retry.on_interrupted ? 1 : 0;
  // Pairs, not an object: the order is kept, and JSON objects promise none.
  auto env = nlohmann::json::array();
  for (auto& v : c.env)
    env.push_back(nlohmann::json::array({v.key, v.value}));
  try {
    out.env = env.dump();
  } catch (const nlohmann::json::exception&) {
    return make_error(ec::invalid_argument, "an environment variable is not valid UTF-8");
  }
  out.cwd = c.cwd;
  out.run_as = c.run_as;
  return out;
}

recurrence_columns recurrence_of(const new_task& t) {
  recurrence_columns c;
  if (t.recur.cron)
    c.cron = std::string_view{*t.recur.cron};
  c.every_s = t.recur.every_s;
  c.anchor_ms = t.recur.anchor;
  c.start_ms = t.recur.start_at;
  c.end_ms = t.recur.end_at;
  c.max_runs = t.recur.max_runs;
  c.misfire = to_string(t.policy.misfire);
  c.misfire_grace_ms = t.policy.misfire_grace_ms;
  c.overlap = to_string(t.policy.overlap);
  c.history_keep = t.policy.history_keep;
  if (t.recur.recurring())
    c.next_occurrence_ms = t.due;
  recurrence_policy d;
  c.needed = t.recur.recurring() || t.policy.misfire != d.misfire
             || t.policy.misfire_grace_ms != d.misfire_grace_ms
             || t.policy.overlap != d.overlap || t.policy.history_keep != d.history_keep;
  return c;
}

// -- v1 reads ---------------------------------------------------------------------------------

const std::vector<cell> run_cells = {
  cell::integer, cell::integer, cell::integer, cell::text,    cell::integer, cell::text,
  cell::text,    cell::integer, cell::integer, cell::integer, cell::integer, cell::text,
  cell::text,    cell::integer, cell::integer, cell::integer, cell::integer, cell::integer,
  cell::integer, cell::text,    cell::integer,
};

const std::vector<cell> controls_cells = {
  cell::integer, cell::integer, cell::integer, cell::integer, cell::real, cell::integer,
  cell::text,    cell::integer, cell::text,    cell::text,    cell::text,
};

const std::vector<cell> recurrence_cells = {
  cell::text,    cell::integer, cell::integer, cell::integer, cell::integer,
  cell::integer, cell::text,    cell::integer, cell::text,    cell::integer,
};

// After the lists it is made of (one file: initialised in this order).
const std::vector<cell> task_cells = [] {
  std::vector<cell> out{cell::integer, cell::text,    cell::text,    cell::integer,
                        cell::text,    cell::integer, cell::text,    cell::integer,
                        cell::integer, cell::integer, cell::integer};
  out.insert(out.end(), controls_cells.begin(), controls_cells.end());
  out.insert(out.end(), run_cells.begin(), run_cells.end());
  out.insert(out.end(), recurrence_cells.begin(), recurrence_cells.end());
  out.insert(out.end(), {cell::integer, cell::integer});
  return out;
}();


namespace {

constexpr int task_cell_count = 11;

caf::error unknown_name(const char* backend, const char* what, int64_t id) {
  return make_error(ec::storage_failure, std::string{backend} + ": unknown " + what + " of "
                                           + std::to_string(id));
}

} // namespace

void trim_partial_start(std::string& text) {
  size_t n = 0;
  while (n < text.size() && n < 3 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    ++n;
  text.erase(0, n);
}

caf::expected<std::optional<run_info>> read_run(const cell_reader& r, int first, int64_t tail,
                                                const char* backend) {
  auto id = r.integer(first);
  if (!id)
    return std::optional<run_info>{};
  run_info x;
  x.id = *id;
  x.task = r.integer(first + 1).value_or(0);
  x.attempt = static_cast<int32_t>(r.integer(first + 2).value_or(1));
  auto trigger = parse_run_trigger(r.text(first + 3).value_or(""));
  auto status = parse_run_status(r.text(first + 5).value_or(""));
  auto reason_text = r.text(first + 6);
  auto reason = reason_text ? parse_run_reason(*reason_text) : run_reason::none;
  if (!trigger || !status || !reason)
    return unknown_name(backend, "trigger, status or reason of run", x.id);
  x.trigger = *trigger;
  x.scheduled_for = r.integer(first + 4).value_or(0);
  x.status = *status;
  x.reason = *reason;
  x.started_at = r.integer(first + 7);
  x.finished_at = r.integer(first + 8);
  x.exit_code = to_int32(r.integer(first + 9));
  x.signal = to_int32(r.integer(first + 10));
  x.message = r.text(first + 11);
  x.output = r.text(first + 12).value_or("");
  auto kept = r.integer(first + 14).value_or(0);
  x.output_truncated = r.integer(first + 13).value_or(0) != 0 || kept > tail;
  if (kept > tail)
    trim_partial_start(x.output);
  x.lateness_ms = r.integer(first + 16);
  x.stop_requested = r.integer(first + 17).has_value();
  x.output_size = r.integer(first + 15).value_or(0);
  // The column keeps a claimed retry's due time (its lateness counts from it); the API
  // shows it only while the attempt waits.
  if (x.status == run_status::waiting)
    x.next_attempt_at = r.integer(first + 18);
  if (auto skip = r.text(first + 19)) {
    x.skip = parse_skip_reason(*skip);
    if (!x.skip)
      return unknown_name(backend, "skip reason of run", x.id);
    x.missed_count = r.integer(first + 20);
  }
  return std::optional<run_info>{std::move(x)};
}

caf::expected<task_controls> read_controls(const cell_reader& r, int first, task_id task,
                                           const char* backend) {
  task_controls c;
  c.timeout_ms = r.integer(first);
  c.kill_grace_ms = r.integer(first + 1).value_or(c.kill_grace_ms);
  auto& p = c.retry;
  p.max_attempts = static_cast<int32_t>(r.integer(first + 2).value_or(p.max_attempts));
  p.delay_ms = r.integer(first + 3).value_or(p.delay_ms);
  p.multiplier = r.real(first + 4).value_or(p.multiplier);
  p.max_delay_ms = r.integer(first + 5).value_or(p.max_delay_ms);
  auto jitter = parse_retry_jitter(r.text(first + 6).value_or(""));
  p.on_interrupted = r.integer(first + 7).value_or(0) != 0;
  auto env = nlohmann::json::parse(r.text(first + 8).value_or(""), nullptr, false);
  bool env_ok = env.is_array();
  if (env_ok)
    for (auto& v : env) {
      if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string()) {
        env_ok = false;
        break;
      }
      c.env.push_back(label{v[0].get<std::string>(), v[1].get<std::string>()});
    }
  if (!jitter || !env_ok)
    return unknown_name(backend, "retry jitter or env of task", task);
  p.jitter = *jitter;
  c.cwd = r.text(first + 9);
  c.run_as = r.text(first + 10);
  return c;
}

caf::expected<task_info> read_task(const cell_reader& r, int64_t tail, const char* backend) {
  task_info t;
  t.id = r.integer(0).value_or(0);
  t.command = r.text(1).value_or("");
  t.name = r.text(2);
  t.due = r.integer(3).value_or(0);
  t.time_zone = r.text(4);
  t.output_limit_bytes = r.integer(5).value_or(defaults::output_limit_bytes);
  auto state = parse_task_state(r.text(6).value_or(""));
  if (!state)
    return unknown_name(backend, "state of task", t.id);
  t.state = *state;
  t.version = r.integer(7).value_or(1);
  t.next_run_at = r.integer(8);
  t.created_at = r.integer(9).value_or(0);
  t.updated_at = r.integer(10).value_or(0);
  auto controls = read_controls(r, task_cell_count, t.id, backend);
  if (!controls)
    return controls.error();
  t.controls = std::move(*controls);
  auto run = read_run(r, task_cell_count + static_cast<int>(controls_cells.size()), tail,
                      backend);
  if (!run)
    return run.error();
  t.latest_run = std::move(*run);
  auto first = task_cell_count + static_cast<int>(controls_cells.size() + run_cells.size());
  if (auto err = read_recurrence(r, first, t.id, backend, t.recur, t.policy))
    return err;
  first += static_cast<int>(recurrence_cells.size());
  t.paused_at = r.integer(first);
  t.scheduled_runs = r.integer(first + 1).value_or(0);
  return t;
}

caf::error read_recurrence(const cell_reader& r, int first, task_id task, const char* backend,
                           schedule_spec& spec, recurrence_policy& policy) {
  spec.cron = r.text(first);
  spec.every_s = r.integer(first + 1);
  spec.anchor = r.integer(first + 2);
  spec.start_at = r.integer(first + 3);
  spec.end_at = r.integer(first + 4);
  spec.max_runs = r.integer(first + 5);
  auto misfire = parse_misfire_policy(r.text(first + 6).value_or(""));
  auto overlap = parse_overlap_policy(r.text(first + 8).value_or(""));
  if (!misfire || !overlap)
    return unknown_name(backend, "misfire or overlap policy of task", task);
  policy.misfire = *misfire;
  policy.misfire_grace_ms = r.integer(first + 7).value_or(defaults::misfire_grace_ms);
  policy.overlap = *overlap;
  policy.history_keep = static_cast<int32_t>(r.integer(first + 9).value_or(defaults::history_keep));
  return caf::none;
}

slice_builder::slice_builder(run_id run, int64_t offset, int64_t max_bytes)
  : max_bytes_(max_bytes) {
  out_.run = run;
  out_.offset = offset;
  out_.next_offset = offset;
}

bool slice_builder::add(int64_t chunk_end, std::string_view bytes) {
  auto start = chunk_end - static_cast<int64_t>(bytes.size());
  if (!started_) {
    // The asked byte was dropped by the output limit: go on from the oldest one kept.
    if (start > out_.offset)
      out_.offset = start;
    started_ = true;
  }
  auto from = out_.offset + static_cast<int64_t>(out_.data.size());
  if (chunk_end <= from)
    return true;
  auto skip = from > start ? from - start : 0;
  auto room = max_bytes_ - static_cast<int64_t>(out_.data.size());
  auto take = std::min<int64_t>(static_cast<int64_t>(bytes.size()) - skip, room);
  out_.data.append(bytes.substr(static_cast<size_t>(skip), static_cast<size_t>(take)));
  return static_cast<int64_t>(out_.data.size()) < max_bytes_;
}

output_slice slice_builder::finish(bool run_ended, int64_t stream_end) {
  out_.next_offset = out_.offset + static_cast<int64_t>(out_.data.size());
  // An offset past the end (or into nothing stored) stays where it was asked.
  out_.complete = run_ended && out_.next_offset >= stream_end;
  return std::move(out_);
}

caf::error check_append(run_id run, int64_t offset, int64_t end, int64_t stored) {
  if (offset == stored || end <= stored)
    return caf::none;
  return make_error(ec::invalid_argument,
                    "run " + std::to_string(run) + ": output from byte " + std::to_string(offset)
                      + " does not follow the " + std::to_string(stored) + " bytes stored");
}

caf::error check_trigger(task_id task, std::string_view status, std::string_view state,
                         std::string_view latest_run_status) {
  if (state == to_string(task_state::cancelled))
    return invalid_state(task, "a cancelled task cannot be triggered");
  if (state == to_string(task_state::paused))
    return invalid_state(task, "a paused task cannot be triggered: resume it first");
  if (status == to_string(task_status::running))
    return invalid_state(task, "a run of the task is in progress");
  // The retry is the task's next run; a trigger would take its place unseen.
  if (latest_run_status == to_string(run_status::waiting))
    return invalid_state(task, "a retry of the task is waiting");
  return caf::none;
}

bool run_ended(std::string_view status) {
  return status == to_string(run_status::success) || status == to_string(run_status::failure)
         || status == to_string(run_status::skipped);
}

caf::error invalid_state(task_id task, std::string_view why) {
  return make_error(ec::invalid_state, "task " + std::to_string(task) + ": " + std::string{why});
}

caf::error check_schema_version(int64_t version) {
  if (version <= schema_version)
    return caf::none;
  return make_error(ec::schema_too_new, "database schema version " + std::to_string(version)
                                          + " is newer than this binary supports ("
                                          + std::to_string(schema_version) + ")");
}

caf::error not_pending(task_id task, std::string_view status) {
  return make_error(ec::not_pending, "task " + std::to_string(task) + " is "
                                       + std::string{status} + ", not pending");
}

caf::error check_unclaimable(run_id run, std::string_view status, bool started) {
  if (status == to_string(run_status::starting) && !started)
    return caf::none;
  return make_error(ec::not_pending, "run " + std::to_string(run) + " has started or ended");
}

caf::error check_requeueable(run_id run, std::string_view status, std::string_view reason,
                             bool started) {
  if (!started && (status == to_string(run_status::starting)
                   || (status == to_string(run_status::failure)
                       && reason == to_string(run_reason::interrupted))))
    return caf::none;
  return make_error(ec::not_pending, "run " + std::to_string(run) + " may have started");
}

} // namespace ts::storage
