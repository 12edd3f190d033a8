#include "limits/limiter.hpp"

#include <algorithm>

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

bool AmountsInRange(const ReserveRequest& r) {
  return r.tokens >= 0 && r.tokens <= kMaxAmount && r.cost_nanos >= 0 && r.cost_nanos <= kMaxAmount;
}

Settlement Clamped(Settlement s) {
  for (auto* v : {&s.tokens, &s.cost_nanos, &s.reserved_tokens, &s.reserved_cost_nanos}) {
    *v = std::clamp<std::int64_t>(*v, 0, kMaxAmount);
  }
  return s;
}

std::string RetryAfterSeconds(Millis d) {
  const auto s = std::max<std::int64_t>(1, (d.count() + 999) / 1000);
  return std::to_string(s);
}

std::int64_t DayIndex(std::int64_t now_ms) {
  return now_ms >= 0 ? now_ms / kDayMs : -((-now_ms + kDayMs - 1) / kDayMs);
}

void Tighten(Window& w, std::int64_t limit, std::int64_t used, std::optional<std::int64_t> newest,
             std::int64_t now_ms) {
  const auto remaining = std::max<std::int64_t>(0, limit - used);
  const auto reset = used > 0 && newest ? std::max<std::int64_t>(0, BucketEndMs(*newest) - now_ms)
                                        : std::int64_t{0};
  if (w.limit == 0 || remaining < w.remaining ||
      (remaining == w.remaining && reset > w.reset.count())) {
    w.limit = limit;
    w.remaining = remaining;
    w.reset = Millis(reset);
  }
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
