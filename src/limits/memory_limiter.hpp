#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "limits/limiter.hpp"

namespace bro::limits {

// The limiter of one process (embedded mode, and the reference the Redis script follows):
// one mutex-protected decision per call, with the same windows and the same answers as
// RedisLimiter. Memory per subject is bounded by the windows — at most 61 one-second buckets,
// one slot per concurrent request, the current day's and month's budget counters — and
// subjects with nothing left to count are dropped by a periodic sweep.
class MemoryLimiter final : public Limiter {
 public:
  std::string_view Backend() const override { return "memory"; }
  Task<Decision> Reserve(ReserveRequest request) override;
  Task<void> Settle(Settlement settlement) override;
  void SettleLater(Settlement settlement, boost::asio::any_io_executor executor,
                   Done done) override;
  Task<Decision> Peek(std::vector<Subject> subjects, std::int64_t now_ms) override;
  Task<void> Drain() override { co_return; }

  // The synchronous decisions behind the awaitables (benchmarks, the bench/ rows).
  Decision ReserveNow(const ReserveRequest& request);
  void SettleNow(const Settlement& settlement);
  Decision PeekNow(const std::vector<Subject>& subjects, std::int64_t now_ms);
  std::size_t Subjects() const;

  struct Bucket {  // one second of a window
    std::int64_t requests = 0;
    std::int64_t tokens = 0;
  };

 private:
  struct State {
    // The window: buckets by second; lo is the oldest second that may still count, hi the
    // newest that was counted in (both unset when the window is empty).
    std::map<std::int64_t, Bucket> buckets;
    std::optional<std::int64_t> lo, hi;
    std::int64_t requests = 0;  // in the window
    std::int64_t tokens = 0;
    std::unordered_map<std::string, std::int64_t> leases;  // id -> expiry
    std::optional<std::int64_t> day;                       // day index of the counters
    std::int64_t day_tokens = 0, day_cost = 0;
    std::optional<std::int64_t> month_end;  // the month of the counters, by its end
    std::int64_t month_tokens = 0, month_cost = 0;
    bool Empty(std::int64_t now_ms) const;
  };

  static void Evict(State& s, std::int64_t now_ms);         // the window's old seconds
  static void ExpireLeases(State& s, std::int64_t now_ms);  // leases that ran out
  static Decision Headers(const std::vector<Subject>& subjects, const std::vector<State*>& states,
                          std::int64_t now_ms);
  void Sweep(std::int64_t now_ms);

  mutable std::mutex mu_;
  std::unordered_map<std::string, State> states_;
  std::uint64_t calls_ = 0;
};

}  // namespace bro::limits
