#include "tests/e2e/service.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/text.hpp"

#ifndef TS_BINARY
#error "TS_BINARY (path of the taskschedulizer binary) must be defined by the build"
#endif

extern char** environ;

namespace ts::e2e {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

/// The current environment with `extra` added (replacing variables of the same name).
std::vector<std::string> make_env(const env_list& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (auto& [k, v] : extra)
      replaced = replaced || name == k;
    if (!replaced)
      out.emplace_back(entry);
  }
  for (auto& [k, v] : extra)
    out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> make_argv(std::vector<std::string>& words) {
  std::vector<char*> out;
  for (auto& w : words)
    out.push_back(w.data());
  out.push_back(nullptr);
  return out;
}

/// Turns a waitpid status into an exit code (128 + N for signal N).
int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

/// Waits for `pid` for at most `timeout`; nullopt when it still runs.
std::optional<int> wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return decode_status(status);
    if (r < 0 && errno != EINTR)
      return -1;  // not our child any more: nothing left to wait for
    if (clock_type::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

/// fork + exec with stdin from /dev/null and stdout/stderr into files. Returns the pid, or
/// -1 with `err` set. The child dies with the test process (PR_SET_PDEATHSIG), so an
/// aborted test never leaves a service behind.
pid_t spawn_process(const std::string& program, bool search_path,
                    std::vector<std::string> args, const env_list& env,
                    const std::string& cwd, const std::string& out_path,
                    const std::string& err_path, std::string& err) {
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = err_path == out_path
                 ? ::dup(out_fd)
                 : ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    err = std::string("cannot open output files: ") + std::strerror(errno);
    for (int fd : {out_fd, err_fd, null_fd})
      if (fd >= 0)
        ::close(fd);
    return -1;
  }
  auto env_words = make_env(env);
  auto envp = make_argv(env_words);
  auto argv = make_argv(args);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
      ::_exit(126);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (search_path) {
      environ = envp.data();
      ::execvp(program.c_str(), argv.data());
    } else {
      ::execve(program.c_str(), argv.data(), envp.data());
    }
    const char msg[] = "exec failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  int saved = errno;
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0)
    err = std::string("fork: ") + std::strerror(saved);
  return pid;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

/// Creates `database` on the test MariaDB server and grants it to the URL's user.
std::string create_mysql_database(const std::string& socket, const std::string& user,
                                  const std::string& database) {
  auto client = [&](const std::string& sql) {
    return run_command({"mariadb", "--no-defaults", "--socket=" + socket, "-uroot", "-N",
                        "-B", "-e", sql},
                       {}, 30s);
  };
  auto hosts = client("SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = "
                      "'" + user + "'");
  if (hosts.exit_code != 0)
    return "cannot list MariaDB users: " + hosts.output;
  std::string sql = "CREATE DATABASE `" + database + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;";
  std::istringstream lines(hosts.output);
  std::string account;
  int grants = 0;
  while (std::getline(lines, account) && grants < 100) {
    if (account.empty())
      continue;
    sql += " GRANT ALL ON `" + database + "`.* TO " + account + ";";
    ++grants;
  }
  if (grants == 0)
    return "MariaDB has no user '" + user + "'";
  auto created = client(sql);
  if (created.exit_code != 0)
    return "cannot create database " + database + ": " + created.output;
  return {};
}

} // namespace

// --- temp_dir ---------------------------------------------------------------------------

temp_dir::temp_dir() {
  std::string base = env_or("TMPDIR", "/tmp");
  std::string pattern = base + "/ts-e2e-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr)
    path_ = pattern;
}

