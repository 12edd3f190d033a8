#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "limits/limiter.hpp"

namespace bro::limits {

// The limiter of one process (embedded mode, and the reference the Redis scripts follow):
// one mutex-protected decision per call, with the same windows and the same answers as
// RedisLimiter. Memory is bounded by what the limits themselves bound — entries per minute
// window, slots per concurrency limit, two days and two months of budget counters per subject —
// and subjects with nothing left to count are dropped by a periodic sweep.
class MemoryLimiter final : public Limiter {
 public:
  std::string_view Backend() const override { return "memory"; }
  Task<Decision> Reserve(ReserveRequest request) override;
  Task<void> Settle(Settlement settlement) override;
  Task<Decision> Peek(std::vector<Subject> subjects, std::int64_t now_ms) override;

  // The synchronous decisions behind the awaitables (benchmarks, the bench/ rows).
  Decision ReserveNow(const ReserveRequest& request);
  void SettleNow(const Settlement& settlement);
  Decision PeekNow(const std::vector<Subject>& subjects, std::int64_t now_ms);
  std::size_t Subjects() const;

 private:
  struct Budget {
    std::int64_t tokens = 0;
    std::int64_t cost_nanos = 0;
  };
  struct TokenEntry {
    std::int64_t at_ms;
    std::string id;
  };
  struct State {
    std::deque<std::int64_t> requests;  // admission times, oldest first
    std::deque<TokenEntry> token_order;
    std::unordered_map<std::string, std::int64_t> token_amounts;
    std::int64_t token_sum = 0;
    std::unordered_map<std::string, std::int64_t> leases;  // id -> expiry
    std::map<std::int64_t, Budget> days;                   // day index -> charged
    std::map<std::int64_t, Budget> months;
    bool Empty() const;
  };

  void Evict(State& s, std::int64_t now_ms) const;
  Decision Headers(const std::vector<Subject>& subjects, std::int64_t now_ms);
  void Sweep(std::int64_t now_ms);

  mutable std::mutex mu_;
  std::unordered_map<std::string, State> states_;
  std::uint64_t calls_ = 0;
};

}  // namespace bro::limits
