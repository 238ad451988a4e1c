// posix_spawn of `/bin/sh -c COMMAND` for the raw baselines: stdin from /dev/null, stdout
// and stderr to `out_fd` (or /dev/null when it is -1). Nothing else: no process group, no
// signal set-up, no descriptor closing, so the baselines are the bare cost of a start.
#pragma once

#include <sys/types.h>

#include <string>

namespace ts::bench {

/// 0 and the child's pid, or posix_spawn's error number.
int spawn_shell(const std::string& command, int out_fd, pid_t& pid);

} // namespace ts::bench
