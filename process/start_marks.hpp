// Start marks: "may this run's command have started?" after a crash, in one file of 16-byte
// slots (<state dir>/started.slots). The runner gives each held run a slot; its helper writes
// the run's record there just before exec (and clears it if exec fails); the runner clears
// it once the run's fate is durable, and the slot is reused. It replaced a file per run,
// whose create and unlink cost ext4 an inode each time: 15 % of the CPU of a burst drain
// (perf record during bench/run burst). A record carries its run id twice (the second
// xor a tag), so a zero or torn slot is never read as a run. Like the old files it lives in
// the page cache only: it must survive the service, not the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ids.hpp"

namespace ts::start_marks {

constexpr size_t record_size = 16;
constexpr uint64_t record_tag = 0x4b52414d54524154;  // "TATRMARK"

/// The record of `run`, as the helper writes it (inline: the helper links none of ours).
inline void make_record(uint64_t run, char (&out)[record_size]) {
  uint64_t check = run ^ record_tag;
  std::memcpy(out, &run, 8);
  std::memcpy(out + 8, &check, 8);
}

/// The runs with a record in the file at `path` (none when it does not exist).
std::vector<run_id> read_marked(const std::string& path);

/// Clears the records of every run not in `keep`; returns how many it cleared.
size_t clear_except(const std::string& path, const std::vector<run_id>& keep);

/// Clears the record of `run`, if any.
void clear(const std::string& path, run_id run);

/// The runner's slots in the file: taken at prepare, given back once the run's fate is
/// durable. Slots holding a record it did not write (a dead service's runs, until recovery
/// clears them) are never handed out. Thread-safe.
class slots {
public:
  /// Opens (creates) the file; check error().
  explicit slots(std::string path);
  ~slots();
  slots(const slots&) = delete;
  slots& operator=(const slots&) = delete;

  /// Why the file could not be opened, or "".
  const std::string& error() const {
    return error_;
  }
  /// The descriptor the helpers write through.
  int fd() const {
    return fd_;
  }
  /// A free slot for `run`: its offset in the file.
  std::optional<uint64_t> take(run_id run);
  /// Clears the slot of `run` and frees it; nothing when it has none.
  void give_back(run_id run);

private:
  void find_free();  // with mtx_ held

  std::string path_;
  std::string error_;
  int fd_ = -1;
  std::mutex mtx_;
  std::vector<run_id> owner_;  // by slot: the run it was taken for, 0 when not ours
  std::vector<size_t> free_;
  std::unordered_map<run_id, size_t> slot_of_;
};

} // namespace ts::start_marks
