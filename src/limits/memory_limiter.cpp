#include "limits/memory_limiter.hpp"

#include <algorithm>

namespace bro::limits {
namespace {

constexpr std::uint64_t kSweepEvery = 4096;

// When enough of the window has left for `need` more of what `field` counts.
std::int64_t RetryAfter(const std::map<std::int64_t, MemoryLimiter::Bucket>& buckets,
                        std::int64_t MemoryLimiter::Bucket::*field, std::int64_t used,
                        std::int64_t need, std::int64_t limit, std::int64_t now_ms) {
  std::int64_t freed = 0;
  for (const auto& [second, bucket] : buckets) {
    freed += bucket.*field;
    if (used - freed + need <= limit) return BucketEndMs(second) - now_ms;
  }
  return 0;
}

}  // namespace

bool MemoryLimiter::State::Empty(std::int64_t now_ms) const {
  return !lo && leases.empty() && (!day || (*day + 1) * kDayMs <= now_ms) &&
         (!month_end || *month_end <= now_ms);
}

void MemoryLimiter::Evict(State& s, std::int64_t now_ms) {
  const auto last = BucketOf(now_ms) - kWindowBuckets;
  if (s.lo && *s.lo <= last) {
    if (*s.hi <= last) {
      s.buckets.clear();
      s.lo.reset();
      s.hi.reset();
      s.requests = s.tokens = 0;
    } else {
      for (auto it = s.buckets.begin(); it != s.buckets.end() && it->first <= last;) {
        s.requests -= it->second.requests;
        s.tokens -= it->second.tokens;
        it = s.buckets.erase(it);
      }
      s.lo = last + 1;
    }
  }
}

void MemoryLimiter::ExpireLeases(State& s, std::int64_t now_ms) {
  std::erase_if(s.leases, [now_ms](const auto& l) { return l.second <= now_ms; });
}

Decision MemoryLimiter::Headers(const std::vector<Subject>& subjects,
                                const std::vector<State*>& states, std::int64_t now_ms) {
  Decision d;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const auto& p = subjects[i].policy;
    const auto& s = *states[i];
    if (p.requests_per_minute > 0)
      Tighten(d.requests, p.requests_per_minute, s.requests, s.hi, now_ms);
    if (p.tokens_per_minute > 0) Tighten(d.tokens, p.tokens_per_minute, s.tokens, s.hi, now_ms);
  }
  return d;
}

Decision MemoryLimiter::ReserveNow(const ReserveRequest& r) {
  if (!AmountsInRange(r)) {
    Decision refused;
    refused.reason = Reason::kTooLarge;
    return refused;
  }
  std::vector<State*> states(r.subjects.size());  // looked up once, under the lock
  std::lock_guard lock(mu_);
  const auto now = r.now_ms;
  if (++calls_ % kSweepEvery == 0) Sweep(now);
  for (std::size_t i = 0; i < r.subjects.size(); ++i) states[i] = &states_[r.subjects[i].id];
  const auto day = DayIndex(now);
  const auto month_end = MonthEndMs(now);

  for (std::size_t i = 0; i < r.subjects.size(); ++i) {
    const auto& subject = r.subjects[i];
    auto& s = *states[i];
    Evict(s, now);
    // Counters roll forward only (a replica whose clock is behind counts into the newer day).
    if (subject.policy.TracksDays() && (!s.day || day > *s.day)) {
      s.day = day;
      s.day_tokens = s.day_cost = 0;
    }
    if (subject.policy.TracksMonths() && (!s.month_end || month_end > *s.month_end)) {
      s.month_end = month_end;
      s.month_tokens = s.month_cost = 0;
    }
  }
  Reason reason = Reason::kNone;
  std::int64_t retry = 0;
  std::size_t refusing = 0;
  const auto day_reset = (day + 1) * kDayMs - now;
  const auto month_reset = month_end - now;
  for (std::size_t i = 0; i < r.subjects.size(); ++i) {
    const auto& p = r.subjects[i].policy;
    auto& s = *states[i];
    refusing = i;
    // Expired leases are dropped only when they could make a difference.
    if (p.TracksLeases() &&
        static_cast<std::int64_t>(s.leases.size()) + 1 > p.concurrent_requests) {
      ExpireLeases(s, now);
    }
    if (p.requests_per_minute > 0 && s.requests + 1 > p.requests_per_minute) {
      reason = Reason::kRequests;
      retry = RetryAfter(s.buckets, &Bucket::requests, s.requests, 1, p.requests_per_minute, now);
    } else if (p.tokens_per_minute > 0 && r.tokens > p.tokens_per_minute) {
      reason = Reason::kTooLarge;
    } else if (p.tokens_per_minute > 0 && s.tokens + r.tokens > p.tokens_per_minute) {
      reason = Reason::kTokens;
      retry = RetryAfter(s.buckets, &Bucket::tokens, s.tokens, r.tokens, p.tokens_per_minute, now);
    } else if (p.TracksLeases() &&
               static_cast<std::int64_t>(s.leases.size()) + 1 > p.concurrent_requests) {
      reason = Reason::kConcurrency;
      retry = 1000;
    } else if (p.daily_tokens > 0 && s.day_tokens + r.tokens > p.daily_tokens) {
      reason = Reason::kDailyTokens;
      retry = day_reset;
    } else if (p.monthly_tokens > 0 && s.month_tokens + r.tokens > p.monthly_tokens) {
      reason = Reason::kMonthlyTokens;
      retry = month_reset;
    } else if (p.daily_cost_nanos > 0 && s.day_cost + r.cost_nanos > p.daily_cost_nanos) {
      reason = Reason::kDailyCost;
      retry = day_reset;
    } else if (p.monthly_cost_nanos > 0 && s.month_cost + r.cost_nanos > p.monthly_cost_nanos) {
      reason = Reason::kMonthlyCost;
      retry = month_reset;
    }
    if (reason != Reason::kNone) break;
  }

  if (reason == Reason::kNone) {
    for (std::size_t i = 0; i < r.subjects.size(); ++i) {
      const auto& p = r.subjects[i].policy;
      auto& s = *states[i];
      if (p.TracksWindow()) {
        const auto second = s.lo ? std::max(BucketOf(now), *s.lo) : BucketOf(now);
        auto& b = s.buckets[second];
        ++b.requests;
        b.tokens += r.tokens;
        ++s.requests;
        s.tokens += r.tokens;
        if (!s.lo) s.lo = second;
        if (!s.hi || second > *s.hi) s.hi = second;
      }
      if (p.TracksLeases()) s.leases[r.id] = now + r.lease.count();
      if (p.TracksDays()) {
        s.day_tokens += r.tokens;
        s.day_cost += r.cost_nanos;
      }
      if (p.TracksMonths()) {
        s.month_tokens += r.tokens;
        s.month_cost += r.cost_nanos;
      }
    }
  }
  Decision d = Headers(r.subjects, states, now);
  d.admitted = reason == Reason::kNone;
  d.reason = reason;
  d.subject = d.admitted ? 0 : refusing;
  d.retry_after = Millis(std::max<std::int64_t>(0, retry));
  return d;
}

