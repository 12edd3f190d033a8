#include "gateway/circuit_breaker.hpp"

namespace bro::gateway {

CircuitBreaker::CircuitBreaker(BreakerSettings settings, const common::Clock& clock)
    : settings_(settings), clock_(clock) {}

bool CircuitBreaker::AvailableLocked(TimePoint now) const {
  if (now < cool_down_until_) return false;
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return now >= open_until_;
    case State::kHalfOpen:
      return !probe_in_flight_;
  }
  return false;
}

bool CircuitBreaker::Available() const {
  std::lock_guard lock(mu_);
  return AvailableLocked(clock_.Now());
}

bool CircuitBreaker::Acquire() {
  std::lock_guard lock(mu_);
  const auto now = clock_.Now();
  if (!AvailableLocked(now)) return false;
  if (state_.load(std::memory_order_relaxed) == State::kOpen) MoveTo(State::kHalfOpen, now);
  if (state_.load(std::memory_order_relaxed) == State::kHalfOpen) probe_in_flight_ = true;
  return true;
}

void CircuitBreaker::MoveTo(State s, TimePoint now) {
  state_.store(s, std::memory_order_relaxed);
  transitions_[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
  consecutive_failures_ = 0;
  window_start_ = now;
  window_calls_ = 0;
  window_failures_ = 0;
  probe_in_flight_ = false;
  if (s == State::kOpen) open_until_ = now + settings_.open_for;
}

void CircuitBreaker::CountCall(bool failed, TimePoint now) {
  if (now - window_start_ >= settings_.window) {
    window_start_ = now;
    window_calls_ = 0;
    window_failures_ = 0;
  }
  ++window_calls_;
  if (failed) ++window_failures_;
}

void CircuitBreaker::OnSuccess() {
  std::lock_guard lock(mu_);
  const auto now = clock_.Now();
  if (state_.load(std::memory_order_relaxed) == State::kHalfOpen) {
    MoveTo(State::kClosed, now);
    return;
  }
  consecutive_failures_ = 0;
  CountCall(false, now);
}

void CircuitBreaker::OnFailure() {
  std::lock_guard lock(mu_);
  const auto now = clock_.Now();
  const auto state = state_.load(std::memory_order_relaxed);
  if (state == State::kHalfOpen) {
    MoveTo(State::kOpen, now);
    return;
  }
  if (state == State::kOpen) return;  // a call admitted before the circuit opened
  ++consecutive_failures_;
  CountCall(true, now);
  const bool by_count = consecutive_failures_ >= settings_.failures;
  const bool by_ratio = window_calls_ >= settings_.min_requests &&
                        static_cast<double>(window_failures_) >=
                            settings_.error_ratio * static_cast<double>(window_calls_);
  if (by_count || by_ratio) MoveTo(State::kOpen, now);
}

void CircuitBreaker::OnAbandoned() {
  std::lock_guard lock(mu_);
  probe_in_flight_ = false;
}

void CircuitBreaker::CoolDownUntil(TimePoint until) {
  std::lock_guard lock(mu_);
  if (until > cool_down_until_) cool_down_until_ = until;
}

std::chrono::milliseconds CircuitBreaker::CoolDownLeft() const {
  std::lock_guard lock(mu_);
  const auto now = clock_.Now();
  if (now >= cool_down_until_) return std::chrono::milliseconds::zero();
  return std::chrono::ceil<std::chrono::milliseconds>(cool_down_until_ - now);
}

}  // namespace bro::gateway
