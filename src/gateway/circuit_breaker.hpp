#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "common/time.hpp"

namespace bro::gateway {

struct BreakerSettings {
  int failures = 5;          // consecutive failures that open the circuit
  double error_ratio = 0.5;  // or this share of failures ...
  int min_requests = 20;     // ... among at least this many calls in the current window
  std::chrono::milliseconds window{30000};
  std::chrono::milliseconds open_for{30000};  // then half-open: one probe call at a time
};

// A per-deployment circuit breaker.
//   closed    -> open       after `failures` consecutive failures, or when the failure share of
//                           the current window (a fixed window of `window`) reaches `error_ratio`
//                           over at least `min_requests` calls;
//   open      -> half-open  once `open_for` has passed: one probe call is let through;
//   half-open -> closed     when the probe succeeds; -> open again when it fails.
// Separately, a cool-down (an upstream's Retry-After) keeps the deployment out of rotation
// until it ends, without counting as a transition.
class CircuitBreaker {
 public:
  enum class State : std::uint8_t { kClosed = 0, kHalfOpen = 1, kOpen = 2 };

  CircuitBreaker(BreakerSettings settings, const common::Clock& clock);

  // Whether a call could be sent now (no side effect).
  bool Available() const;
  // Claims the right to call: false when not Available (or another caller took the probe).
  bool Acquire();
  void OnSuccess();
  void OnFailure();
  // Abandons a claimed call that neither succeeded nor failed (e.g. the client left).
  void OnAbandoned();
  void CoolDownUntil(std::chrono::system_clock::time_point until);
  // How long the current cool-down still lasts (zero when none).
  std::chrono::milliseconds CoolDownLeft() const;

  State Current() const { return state_.load(std::memory_order_relaxed); }
  // Transitions into `to` since start (metrics).
  std::uint64_t Transitions(State to) const {
    return transitions_[static_cast<std::size_t>(to)].load(std::memory_order_relaxed);
  }

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  bool AvailableLocked(TimePoint now) const;
  void MoveTo(State s, TimePoint now);
  void CountCall(bool failed, TimePoint now);

  const BreakerSettings settings_;
  const common::Clock& clock_;
  mutable std::mutex mu_;
  std::atomic<State> state_{State::kClosed};
  std::array<std::atomic<std::uint64_t>, 3> transitions_{};
  TimePoint open_until_{};
  TimePoint cool_down_until_{};
  bool probe_in_flight_ = false;
  int consecutive_failures_ = 0;
  TimePoint window_start_{};
  int window_calls_ = 0;
  int window_failures_ = 0;
};

}  // namespace bro::gateway
