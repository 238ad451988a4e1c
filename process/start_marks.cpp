#include "process/start_marks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ts::start_marks {

namespace {

bool is_record(const char* p, uint64_t& run) {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  run = a;
  return a != 0 && (a ^ record_tag) == b;
}

// The whole file (it holds a few slots per run in flight); empty when it is missing.
std::string read_all(int fd) {
  std::string out;
  char buf[8192];
  for (off_t at = 0;;) {
    auto n = ::pread(fd, buf, sizeof(buf), at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return out;
}

const char zeros[record_size] = {};

void clear_at(int fd, size_t offset) {
  while (::pwrite(fd, zeros, record_size, static_cast<off_t>(offset)) < 0 && errno == EINTR) {
  }
}

// Calls f(offset, run) for every record in the file.
template <class F>
void for_each_record(int fd, F f) {
  auto all = read_all(fd);
  for (size_t at = 0; at + record_size <= all.size(); at += record_size) {
    uint64_t run = 0;
    if (is_record(all.data() + at, run))
      f(at, static_cast<run_id>(run));
  }
}

struct file {
  explicit file(const std::string& path, int flags) : fd(::open(path.c_str(), flags | O_CLOEXEC)) {
  }
  ~file() {
    if (fd >= 0)
      ::close(fd);
  }
  int fd;
};

} // namespace

std::vector<run_id> read_marked(const std::string& path) {
  std::vector<run_id> out;
  file f{path, O_RDONLY};
  if (f.fd >= 0)
    for_each_record(f.fd, [&](size_t, run_id run) { out.push_back(run); });
  return out;
}

size_t clear_except(const std::string& path, const std::vector<run_id>& keep) {
  size_t cleared = 0;
  file f{path, O_RDWR};
  if (f.fd >= 0)
    for_each_record(f.fd, [&](size_t at, run_id run) {
      if (std::find(keep.begin(), keep.end(), run) == keep.end()) {
        clear_at(f.fd, at);
        ++cleared;
      }
    });
  return cleared;
}

void clear(const std::string& path, run_id run) {
  file f{path, O_RDWR};
  if (f.fd >= 0)
    for_each_record(f.fd, [&](size_t at, run_id r) {
      if (r == run)
        clear_at(f.fd, at);
    });
}

slots::slots(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    error_ = path_ + ": " + std::strerror(errno);
}

slots::~slots() {
  if (fd_ >= 0)
    ::close(fd_);
}

void slots::find_free() {
  std::vector<bool> marked(owner_.size());
  for_each_record(fd_, [&](size_t at, run_id) {
    auto i = at / record_size;
    if (i >= marked.size())
      marked.resize(i + 1);
    marked[i] = true;
  });
  if (marked.size() > owner_.size())
    owner_.resize(marked.size(), 0);
  for (size_t i = 0; i < owner_.size(); ++i)
    if (owner_[i] == 0 && !marked[i])
      free_.push_back(i);
  if (free_.empty()) {  // all in use: the file grows by one slot
    owner_.push_back(0);
    free_.push_back(owner_.size() - 1);
  }
}

std::optional<uint64_t> slots::take(run_id run) {
  if (fd_ < 0 || run == 0)
    return std::nullopt;
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = slot_of_.find(run); i != slot_of_.end())
    return i->second * record_size;  // a second start of one run shares its slot
  if (free_.empty())
    find_free();
  auto slot = free_.back();
  free_.pop_back();
  owner_[slot] = run;
  slot_of_[run] = slot;
  return slot * record_size;
}

void slots::give_back(run_id run) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = slot_of_.find(run);
  if (i == slot_of_.end())
    return;
  clear_at(fd_, i->second * record_size);
  owner_[i->second] = 0;
  free_.push_back(i->second);
  slot_of_.erase(i);
}

} // namespace ts::start_marks
