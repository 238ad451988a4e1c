#include "bench/spawn_child.hpp"

#include <fcntl.h>
#include <spawn.h>

extern char** environ;

namespace ts::bench {

int spawn_shell(const std::string& command, int out_fd, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc != 0)
    return rc;
  rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0 && out_fd >= 0) {
    rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    if (rc == 0)
      rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  } else if (rc == 0) {
    rc = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
      rc = posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  if (rc == 0) {
    char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                    const_cast<char*>(command.c_str()), nullptr};
    rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
  }
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

} // namespace ts::bench
