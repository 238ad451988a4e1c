// The posix runner: its core (runner_core.hpp) and the supervisor thread it starts.
#include "process/process_runner.hpp"

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <thread>
#include <utility>

#include "process/proc_stat.hpp"
#include "process/runner_core.hpp"

namespace ts {

namespace {

class posix_process_runner final : public process_runner {
public:
  explicit posix_process_runner(runner_options opts)
    : core_(std::make_shared<runner_core>(std::move(opts))) {
    if (!core_->ready())
      return;
    // The thread blocks every signal, so the service's own signal handling never lands on
    // it; it inherits the mask of the thread that creates it.
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    supervisor_ = std::thread([core = core_] { core->run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  ~posix_process_runner() override {
    if (!supervisor_.joinable())
      return;
    core_->stop();
    if (supervisor_.get_id() == std::this_thread::get_id())
      supervisor_.detach(); // destroyed by a handler: the thread finishes on its own
    else
      supervisor_.join();
  }

  caf::expected<spawned_process> start(const std::string& command, start_options opts,
                                       exit_handler on_exit) override {
    return core_->start(command, std::move(opts), std::move(on_exit));
  }

  caf::expected<spawned_process> prepare(const std::string& command, start_options opts,
                                         exit_handler on_exit) override {
    return core_->prepare(command, std::move(opts), std::move(on_exit));
  }

  caf::expected<millis> release(const spawned_process& p) override {
    return core_->release(p);
  }

  void abandon(const spawned_process& p) override {
    core_->abandon(p);
  }

  void signal_run(const spawned_process& p, int sig) override {
    core_->signal_run(p, sig);
  }

  void forget(const spawned_process& p) override {
    core_->forget(p);
  }

  kill_mode active_kill_mode() const override {
    return core_->scope().mode;
  }

  std::string kill_mode_detail() const override {
    return core_->scope().detail;
  }

private:
  std::shared_ptr<runner_core> core_;
  std::thread supervisor_;
};

} // namespace

std::shared_ptr<process_runner> make_posix_process_runner(runner_options opts) {
  return std::make_shared<posix_process_runner>(std::move(opts));
}

bool kill_leftover(int32_t pid, int32_t pgid, uint64_t start_ticks) {
  if (pid <= 0 || pgid <= 1 || start_ticks == 0)
    return false;
  if (process_start_ticks(pid) != start_ticks)
    return false; // gone, or the pid now names another process
  return ::kill(-pgid, SIGKILL) == 0;
}

} // namespace ts
