#include "limits/memory_limiter.hpp"

#include <algorithm>

namespace bro::limits {
namespace {

constexpr std::int64_t kMinuteMs = kMinute.count();
constexpr std::uint64_t kSweepEvery = 4096;

bool TracksDays(const Policy& p) {
  return p.daily_tokens > 0 || p.daily_cost_nanos > 0;
}
bool TracksMonths(const Policy& p) {
  return p.monthly_tokens > 0 || p.monthly_cost_nanos > 0;
}

// The tightest window wins: the least remaining, then the latest reset.
void Tighten(Window& w, std::int64_t limit, std::int64_t remaining, std::int64_t reset_ms) {
  remaining = std::max<std::int64_t>(0, remaining);
  if (w.limit == 0 || remaining < w.remaining ||
      (remaining == w.remaining && reset_ms > w.reset.count())) {
    w.limit = limit;
    w.remaining = remaining;
    w.reset = Millis(std::max<std::int64_t>(0, reset_ms));
  }
}

}  // namespace

bool MemoryLimiter::State::Empty() const {
  return requests.empty() && token_order.empty() && leases.empty() && days.empty() &&
         months.empty();
}

void MemoryLimiter::Evict(State& s, std::int64_t now_ms) const {
  const std::int64_t horizon = now_ms - kMinuteMs;
  while (!s.requests.empty() && s.requests.front() <= horizon) s.requests.pop_front();
  while (!s.token_order.empty() && s.token_order.front().at_ms <= horizon) {
    auto it = s.token_amounts.find(s.token_order.front().id);
    if (it != s.token_amounts.end()) {
      s.token_sum -= it->second;
      s.token_amounts.erase(it);
    }
    s.token_order.pop_front();
  }
  std::erase_if(s.leases, [now_ms](const auto& l) { return l.second <= now_ms; });
  // Budgets: today and yesterday (a reservation made before midnight settles after it).
  const auto day = DayIndex(now_ms), month = MonthIndex(now_ms);
  std::erase_if(s.days, [day](const auto& d) { return d.first < day - 1; });
  std::erase_if(s.months, [month](const auto& m) { return m.first < month - 1; });
}

Decision MemoryLimiter::Headers(const std::vector<Subject>& subjects, std::int64_t now_ms) {
  Decision d;
  for (const auto& subject : subjects) {
    const auto& p = subject.policy;
    auto& s = states_[subject.id];
    if (p.requests_per_minute > 0) {
      const auto reset = s.requests.empty() ? 0 : s.requests.back() + kMinuteMs - now_ms;
      Tighten(d.requests, p.requests_per_minute,
              p.requests_per_minute - static_cast<std::int64_t>(s.requests.size()), reset);
    }
    if (p.tokens_per_minute > 0) {
      const auto reset =
          s.token_order.empty() ? 0 : s.token_order.back().at_ms + kMinuteMs - now_ms;
      Tighten(d.tokens, p.tokens_per_minute, p.tokens_per_minute - s.token_sum, reset);
    }
  }
  return d;
}

Decision MemoryLimiter::ReserveNow(const ReserveRequest& r) {
  std::lock_guard lock(mu_);
  const auto now = r.now_ms;
  if (++calls_ % kSweepEvery == 0) Sweep(now);
  const auto day = DayIndex(now), month = MonthIndex(now);
  const auto day_reset = (day + 1) * kDayMs - now;
  const auto month_reset = MonthEndMs(now) - now;

  for (const auto& subject : r.subjects) Evict(states_[subject.id], now);
  Reason reason = Reason::kNone;
  std::int64_t retry = 0;
  std::size_t refusing = 0;
  for (std::size_t i = 0; i < r.subjects.size() && reason == Reason::kNone; ++i) {
    const auto& p = r.subjects[i].policy;
    auto& s = states_[r.subjects[i].id];
    refusing = i;
    if (p.requests_per_minute > 0 &&
        static_cast<std::int64_t>(s.requests.size()) + 1 > p.requests_per_minute) {
      reason = Reason::kRequests;
      retry = s.requests.front() + kMinuteMs - now;
      break;
    }
    if (p.tokens_per_minute > 0) {
      if (r.tokens > p.tokens_per_minute) {
        reason = Reason::kTooLarge;
        break;
      }
      if (s.token_sum + r.tokens > p.tokens_per_minute) {
        reason = Reason::kTokens;
        std::int64_t freed = 0;
        for (const auto& e : s.token_order) {
          auto it = s.token_amounts.find(e.id);
          freed += it == s.token_amounts.end() ? 0 : it->second;
          if (s.token_sum - freed + r.tokens <= p.tokens_per_minute) {
            retry = e.at_ms + kMinuteMs - now;
            break;
          }
        }
        break;
      }
    }
    if (p.concurrent_requests > 0 &&
        static_cast<std::int64_t>(s.leases.size()) + 1 > p.concurrent_requests) {
      reason = Reason::kConcurrency;
      retry = 1000;
      break;
    }
    const Budget today = s.days.contains(day) ? s.days[day] : Budget{};
    const Budget this_month = s.months.contains(month) ? s.months[month] : Budget{};
    if (p.daily_tokens > 0 && today.tokens + r.tokens > p.daily_tokens) {
      reason = Reason::kDailyTokens;
      retry = day_reset;
    } else if (p.monthly_tokens > 0 && this_month.tokens + r.tokens > p.monthly_tokens) {
      reason = Reason::kMonthlyTokens;
      retry = month_reset;
    } else if (p.daily_cost_nanos > 0 && today.cost_nanos + r.cost_nanos > p.daily_cost_nanos) {
      reason = Reason::kDailyCost;
      retry = day_reset;
    } else if (p.monthly_cost_nanos > 0 &&
               this_month.cost_nanos + r.cost_nanos > p.monthly_cost_nanos) {
      reason = Reason::kMonthlyCost;
      retry = month_reset;
    }
  }

  if (reason == Reason::kNone) {
    for (const auto& subject : r.subjects) {
      const auto& p = subject.policy;
      auto& s = states_[subject.id];
      if (p.requests_per_minute > 0) s.requests.push_back(now);
      if (p.tokens_per_minute > 0) {
        s.token_order.push_back({now, r.id});
        s.token_amounts[r.id] = r.tokens;
        s.token_sum += r.tokens;
      }
      if (p.concurrent_requests > 0) s.leases[r.id] = now + r.lease.count();
      if (TracksDays(p)) {
        auto& b = s.days[day];
        b.tokens += r.tokens;
        b.cost_nanos += r.cost_nanos;
      }
      if (TracksMonths(p)) {
        auto& b = s.months[month];
        b.tokens += r.tokens;
        b.cost_nanos += r.cost_nanos;
      }
    }
  }
  Decision d = Headers(r.subjects, now);
  d.admitted = reason == Reason::kNone;
  d.reason = reason;
  d.subject = d.admitted ? 0 : refusing;
  d.retry_after = Millis(std::max<std::int64_t>(0, retry));
  return d;
}

void MemoryLimiter::SettleNow(const Settlement& st) {
  std::lock_guard lock(mu_);
  const auto day = DayIndex(st.reserved_at_ms), month = MonthIndex(st.reserved_at_ms);
  const auto token_delta = st.tokens - st.reserved_tokens;
  const auto cost_delta = st.cost_nanos - st.reserved_cost_nanos;
  for (const auto& subject : st.subjects) {
    auto found = states_.find(subject.id);
    if (found == states_.end()) continue;
    auto& s = found->second;
    const auto& p = subject.policy;
    if (p.concurrent_requests > 0) s.leases.erase(st.id);
    if (p.tokens_per_minute > 0) {
      // Only while the entry still counts: after 60 s it has left the window anyway.
      if (auto it = s.token_amounts.find(st.id); it != s.token_amounts.end()) {
        s.token_sum += st.tokens - it->second;
        it->second = st.tokens;
      }
    }
    if (TracksDays(p)) {
      if (auto it = s.days.find(day); it != s.days.end()) {
        it->second.tokens += token_delta;
        it->second.cost_nanos += cost_delta;
      }
    }
    if (TracksMonths(p)) {
      if (auto it = s.months.find(month); it != s.months.end()) {
        it->second.tokens += token_delta;
        it->second.cost_nanos += cost_delta;
      }
    }
  }
}

void MemoryLimiter::Sweep(std::int64_t now_ms) {
  for (auto it = states_.begin(); it != states_.end();) {
    Evict(it->second, now_ms);
    // A budget counter of today still counts: only subjects with nothing left go.
    it = it->second.Empty() ? states_.erase(it) : std::next(it);
  }
}

std::size_t MemoryLimiter::Subjects() const {
  std::lock_guard lock(mu_);
  return states_.size();
}

Task<Decision> MemoryLimiter::Reserve(ReserveRequest request) {
  co_return ReserveNow(request);
}

Task<void> MemoryLimiter::Settle(Settlement settlement) {
  SettleNow(settlement);
  co_return;
}

Decision MemoryLimiter::PeekNow(const std::vector<Subject>& subjects, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (const auto& subject : subjects) Evict(states_[subject.id], now_ms);
  Decision d = Headers(subjects, now_ms);
  d.admitted = true;
  return d;
}

Task<Decision> MemoryLimiter::Peek(std::vector<Subject> subjects, std::int64_t now_ms) {
  co_return PeekNow(subjects, now_ms);
}

}  // namespace bro::limits