temp_dir::~temp_dir() {
  if (path_.empty())
    return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string temp_dir::file(const std::string& name) const {
  return path_ + "/" + name;
}

// --- backends and databases ----------------------------------------------------------------

std::vector<std::string> backend_names() {
  std::vector<std::string> names{"sqlite"};
  if (!env_or("TS_TEST_MYSQL_URL", "").empty())
    names.emplace_back("mysql");
  return names;
}

test_database::test_database(const std::string& backend, const std::string& dir) {
  if (backend == "sqlite") {
    url_ = "sqlite:" + dir + "/t.db";
    return;
  }
  if (backend != "mysql") {
    error_ = "unknown backend " + backend;
    return;
  }
  std::string base = env_or("TS_TEST_MYSQL_URL", "");
  std::string mariadb_dir = env_or("TS_TEST_MARIADB_DIR", "");
  if (base.empty() || mariadb_dir.empty()) {
    error_ = "TS_TEST_MYSQL_URL and TS_TEST_MARIADB_DIR must both be set for mysql";
    return;
  }
  // mysql://USER:PASSWORD@HOST:PORT/DATABASE[?query]: swap DATABASE for a fresh one, so that
  // every test starts empty and tests running in parallel never share tables.
  const std::string scheme = "mysql://";
  size_t at = base.find('@');
  size_t slash = at == std::string::npos ? at : base.find('/', at);
  if (base.compare(0, scheme.size(), scheme) != 0 || slash == std::string::npos) {
    error_ = "TS_TEST_MYSQL_URL is not mysql://USER:PASSWORD@HOST:PORT/DATABASE";
    return;
  }
  std::string credentials = base.substr(scheme.size(), at - scheme.size());
  std::string user = credentials.substr(0, credentials.find(':'));
  for (char c : user)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      error_ = "the test MariaDB user name must be [A-Za-z0-9_]+";
      return;
    }
  size_t query = base.find('?', slash);
  static std::atomic<int> counter{0};
  mysql_db_ = "ts_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  error_ = create_mysql_database(mariadb_dir + "/mysqld.sock", user, mysql_db_);
  if (!error_.empty()) {
    mysql_db_.clear();
    return;
  }
  url_ = base.substr(0, slash + 1) + mysql_db_
         + (query == std::string::npos ? std::string() : base.substr(query));
}

test_database::~test_database() {
  if (mysql_db_.empty())
    return;
  std::string socket = env_or("TS_TEST_MARIADB_DIR", "") + "/mysqld.sock";
  run_command({"mariadb", "--no-defaults", "--socket=" + socket, "-uroot", "-e",
               "DROP DATABASE IF EXISTS `" + mysql_db_ + "`"},
              {}, 30s);
}

// --- service -------------------------------------------------------------------------------

service::service(std::string work_dir, std::string db_url)
  : work_dir_(std::move(work_dir)), db_url_(std::move(db_url)) {
}

service::~service() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_pid(pid_, 10s);
  }
}

std::string service::spawn(const std::vector<std::string>& args, const env_list& env) {
  if (pid_ > 0)
    return "the service is still running";
  ++runs_;
  stdout_path_ = work_dir_ + "/stdout-" + std::to_string(runs_) + ".log";
  stderr_path_ = work_dir_ + "/stderr-" + std::to_string(runs_) + ".log";
  std::vector<std::string> words{TS_BINARY};
  words.insert(words.end(), args.begin(), args.end());
  std::string err;
  pid_ = spawn_process(TS_BINARY, false, words, env, work_dir_, stdout_path_, stderr_path_, err);
  port_ = 0;
  address_.clear();
  return err;
}

std::string service::start(std::vector<std::string> args, env_list env,
                           std::chrono::milliseconds timeout) {
  auto given = [&](const std::string& prefix) {
    for (auto& a : args)
      if (a.compare(0, prefix.size(), prefix) == 0)
        return true;
    return false;
  };
  std::vector<std::string> all;
  if (!given("--port=") && !given("--config-file="))
    all.emplace_back("--port=0");
  if (!given("--db=") && !given("--config-file="))
    all.push_back("--db=" + db_url_);
  // Commands run as the tests do, so that they may write to the tests' own directories:
  // the default user (root's taskschedulizer) has its own cases.
  if (!given("--run-as="))
    all.push_back("--run-as=" + current_user());
  all.insert(all.end(), args.begin(), args.end());
  if (auto err = spawn(all, env); !err.empty())
    return err;
  return wait_listening(timeout);
}

std::string service::launch(std::vector<std::string> args, env_list env) {
  return spawn(args, env);
}

