// The limiter contract: one suite, run against the in-process limiter always and against
// Redis whenever BRO_TEST_REDIS_URL is set (tools/ci/with-services.sh sets it). Time is passed
// in explicitly (now_ms), so windows are tested without waiting.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/random.hpp"
#include "integration/limiter_backends.hpp"
#include "integration/support.hpp"
#include "limits/limiter.hpp"
#include "limits/redis_limiter.hpp"

namespace bro::limits {
namespace {

using testing::RunTask;
namespace asio = boost::asio;

// 2027-01-15T10:00:00Z: mid-day, mid-month.
constexpr std::int64_t kT0 = 1'800'000'000'000 / limits::kDayMs * limits::kDayMs + 10 * 3'600'000;

// A reservation id. (Not `"r" + std::to_string(i)`: GCC 12 at -O3 reports a false -Wrestrict
// in that concatenation.)
std::string Id(std::string_view prefix, int n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

template <class Backend>
class LimiterContract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Backend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    limiter_ = backend_.Open();
    key_ = "key:" + common::RandomHex(6);
    user_ = "user:" + common::RandomHex(6);
  }

  Decision Reserve(const std::string& id, std::vector<Subject> subjects, std::int64_t now,
                   std::int64_t tokens = 1, std::int64_t cost = 0, Millis lease = Millis(600'000)) {
    ReserveRequest r;
    r.id = id;
    r.subjects = std::move(subjects);
    r.tokens = tokens;
    r.cost_nanos = cost;
    r.now_ms = now;
    r.lease = lease;
    return RunTask(ioc_, limiter_->Reserve(std::move(r)));
  }
  void Settle(const std::string& id, std::vector<Subject> subjects, std::int64_t reserved_at,
              std::int64_t reserved_tokens, std::int64_t tokens, std::int64_t now,
              std::int64_t reserved_cost = 0, std::int64_t cost = 0) {
    Settlement s;
    s.id = id;
    s.subjects = std::move(subjects);
    s.reserved_tokens = reserved_tokens;
    s.reserved_cost_nanos = reserved_cost;
    s.tokens = tokens;
    s.cost_nanos = cost;
    s.reserved_at_ms = reserved_at;
    s.now_ms = now;
    RunTask(ioc_, limiter_->Settle(std::move(s)));
  }
  Decision Peek(std::vector<Subject> subjects, std::int64_t now) {
    return RunTask(ioc_, limiter_->Peek(std::move(subjects), now));
  }
  // body(i) for i in [0, n), all at once on the fixture's io_context run by four threads (the
  // Redis client's connections belong to it, and it outlives them).
  template <class Body>
  void RunConcurrently(int n, Body body) {
    std::vector<std::future<void>> done;
    done.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) done.push_back(asio::co_spawn(ioc_, body(i), asio::use_future));
    ioc_.restart();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([this] { ioc_.run(); });
    for (auto& t : threads) t.join();
    for (auto& f : done) f.get();
  }
  Subject Key(Policy p) const { return {key_, p}; }
  Subject User(Policy p) const { return {user_, p}; }

  asio::io_context ioc_;
  Backend backend_;
  std::unique_ptr<Limiter> limiter_;
  std::string key_, user_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int /*index*/) {
    return T::Name();
  }
};

using Backends = ::testing::Types<testing::MemoryLimiterBackend, testing::RedisLimiterBackend>;
TYPED_TEST_SUITE(LimiterContract, Backends, BackendNames);

Policy Rpm(std::int64_t n) {
  Policy p;
  p.requests_per_minute = n;
  return p;
}
Policy Tpm(std::int64_t n) {
  Policy p;
  p.tokens_per_minute = n;
  return p;
}

