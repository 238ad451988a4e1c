// What the runner tells ts-exec-helper, and what the helper answers: the one definition both
// sides compile. The spec travels as a blob on an inherited descriptor (a memfd, so its size
// has no pipe limit and the runner never blocks writing it); every string is length-prefixed
// and carries its own NUL, so no byte of a command or a value can be read as a separator.
// Only libc here: the helper links nothing of ours and starts in a few hundred microseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ts::exec_spec {

// The helper's descriptors, set up by posix_spawn's file actions (0..2 are the command's).
constexpr int spec_fd = 3;     // the blob, read once and closed
constexpr int control_fd = 4;  // one byte: exec now; end of file: the service gave up or died
constexpr int status_fd = 5;   // CLOEXEC: 'R' when held, an error record, or closed by exec
constexpr int marker_fd = 6;   // the start marks file (start_marks.hpp), written before exec
constexpr int first_free_fd = 7;

/// The helper was never released (abandoned, or its service died): it ran nothing.
constexpr int exit_abandoned = 121;
/// What could fail before the hold failed (cwd, user, cgroup): it ran nothing.
constexpr int exit_prepare_failed = 122;
/// exec itself failed after the release: it ran nothing (the shell's own code).
constexpr int exit_exec_failed = 127;

constexpr char status_ready = 'R';
constexpr char status_error = 'E';
/// An error record: the tag, errno as 4 bytes, then text; one write below PIPE_BUF, atomic.
constexpr size_t max_error_record = 480;

constexpr uint32_t magic = 0x32585354;  // "TSX2"
enum flag : uint32_t { has_user = 1, has_cgroup = 2, has_cwd = 4, has_marker = 8 };

/// The spec as the runner builds it.
struct spec {
  std::string shell;
  std::string command;
  std::string cwd;            // with has_cwd
  std::string cgroup_procs;   // with has_cgroup: the run's cgroup.procs, joined first
  uint32_t uid = 0, gid = 0;  // with has_user
  std::vector<uint32_t> groups;
  std::vector<std::string> env;  // the command's whole environment, "NAME=value"
  uint64_t marker_offset = 0;    // with has_marker: the run's slot in the marks file
  uint64_t marker_run = 0;       // and the run it marks
  uint32_t flags = 0;
};

inline void put_u32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

inline void put_u64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

inline void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size() + 1));
  out.append(s.data(), s.size());
  out.push_back('\0');
}

/// The blob. The runner refuses NUL inside strings before it gets here (exec could not
/// pass them); a string with one would be cut at it, not misread.
inline std::string encode(const spec& s) {
  std::string out;
  put_u32(out, magic);
  put_u32(out, s.flags);
  put_u32(out, s.uid);
  put_u32(out, s.gid);
  put_u64(out, s.marker_offset);
  put_u64(out, s.marker_run);
  put_u32(out, static_cast<uint32_t>(s.groups.size()));
  for (auto g : s.groups)
    put_u32(out, g);
  put_str(out, s.shell);
  put_str(out, s.command);
  put_str(out, s.cwd);
  put_str(out, s.cgroup_procs);
  put_u32(out, static_cast<uint32_t>(s.env.size()));
  for (auto& e : s.env)
    put_str(out, e);
  return out;
}

/// The spec as the helper reads it: pointers into the blob, which must outlive it.
struct view {
  view() = default;
  view(const view&) = delete;
  view& operator=(const view&) = delete;
  ~view() {
    std::free(groups);
    std::free(env);
  }
  uint32_t flags = 0, uid = 0, gid = 0, ngroups = 0;
  uint64_t marker_offset = 0, marker_run = 0;
  uint32_t* groups = nullptr;  // copied: unaligned in the blob
  const char* shell = nullptr;
  const char* command = nullptr;
  const char* cwd = nullptr;
  const char* cgroup_procs = nullptr;
  uint32_t nenv = 0;
  char** env = nullptr;  // malloc'd, NULL-terminated, for execve
};

/// Reads the blob; false on anything malformed (truncated, a length past the end, a string
/// without its NUL).
inline bool decode(const char* data, size_t size, view& v) {
  size_t at = 0;
  auto fixed = [&](auto& x) {
    if (size - at < sizeof(x))
      return false;
    std::memcpy(&x, data + at, sizeof(x));
    at += sizeof(x);
    return true;
  };
  auto u32 = [&](uint32_t& x) { return fixed(x); };
  auto str = [&](const char*& p) {
    uint32_t len = 0;
    if (!u32(len) || len == 0 || len > size - at || data[at + len - 1] != '\0')
      return false;
    p = data + at;
    at += len;
    return true;
  };
  uint32_t m = 0;
  if (!u32(m) || m != magic || !u32(v.flags) || !u32(v.uid) || !u32(v.gid)
      || !fixed(v.marker_offset) || !fixed(v.marker_run) || !u32(v.ngroups))
    return false;
  if (v.ngroups > (size - at) / sizeof(uint32_t))
    return false;
  v.groups = static_cast<uint32_t*>(std::malloc((v.ngroups + 1) * sizeof(uint32_t)));
  if (v.groups == nullptr)
    return false;
  for (uint32_t i = 0; i < v.ngroups; ++i)
    if (!u32(v.groups[i]))
      return false;
  if (!str(v.shell) || !str(v.command) || !str(v.cwd) || !str(v.cgroup_procs) || !u32(v.nenv))
    return false;
  if (v.nenv > (size - at) / sizeof(uint32_t))
    return false;
  v.env = static_cast<char**>(std::malloc((v.nenv + 1) * sizeof(char*)));
  if (v.env == nullptr)
    return false;
  for (uint32_t i = 0; i < v.nenv; ++i) {
    const char* e = nullptr;
    if (!str(e))
      return false;
    v.env[i] = const_cast<char*>(e);
  }
  v.env[v.nenv] = nullptr;
  return at == size;
}

} // namespace ts::exec_spec
