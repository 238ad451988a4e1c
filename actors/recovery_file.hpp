// The writes persistence may hold through an outage, and the recovery file where a shutdown
// saves those it could not store, for the next start to replay first. Preallocated at
// start-up (a full disk cannot refuse it), checksummed, synced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "core/types.hpp"

namespace ts {

// -- the writes that may wait ---------------------------------------------------------------

/// A piece of a running command's output, from byte `offset` of its stream on.
struct output_piece {
  run_id run = 0;
  int64_t offset = 0;
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_piece& x) {
  return f(caf::meta::type_name("ts.output_piece"), x.run, x.offset, x.data);
}

/// Process starts, output and outcomes held while the database is away: their processes
/// already ran, so they wait instead of being refused. Written in this order (a run's
/// start, then its output, then its end, which fixes what the run keeps).
struct held_writes {
  std::vector<process_start> starts;
  std::vector<output_piece> appends;
  std::vector<run_outcome> outcomes;

  size_t count() const {
    return starts.size() + appends.size() + outcomes.size();
  }
  bool empty() const {
    return count() == 0;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, held_writes& x) {
  return f(caf::meta::type_name("ts.held_writes"), x.starts, x.appends, x.outcomes);
}

/// What one held write counts against max_backlog_bytes; never less than its size in the
/// recovery file, so that a file reserved for the bound holds a full backlog.
size_t held_size(const process_start& x);
size_t held_size(const output_piece& x);
size_t held_size(const run_outcome& x);

// -- the recovery file ----------------------------------------------------------------------

/// Where persistence saves the writes it still holds when a shutdown's grace ends with the
/// database away; the next start replays it before anything else (actors/system). Reserved
/// at start-up with posix_fallocate, so that a full disk cannot refuse it at shutdown. One
/// header (magic, format, record layout, payload length, count, SHA-256) and the payload,
/// CAF's binary form of held_writes. All zeros, or empty, means nothing is saved.
class recovery_file {
public:
  /// Opens or creates the file (mode 0600) and keeps it open, so that what happens to the
  /// directory later cannot keep the shutdown from writing.
  static caf::expected<std::shared_ptr<recovery_file>> open(const std::string& path);
  ~recovery_file();
  recovery_file(const recovery_file&) = delete;
  recovery_file& operator=(const recovery_file&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// What the file holds (nothing when empty). ec::storage_failure, saying why, when it
  /// is truncated, fails its checksum, or was written by a binary with another layout.
  caf::expected<held_writes> read();

  /// Empties the file and reserves `bytes` for the next save, durably.
  caf::error reset(size_t bytes);

  /// Saves `w` over whatever the file held, durably (fdatasync); returns the bytes written.
  caf::expected<size_t> write(const held_writes& w);

  /// The file's size for a backlog bounded by `max_backlog_bytes`.
  static size_t bytes_for(size_t max_backlog_bytes);

private:
  recovery_file(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  }
  std::string path_;
  int fd_;
};

} // namespace ts