void MemoryLimiter::SettleNow(const Settlement& reported) {
  const Settlement st = Clamped(reported);
  std::lock_guard lock(mu_);
  const auto day = DayIndex(st.reserved_at_ms);
  const auto month_end = MonthEndMs(st.reserved_at_ms);
  const auto token_delta = st.tokens - st.reserved_tokens;
  const auto cost_delta = st.cost_nanos - st.reserved_cost_nanos;
  const auto second = BucketOf(st.reserved_at_ms);
  for (const auto& subject : st.subjects) {
    auto found = states_.find(subject.id);
    if (found == states_.end()) continue;
    auto& s = found->second;
    const auto& p = subject.policy;
    Evict(s, st.now_ms);
    // Only while its second still counts: after that it has left the window anyway.
    if (p.TracksWindow() && s.lo && second >= *s.lo && second <= *s.hi) {
      s.buckets[second].tokens += token_delta;
      s.tokens += token_delta;
    }
    if (p.TracksLeases()) s.leases.erase(st.id);
    if (p.TracksDays() && s.day == day) {
      s.day_tokens += token_delta;
      s.day_cost += cost_delta;
    }
    if (p.TracksMonths() && s.month_end == month_end) {
      s.month_tokens += token_delta;
      s.month_cost += cost_delta;
    }
  }
}

void MemoryLimiter::Sweep(std::int64_t now_ms) {
  for (auto it = states_.begin(); it != states_.end();) {
    Evict(it->second, now_ms);
    ExpireLeases(it->second, now_ms);
    // A budget counter of today still counts: only subjects with nothing left go.
    it = it->second.Empty(now_ms) ? states_.erase(it) : std::next(it);
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

void MemoryLimiter::SettleLater(Settlement settlement, boost::asio::any_io_executor /*executor*/,
                                Done done) {
  SettleNow(settlement);
  if (done) done(nullptr);
}

Decision MemoryLimiter::PeekNow(const std::vector<Subject>& subjects, std::int64_t now_ms) {
  std::vector<State*> states(subjects.size());
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    states[i] = &states_[subjects[i].id];
    Evict(*states[i], now_ms);
  }
  Decision d = Headers(subjects, states, now_ms);
  d.admitted = true;
  return d;
}

Task<Decision> MemoryLimiter::Peek(std::vector<Subject> subjects, std::int64_t now_ms) {
  co_return PeekNow(subjects, now_ms);
}

}  // namespace bro::limits
