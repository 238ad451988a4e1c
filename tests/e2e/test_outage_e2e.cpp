// MariaDB outages seen from outside the running binary: the server stopped, frozen
// (SIGSTOP) or absent while the service runs or starts. Requests must get a 503 quickly and
// never hang, the service stays up, results produced meanwhile land once the server is back,
// due tasks wait for it, and start-up fails non-zero (or waits, with --db-wait) without
// quoting the password.
//
// Each case that needs a server starts a private one (scripts/mariadb) on its own data
// directory and port: stopping or freezing the shared test server would break the suites
// that run beside this one (ctest -j). Those cases run only where TS_TEST_MARIADB_DIR is set
// (scripts/test sets it: a MariaDB server can run here), as in tests/test_mysql_outage.cpp.
// Bounds are generous: the service's connect timeout is 3 s and its read/write timeout 5 s.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/private_mariadb.hpp"
#include "tests/e2e/service.hpp"

using namespace ts::e2e;
using nlohmann::json;

namespace {

using steady = std::chrono::steady_clock;

const std::string past = "2000-01-01T00:00:00Z";
// Not the user's or the database's name, so that finding it in output means a leak.
const std::string secret = "Zq8-e2e-outage-S3cret";

int64_t ms_since(steady::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
}

/// Waits until the task's run has started.
void wait_running(const service& svc, int64_t id) {
  auto p = poll_status(
    svc.client(), id, [](const json& j) { return has_status(j, "running"); }, 20s);
  INFO("task " << id << ": " << p.last_raw);
  INFO(svc.diagnostics());
  REQUIRE(p.met);
}

/// A 503 with the JSON error `unavailable`.
bool is_unavailable(const http_response& r) {
  return r.ok() && r.status == 503 && r.error_code() == "unavailable";
}

/// A refused start: non-zero (never 0), a message naming the server on stderr, no
/// password anywhere, no `listening on`.
void check_refused_start(const service& svc, const std::optional<int>& code,
                         const std::string& where) {
  std::string out = svc.stdout_text();
  std::string err = svc.stderr_text();
  INFO("stdout:\n" << out << "\nstderr:\n" << err);
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(*code < 128);  // it exited, it was not killed
  CHECK(err.find("cannot open database") != std::string::npos);
  CHECK(err.find(where) != std::string::npos);
  CHECK(out.find("listening on") == std::string::npos);
  CHECK(out.find(secret) == std::string::npos);
  CHECK(err.find(secret) == std::string::npos);
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

/// Prints a measured figure (the report quotes these).
void figure(const std::string& what, int64_t ms) {
  std::cout << "[outage figure] " << what << ": " << ms << " ms" << std::endl;
}

} // namespace

// No ";" in test names: ctest splits its list there and the case would silently run nothing.
TEST_CASE("a stopped database answers 503 at once and the outage's results and due tasks land "
          "once it is back",
          "[e2e][outage]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  temp_dir dir;
  private_mariadb server(dir.file("mariadb"), "outage", secret);
  service svc(dir.path(), server.url());
  REQUIRE(svc.start() == "");
  auto client = svc.client(15s);

  int64_t far = schedule(client, "echo far", format_utc_ms(now_ms() + 3600 * 1000));
  const std::string done_a = dir.file("a-done");
  int64_t a = schedule(client, "sleep 3; echo done; : > " + sh_quote(done_a), past);
  wait_running(svc, a);
  // B is acknowledged now and comes due while the server is down.
  const std::string ran_b = dir.file("b-ran");
  int64_t due_b = now_ms() + 5000;
  int64_t b = schedule(client, "echo B; echo B >> " + sh_quote(ran_b), format_utc_ms(due_b));

  server.stop();
  REQUIRE(now_ms() < due_b - 1000);  // B must come due during the outage
  REQUIRE_FALSE(file_exists(done_a)); // A must still be running

  // Schedules and reads are refused quickly with a JSON error; nothing is stored.
  const std::string refused_body = task_body("echo refused", past);
  auto t0 = steady::now();
  auto post = client.post("/taskschedulizer", refused_body, {{"Idempotency-Key", "refused"}});
  int64_t post_ms = ms_since(t0);
  INFO(post.describe());
  CHECK(is_unavailable(post));
  CHECK(post_ms < 5000);
  t0 = steady::now();
  auto get = client.get("/status?id=" + std::to_string(a));
  int64_t get_ms = ms_since(t0);
  INFO(get.describe());
  CHECK(is_unavailable(get));
  CHECK(get_ms < 5000);
  figure("stopped server: POST answered 503 in", post_ms);
  figure("stopped server: GET /status answered 503 in", get_ms);

  // A, running when the server stopped, finishes during the outage; B's time passes but it
  // does not start, since a run must be recorded before it starts.
  REQUIRE(wait_until([&] { return file_exists(done_a); }, 15s, 20ms));
  sleep_until_ms(due_b + 1500);
  CHECK_FALSE(file_exists(ran_b));
  CHECK(is_unavailable(client.post("/taskschedulizer", task_body("echo later", past))));
  CHECK(is_unavailable(client.get("/status?id=" + std::to_string(b))));
  CHECK_FALSE(svc.wait(0ms).has_value()); // still up
  INFO(svc.diagnostics());
  CHECK(svc.stderr_text().find("database_down") != std::string::npos);

  int64_t back_wall = now_ms();
  server.restart();
  auto back = steady::now();
  // A's result, kept in memory during the outage, lands with its real times.
  json ja = wait_finished(svc, a, 20s);
  figure("stopped server: from the server back to the outage's result readable", ms_since(back));
  CHECK(has_status(ja, "success"));
  CHECK(ja["output"] == "done\n");
  CHECK(ja["exit_code"] == 0);
  CHECK(ms_field(ja, "finished_at") > 0);
  CHECK(ms_field(ja, "finished_at") < back_wall);
  // B ran once the database was back, exactly once.
  json jb = wait_finished(svc, b, 20s);
  CHECK(has_status(jb, "success"));
  CHECK(jb["output"] == "B\n");
  CHECK(ms_field(jb, "started_at") >= back_wall);
  CHECK(read_file(ran_b) == "B\n");
  // The refused schedule was not stored: its key is fresh, and works now.
  auto again = client.post("/taskschedulizer", refused_body, {{"Idempotency-Key", "refused"}});
  INFO(again.describe());
  REQUIRE(again.status == 201);
  CHECK_FALSE(again.has_header("Idempotent-Replayed"));
  json jr = wait_finished(svc, again.json()["id"].get<int64_t>());
  CHECK(jr["output"] == "refused\n");
  // New schedules work, and what was acknowledged before the outage is all there.
  json jn = wait_finished(svc, schedule(client, "echo new", past));
  CHECK(has_status(jn, "success"));
  CHECK(jn["output"] == "new\n");
  auto jf = client.get("/status?id=" + std::to_string(far));
  INFO(jf.describe());
  CHECK(has_status(jf.json(), "pending"));
  CHECK(svc.stderr_text().find("database_up") != std::string::npos);
  CHECK(svc.stderr_text().find(secret) == std::string::npos);
}

TEST_CASE("a frozen database (SIGSTOP) answers within the timeouts and after SIGCONT "
          "everything lands",
          "[e2e][outage]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  temp_dir dir;
  private_mariadb server(dir.file("mariadb"), "outage", secret);
  service svc(dir.path(), server.url());
  REQUIRE(svc.start() == "");
  // The client's own timeout (15 s) must never be what ends a request.
  auto client = svc.client(15s);

  const std::string done_a = dir.file("a-done");
  int64_t a = schedule(client, "sleep 1; echo done; : > " + sh_quote(done_a), past);
  wait_running(svc, a);
  int64_t due_b = now_ms() + 3000;
  int64_t b = schedule(client, "echo B", format_utc_ms(due_b));

  server.pause();
  auto frozen = steady::now();
  // Requests until A has finished and B's time has passed, each within a bound well under
  // the client's timeout. A schedule that committed before the freeze may still get 201.
  std::vector<int64_t> acknowledged;
  std::string times; // each request's, for the figures
  int requests = 0;
  for (; requests < 20 && ms_since(frozen) < 30000; ++requests) {
    auto t0 = steady::now();
    auto r = requests % 2 == 0
               ? client.post("/taskschedulizer", task_body("echo during", past))
               : client.get("/status?id=" + std::to_string(a));
    int64_t took = ms_since(t0);
    INFO("request " << requests << " after " << ms_since(frozen) << " ms: " << r.describe());
    REQUIRE(r.ok()); // an answer, not a client timeout
    CHECK(took < 12000);
    CHECK((is_unavailable(r) || r.status == 201 || r.status == 200));
    if (r.status == 201)
      acknowledged.push_back(r.json()["id"].get<int64_t>());
    times += (times.empty() ? "" : ", ") + std::to_string(took) + " ms ("
             + std::to_string(r.status) + ")";
    if (requests >= 3 && file_exists(done_a) && now_ms() > due_b + 500)
      break;
    pause_briefly(200ms);
  }
  std::cout << "[outage figure] frozen server: requests answered in " << times << std::endl;
  CHECK(file_exists(done_a));
  CHECK(now_ms() > due_b);
  CHECK_FALSE(svc.wait(0ms).has_value()); // still up
  INFO(svc.diagnostics());
  CHECK(svc.stderr_text().find("database_down") != std::string::npos);

  int64_t back_wall = now_ms();
  server.resume();
  auto back = steady::now();
  json ja = wait_finished(svc, a, 30s);
  figure("frozen server: from SIGCONT to the freeze's result readable", ms_since(back));
  CHECK(has_status(ja, "success"));
  CHECK(ja["output"] == "done\n");
  CHECK(ms_field(ja, "finished_at") < back_wall);
  json jb = wait_finished(svc, b, 30s);
  CHECK(has_status(jb, "success"));
  CHECK(jb["output"] == "B\n");
  for (int64_t id : acknowledged) {
    json j = wait_finished(svc, id, 30s);
    CHECK(j["output"] == "during\n");
  }
  json jn = wait_finished(svc, schedule(client, "echo new", past));
  CHECK(has_status(jn, "success"));
  CHECK(jn["output"] == "new\n");
  CHECK(svc.stderr_text().find(secret) == std::string::npos);
}

TEST_CASE("start-up with nothing listening at the database's port exits non-zero at once or "
          "after --db-wait",
          "[e2e][outage]") {
  temp_dir dir;
  service svc(dir.path(), "");
  auto help = svc.run_to_exit({"--help"});
  REQUIRE(help.has_value());
  CHECK(*help == 0);
  CHECK(svc.stdout_text().find("db-wait") != std::string::npos);

  const std::string where = "127.0.0.1:" + std::to_string(free_port());
  const std::string url = "mysql://outage:" + secret + "@" + where + "/ts";

  auto t0 = steady::now();
  auto code = svc.run_to_exit({"--port=0", "--db=" + url}, {}, 30s);
  int64_t took = ms_since(t0);
  check_refused_start(svc, code, where);
  CHECK(took < 10000);
  figure("start-up, nothing listening: exit after", took);

  // --db-wait (here from an INI file): tries again, logging each attempt, and gives up when
  // the time is up.
  REQUIRE(write_file(dir.file("wait.ini"),
                     "[global]\nport=0\ndb=\"" + url + "\"\ndb-wait=2\n"));
  t0 = steady::now();
  code = svc.run_to_exit({"--config-file=" + dir.file("wait.ini")}, {}, 30s);
  took = ms_since(t0);
  check_refused_start(svc, code, where);
  CHECK(took >= 1900);
  CHECK(took < 15000);
  CHECK(svc.stderr_text().find("database_unreachable") != std::string::npos);
  CHECK(svc.stderr_text().find("--db-wait=2") != std::string::npos);
  figure("start-up, nothing listening, --db-wait=2: exit after", took);

  // SIGTERM ends the wait at once, still non-zero: the service never started.
  REQUIRE(svc.launch({"--port=0", "--db=" + url, "--db-wait=60"}) == "");
  REQUIRE(wait_until(
    [&] { return svc.stderr_text().find("database_unreachable") != std::string::npos; }, 20s, 20ms));
  t0 = steady::now();
  REQUIRE(svc.signal(SIGTERM));
  code = svc.wait(20s);
  took = ms_since(t0);
  check_refused_start(svc, code, where);
  CHECK(took < 5000);
}

TEST_CASE("start-up against a stopped or frozen database exits non-zero and --db-wait waits "
          "for it",
          "[e2e][outage]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  temp_dir dir;
  private_mariadb server(dir.file("mariadb"), "outage", secret);
  service svc(dir.path(), server.url());
  const std::vector<std::string> args{"--port=0", "--db=" + server.url()};

  // Frozen: the kernel still accepts the connection; the connect timeout ends the wait.
  server.pause();
  auto t0 = steady::now();
  auto code = svc.run_to_exit(args, {}, 60s);
  int64_t took = ms_since(t0);
  server.resume();
  check_refused_start(svc, code, server.where());
  CHECK(took < 15000);
  figure("start-up, frozen server: exit after", took);

  server.stop();
  t0 = steady::now();
  code = svc.run_to_exit(args, {}, 60s);
  took = ms_since(t0);
  check_refused_start(svc, code, server.where());
  CHECK(took < 10000);
  figure("start-up, stopped server: exit after", took);

  // --db-wait: the binary waits for the server started a little later, then serves.
  auto with_wait = args;
  with_wait.emplace_back("--db-wait=30");
  REQUIRE(svc.launch(with_wait) == "");
  auto launched = steady::now();
  REQUIRE(wait_until(
    [&] { return svc.stderr_text().find("database_unreachable") != std::string::npos; }, 20s, 20ms));
  pause_briefly(2000ms); // a few failed attempts
  server.restart();
  auto back = steady::now();
  INFO(svc.diagnostics());
  REQUIRE(svc.wait_listening(40s) == "");
  figure("start-up, --db-wait=30: from the server back to `listening on`", ms_since(back));
  CHECK(ms_since(launched) < 40000);
  std::string err = svc.stderr_text();
  CHECK(count_of(err, "database_unreachable") >= 3); // one line per failed attempt
  CHECK(err.find(server.where()) != std::string::npos);
  CHECK(err.find(secret) == std::string::npos);
  auto client = svc.client();
  json j = wait_finished(svc, schedule(client, "echo served", past));
  CHECK(has_status(j, "success"));
  CHECK(j["output"] == "served\n");
  REQUIRE(svc.signal(SIGTERM));
  code = svc.wait(40s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);

  // Waiting cannot fix a wrong password: refused at once, not after the wait.
  auto wrong = server.url();
  wrong.replace(wrong.find(secret), secret.size(), "not-it");
  t0 = steady::now();
  code = svc.run_to_exit({"--port=0", "--db=" + wrong, "--db-wait=30"}, {}, 60s);
  took = ms_since(t0);
  INFO(svc.stderr_text());
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(took < 10000);
  CHECK(svc.stderr_text().find("not-it") == std::string::npos);
}

// -- outcomes held at shutdown: the recovery file ------------------------------------------
//
// The database refuses writes while a command finishes; SIGTERM then must not drop the held
// outcome: the service retries within --shutdown-grace, saves it to the recovery file, says
// so and exits non-zero; the next start replays it before anything else.

namespace {

/// A small tmpfs in a mount namespace of this test process alone, which the service it
/// spawns inherits: filling it is a full disk for that service and nobody else, and it
/// vanishes with the process at the latest. Needs CAP_SYS_ADMIN; error() says why not.
class private_tmpfs {
public:
  private_tmpfs(std::string where, const std::string& size) : where_(std::move(where)) {
    // ctest runs each case in a process of its own, whose main thread spawns the service.
    if (::unshare(CLONE_NEWNS) != 0) {
      error_ = std::string{"unshare(CLONE_NEWNS): "} + std::strerror(errno);
      return;
    }
    // Nothing mounted from here on propagates to the host's namespace.
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0
        || ::mkdir(where_.c_str(), 0700) != 0
        || ::mount("tmpfs", where_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                   ("size=" + size).c_str()) != 0) {
      error_ = std::string{"mount tmpfs: "} + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~private_tmpfs() {
    if (mounted_)
      ::umount2(where_.c_str(), MNT_DETACH);
  }
  private_tmpfs(const private_tmpfs&) = delete;
  private_tmpfs& operator=(const private_tmpfs&) = delete;

  const std::string& error() const {
    return error_;
  }
  std::string file(const std::string& name) const {
    return where_ + "/" + name;
  }

  /// Writes a filler until not one byte more fits.
  bool fill() {
    int fd = ::open(file("filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      return false;
    std::string chunk(1 << 20, 'x');
    for (size_t size = chunk.size(); size > 0; size /= 2)
      while (::write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
      }
    bool full = errno == ENOSPC;
    ::close(fd);
    return full;
  }
  /// Room again.
  void drain() {
    ::unlink(file("filler").c_str());
  }

private:
  std::string where_;
  std::string error_;
  bool mounted_ = false;
};

/// A command that prints a line, waits for `go` to exist, prints another and ends.
std::string waiting_command(const std::string& go) {
  return "echo start; while [ ! -e " + sh_quote(go) + " ]; do sleep 0.05; done; echo done";
}

/// Waits for `event` in the service's log.
bool logged(const service& svc, const std::string& event, std::chrono::milliseconds within) {
  return wait_until(
    [&] { return svc.stderr_text().find("event=" + event) != std::string::npos; }, within,
    20ms);
}

/// SIGTERM with the outcome held: the exit must be non-zero, after retrying within the
/// grace, with the recovery_written line.
void stop_with_held_outcome(service& svc, int64_t grace_ms) {
  auto t0 = steady::now();
  REQUIRE(svc.signal(SIGTERM));
  auto code = svc.wait(60s);
  auto took = ms_since(t0);
  INFO(svc.diagnostics());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(took >= grace_ms - 500);  // it kept trying, not 10 ms and gone
  CHECK(took < grace_ms + 10000);
  auto err = svc.stderr_text();
  CHECK(err.find("event=recovery_written") != std::string::npos);
  CHECK(err.find("outcomes=1") != std::string::npos);
  // The outage is logged once, however many attempts the grace saw.
  CHECK(count_of(err, "event=database_down") == 1);
  figure("held outcome: SIGTERM to exit", took);
}

/// After the restart the run reads success with its whole output, not interrupted.
void check_replayed(service& svc, int64_t id) {
  INFO(svc.diagnostics());
  auto err = svc.stderr_text();
  CHECK(err.find("event=recovery_replayed") != std::string::npos);
  CHECK(err.find("event=run_interrupted_by_crash") == std::string::npos);
  auto j = svc.client().get("/status?id=" + std::to_string(id));
  INFO(j.describe());
  REQUIRE(j.status == 200);
  CHECK(has_status(j.json(), "success"));
  CHECK(j.json()["output"] == "start\ndone\n");
  auto v1 = svc.client().get("/v1/tasks/" + std::to_string(id));
  INFO(v1.describe());
  REQUIRE(v1.status == 200);
  CHECK(v1.json()["latest_run"]["status"] == "success");
}

} // namespace

TEST_CASE("a full disk at shutdown: the held outcome goes to the recovery file, exit non-zero, "
          "and the next start replays it",
          "[e2e][outage][recovery]") {
  temp_dir dir;
  private_tmpfs disk(dir.file("disk"), "80m");
  if (!disk.error().empty()) {
    WARN("skipped: needs a private mount namespace (root): " << disk.error());
    return;
  }
  // The logs stay outside the full disk (the work dir); the database and its recovery file
  // are on it.
  service svc(dir.path(), "sqlite:" + disk.file("ts.db"));
  const std::vector<std::string> args{"--shutdown-grace=3"};
  REQUIRE(svc.start(args) == "");
  auto reserved = std::filesystem::file_size(disk.file("ts.db.recovery"));
  CHECK(reserved >= 64u * 1024 * 1024);

  const std::string go = dir.file("go");
  int64_t id = schedule(svc.client(), waiting_command(go), past);
  wait_running(svc, id);
  pause_briefly(700ms);  // "start" is stored while the disk has room
  REQUIRE(disk.fill());
  REQUIRE(write_file(go, ""));
  INFO(svc.diagnostics());
  REQUIRE(logged(svc, "run_finished", 20s));
  REQUIRE(logged(svc, "database_down", 20s));
  stop_with_held_outcome(svc, 3000);

  disk.drain();
  REQUIRE(svc.start(args) == "");
  check_replayed(svc, id);
  CHECK(std::filesystem::file_size(disk.file("ts.db.recovery")) == reserved);
  REQUIRE(svc.signal(SIGTERM));
  auto code = svc.wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("a stopped MariaDB at shutdown: the held outcome goes to the recovery file in data/, "
          "exit non-zero, and the next start replays it",
          "[e2e][outage][recovery]") {
  if (!mariadb_tests_enabled()) {
    WARN("skipped: set TS_TEST_MARIADB_DIR (scripts/test does) to run MariaDB outage tests");
    return;
  }
  temp_dir dir;
  private_mariadb server(dir.file("mariadb"), "outage", secret);
  service svc(dir.path(), server.url());
  const std::vector<std::string> args{"--shutdown-grace=3"};
  REQUIRE(svc.start(args) == "");
  const std::string go = dir.file("go");
  int64_t id = schedule(svc.client(), waiting_command(go), past);
  wait_running(svc, id);
  pause_briefly(700ms);
  server.stop();
  REQUIRE(write_file(go, ""));
  INFO(svc.diagnostics());
  REQUIRE(logged(svc, "run_finished", 20s));
  REQUIRE(logged(svc, "database_down", 30s));
  stop_with_held_outcome(svc, 3000);
  // In the working directory's data/, named after the server and database.
  bool found = false;
  for (auto& e : std::filesystem::directory_iterator(dir.file("data")))
    found = found || e.path().filename().string().rfind("mysql-127.0.0.1-", 0) == 0;
  CHECK(found);
  CHECK(svc.stderr_text().find(secret) == std::string::npos);

  server.restart();
  REQUIRE(svc.start(args) == "");
  check_replayed(svc, id);
  REQUIRE(svc.signal(SIGTERM));
  auto code = svc.wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}
