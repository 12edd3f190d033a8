#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

#include "api/query.hpp"
#include "limits/governor.hpp"
#include "limits/limiter.hpp"
#include "limits/memory_limiter.hpp"
#include "limits/policy.hpp"
#include "usage/usage_query.hpp"

namespace bro::limits {
namespace {

TEST(FormatReset, FollowsOpenAisDurationFormat) {
  EXPECT_EQ(FormatReset(Millis(0)), "0ms");
  EXPECT_EQ(FormatReset(Millis(20)), "20ms");
  EXPECT_EQ(FormatReset(Millis(1000)), "1s");
  EXPECT_EQ(FormatReset(Millis(1500)), "1.5s");
  EXPECT_EQ(FormatReset(Millis(59'999)), "59.999s");
  EXPECT_EQ(FormatReset(Millis(360'000)), "6m0s");
  EXPECT_EQ(FormatReset(Millis(3'723'000)), "1h2m3s");
  EXPECT_EQ(FormatReset(Millis(-5)), "0ms");
}

TEST(CostNanos, IsTokensTimesPricePerMillionRoundedUp) {
  EXPECT_EQ(CostNanos(std::nullopt, 100, 100), 0);
  EXPECT_EQ(CostNanos(Price::FromUsdPerMillion(2.5, 10), 1000, 500), 2500 * 1000 + 5000 * 1000);
  EXPECT_EQ(CostNanos(Price::FromUsdPerMillion(0.15, 0.6), 1, 0), 150);
  EXPECT_EQ(CostNanos(Price::FromUsdPerMillion(0.0001, 0), 1, 0), 1)
      << "never rounded down to free";
  EXPECT_EQ(CostNanos(Price::FromUsdPerMillion(0.0375, 0), 3, 0), 113) << "112.5 rounds up";
  EXPECT_EQ(CostNanos(Price::FromUsdPerMillion(1e6, 1e6), std::int64_t{1} << 62, 1),
            std::numeric_limits<std::int64_t>::max() / 1000 + 1)
      << "saturates instead of wrapping";
}

TEST(WorstCase, UsesMaxCompletionTokensThenMaxTokensThenTheDefaultTimesN) {
  auto obj = [](const char* s) { return boost::json::parse(s).as_object(); };
  EXPECT_EQ(WorstCaseCompletionTokens(obj(R"({})"), 4096), 4096);
  EXPECT_EQ(WorstCaseCompletionTokens(obj(R"({"max_tokens":10})"), 4096), 10);
  EXPECT_EQ(WorstCaseCompletionTokens(obj(R"({"max_tokens":10,"max_completion_tokens":7})"), 1), 7);
  EXPECT_EQ(WorstCaseCompletionTokens(obj(R"({"max_tokens":10,"n":3})"), 1), 30);
  EXPECT_EQ(WorstCaseCompletionTokens(obj(R"({"max_tokens":10,"n":100000})"), 1), 1280)
      << "n is capped";
}

TEST(Calendar, DaysAndMonthsAreUtc) {
  const std::int64_t jan31 = 1'801'000'000'000;  // 2027-01-26T...
  EXPECT_EQ(DayIndex(0), 0);
  EXPECT_EQ(DayIndex(kDayMs - 1), 0);
  EXPECT_EQ(DayIndex(kDayMs), 1);
  EXPECT_EQ(MonthIndex(0), 1970 * 12);
  EXPECT_EQ(MonthEndMs(0), 31 * kDayMs);
  EXPECT_GT(MonthEndMs(jan31), jan31);
  EXPECT_EQ(MonthIndex(MonthEndMs(jan31)), MonthIndex(jan31) + 1);
  EXPECT_EQ(MonthIndex(MonthEndMs(jan31) - 1), MonthIndex(jan31));
}

TEST(MemoryLimiter, ForgetsSubjectsWithNothingLeftToCount) {
  MemoryLimiter limiter;
  Policy p;
  p.requests_per_minute = 10;
  for (int i = 0; i < 5000; ++i) {
    ReserveRequest r;
    r.id = std::to_string(i);
    r.subjects = {{"key:" + std::to_string(i), p}};
    r.now_ms = 1'000'000 + i * 100;  // each subject's entry expires 60 s later
    ASSERT_TRUE(limiter.ReserveNow(r).admitted);
  }
  // The sweep after 4096 calls dropped every subject whose minute had passed.
  EXPECT_LT(limiter.Subjects(), 5000U - 3000U);
}

TEST(PolicyFrom, ConvertsDollarsToNanos) {
  config::LimitPolicyConfig c;
  c.daily_cost_usd = 1.25;
  c.requests_per_minute = 5;
  auto p = PolicyFrom(c);
  EXPECT_EQ(p.daily_cost_nanos, 1'250'000'000);
  EXPECT_EQ(p.requests_per_minute, 5);
  Override o;
  o.requests_per_minute = 0;
  EXPECT_EQ(Apply(p, o).requests_per_minute, 0) << "0 in an override means unlimited";
  EXPECT_EQ(Apply(p, o).daily_cost_nanos, 1'250'000'000) << "unset fields inherit";
}

}  // namespace
}  // namespace bro::limits

namespace bro::api {
namespace {

TEST(ParseQuery, DecodesAndRefusesUnknownRepeatedAndOversized) {
  auto ok = ParseQuery("model=a%2Fb&start=2026-01-01", {"model", "start"});
  ASSERT_TRUE(std::holds_alternative<QueryParams>(ok));
  EXPECT_EQ(std::get<QueryParams>(ok).at("model"), "a/b");
  const std::string target = "/x?a=1&model=csv HTTP/1.1";
  auto view = ParseQuery(std::string_view(target).substr(3, 13), {"a", "model"});
  ASSERT_TRUE(std::holds_alternative<QueryParams>(view));
  EXPECT_EQ(std::get<QueryParams>(view).at("model"), "csv") << "stays inside the view";
  auto empty_value = ParseQuery("model=", {"model"});
  ASSERT_TRUE(std::holds_alternative<QueryParams>(empty_value));
  EXPECT_EQ(std::get<QueryParams>(empty_value).at("model"), "");
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(ParseQuery("x=1", {"model"})));
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(ParseQuery("model=1&model=2", {"model"})));
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(
      ParseQuery("model=" + std::string(300, 'a'), {"model"})));
  EXPECT_TRUE(std::holds_alternative<http::ApiError>(ParseQuery("model=%ZZ", {"model"})));
}

}  // namespace
}  // namespace bro::api

namespace bro::usage {
namespace {

TEST(UsageDates, ParseOnlyRealDates) {
  EXPECT_TRUE(ParseDate("2026-02-28"));
  EXPECT_FALSE(ParseDate("2026-02-29"));
  EXPECT_FALSE(ParseDate("2026-2-28"));
  EXPECT_FALSE(ParseDate("1969-12-31"));
  EXPECT_FALSE(ParseDate("2026-01-01x"));
  EXPECT_EQ(FormatDate(*ParseDate("2024-02-29")), "2024-02-29");
  EXPECT_EQ(FormatUsd(1'500'000'000), "1.500000000");
  EXPECT_EQ(FormatUsd(150), "0.000000150");
}

}  // namespace
}  // namespace bro::usage