std::string service::wait_listening(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return "the service is not running";
  const std::string marker = "listening on ";
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    std::string out = stdout_text();
    size_t at = out.find(marker);
    size_t eol = at == std::string::npos ? at : out.find('\n', at);
    if (eol != std::string::npos) {
      std::string endpoint = out.substr(at + marker.size(), eol - at - marker.size());
      size_t colon = endpoint.rfind(':');
      int port = colon == std::string::npos ? 0 : std::atoi(endpoint.c_str() + colon + 1);
      if (port <= 0 || port > 65535)
        return "cannot read the port in: " + out.substr(at, eol - at);
      address_ = endpoint.substr(0, colon);
      port_ = static_cast<uint16_t>(port);
      return {};
    }
    if (auto code = wait_pid(pid_, 0ms)) {
      pid_ = -1;
      return "the service exited with " + std::to_string(*code)
             + " before listening; stderr:\n" + stderr_text();
    }
    if (clock_type::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      wait_pid(pid_, 10s);
      pid_ = -1;
      return "no `listening on` line within the timeout; stdout:\n" + out + "\nstderr:\n"
             + stderr_text();
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::optional<int> service::run_to_exit(std::vector<std::string> args, env_list env,
                                        std::chrono::milliseconds timeout) {
  if (auto err = spawn(args, env); !err.empty())
    return std::nullopt;
  auto code = wait(timeout);
  if (!code) {
    ::kill(pid_, SIGKILL);
    wait_pid(pid_, 10s);
    pid_ = -1;
  }
  return code;
}

http_client service::client(std::chrono::milliseconds timeout) const {
  return http_client(port_, "127.0.0.1", timeout);
}

bool service::signal(int sig) {
  return pid_ > 0 && ::kill(pid_, sig) == 0;
}

std::optional<int> service::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0)
    return std::nullopt;
  auto code = wait_pid(pid_, timeout);
  if (code)
    pid_ = -1;
  return code;
}

std::string service::stdout_text() const {
  return read_file(stdout_path_);
}

std::string service::stderr_text() const {
  return read_file(stderr_path_);
}

std::string service::diagnostics() const {
  std::string err = stderr_text();
  if (err.size() > 8000)
    err = "..." + err.substr(err.size() - 8000);
  return "service stderr (" + stderr_path_ + "):\n" + err;
}

// --- helpers ---------------------------------------------------------------------------------

command_result run_command(const std::vector<std::string>& argv, env_list env,
                           std::chrono::milliseconds timeout) {
  command_result result;
  if (argv.empty())
    return result;
  std::string base = env_or("TMPDIR", "/tmp");
  std::string out_path = base + "/ts-e2e-cmd-XXXXXX";
  int fd = ::mkstemp(out_path.data());
  if (fd < 0) {
    result.output = std::string("mkstemp: ") + std::strerror(errno);
    return result;
  }
  ::close(fd);
  std::string err;
  pid_t pid = spawn_process(argv[0], true, argv, env, {}, out_path, out_path, err);
  if (pid < 0) {
    result.output = err;
    ::unlink(out_path.c_str());
    return result;
  }
  auto code = wait_pid(pid, timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    code = wait_pid(pid, 10s);
    result.output = "(killed after the timeout) ";
  }
  result.exit_code = code.value_or(-1);
  result.output += read_file(out_path);
  ::unlink(out_path.c_str());
  return result;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

bool write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

std::vector<int> live_group_members(int pgid) {
  std::vector<int> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and ')'.
    std::string stat = read_file(it->path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    int ppid = 0;
    int pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp))
      continue;
    if (pgrp == pgid && state != 'Z' && state != 'X')
      out.push_back(std::stoi(name));
  }
  return out;
}

std::string sh_quote(const std::string& word) {
  return ts::shell_quote(word);
}

std::string source_dir() {
  return TS_SOURCE_DIR;
}

std::vector<std::string> readme_block(const std::string& heading) {
  std::istringstream in{read_file(source_dir() + "/README.md")};
  std::vector<std::string> lines;
  bool section = false;
  bool block = false;
  for (std::string line; std::getline(in, line);) {
    if (!section)
      section = line.rfind(heading, 0) == 0;
    else if (line == "```" && block)
      break;
    else if (line == "```")
      block = true;
    else if (block)
      lines.push_back(line);
  }
  return lines;
}

std::string current_user() {
  passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : std::string();
}

void pause_briefly(std::chrono::milliseconds step) {
  std::this_thread::sleep_for(step);
}

} // namespace ts::e2e
