#include "http/v1_controls.hpp"

#include <algorithm>
#include <cmath>

#include "core/defaults.hpp"
#include "core/text.hpp"

namespace ts::api {

caf::expected<int64_t> read_integer(const nlohmann::json& j, const std::string& field, int64_t min,
                                    int64_t max, const std::string& message) {
  // Unsigned beyond int64 reads as is_number_unsigned, and then get<int64_t> would wrap.
  if (!j.is_number_integer()
      || (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(max)))
    return field_error(field, message);
  auto v = j.get<int64_t>();
  if (v < min || v > max)
    return field_error(field, message);
  return v;
}

namespace {

using json = nlohmann::json;

/// A number of seconds in [min, max] (fractions allowed) as milliseconds, rounded up so that
/// a positive value never becomes 0: the fewest milliseconds that are not less than it.
caf::expected<int64_t> seconds(const json& j, const std::string& field, double min, double max,
                               bool exclusive_min) {
  auto range = field + " must be a number of seconds " + (exclusive_min ? "above " : "from ")
               + std::to_string(static_cast<int64_t>(min)) + (exclusive_min ? " up to " : " to ")
               + std::to_string(static_cast<int64_t>(max));
  if (!j.is_number() || j.is_boolean())
    return field_error(field, range);
  auto v = j.get<double>();
  if (!std::isfinite(v) || v < min || (exclusive_min && v <= min) || v > max)
    return field_error(field, range);
  // v * 1000 can land a hair above a whole number (2.007 * 1000 is 2007.0000000000002), which
  // ceil alone would make 2008: a task's own timeout_s, sent back by a PATCH, must read back
  // as the same milliseconds.
  auto ms = std::ceil(v * 1000);
  if (ms > 0 && (ms - 1) / 1000 >= v)
    ms -= 1;
  return static_cast<int64_t>(ms);
}

caf::error read_retry(const json& j, retry_policy& r) {
  if (!j.is_object())
    return field_error("retry", "retry must be an object");
  for (auto& [key, value] : j.items()) {
    auto field = "retry." + key;
    if (key == "max_attempts") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1
          || value.get<int64_t>() > max_attempts)
        return field_error(field, "max_attempts must be an integer from 1 to 100");
      r.max_attempts = value.get<int32_t>();
    } else if (key == "delay_s" || key == "max_delay_s") {
      auto ms = seconds(value, field, 0, max_retry_delay_s, false);
      if (!ms)
        return ms.error();
      (key == "delay_s" ? r.delay_ms : r.max_delay_ms) = *ms;
    } else if (key == "multiplier") {
      if (!value.is_number() || value.is_boolean() || !std::isfinite(value.get<double>())
          || value.get<double>() < 1 || value.get<double>() > 10)
        return field_error(field, "multiplier must be a number from 1 to 10");
      r.multiplier = value.get<double>();
    } else if (key == "jitter") {
      auto jit = value.is_string() ? parse_retry_jitter(value.get_ref<const std::string&>())
                                   : std::nullopt;
      if (!jit)
        return field_error(field, "jitter must be full, equal or none");
      r.jitter = *jit;
    } else if (key == "on_interrupted") {
      if (!value.is_boolean())
        return field_error(field, "on_interrupted must be true or false");
      r.on_interrupted = value.get<bool>();
    } else {
      return unknown(field);
    }
  }
  return caf::none;
}

bool valid_env_name(std::string_view n) {
  if (n.empty() || n.size() > 255)
    return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(n[0]))
    return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

caf::error read_env(const json& j, task_controls& c) {
  if (!j.is_object())
    return field_error("env", "env must be an object of strings");
  if (j.size() > max_env_vars)
    return field_error("env", "env has at most 128 variables");
  size_t bytes = 0;
  for (auto& [name, value] : j.items()) {
    auto field = "env." + name;
    if (!valid_env_name(name))
      return field_error(field, "an environment variable name is [A-Za-z_][A-Za-z0-9_]*");
    // TS_* is the service's own (TS_TASK_ID, TS_RUN_ID, ...): a task must not fake them.
    if (name.rfind("TS_", 0) == 0)
      return field_error(field, "names starting with TS_ are the service's own");
    if (!value.is_string())
      return field_error(field, "an environment variable's value must be a string");
    auto& v = value.get_ref<const std::string&>();
    if (v.find('\0') != std::string::npos || !valid_utf8(v))
      return field_error(field, "an environment variable's value must be UTF-8 without NUL");
    bytes += name.size() + v.size() + 2;
    if (bytes > max_env_bytes)
      return field_error("env", "env is at most 65536 bytes in all");
    c.env.push_back(label{name, v});
  }
  return caf::none;
}

