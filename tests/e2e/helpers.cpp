// The test-side helpers of service.hpp: the common fixture, bounded waits, scheduling and
// polling over HTTP, and the service's time format.
#include "tests/e2e/service.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <thread>

#include <catch2/catch.hpp>

namespace ts::e2e {

service_fixture::service_fixture(const std::string& backend)
  : db(backend, dir.path()), svc(dir.path(), db.url()) {
  REQUIRE(db.error() == "");
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds within,
                std::chrono::milliseconds period) {
  auto deadline = std::chrono::steady_clock::now() + within;
  for (int i = 0; i < 100000; ++i) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    pause_briefly(period);
  }
  return false;
}

status_poll poll_status(const http_client& client, int64_t id,
                        const std::function<bool(const nlohmann::json&)>& pred,
                        std::chrono::milliseconds within) {
  status_poll result;
  std::string target = "/status?id=" + std::to_string(id);
  result.met = wait_until(
    [&] {
      auto resp = client.get(target);
      result.last_raw = resp.describe();
      if (!resp.ok() || resp.status != 200)
        return false;
      result.last = resp.json();
      return pred(result.last);
    },
    within);
  return result;
}

bool has_status(const nlohmann::json& j, const char* status) {
  return j.is_object() && j.contains("status") && j["status"].is_string()
         && j["status"].get<std::string>() == status;
}

bool is_finished(const nlohmann::json& j) {
  return has_status(j, "success") || has_status(j, "failure");
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string format_utc_ms(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::optional<int64_t> parse_utc_ms(const std::string& text) {
  // Exactly YYYY-MM-DDTHH:MM:SS.mmmZ
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != sizeof(shape) - 1)
    return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    bool digit = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (shape[i] == 'd' ? !digit : text[i] != shape[i])
      return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) { return std::stoi(text.substr(pos, len)); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  std::tm check = tm;
  time_t secs = ::timegm(&check);
  // timegm normalises impossible dates; a real one comes back unchanged.
  if (check.tm_mday != tm.tm_mday || check.tm_mon != tm.tm_mon || check.tm_hour != tm.tm_hour
      || check.tm_min != tm.tm_min || check.tm_sec != tm.tm_sec)
    return std::nullopt;
  return static_cast<int64_t>(secs) * 1000 + num(20, 3);
}

bool is_rfc3339_utc_ms(const std::string& text) {
  return parse_utc_ms(text).has_value();
}

std::string bad_time_field(const nlohmann::json& j) {
  if (!j.is_object())
    return "(not an object)";
  if (!j.contains("time"))
    return "time (missing)";
  for (const char* key : {"time", "created_at", "started_at", "finished_at"}) {
    if (!j.contains(key) || j[key].is_null())
      continue;
    if (!j[key].is_string() || !is_rfc3339_utc_ms(j[key].get<std::string>()))
      return key;
  }
  return {};
}

std::string task_body(const std::string& command, const std::string& time) {
  return nlohmann::json{{"task", command}, {"time", time}}.dump();
}

int64_t schedule(const http_client& client, const std::string& command,
                 const std::string& time, header_list headers) {
  auto r = client.post("/taskschedulizer", task_body(command, time), std::move(headers));
  INFO(r.describe());
  REQUIRE(r.ok());
  REQUIRE(r.status == 201);
  nlohmann::json j = r.json();
  REQUIRE(j["id"].is_number_integer());
  CHECK(bad_time_field(j) == "");
  return j["id"].get<int64_t>();
}

nlohmann::json wait_finished(const service& svc, int64_t id, std::chrono::milliseconds within) {
  auto p = poll_status(svc.client(), id, is_finished, within);
  INFO("task " << id << ": " << p.last_raw);
  INFO(svc.diagnostics());
  REQUIRE(p.met);
  CHECK(bad_time_field(p.last) == "");
  return p.last;
}

int64_t ms_field(const nlohmann::json& j, const char* key) {
  auto v = parse_utc_ms(j.value(key, ""));
  return v ? *v : -1;
}

void sleep_until_ms(int64_t ms) {
  int64_t left = ms - now_ms();
  if (left > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(left));
}

nlohmann::json create_v1_task(const http_client& client, const nlohmann::json& body,
                              header_list headers) {
  auto r = client.post("/v1/tasks", body.dump(), std::move(headers));
  INFO(r.describe());
  REQUIRE(r.status == 201);
  REQUIRE(r.ok());
  auto j = r.json();
  CHECK(r.header("Location") == "/v1/tasks/" + std::to_string(j["id"].get<int64_t>()));
  return j;
}

nlohmann::json get_ok(const http_client& client, const std::string& target) {
  auto r = client.get(target);
  INFO(r.describe());
  REQUIRE(r.ok());
  REQUIRE(r.status == 200);
  return r.json();
}

nlohmann::json wait_task(const http_client& client, int64_t id,
                         const std::function<bool(const nlohmann::json&)>& pred,
                         std::chrono::milliseconds within) {
  nlohmann::json last;
  bool met = wait_until(
    [&] {
      auto r = client.get("/v1/tasks/" + std::to_string(id));
      if (r.status != 200)
        return false;
      last = r.json();
      return pred(last);
    },
    within);
  INFO(last.dump());
  REQUIRE(met);
  return last;
}

} // namespace ts::e2e
