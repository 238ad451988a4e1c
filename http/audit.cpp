#include "http/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/time_format.hpp"

namespace ts::api {

namespace {

const char* phase_name(audit_phase p) {
  return p == audit_phase::intent ? "intent" : "result";
}

// The main log's fields, in its own format: absent values are JSON nulls (`null` in text).
log::field nullable(std::string_view key, const std::optional<std::string>& v) {
  if (v)
    return {key, *v};
  log::field f{key, "null"};
  f.number = true;
  return f;
}

template <class T>
log::field nullable_number(std::string_view key, const std::optional<T>& v) {
  if (v)
    return {key, *v};
  log::field f{key, "null"};
  f.number = true;
  return f;
}

} // namespace

std::string audit_json(const audit_entry& e) {
  nlohmann::ordered_json j;
  j["time"] = format_time(e.time);
  j["request"] = e.request;
  j["phase"] = phase_name(e.phase);
  j["token"] = e.token ? nlohmann::ordered_json(*e.token) : nullptr;
  j["remote"] = e.remote;
  j["method"] = e.method;
  j["path"] = e.path;
  j["task_id"] = e.task ? nlohmann::ordered_json(*e.task) : nullptr;
  j["status"] = e.status ? nlohmann::ordered_json(*e.status) : nullptr;
  // A path is the client's bytes: never let one break the line or the JSON.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::optional<task_id> location_task_id(std::string_view location) {
  size_t end = location.size();
  size_t begin = end;
  while (begin > 0 && location[begin - 1] >= '0' && location[begin - 1] <= '9')
    --begin;
  if (begin == end || end - begin > 18)
    return std::nullopt;
  task_id id = 0;
  for (size_t i = begin; i < end; ++i)
    id = id * 10 + (location[i] - '0');
  return id > 0 ? std::optional<task_id>{id} : std::nullopt;
}

// -- the writer ---------------------------------------------------------------------------

struct audit_log::core {
  std::mutex mtx;
  std::condition_variable wake;
  std::vector<std::pair<audit_entry, done_fn>> queue;
  bool stop = false;
  /// The file, or -1 for the main log.
  int fd = -1;
  std::string prefix;
  std::atomic<uint64_t> seq{0};
  std::thread writer;

  ~core() {
    if (fd >= 0)
      ::close(fd);
  }

  // Appends the batch in one write (as many as it takes), then syncs it. A failed write
  // is cut back to where the batch began, so that no torn line is left for the next batch
  // to continue (a full disk leaves the lines before it whole).
  bool write_file(const std::vector<std::pair<audit_entry, done_fn>>& batch) {
    std::string bytes;
    for (auto& [e, done] : batch) {
      bytes += audit_json(e);
      bytes += '\n';
    }
    struct stat before {};
    bool sized = ::fstat(fd, &before) == 0 && S_ISREG(before.st_mode);
    size_t off = 0;
    int err = 0;
    while (off < bytes.size()) {
      auto n = ::write(fd, bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        err = n < 0 ? errno : EIO;
        break;
      }
      off += static_cast<size_t>(n);
    }
    if (!err && ::fdatasync(fd) != 0)
      err = errno;
    if (!err)
      return true;
    if (off > 0 && sized)
      (void) ::ftruncate(fd, before.st_size);
    log::error("audit_failed", {{"lines", static_cast<int64_t>(batch.size())},
                                {"error", std::strerror(err)}});
    return false;
  }

  bool write_log(const std::vector<std::pair<audit_entry, done_fn>>& batch) {
    bool ok = true;
    for (auto& [e, done] : batch)
      ok = log::write(log::level::info, "audit",
                      {{"request", e.request},
                       {"phase", phase_name(e.phase)},
                       nullable("token", e.token),
                       {"remote", e.remote},
                       {"method", e.method},
                       {"path", e.path},
                       nullable_number("task_id", e.task),
                       nullable_number("status", e.status)})
           && ok;
    return ok;
  }

  void run() {
    std::vector<std::pair<audit_entry, done_fn>> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock{mtx};
        wake.wait(lock, [&] { return stop || !queue.empty(); });
        if (queue.empty())
          return;  // stopping, and everything is written
        batch.swap(queue);
      }
      bool ok = fd >= 0 ? write_file(batch) : write_log(batch);
      for (auto& [e, done] : batch)
        if (done)
          done(ok);
      batch.clear();
    }
  }
};

std::shared_ptr<audit_log> audit_log::open(const std::string& path, std::string& error) {
  auto c = std::make_shared<core>();
  if (!path.empty()) {
    c->fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (c->fd < 0) {
      error = "cannot open the audit log " + path + ": " + std::strerror(errno);
      return nullptr;
    }
  }
  c->prefix = std::to_string(system_now_ms()) + "-";
  // The thread owns the core too: the last owner of the log may be a done callback on it.
  c->writer = std::thread([c] { c->run(); });
  return std::shared_ptr<audit_log>(new audit_log(std::move(c), path));
}

audit_log::audit_log(std::shared_ptr<core> c, std::string path)
  : core_(std::move(c)), path_(std::move(path)) {
}

audit_log::~audit_log() {
  {
    std::lock_guard<std::mutex> lock{core_->mtx};
    core_->stop = true;
  }
  core_->wake.notify_one();
  if (core_->writer.get_id() == std::this_thread::get_id()) {
    core_->writer.detach();  // it ends after this batch, holding the core
    return;
  }
  core_->writer.join();
}

void audit_log::write(audit_entry entry, done_fn done) {
  {
    std::lock_guard<std::mutex> lock{core_->mtx};
    core_->queue.emplace_back(std::move(entry), std::move(done));
  }
  core_->wake.notify_one();
}

std::string audit_log::next_request() {
  return core_->prefix + std::to_string(++core_->seq);
}

} // namespace ts::api
