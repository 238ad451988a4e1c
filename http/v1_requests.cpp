#include "http/v1_requests.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/civil.hpp"
#include "core/sha256.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "http/cursor.hpp"
#include "http/requests.hpp"
#include "http/v1_controls.hpp"
#include "http/v1_schedule.hpp"

namespace ts::api {

namespace {

using json = nlohmann::json;

constexpr int64_t ms_per_s = 1000;

// Names and label values are shown in lists and dashboards: no control characters.
bool printable_text(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool valid_label_key(std::string_view k) {
  auto ok = [](char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      return true;
    return !first && (c == '.' || c == '_' || c == '/' || c == '-');
  };
  if (k.empty() || k.size() > 63)
    return false;
  for (size_t i = 0; i < k.size(); ++i)
    if (!ok(k[i], i == 0))
      return false;
  return true;
}

caf::error check_command(const json& j) {
  if (!j.is_string())
    return field_error("command", "command must be a string");
  auto& c = j.get_ref<const std::string&>();
  if (trim(c).empty())
    return field_error("command", "command must not be empty");
  if (c.find('\0') != std::string::npos)
    return field_error("command", "command must not contain a NUL byte");
  if (c.size() > max_task_bytes)
    return field_error("command", "command must be at most 65536 bytes");
  if (!valid_utf8(c))
    return field_error("command", "command must be valid UTF-8");
  return caf::none;
}

caf::error read_name(const json& j, new_task& t) {
  if (j.is_null())
    return caf::none;
  if (!j.is_string())
    return field_error("name", "name must be a string or null");
  auto& n = j.get_ref<const std::string&>();
  if (n.empty() || n.size() > max_name_bytes)
    return field_error("name", "name must be 1 to 200 bytes");
  if (!printable_text(n) || !valid_utf8(n))
    return field_error("name", "name must be UTF-8 without control characters");
  t.name = n;
  return caf::none;
}

caf::error read_labels(const json& j, new_task& t) {
  if (!j.is_object())
    return field_error("labels", "labels must be an object of strings");
  if (j.size() > max_labels)
    return field_error("labels", "a task has at most 32 labels");
  // nlohmann's object is sorted by key: the labels come out sorted, as the store keeps them.
  for (auto& [key, value] : j.items()) {
    auto field = "labels." + key;
    if (!valid_label_key(key))
      return field_error(field, "a label key is 1 to 63 characters of a-z, 0-9 and . _ / -,"
                                " starting with a letter or digit");
    if (!value.is_string())
      return field_error(field, "a label value must be a string");
    auto& v = value.get_ref<const std::string&>();
    if (v.size() > max_label_value_bytes)
      return field_error(field, "a label value is at most 200 bytes");
    if (!printable_text(v) || !valid_utf8(v))
      return field_error(field, "a label value must be UTF-8 without control characters");
    t.labels.push_back(label{key, v});
  }
  return caf::none;
}

caf::error read_output_limit(const json& j, new_task& t, const v1_limits& limits) {
  auto v = read_integer(j, "output_limit_bytes", 1, limits.max_output_bytes,
                        "output_limit_bytes must be an integer from 1 to "
                          + std::to_string(limits.max_output_bytes));
  if (!v)
    return v.error();
  t.output_limit_bytes = *v;
  return caf::none;
}

caf::error read_schedule(const json& j, new_task& t, millis now, const v1_limits& limits) {
  auto s = parse_schedule(j, now, limits);
  if (!s)
    return s.error();
  t.time_zone = std::move(s->time_zone);
  const auto& v = s->value;
  if (!v.recurring()) {
    // A window around a one-shot time was checked to hold it; nothing else is left of it.
    t.due = s->at_ms;
    return caf::none;
  }
  // parse_schedule refused a schedule without occurrences; its first one is the task's due.
  auto first = first_occurrence(v, civil::floor_div(now, ms_per_s));
  if (!first)
    return make_field_error(http_ec::schedule_never_fires, "schedule",
                            "the schedule has no occurrence from now on");
  t.due = first->utc * ms_per_s;
  auto ms = [](std::optional<int64_t> s) -> std::optional<millis> {
    if (!s)
      return std::nullopt;
    return *s * ms_per_s;
  };
  auto& r = t.recur;
  if (v.what == schedule::kind::cron) {
    r.cron = v.cron_text;
    // A cron expression means wall-clock times in one zone: keep the zone it was read in
    // (--default-time-zone when the request named none), so that a later change of the
    // option or of the process's zone does not move the task. Without either, the
    // process's zone, which is also what a stored task without a zone is read in.
    if (!t.time_zone && limits.zone)
      t.time_zone = limits.zone->name();
  } else {
    r.every_s = v.every_s;
    r.anchor = v.anchor * ms_per_s;
  }
  r.start_at = ms(v.start_at);
  r.end_at = ms(v.end_at);
  r.max_runs = v.max_runs;
  return caf::none;
}

// -- query strings ------------------------------------------------------------------------

caf::error once(const std::optional<std::string>& seen, const std::string& key) {
  if (seen)
    return field_error(key, key + " must be given once");
  return caf::none;
}

caf::expected<int32_t> read_limit(const std::string& value) {
  auto bad = [] { return field_error("limit", "limit must be an integer from 1 to 500"); };
  if (value.empty() || value.size() > 3)
    return bad();
  int32_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9')
      return bad();
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > max_page)
    return bad();
  return n;
}

} // namespace

caf::expected<new_task> read_create_body(const json& body, millis now,
                                         const v1_limits& limits) {
  for (auto& [key, value] : body.items())
    if (std::find(create_fields.begin(), create_fields.end(), key) == create_fields.end())
      return unknown(key);
  auto command = body.find("command");
  if (command == body.end())
    return field_error("command", "command is missing");
  if (auto err = check_command(*command))
    return err;
  new_task t;
  t.command = command->get<std::string>();
  t.created_at = now;
  if (auto i = body.find("name"); i != body.end())
    if (auto err = read_name(*i, t))
      return err;
  if (auto i = body.find("labels"); i != body.end())
    if (auto err = read_labels(*i, t))
      return err;
  if (auto i = body.find("output_limit_bytes"); i != body.end())
    if (auto err = read_output_limit(*i, t, limits))
      return err;
  if (auto err = read_controls(body, t.controls, limits))
    return err;
  if (auto err = read_policy(body, t.policy))
    return err;
  auto schedule = body.find("schedule");
  if (auto err = read_schedule(schedule == body.end() ? json{} : *schedule, t, now, limits))
    return err;
  return t;
}

caf::expected<new_task> parse_create_request(std::string_view body,
                                             std::optional<std::string_view> content_type,
                                             std::optional<std::string_view> idempotency_key,
                                             millis now, const v1_limits& limits) {
  if (auto err = check_json_content_type(content_type))
    return err;
  if (auto err = check_idempotency_key(idempotency_key))
    return err;
  auto j = parse_object(body);
  if (!j)
    return j.error();
  auto t = read_create_body(*j, now, limits);
  if (!t)
    return t;
  if (idempotency_key)
    t->idempotency_key = std::string{*idempotency_key};
  // The canonical body (sorted keys), so that a retry is told from a different request;
  // "v1" keeps it apart from a legacy request with the same key. A request without a time
  // means "now": its retry is the same request, whenever it comes.
  t->request_hash = sha256_hex("v1 POST /v1/tasks " + j->dump(-1, ' ', false,
                                                             json::error_handler_t::replace));
  return t;
}

caf::expected<request_key> parse_action_request(std::string_view body,
                                                std::optional<std::string_view> content_type,
                                                std::optional<std::string_view> idempotency_key,
                                                std::string_view what) {
  if (auto err = check_idempotency_key(idempotency_key))
    return err;
  if (!trim(body).empty()) {
    if (auto err = check_json_content_type(content_type))
      return err;
    auto j = parse_object(body);
    if (!j)
      return j.error();
    if (!j->empty())
      return unknown(j->begin().key());
  }
  request_key key;
  if (idempotency_key)
    key.idempotency_key = std::string{*idempotency_key};
  key.request_hash = sha256_hex("v1 " + std::string{what});
  return key;
}

caf::expected<task_list_request> parse_task_list_query(std::string_view query) {
  auto params = parse_query(query);
  if (!params)
    return params.error();
  task_list_request out;
  auto& f = out.filter;
  f.limit = default_page;
  std::optional<std::string> state, name_prefix, limit, cursor;
  for (auto& [key, value] : *params) {
    if (key == "state") {
      if (auto err = once(state, key))
        return err;
      auto s = parse_task_state(value);
      if (!s)
        return field_error(key, "state must be active, paused, completed or cancelled");
      f.state = *s;
      state = value;
    } else if (key == "label") {
      auto colon = value.find(':');
      if (colon == std::string::npos)
        return field_error(key, "label must be KEY:VALUE");
      auto k = value.substr(0, colon);
      auto v = value.substr(colon + 1);
      if (!valid_label_key(k))
        return field_error(key, "a label key is 1 to 63 characters of a-z, 0-9 and . _ / -");
      if (v.size() > max_label_value_bytes || !valid_utf8(v))
        return field_error(key, "a label value is at most 200 bytes of UTF-8");
      if (f.labels.size() == max_labels)
        return field_error(key, "at most 32 label filters");
      f.labels.push_back(label{k, v});
    } else if (key == "name_prefix") {
      if (auto err = once(name_prefix, key))
        return err;
      if (value.empty() || value.size() > max_name_bytes || !valid_utf8(value))
        return field_error(key, "name_prefix must be 1 to 200 bytes of UTF-8");
      f.name_prefix = value;
      name_prefix = value;
    } else if (key == "limit") {
      if (auto err = once(limit, key))
        return err;
      auto n = read_limit(value);
      if (!n)
        return n.error();
      f.limit = *n;
      limit = value;
    } else if (key == "cursor") {
      if (auto err = once(cursor, key))
        return err;
      cursor = value;
    } else {
      return unknown(key);
    }
  }
  // The filter's canonical text: labels sorted, so that their order does not matter.
  auto labels = f.labels;
  std::sort(labels.begin(), labels.end(), [](const label& a, const label& b) {
    return a.key != b.key ? a.key < b.key : a.value < b.value;
  });
  json key = json::object();
  key["state"] = state ? json(*state) : json();
  key["name_prefix"] = name_prefix ? json(*name_prefix) : json();
  key["labels"] = json::array();
  for (auto& l : labels)
    key["labels"].push_back({l.key, l.value});
  out.filter_key = key.dump(-1, ' ', false, json::error_handler_t::replace);
  if (cursor) {
    auto after = decode_cursor(*cursor, cursor_list::tasks, out.filter_key);
    if (!after)
      return make_field_error(http_ec::invalid_cursor, "cursor", after.error());
    f.after = *after;
  }
  return out;
}

caf::expected<run_list_request> parse_run_list_query(std::string_view query,
                                                     std::optional<task_id> task,
                                                     const time_zone* zone) {
  auto params = parse_query(query);
  if (!params)
    return params.error();
  run_list_request out;
  auto& f = out.filter;
  f.task = task;
  f.limit = default_page;
  std::optional<std::string> status, since, until, limit, cursor;
  auto read_time = [&](const std::string& key, const std::string& value,
                       std::optional<millis>& into) -> caf::error {
    auto t = zone ? parse_time(value, *zone) : parse_time(value);
    if (!t)
      return make_field_error(http_ec::invalid_time, key, "invalid time: " + t.error());
    into = *t;
    return caf::none;
  };
  for (auto& [key, value] : *params) {
    if (key == "status") {
      if (auto err = once(status, key))
        return err;
      auto s = parse_run_status(value);
      if (!s)
        return field_error(key, "status must be waiting, starting, running, success, "
                                "failure or skipped");
      f.status = *s;
      status = value;
    } else if (key == "since" || key == "until") {
      auto& seen = key == "since" ? since : until;
      if (auto err = once(seen, key))
        return err;
      if (auto err = read_time(key, value, key == "since" ? f.since : f.until))
        return err;
      seen = value;
    } else if (key == "limit") {
      if (auto err = once(limit, key))
        return err;
      auto n = read_limit(value);
      if (!n)
        return n.error();
      f.limit = *n;
      limit = value;
    } else if (key == "cursor") {
      if (auto err = once(cursor, key))
        return err;
      cursor = value;
    } else {
      return unknown(key);
    }
  }
  // Bound to the instants, not the texts: "…Z" and "…+00:00" are the same list.
  json key = json::object();
  key["task"] = task ? json(*task) : json();
  key["status"] = status ? json(*status) : json();
  key["since"] = f.since ? json(*f.since) : json();
  key["until"] = f.until ? json(*f.until) : json();
  out.filter_key = key.dump();
  if (cursor) {
    auto after = decode_cursor(*cursor, cursor_list::runs, out.filter_key);
    if (!after)
      return make_field_error(http_ec::invalid_cursor, "cursor", after.error());
    f.after = *after;
  }
  return out;
}

caf::expected<int64_t> parse_output_query(std::string_view query) {
  auto params = parse_query(query);
  if (!params)
    return params.error();
  std::optional<std::string> offset;
  int64_t at = 0;
  for (auto& [key, value] : *params) {
    if (key != "offset")
      return unknown(key);
    if (auto err = once(offset, key))
      return err;
    auto n = parse_id(std::string_view{value});
    if (value == "0")
      n = 0;
    if (!n)
      return field_error(key, "offset must be an integer from 0 to 9223372036854775807");
    at = *n;
    offset = value;
  }
  return at;
}

caf::expected<size_t> parse_occurrences_query(std::string_view query) {
  auto params = parse_query(query);
  if (!params)
    return params.error();
  std::optional<std::string> seen;
  size_t count = default_preview_count;
  for (auto& [key, value] : *params) {
    if (key != "count")
      return unknown(key);
    if (auto err = once(seen, key))
      return err;
    seen = value;
    auto n = parse_id(std::string_view{value});
    if (!n || *n > static_cast<int64_t>(max_preview_count))
      return field_error(key, "count must be an integer from 1 to "
                                + std::to_string(max_preview_count));
    count = static_cast<size_t>(*n);
  }
  return count;
}

caf::expected<int64_t> parse_path_id(std::string_view segment, const char* what) {
  auto id = parse_id(segment);
  if (!id)
    return make_http_error(http_ec::invalid_id, std::string{what}
                                                  + " id must be a decimal integer from 1 to "
                                                    "9223372036854775807");
  return *id;
}

caf::error refuse_query(std::string_view query) {
  auto params = parse_query(query);
  if (!params)
    return params.error();
  if (!params->empty())
    return unknown(params->front().first);
  return caf::none;
}

} // namespace ts::api
