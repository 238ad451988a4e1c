// What the runner's tests share: the runner made with the helper of this build tree, a
// collector of exits, polling of other processes' state, and scratch directories.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "process/process_runner.hpp"

namespace ts::test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// ts-exec-helper sits at the top of the build tree, beside the service; the test binaries
/// one level below (tests/).
inline std::string helper_path() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  REQUIRE(n > 0);
  std::string self(buf, static_cast<size_t>(n));
  auto path = self.substr(0, self.rfind('/')) + "/../ts-exec-helper";
  INFO("build the ts-exec-helper target: " << path);
  REQUIRE(::access(path.c_str(), X_OK) == 0);
  return path;
}

inline runner_options options(kill_mode mode = kill_mode::auto_detect,
                              std::string state_dir = {}) {
  runner_options o;
  o.helper = helper_path();
  o.kill = mode;
  o.state_dir = std::move(state_dir);
  return o;
}

inline std::shared_ptr<process_runner> make_runner(runner_options o = options()) {
  return make_posix_process_runner(std::move(o));
}

// Collects what exit handlers report, from the runner's thread.
struct exits {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<process_exit> seen;
  std::set<std::thread::id> threads;

  process_runner::exit_handler handler() {
    return [this](process_exit x) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(std::move(x));
      threads.insert(std::this_thread::get_id());
      cv.notify_all();
    };
  }

  // Waits until `count` exits were reported; generous bounds only.
  bool wait(size_t count, std::chrono::seconds timeout = 20s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return seen.size() >= count; });
  }

  size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return seen.size();
  }

  process_exit at(size_t i) {
    std::lock_guard<std::mutex> guard{mtx};
    return seen.at(i);
  }
};

// Polls external state (other processes) with a generous bound.
inline bool eventually(const std::function<bool()>& pred, std::chrono::seconds timeout = 10s) {
  auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// A directory of its own under /tmp, removed (with what the test left) at the end.
struct scratch_dir {
  std::string path;
  scratch_dir() {
    char tmpl[] = "/tmp/ts-process-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    ::chmod(path.c_str(), 0755);  // a run_as user must be able to enter it
  }
  ~scratch_dir() {
    [[maybe_unused]] int rc = std::system(("rm -rf '" + path + "'").c_str());
  }
  std::string operator/(const std::string& name) const {
    return path + "/" + name;
  }
};

/// A scratch state directory; its scope's cgroup goes with it (a service's would stay).
struct state_dir : scratch_dir {
  ~state_dir() {
    runner_options o;
    o.kill = kill_mode::cgroup;
    o.state_dir = path;
    remove_scope(resolve_scope(o));
  }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// REQUIRE(x), saying what the error was.
template <class T>
void require_ok(const caf::expected<T>& x) {
  INFO((x ? std::string{} : render(x.error())));
  REQUIRE(x);
}

/// A run id no other test process uses at the same time (scopes differ anyway; this keeps
/// names apart within one).
inline run_id fresh_run() {
  static run_id next = 0;
  return static_cast<run_id>(::getpid()) * 1000 + ++next;
}

} // namespace ts::test
