#include "limits/limiter.hpp"

namespace bro::limits {

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone:
      return "none";
    case Reason::kRequests:
      return "requests";
    case Reason::kTokens:
      return "tokens";
    case Reason::kTooLarge:
      return "too_large";
    case Reason::kConcurrency:
      return "concurrency";
    case Reason::kDailyTokens:
      return "daily_tokens";
    case Reason::kMonthlyTokens:
      return "monthly_tokens";
    case Reason::kDailyCost:
      return "daily_cost";
    case Reason::kMonthlyCost:
      return "monthly_cost";
  }
  return "none";
}

std::int64_t DayIndex(std::int64_t now_ms) {
  return now_ms >= 0 ? now_ms / kDayMs : -((-now_ms + kDayMs - 1) / kDayMs);
}

std::int64_t BucketOf(std::int64_t now_ms) {
  return now_ms >= 0 ? now_ms / kBucketMs : -((-now_ms + kBucketMs - 1) / kBucketMs);
}

namespace {
std::chrono::year_month_day Civil(std::int64_t now_ms) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{DayIndex(now_ms)}}};
}
}  // namespace

std::int64_t MonthIndex(std::int64_t now_ms) {
  const auto ymd = Civil(now_ms);
  return static_cast<std::int64_t>(static_cast<int>(ymd.year())) * 12 +
         static_cast<std::int64_t>(static_cast<unsigned>(ymd.month())) - 1;
}

std::int64_t MonthEndMs(std::int64_t now_ms) {
  const auto ymd = Civil(now_ms);
  const auto next =
      std::chrono::year_month_day{ymd.year() / ymd.month() / 1} + std::chrono::months{1};
  return std::chrono::sys_days{next}.time_since_epoch().count() * kDayMs;
}

}  // namespace bro::limits
