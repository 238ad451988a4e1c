// The audit log: one JSON line per event of a request that may change something (every
// method but GET and HEAD), to --audit-log=FILE (appended, fsynced per batch by one writer
// thread) or to the main log. A request that would act is recorded twice: its `intent`,
// written and synced before it is handed on (if that fails it is refused with 503 and
// never acts), and its `result` with the status once it is answered; a request answered
// without acting (refused, invalid, a preview) has its `result` only. docs/architecture.md
// says why. CAF- and RESTinio-free: the server (server.cpp) decides what to record.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/ids.hpp"

namespace ts::api {

enum class audit_phase : uint8_t { intent, result };

struct audit_entry {
  audit_phase phase = audit_phase::result;
  /// When it happened: the arrival for an intent, the answer for a result.
  millis time = 0;
  /// Pairs a result with its intent: unique across restarts (audit_log::next_request).
  std::string request;
  /// The name of the token the request carried; absent without tokens (or a wrong one).
  std::optional<std::string> token;
  /// "127.0.0.1:40312", "[::1]:40312".
  std::string remote;
  std::string method;
  /// The path as sent, without the query.
  std::string path;
  /// The task the path names, or the one a create made.
  std::optional<task_id> task;
  /// The answer's status; absent in an intent.
  std::optional<int> status;
};

/// One JSON object, without a newline: time, request, phase, token, remote, method, path,
/// task_id, status (absent ones null). Bytes that are not UTF-8 become U+FFFD.
std::string audit_json(const audit_entry& e);

/// The task id a 201's Location names (`/v1/tasks/7`, `/status?id=7`), or nullopt.
std::optional<task_id> location_task_id(std::string_view location);

class audit_log {
public:
  /// true: the entry is written (and, to a file, synced); false: it could not be.
  using done_fn = std::function<void(bool written)>;

  /// Appends to `path` (created 0600 if absent), or writes to the main log (stderr, in its
  /// format, whatever --log-level says) when `path` is empty. Null and `error` set when the
  /// file cannot be opened.
  static std::shared_ptr<audit_log> open(const std::string& path, std::string& error);

  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;
  /// Writes what is queued, then stops the writer.
  ~audit_log();

  /// Queues an entry for the next batch; `done` is called on the writer thread once the
  /// batch is written and synced (true) or failed (false): it must not block. Thread-safe.
  void write(audit_entry entry, done_fn done = {});

  /// A fresh request id: the log's opening time and a counter.
  std::string next_request();

  /// Where the lines go: the file's path, or "" for the main log.
  const std::string& path() const {
    return path_;
  }

  /// A file, synced per batch. The main log is not synced, so an intent line there would
  /// promise nothing: the server then writes one result line and does not hold the answer.
  bool durable() const {
    return !path_.empty();
  }

  struct core;

private:
  audit_log(std::shared_ptr<core> c, std::string path);
  std::shared_ptr<core> core_;
  std::string path_;
};

} // namespace ts::api