caf::error read_cwd(const json& j, task_controls& c) {
  if (j.is_null())
    return caf::none;
  if (!j.is_string())
    return field_error("cwd", "cwd must be an absolute path");
  auto& p = j.get_ref<const std::string&>();
  if (p.empty() || p[0] != '/' || p.size() > max_cwd_bytes || p.find('\0') != std::string::npos
      || !valid_utf8(p))
    return field_error("cwd", "cwd must be an absolute path of at most 4096 bytes");
  c.cwd = p;
  return caf::none;
}

caf::error read_run_as(const json& j, task_controls& c, const v1_limits& limits) {
  if (j.is_null())
    return caf::none;
  if (!j.is_string() || j.get_ref<const std::string&>().empty()
      || j.get_ref<const std::string&>().size() > 32)
    return field_error("run_as", "run_as must be a user name");
  auto& user = j.get_ref<const std::string&>();
  bool allowed = limits.allowed_run_as
                 && std::find(limits.allowed_run_as->begin(), limits.allowed_run_as->end(),
                              user)
                      != limits.allowed_run_as->end();
  if (!allowed)
    return make_field_error(http_ec::forbidden, "run_as",
                            "run_as must be a user the service allows (--allowed-run-as)");
  c.run_as = user;
  return caf::none;
}

caf::error read_misfire(const json& j, recurrence_policy& p) {
  if (!j.is_object())
    return field_error("misfire", "misfire must be an object such as "
                                  "{\"policy\": \"run_once\", \"grace_s\": 60}");
  for (auto& [key, value] : j.items()) {
    auto field = "misfire." + key;
    if (key == "policy") {
      auto m = value.is_string() ? parse_misfire_policy(value.get_ref<const std::string&>())
                                 : std::nullopt;
      if (!m)
        return field_error(field, "policy must be run_once, run_all or skip");
      p.misfire = *m;
    } else if (key == "grace_s") {
      auto n = read_integer(value, field, 1, max_misfire_grace_s,
                            "grace_s must be an integer number of seconds from 1 to "
                              + std::to_string(max_misfire_grace_s));
      if (!n)
        return n.error();
      p.misfire_grace_ms = *n * 1000;
    } else {
      return unknown(field);
    }
  }
  return caf::none;
}

} // namespace

caf::error read_controls(const json& body, task_controls& c, const v1_limits& limits) {
  if (auto i = body.find("timeout_s"); i != body.end() && !i->is_null()) {
    auto ms = seconds(*i, "timeout_s", 0, max_timeout_s, true);
    if (!ms)
      return ms.error();
    c.timeout_ms = *ms;
  }
  if (auto i = body.find("kill_grace_s"); i != body.end()) {
    auto ms = seconds(*i, "kill_grace_s", 0, max_kill_grace_s, false);
    if (!ms)
      return ms.error();
    c.kill_grace_ms = *ms;
  }
  if (auto i = body.find("retry"); i != body.end())
    if (auto err = read_retry(*i, c.retry))
      return err;
  if (auto i = body.find("env"); i != body.end())
    if (auto err = read_env(*i, c))
      return err;
  if (auto i = body.find("cwd"); i != body.end())
    if (auto err = read_cwd(*i, c))
      return err;
  if (auto i = body.find("run_as"); i != body.end())
    if (auto err = read_run_as(*i, c, limits))
      return err;
  return caf::none;
}


caf::expected<nlohmann::json> parse_object(std::string_view body) {
  auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded())
    return make_http_error(http_ec::invalid_json, "the body is not valid JSON");
  if (!j.is_object())
    return make_http_error(http_ec::invalid_json, "the body must be a JSON object");
  return j;
}

// misfire, overlap and history_keep. A one-shot task takes them too (they are stored and
// shown), but only history_keep means something for it: its single occurrence runs when
// overdue whatever misfire says, and a trigger while it runs is refused whatever overlap says.
caf::error read_policy(const nlohmann::json& body, recurrence_policy& p) {
  if (auto i = body.find("misfire"); i != body.end())
    if (auto err = read_misfire(*i, p))
      return err;
  if (auto i = body.find("overlap"); i != body.end()) {
    auto o = i->is_string() ? parse_overlap_policy(i->get_ref<const std::string&>())
                            : std::nullopt;
    if (!o)
      return field_error("overlap", "overlap must be skip, queue, allow or replace");
    p.overlap = *o;
  }
  if (auto i = body.find("history_keep"); i != body.end()) {
    auto n = read_integer(*i, "history_keep", 1, defaults::max_history_keep,
                          "history_keep must be an integer from 1 to "
                            + std::to_string(defaults::max_history_keep));
    if (!n)
      return n.error();
    p.history_keep = static_cast<int32_t>(*n);
  }
  return caf::none;
}

} // namespace ts::api
