// Actor metrics without touching behaviours: CAF 0.17 has no telemetry, so an actor that
// should be measured is spawned as instrumented_actor<Self>, a subclass of the stateful
// actor its behaviour function expects. It overrides the three virtual points every
// message and every lifetime passes through (enqueue, consume, cleanup) and reports to its
// kind's actor_probe. Works alike on the scheduler, on a private thread (detached) and on
// CAF's test scheduler. Without metrics, spawn_instrumented spawns the plain actor: no cost.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor_config.hpp>
#include <caf/infer_handle.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/spawn_options.hpp>

#include "metrics/metrics.hpp"

namespace ts {

/// `Self` is the behaviour function's actor type, e.g. caf::stateful_actor<S, Base>.
template <class Self>
class instrumented_actor final : public Self {
public:
  using behavior_type = typename Self::behavior_type;
  using init_fn = std::function<behavior_type(Self*)>;

  instrumented_actor(caf::actor_config& cfg, actor_probe* probe, init_fn init)
    : Self(cfg), probe_(probe), init_(std::move(init)) {
    probe_->spawned();
  }

  ~instrumented_actor() override {
    if (!terminated_)
      probe_->terminated();
    // Nobody can enqueue any more (that takes a strong reference): whatever was never
    // handled leaves the mailbox gauge now.
    probe_->dropped(enqueued_.load(std::memory_order_relaxed) - handled_);
  }

  behavior_type make_behavior() override {
    auto init = std::move(init_);
    return init(this);
  }

  using Self::enqueue;

  // Any thread: one relaxed increment and one gauge increment per message.
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* host) override {
    enqueued_.fetch_add(1, std::memory_order_relaxed);
    probe_->enqueued();
    Self::enqueue(std::move(ptr), host);
  }

  // The actor's own thread.
  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    // The message in hand no longer waits.
    probe_->dequeued();
    auto start = std::chrono::steady_clock::now();
    auto result = Self::consume(x);
    if (result == caf::invoke_message_result::skipped) {
      // It stays in the mailbox and comes back later.
      probe_->enqueued();
    } else {
      ++handled_;
      probe_->handled(std::chrono::steady_clock::now() - start);
    }
    return result;
  }

  bool cleanup(caf::error&& reason, caf::execution_unit* host) override {
    if (!terminated_) {
      terminated_ = true;
      probe_->terminated();
    }
    return Self::cleanup(std::move(reason), host);
  }

private:
  actor_probe* probe_;
  init_fn init_;
  std::atomic<int64_t> enqueued_{0};
  int64_t handled_ = 0;       // the actor's thread only (and the destructor)
  bool terminated_ = false;  // likewise
};

/// Spawns the behaviour function `fun` with `xs` from `parent` (an actor system or an
/// actor) exactly like `parent.spawn<Os>(fun, xs...)`, but instrumented as `kind` when `m`
/// is not null.
template <caf::spawn_options Os = caf::no_spawn_options, class Parent, class F, class... Ts>
caf::infer_handle_from_fun_t<F> spawn_instrumented(Parent& parent, metrics* m, actor_kind kind,
                                                   F fun, Ts&&... xs) {
  if (m == nullptr)
    return parent.template spawn<Os>(fun, std::forward<Ts>(xs)...);
  using self_type = caf::infer_impl_from_fun_t<F>;
  using impl = instrumented_actor<self_type>;
  typename impl::init_fn init = [fun, args = std::make_tuple(std::decay_t<Ts>(
                                        std::forward<Ts>(xs))...)](self_type* self) mutable {
    return std::apply([&](auto&... a) { return fun(self, std::move(a)...); }, args);
  };
  return parent.template spawn<impl, Os>(&m->actor(kind), std::move(init));
}

} // namespace ts
