#include "actors/recovery_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "core/error.hpp"
#include "core/sha256.hpp"

// -- the recovery file ----------------------------------------------------------------------

namespace ts {

namespace {

constexpr char recovery_magic[8] = {'T', 'S', 'R', 'E', 'C', 'O', 'V', '1'};
constexpr uint32_t recovery_format = 1;
// The header: magic (8 bytes), format (4), reserved (4), layout (16 hex digits), payload
// bytes (8), count (8), the payload's SHA-256 (64 hex digits), zeros to 128. Integers in
// the host's byte order: the file is read back where it was written.
constexpr size_t header_size = 128;
constexpr size_t format_at = 8;
constexpr size_t layout_at = 16;
constexpr size_t length_at = 32;
constexpr size_t count_at = 40;
constexpr size_t digest_at = 48;
static_assert(digest_at + 64 <= header_size);

caf::error io_error(const std::string& path, const std::string& what, int err) {
  return make_error(ec::storage_failure,
                    "recovery file " + path + ": " + what + ": " + std::strerror(err));
}

caf::error corrupt(const std::string& path, const std::string& why) {
  return make_error(ec::storage_failure, "recovery file " + path + " " + why);
}

caf::error pwrite_all(int fd, const char* data, size_t size, off_t at, const std::string& path) {
  while (size > 0) {
    auto n = ::pwrite(fd, data, size, at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_error(path, "write", errno);
    data += n;
    size -= static_cast<size_t>(n);
    at += n;
  }
  return caf::none;
}

caf::error pread_all(int fd, char* data, size_t size, off_t at, const std::string& path) {
  while (size > 0) {
    auto n = ::pread(fd, data, size, at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_error(path, "read", errno);
    if (n == 0)
      return corrupt(path, "ended while being read");
    data += n;
    size -= static_cast<size_t>(n);
    at += n;
  }
  return caf::none;
}

caf::expected<std::vector<char>> serialize(const held_writes& w) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  // CAF's inspectors take non-const references; saving does not change `w`.
  if (auto err = sink(const_cast<held_writes&>(w)))
    return err;
  return buf;
}

// A fingerprint of the records' binary form: one default record of each kind, hashed. A
// binary whose run_outcome (or the others) gained, lost or retyped a field computes another
// one and refuses the file rather than misread it.
const std::string& layout() {
  static const std::string tag = [] {
    held_writes sample;
    sample.starts.resize(1);
    sample.appends.resize(1);
    sample.outcomes.resize(1);
    auto buf = serialize(sample);
    return buf ? sha256_hex({buf->data(), buf->size()}).substr(0, 16) : std::string(16, '?');
  }();
  return tag;
}

template <class T>
T load(const char* at) {
  T x;
  std::memcpy(&x, at, sizeof(T));
  return x;
}

template <class T>
void store(char* at, T x) {
  std::memcpy(at, &x, sizeof(T));
}

// The file's name must survive a crash too, not only its content.
void sync_parent(const std::string& path) {
  auto dir = std::filesystem::path{path}.parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

} // namespace

caf::expected<std::shared_ptr<recovery_file>> recovery_file::open(const std::string& path) {
  bool existed = ::access(path.c_str(), F_OK) == 0;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_error(path, "open", errno);
  if (!existed)
    sync_parent(path);
  return std::shared_ptr<recovery_file>{new recovery_file(path, fd)};
}

recovery_file::~recovery_file() {
  ::close(fd_);
}

size_t recovery_file::bytes_for(size_t max_backlog_bytes) {
  // held_size() bounds each record; the three sequence lengths take a few bytes more.
  return header_size + max_backlog_bytes + 64;
}

caf::expected<held_writes> recovery_file::read() {
  struct stat sb;
  if (::fstat(fd_, &sb) != 0)
    return io_error(path_, "stat", errno);
  auto size = static_cast<size_t>(sb.st_size);
  char head[header_size] = {};
  if (auto err = pread_all(fd_, head, std::min(size, header_size), 0, path_))
    return err;
  // Empty, or reserved and never written.
  if (std::all_of(head, head + sizeof(recovery_magic), [](char c) { return c == 0; }))
    return held_writes{};
  if (size < header_size)
    return corrupt(path_, "is truncated (" + std::to_string(size) + " bytes, less than a header)");
  if (std::memcmp(head, recovery_magic, sizeof(recovery_magic)) != 0)
    return corrupt(path_, "is not a recovery file (unknown magic)");
  auto format = load<uint32_t>(head + format_at);
  if (format != recovery_format)
    return corrupt(path_, "has format " + std::to_string(format) + "; this binary reads "
                            + std::to_string(recovery_format));
  std::string tag(head + layout_at, 16);
  if (tag != layout())
    return corrupt(path_, "was written by a binary with another record layout (" + tag
                            + ", this one " + layout()
                            + "): replay it with the binary that wrote it");
  auto length = load<uint64_t>(head + length_at);
  if (length > size - header_size)
    return corrupt(path_, "is truncated: its header announces " + std::to_string(length)
                            + " payload bytes, the file holds "
                            + std::to_string(size - header_size));
  std::vector<char> payload(length);
  if (auto err = pread_all(fd_, payload.data(), payload.size(), header_size, path_))
    return err;
  if (sha256_hex({payload.data(), payload.size()}) != std::string(head + digest_at, 64))
    return corrupt(path_, "fails its checksum (SHA-256)");
  held_writes w;
  caf::binary_deserializer source{nullptr, payload.data(), payload.size()};
  if (auto err = source(w); err || source.remaining() != 0)
    return corrupt(path_, "holds a payload this binary cannot decode");
  if (w.count() != load<uint64_t>(head + count_at))
    return corrupt(path_, "holds another number of writes than its header says");
  return w;
}

caf::error recovery_file::reset(size_t bytes) {
  if (::ftruncate(fd_, 0) != 0)
    return io_error(path_, "truncate", errno);
  if (bytes > 0)
    if (int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes)); rc != 0)
      return io_error(path_, "reserve " + std::to_string(bytes) + " bytes", rc);
  if (::fsync(fd_) != 0)
    return io_error(path_, "fsync", errno);
  return caf::none;
}

caf::expected<size_t> recovery_file::write(const held_writes& w) {
  auto payload = serialize(w);
  if (!payload)
    return make_error(ec::storage_failure, "recovery file " + path_ + ": cannot encode: "
                                             + render(payload.error()));
  char head[header_size] = {};
  std::memcpy(head, recovery_magic, sizeof(recovery_magic));
  store(head + format_at, recovery_format);
  std::memcpy(head + layout_at, layout().data(), 16);
  store(head + length_at, static_cast<uint64_t>(payload->size()));
  store(head + count_at, static_cast<uint64_t>(w.count()));
  auto digest = sha256_hex({payload->data(), payload->size()});
  std::memcpy(head + digest_at, digest.data(), 64);
  // The header first: a write cut short then fails the checksum and is refused at the next
  // start, loudly, instead of reading as an empty file.
  if (auto err = pwrite_all(fd_, head, header_size, 0, path_))
    return err;
  if (auto err = pwrite_all(fd_, payload->data(), payload->size(), header_size, path_))
    return err;
  if (::fdatasync(fd_) != 0)
    return io_error(path_, "fdatasync", errno);
  return header_size + payload->size();
}

} // namespace ts
