#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/types.hpp"

namespace bro::limits {

using Millis = std::chrono::milliseconds;

// One subject's limits; 0 means unlimited. Costs are integer nano-dollars (1e-9 USD) so that
// every backend adds them exactly: a price of P dollars per million tokens is P * 1000
// nano-dollars per token.
struct Policy {
  std::int64_t requests_per_minute = 0;
  std::int64_t tokens_per_minute = 0;
  std::int64_t concurrent_requests = 0;
  std::int64_t daily_tokens = 0;
  std::int64_t monthly_tokens = 0;
  std::int64_t daily_cost_nanos = 0;
  std::int64_t monthly_cost_nanos = 0;

  // What a subject under this policy keeps: a per-minute window, day and month budgets, leases.
  bool TracksWindow() const { return requests_per_minute > 0 || tokens_per_minute > 0; }
  bool TracksDays() const { return daily_tokens > 0 || daily_cost_nanos > 0; }
  bool TracksMonths() const { return monthly_tokens > 0 || monthly_cost_nanos > 0; }
  bool TracksLeases() const { return concurrent_requests > 0; }
  // Counts tokens or cost somewhere: a settlement that changes them must reach the limiter.
  bool TracksUse() const { return tokens_per_minute > 0 || TracksDays() || TracksMonths(); }
  bool Unlimited() const {
    return requests_per_minute == 0 && tokens_per_minute == 0 && concurrent_requests == 0 &&
           daily_tokens == 0 && monthly_tokens == 0 && daily_cost_nanos == 0 &&
           monthly_cost_nanos == 0;
  }
  bool operator==(const Policy&) const = default;
};

// Who is counted: "key:<id>", "user:<id>", or either with "|model:<name>" for a per-model limit.
struct Subject {
  std::string id;
  Policy policy;
};

// Why a request was refused, in the order the limiter checks.
enum class Reason {
  kNone,
  kRequests,     // requests per minute
  kTokens,       // tokens per minute
  kTooLarge,     // the request alone exceeds tokens per minute: it can never pass
  kConcurrency,  // concurrent requests
  kDailyTokens,
  kMonthlyTokens,
  kDailyCost,
  kMonthlyCost,
};
std::string_view ReasonName(Reason r);

// Windows (docs/architecture.md, "Limits"): requests and tokens per minute slide second by
// second. An admitted request is counted in the one-second bucket of its admission time and
// leaves the window when the 61st second after that bucket's start begins: it counts for at
// least 60 s and less than 61 s, so no span of 60 s ever holds more than the limit, and a
// subject's window is at most 61 buckets whatever its traffic (memory and Redis work do not
// grow with the request rate). A day is a UTC calendar day and a month a UTC calendar month;
// concurrency slots are held until settled, or until `lease` passes (a replica that died
// holding them).
inline constexpr Millis kMinute{60'000};
inline constexpr std::int64_t kDayMs = 86'400'000;
inline constexpr std::int64_t kBucketMs = 1'000;
inline constexpr std::int64_t kWindowBuckets = 61;  // a bucket counts while younger than this
// The bucket (second) a time falls in, and the first millisecond it no longer counts.
std::int64_t BucketOf(std::int64_t now_ms);
inline std::int64_t BucketEndMs(std::int64_t bucket) {
  return (bucket + kWindowBuckets) * kBucketMs;
}

// A Retry-After value: whole seconds, rounded up, at least 1.
std::string RetryAfterSeconds(Millis d);
std::int64_t DayIndex(std::int64_t now_ms);    // days since the epoch (UTC)
std::int64_t MonthIndex(std::int64_t now_ms);  // year * 12 + month - 1 (UTC)
std::int64_t MonthEndMs(std::int64_t now_ms);  // the first millisecond of the next UTC month

// The largest token count or cost a reservation or settlement may carry: every backend adds
// these exactly (Redis scripts count in doubles, exact to 2^53), and sums of a limit (at most
// 2^50 tokens, 1e18 nano-dollars) and one amount never overflow an int64.
inline constexpr std::int64_t kMaxAmount = std::int64_t{1} << 53;
struct ReserveRequest {
  std::string id;  // unique per request; names the reservation in every window
  std::vector<Subject> subjects;
  std::int64_t tokens = 0;      // worst case: prompt estimate + max completion tokens
  std::int64_t cost_nanos = 0;  // worst case at the model's prices
  std::int64_t now_ms = 0;      // Unix time of the decision (the caller's clock)
  Millis lease{600'000};
};

// A window as the x-ratelimit-* headers report it.
struct Window {
  std::int64_t limit = 0;  // 0: no such limit for these subjects
  std::int64_t remaining = 0;
  Millis reset{0};  // until the window is back to its full limit
};

// Folds one subject's window into `w`, the headers' window: the tightest wins (the least
// remaining, then the latest reset). `used` is what the window holds, `newest` its newest
// counted second (it is full again when that second leaves).
void Tighten(Window& w, std::int64_t limit, std::int64_t used, std::optional<std::int64_t> newest,
             std::int64_t now_ms);

struct Decision {
  bool admitted = false;
  Reason reason = Reason::kNone;
  std::size_t subject = 0;  // index of the subject that refused
  Millis retry_after{0};    // refused: when the refusing limit admits this request again
  Window requests;          // the tightest subject's, after this decision
  Window tokens;
};

struct Settlement {
  std::string id;
  std::vector<Subject> subjects;  // as reserved (a policy changed meanwhile does not matter)
  std::int64_t reserved_tokens = 0;
  std::int64_t reserved_cost_nanos = 0;
  std::int64_t tokens = 0;  // actually used (charged even when the request failed mid-way)
  std::int64_t cost_nanos = 0;
  std::int64_t reserved_at_ms = 0;  // the day and month the reservation was charged to
  std::int64_t now_ms = 0;
  Millis lease{600'000};  // as reserved
};

// A reservation whose amounts lie outside [0, kMaxAmount] can never be admitted: the limiters
// refuse it (kTooLarge) without touching any window, whatever the policy.
bool AmountsInRange(const ReserveRequest& r);
// Usage reported by an upstream is clamped into [0, kMaxAmount] before it is charged.
Settlement Clamped(Settlement s);

// The shared counter store behind every limit: one atomic decision per call. MemoryLimiter
// serves one process (embedded mode); RedisLimiter is shared by every replica. Both pass
// tests/integration/limiter_contract_test.cpp.
//
// Reserve either admits and records the request in every window of every subject, or changes
// nothing. Settle replaces the reserved worst case with the actual usage and frees the
// concurrency slot; call it once, and only for an admitted reservation (the windows keep sums
// per second, not per reservation, so a settlement is applied as a difference).
// Calls throw common::InfrastructureError when the store fails.
class Limiter {
 public:
  virtual ~Limiter() = default;
  virtual std::string_view Backend() const = 0;  // "memory" | "redis"
  virtual Task<Decision> Reserve(ReserveRequest request) = 0;
  virtual Task<void> Settle(Settlement settlement) = 0;
  // Settle without waiting for it: before this returns the settlement is applied (memory) or
  // queued ahead of every later call of this process (Redis), so this process never decides
  // without it; `done` is called on `executor` with the outcome (null: applied).
  using Done = std::function<void(std::exception_ptr)>;
  virtual void SettleLater(Settlement settlement, boost::asio::any_io_executor executor,
                           Done done) = 0;
  // Returns once every call made so far has been answered (shutdown: settlements queued by
  // SettleLater are written before the process exits).
  virtual Task<void> Drain() = 0;
  // The windows as they are, changing nothing (headers of /v1 responses that use no quota).
  virtual Task<Decision> Peek(std::vector<Subject> subjects, std::int64_t now_ms) = 0;
};

}  // namespace bro::limits