TYPED_TEST(LimiterContract, RequestsPerMinuteAdmitsExactlyTheLimit) {
  const auto key = this->Key(Rpm(3));
  for (int i = 0; i < 3; ++i) {
    auto d = this->Reserve(Id("r", i), {key}, kT0 + i * 1000);
    ASSERT_TRUE(d.admitted) << i;
    EXPECT_EQ(d.requests.limit, 3);
    EXPECT_EQ(d.requests.remaining, 2 - i);
    EXPECT_EQ(d.requests.reset, Millis(61'000)) << "its second counts until 61 s after it began";
    EXPECT_EQ(d.tokens.limit, 0) << "no token limit, no token window";
  }
  auto refused = this->Reserve("r3", {key}, kT0 + 5000);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, Reason::kRequests);
  EXPECT_EQ(refused.retry_after, Millis(56'000)) << "the oldest second leaves at 61 s";
  EXPECT_EQ(refused.requests.remaining, 0);
  EXPECT_EQ(refused.requests.reset, Millis(58'000));
  // Refused attempts are not counted: the window is exactly as before.
  auto again = this->Reserve("r4", {key}, kT0 + 60'999);
  EXPECT_FALSE(again.admitted);
  EXPECT_EQ(again.retry_after, Millis(1));
}

TYPED_TEST(LimiterContract, TheMinuteWindowSlides) {
  const auto key = this->Key(Rpm(2));
  ASSERT_TRUE(this->Reserve("a", {key}, kT0).admitted);
  ASSERT_TRUE(this->Reserve("b", {key}, kT0 + 30'000).admitted);
  EXPECT_FALSE(this->Reserve("c", {key}, kT0 + 60'999).admitted);
  // At 61 s the first second has left; the second entry still counts (no fixed-window reset).
  auto d = this->Reserve("d", {key}, kT0 + 61'000);
  EXPECT_TRUE(d.admitted);
  EXPECT_EQ(d.requests.remaining, 0);
  EXPECT_FALSE(this->Reserve("e", {key}, kT0 + 90'999).admitted);
  EXPECT_TRUE(this->Reserve("f", {key}, kT0 + 91'000).admitted);
}

// Seconds are the window's unit, and an entry never counts for less than 60 s: no span of
// 60 s holds more than the limit, even for an entry admitted at the end of its second.
TYPED_TEST(LimiterContract, AnEntryCountsForAtLeastSixtySeconds) {
  const auto key = this->Key(Rpm(1));
  ASSERT_TRUE(this->Reserve("a", {key}, kT0 + 999).admitted);
  auto refused = this->Reserve("b", {key}, kT0 + 60'999);
  EXPECT_FALSE(refused.admitted) << "60 s after 'a'";
  EXPECT_EQ(refused.retry_after, Millis(1));
  EXPECT_TRUE(this->Reserve("c", {key}, kT0 + 61'000).admitted);
  // A quiet minute empties the window completely.
  auto later = this->Peek({key}, kT0 + 200'000);
  EXPECT_EQ(later.requests.remaining, 1);
  EXPECT_EQ(later.requests.reset, Millis(0));
}

TYPED_TEST(LimiterContract, TokensReserveTheWorstCaseAndSettleReleasesTheDifference) {
  const auto key = this->Key(Tpm(100));
  auto first = this->Reserve("a", {key}, kT0, 80);
  ASSERT_TRUE(first.admitted);
  EXPECT_EQ(first.tokens.limit, 100);
  EXPECT_EQ(first.tokens.remaining, 20);
  auto refused = this->Reserve("b", {key}, kT0 + 10, 30);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, Reason::kTokens);
  EXPECT_EQ(refused.retry_after, Millis(60'990));
  this->Settle("a", {key}, kT0, 80, 20, kT0 + 20);
  auto now_fits = this->Reserve("b", {key}, kT0 + 1030, 30);
  EXPECT_TRUE(now_fits.admitted);
  EXPECT_EQ(now_fits.tokens.remaining, 50);
  // An actual use above the reservation is charged as it was.
  this->Settle("b", {key}, kT0 + 1030, 30, 70, kT0 + 1040);
  EXPECT_EQ(this->Peek({key}, kT0 + 1050).tokens.remaining, 10);
  EXPECT_EQ(this->Peek({key}, kT0 + 61'000).tokens.remaining, 30) << "'a' left the window";
  EXPECT_EQ(this->Peek({key}, kT0 + 62'000).tokens.remaining, 100);
  // A settlement that comes after its second left the window changes nothing.
  ASSERT_TRUE(this->Reserve("c", {key}, kT0 + 70'000, 50).admitted);
  this->Settle("b", {key}, kT0 + 1030, 70, 0, kT0 + 70'001);
  EXPECT_EQ(this->Peek({key}, kT0 + 70'002).tokens.remaining, 50);
}

TYPED_TEST(LimiterContract, ARequestLargerThanTheTokenLimitCanNeverPass) {
  auto d = this->Reserve("a", {this->Key(Tpm(100))}, kT0, 101);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, Reason::kTooLarge);
  EXPECT_EQ(d.tokens.remaining, 100);
}

// Issue 13: a reservation of INT64_MAX tokens (or 2^62 x 2) once wrapped to a negative sum and
// passed an exhausted budget. Whatever the amount, an exhausted budget refuses, and an amount
// outside [0, kMaxAmount] is refused without touching any window.
TYPED_TEST(LimiterContract, NoAmountPassesAnExhaustedBudget) {
  Policy p;
  p.daily_tokens = 100;
  p.monthly_tokens = 1000;
  p.tokens_per_minute = 1'000'000;
  p.daily_cost_nanos = 1'000'000;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("fill", {key}, kT0, 100, 1'000'000).admitted);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  const std::vector<std::int64_t> amounts = {0,
                                             1,
                                             std::int64_t{1} << 31,
                                             kMaxAmount,
                                             kMaxAmount + 1,
                                             std::int64_t{1} << 62,
                                             kMax,
                                             -1,
                                             kMin,
                                             kMin + 1};
  int i = 0;
  for (auto tokens : amounts) {
    for (auto cost : amounts) {
      if (tokens == 0 && cost == 0) continue;  // asks for nothing: nothing to refuse
      auto d = this->Reserve(Id("x", i++), {key}, kT0 + 1000, tokens, cost);
      EXPECT_FALSE(d.admitted) << "tokens " << tokens << " cost " << cost;
      EXPECT_NE(d.reason, Reason::kNone);
    }
  }
}

TYPED_TEST(LimiterContract, AmountsOutOfRangeAreRefusedWithoutLimits) {
  Policy p;
  p.requests_per_minute = 1000;
  const auto key = this->Key(p);
  for (auto tokens : {std::int64_t{-1}, kMaxAmount + 1, std::numeric_limits<std::int64_t>::max(),
                      std::numeric_limits<std::int64_t>::min()}) {
    auto d = this->Reserve(Id("o", static_cast<int>(tokens & 0xff)), {key}, kT0, tokens);
    EXPECT_FALSE(d.admitted) << tokens;
    EXPECT_EQ(d.reason, Reason::kTooLarge) << tokens;
  }
  auto fine = this->Reserve("fine", {key}, kT0, kMaxAmount, kMaxAmount);
  EXPECT_TRUE(fine.admitted) << "the largest amount is still an amount";
  EXPECT_EQ(fine.requests.remaining, 999) << "the refusals counted no request";
}

// Usage an upstream reports is clamped: a hostile INT64_MAX does not wrap a budget negative,
// and a negative one does not hand tokens back.
TYPED_TEST(LimiterContract, SettlementsOfAbsurdUsageAreClamped) {
  Policy p;
  p.daily_tokens = 1000;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0, 10).admitted);
  this->Settle("a", {key}, kT0, 10, std::numeric_limits<std::int64_t>::max(), kT0 + 1);
  EXPECT_FALSE(this->Reserve("b", {key}, kT0 + 2, 0).admitted) << "the day's budget is spent";
  const auto other = this->User(p);
  ASSERT_TRUE(this->Reserve("c", {other}, kT0, 1000).admitted);
  this->Settle("c", {other}, kT0, 1000, -5'000, kT0 + 1);
  EXPECT_TRUE(this->Reserve("d", {other}, kT0 + 2, 1000).admitted) << "settled at 0, not -5000";
  EXPECT_FALSE(this->Reserve("e", {other}, kT0 + 3, 1).admitted) << "and not below";
}

TYPED_TEST(LimiterContract, ConcurrencySlotsAreHeldUntilSettledOrTheLeaseEnds) {
  Policy p;
  p.concurrent_requests = 2;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0).admitted);
  ASSERT_TRUE(this->Reserve("b", {key}, kT0, 1, 0, Millis(5000)).admitted);
  auto refused = this->Reserve("c", {key}, kT0 + 1);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, Reason::kConcurrency);
  EXPECT_GT(refused.retry_after, Millis(0));
  this->Settle("a", {key}, kT0, 1, 1, kT0 + 2);
  ASSERT_TRUE(this->Reserve("c", {key}, kT0 + 3).admitted);
  EXPECT_FALSE(this->Reserve("d", {key}, kT0 + 4).admitted);
  // "b" was never settled (its replica died): its lease ends at kT0 + 5000.
  EXPECT_TRUE(this->Reserve("d", {key}, kT0 + 5000).admitted);
}

// A lease that ended was released when its slot was needed: settling it later must not free
// the slot of the request that took it.
TYPED_TEST(LimiterContract, ASettlementAfterItsLeaseEndedFreesNothing) {
  Policy p;
  p.concurrent_requests = 1;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0, 1, 0, Millis(5000)).admitted);
  EXPECT_FALSE(this->Reserve("b", {key}, kT0 + 4999).admitted);
  ASSERT_TRUE(this->Reserve("b", {key}, kT0 + 6000).admitted) << "'a' ended at kT0 + 5000";
  Settlement late;
  late.id = "a";
  late.subjects.push_back(key);
  late.reserved_tokens = late.tokens = 1;
  late.reserved_at_ms = kT0;
  late.now_ms = kT0 + 6001;
  late.lease = Millis(5000);
  RunTask(this->ioc_, this->limiter_->Settle(std::move(late)));
  EXPECT_FALSE(this->Reserve("c", {key}, kT0 + 6002).admitted) << "'b' still holds the slot";
  this->Settle("b", {key}, kT0 + 6000, 1, 1, kT0 + 6003);
  EXPECT_TRUE(this->Reserve("c", {key}, kT0 + 6004).admitted);
}

// A settlement that nobody waits for is still seen by the next decision of this process.
TYPED_TEST(LimiterContract, ASettlementNotWaitedForComesBeforeLaterCalls) {
  Policy p;
  p.concurrent_requests = 1;
  p.tokens_per_minute = 100;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0, 100).admitted);
  std::atomic<int> done{0};
  std::exception_ptr failure;
  auto next = RunTask(this->ioc_, [&]() -> asio::awaitable<Decision> {
    Settlement s;
    s.id = "a";
    s.subjects.push_back(key);
    s.reserved_tokens = 100;
    s.tokens = 40;
    s.reserved_at_ms = kT0;
    s.now_ms = kT0 + 1;
    this->limiter_->SettleLater(std::move(s), co_await asio::this_coro::executor,
                                [&](std::exception_ptr e) {
                                  failure = e;
                                  ++done;
                                });
    ReserveRequest r;
    r.id = "b";
    r.subjects.push_back(key);
    r.tokens = 60;
    r.now_ms = kT0 + 2;
    co_return co_await this->limiter_->Reserve(std::move(r));
  }());
  EXPECT_TRUE(next.admitted) << "the slot and 60 tokens were released first";
  EXPECT_EQ(next.tokens.remaining, 0);
  EXPECT_EQ(done.load(), 1);
  EXPECT_FALSE(failure);
}

TYPED_TEST(LimiterContract, DailyTokenBudgetIsAUtcDay) {
  Policy p;
  p.daily_tokens = 100;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0, 60).admitted);
  auto refused = this->Reserve("b", {key}, kT0 + 1, 50);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, Reason::kDailyTokens);
  EXPECT_EQ(refused.retry_after, Millis(14 * 3'600'000 - 1)) << "until 00:00 UTC";
  this->Settle("a", {key}, kT0, 60, 10, kT0 + 2);
  ASSERT_TRUE(this->Reserve("b", {key}, kT0 + 3, 50).admitted);
  ASSERT_TRUE(this->Reserve("c", {key}, kT0 + 4, 40).admitted);
  EXPECT_FALSE(this->Reserve("d", {key}, kT0 + 5, 1).admitted) << "exactly 100 charged";
  const auto tomorrow = kT0 + 14 * 3'600'000;
  // "c" settles after midnight: it is charged to the day it was admitted, not to tomorrow.
  this->Settle("c", {key}, kT0 + 4, 40, 40, tomorrow + 1);
  EXPECT_TRUE(this->Reserve("e", {key}, tomorrow + 2, 100).admitted);
}

TYPED_TEST(LimiterContract, CostBudgetsDailyAndMonthly) {
  Policy p;
  p.daily_cost_nanos = 1'000;
  p.monthly_cost_nanos = 2'500;
  const auto key = this->Key(p);
  std::int64_t now = kT0;
  int admitted = 0;
  // Three days of 1000 each would be 3000: the month stops it at 2500.
  for (int day = 0; day < 3; ++day) {
    for (int i = 0; i < 4; ++i) {
      auto d = this->Reserve(Id("d", day * 10 + i), {key}, now, 1, 300);
      if (d.admitted) {
        ++admitted;
      } else {
        EXPECT_TRUE(d.reason == Reason::kDailyCost || d.reason == Reason::kMonthlyCost);
      }
      now += 1000;
    }
    now += kDayMs;
  }
  EXPECT_EQ(admitted, 3 + 3 + 2) << "300 each: 3 a day (900 <= 1000), then the month's 2500";
  auto last = this->Reserve("x", {key}, now, 1, 300);
  EXPECT_EQ(last.reason, Reason::kMonthlyCost);
}

TYPED_TEST(LimiterContract, MonthlyTokenBudgetResetsOnTheFirstOfTheMonth) {
  Policy p;
  p.monthly_tokens = 10;
  const auto key = this->Key(p);
  ASSERT_TRUE(this->Reserve("a", {key}, kT0, 10).admitted);
  auto refused = this->Reserve("b", {key}, kT0 + 5 * kDayMs, 1);
  EXPECT_EQ(refused.reason, Reason::kMonthlyTokens);
  const auto next_month = MonthEndMs(kT0);
  EXPECT_EQ(refused.retry_after, Millis(next_month - (kT0 + 5 * kDayMs)));
  EXPECT_TRUE(this->Reserve("c", {key}, next_month, 10).admitted);
}

TYPED_TEST(LimiterContract, ADecisionOverSeveralSubjectsIsAllOrNothing) {
  const auto key = this->Key(Rpm(10));
  const auto user = this->User(Rpm(1));
  ASSERT_TRUE(this->Reserve("a", {key, user}, kT0).admitted);
  auto refused = this->Reserve("b", {key, user}, kT0 + 1);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.subject, 1U) << "the user's limit refused";
  // The key was not charged for the refused attempt.
  EXPECT_EQ(this->Peek({key}, kT0 + 2).requests.remaining, 9);
  // Headers report the tightest subject.
  EXPECT_EQ(refused.requests.limit, 1);
  EXPECT_EQ(refused.requests.remaining, 0);
}

TYPED_TEST(LimiterContract, SubjectsAreIndependent) {
  const auto key = this->Key(Rpm(1));
  Subject other{this->key_ + "-other", Rpm(1)};
  ASSERT_TRUE(this->Reserve("a", {key}, kT0).admitted);
  EXPECT_TRUE(this->Reserve("b", {other}, kT0).admitted);
  EXPECT_FALSE(this->Reserve("c", {key}, kT0).admitted);
}

TYPED_TEST(LimiterContract, PeekChangesNothingAndUnknownSettlementsAreHarmless) {
  const auto key = this->Key(Rpm(1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(this->Peek({key}, kT0).requests.remaining, 1);
  this->Settle("never-reserved", {key}, kT0, 5, 5, kT0);
  EXPECT_TRUE(this->Reserve("a", {key}, kT0).admitted);
}

// Many concurrent callers, one decision each: exactly the limit is admitted.
TYPED_TEST(LimiterContract, ConcurrentReservationsAdmitExactlyTheLimit) {
  Policy p;
  p.requests_per_minute = 25;
  p.daily_tokens = 1'000'000;
  const auto key = this->Key(p);
  constexpr int kAttempts = 250;
  std::atomic<int> admitted{0};
  this->RunConcurrently(kAttempts, [&](int i) -> asio::awaitable<void> {
    ReserveRequest r;
    r.id = "c" + std::to_string(i);
    r.subjects.push_back(key);
    r.tokens = 1;
    r.now_ms = kT0 + i;
    const Decision d = co_await this->limiter_->Reserve(std::move(r));
    if (d.admitted) ++admitted;
  });
  EXPECT_EQ(admitted.load(), 25);
}

// Reservations and settlements of many concurrent callers (several of them in one Redis batch)
// each apply exactly once.
TYPED_TEST(LimiterContract, ConcurrentReservationsAndSettlementsAddUp) {
  Policy p;
  p.requests_per_minute = 1000;
  p.tokens_per_minute = 1000;
  p.concurrent_requests = 100;
  p.daily_tokens = 1000;
  const auto key = this->Key(p);
  constexpr int kCallers = 100;
  std::atomic<int> admitted{0};
  this->RunConcurrently(kCallers, [&](int i) -> asio::awaitable<void> {
    ReserveRequest r;
    r.id = Id("m", i);
    r.subjects.push_back(key);
    r.tokens = 10;
    r.now_ms = kT0 + i;
    const Decision d = co_await this->limiter_->Reserve(r);
    if (!d.admitted) co_return;
    ++admitted;
    Settlement s;
    s.id = r.id;
    s.subjects = r.subjects;
    s.reserved_tokens = 10;
    s.tokens = 1;
    s.reserved_at_ms = r.now_ms;
    s.now_ms = r.now_ms + 1;
    co_await this->limiter_->Settle(std::move(s));
  });
  EXPECT_EQ(admitted.load(), kCallers) << "100 x 10 tokens fit in 1000 exactly";
  const auto after = this->Peek({key}, kT0 + 500);
  EXPECT_EQ(after.requests.remaining, 1000 - kCallers);
  EXPECT_EQ(after.tokens.remaining, 1000 - kCallers) << "each settled at 1 token";
  // Every slot was released, and the day was charged the actual use: 900 more fit today.
  EXPECT_TRUE(this->Reserve("big", {key}, kT0 + 600, 900).admitted);
}

// Shutdown: once Drain returns, a settlement queued without waiting is in Redis, where another
// replica (here a second limiter on the same keys) sees it.
TEST(RedisLimiter, DrainReturnsOnceQueuedSettlementsAreWritten) {
  asio::io_context ioc;  // first: it must outlive the client's connections
  testing::RedisLimiterBackend backend;
  if (auto why = testing::RedisLimiterBackend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
  backend.Open();
  const std::string prefix = "bro-test:" + common::RandomHex(8) + ":limits:";
  RedisLimiter replica_a(*backend.client, prefix);
  RedisLimiter replica_b(*backend.client, prefix);
  Policy p;
  p.concurrent_requests = 1;
  const Subject key{"key:" + common::RandomHex(6), p};
  ReserveRequest r;
  r.id = "a";
  r.subjects.push_back(key);
  r.now_ms = kT0;
  ASSERT_TRUE(RunTask(ioc, replica_a.Reserve(r)).admitted);
  RunTask(ioc, [&]() -> asio::awaitable<void> {
    Settlement s;
    s.id = "a";
    s.subjects.push_back(key);
    s.reserved_at_ms = kT0;
    s.now_ms = kT0 + 1;
    replica_a.SettleLater(std::move(s), co_await asio::this_coro::executor, {});
    co_await replica_a.Drain();
  }());
  r.id = "b";
  r.now_ms = kT0 + 2;
  EXPECT_TRUE(RunTask(ioc, replica_b.Reserve(r)).admitted) << "a's slot is free in Redis";
}

// Redis memory does not grow with the request rate: a subject is one hash of at most 61
// buckets (two fields each) and a dozen more fields, with a TTL until its newest second
// leaves plus the minute to spare that spares renewing it on every batch.
TEST(RedisLimiter, ASubjectKeepsAtMostSixtyOneSecondsWithATtl) {
  asio::io_context ioc;  // first: it must outlive the client's connections
  testing::RedisLimiterBackend backend;
  if (auto why = testing::RedisLimiterBackend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto limiter = backend.Open();
  Policy p;
  p.requests_per_minute = 1'000'000;
  p.tokens_per_minute = 1'000'000'000;
  const Subject key{"key:" + common::RandomHex(6), p};
  // 5 requests in each of 150 seconds.
  for (int i = 0; i < 750; ++i) {
    ReserveRequest r;
    r.id = Id("b", i);
    r.subjects.push_back(key);
    r.tokens = 3;
    r.now_ms = kT0 + i * 200;
    ASSERT_TRUE(RunTask(ioc, limiter->Reserve(std::move(r))).admitted);
  }
  const auto d = RunTask(ioc, limiter->Peek({key}, kT0 + 749 * 200));
  EXPECT_EQ(d.requests.remaining, 1'000'000 - 61 * 5) << "the last 61 seconds count";
  EXPECT_EQ(d.tokens.remaining, 1'000'000'000 - 61 * 5 * 3);
  // The test's prefix is the one RedisLimiterBackend::Open chose: find the key by pattern.
  auto keys = RunTask(ioc, backend.client->Command({"KEYS", "*:limits:s:" + key.id}));
  ASSERT_EQ(keys.elements.size(), 1U);
  const auto name = keys.elements[0].str;
  const auto fields = RunTask(ioc, backend.client->Command({"HLEN", name})).integer;
  EXPECT_LE(fields, 61 * 2 + 12);
  EXPECT_GE(fields, 61 * 2);
  const auto ttl = RunTask(ioc, backend.client->Command({"PTTL", name})).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 122'000);
}

}  // namespace
}  // namespace bro::limits
