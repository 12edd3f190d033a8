#include "limits/redis_limiter.hpp"

#include "common/errors.hpp"

namespace bro::limits {
namespace {

// KEYS: six per subject (rq, tk, tv, cc, d, m).
// ARGV: mode ("reserve" | "peek"), now, id, tokens, cost, lease, day_reset, month_reset,
//       subject count, then seven limits per subject
//       (rpm, tpm, concurrent, daily tokens, monthly tokens, daily cost, monthly cost).
// Returns {admitted, reason, subject, retry_ms, req_limit, req_remaining, req_reset,
//          tok_limit, tok_remaining, tok_reset}; reason codes follow limits::Reason.
constexpr const char* kReserveScript = R"lua(
local mode = ARGV[1]
local now = tonumber(ARGV[2])
local id = ARGV[3]
local tokens = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local day_reset = tonumber(ARGV[7])
local month_reset = tonumber(ARGV[8])
local n = tonumber(ARGV[9])
local horizon = now - 60000
local DAY = 86400000

local function num(v) return tonumber(v or '0') or 0 end
local function lim(i, j) return tonumber(ARGV[9 + i * 7 + j]) end
local function key(i, j) return KEYS[i * 6 + j] end

for i = 0, n - 1 do
  if lim(i, 1) > 0 then redis.call('ZREMRANGEBYSCORE', key(i, 1), '-inf', horizon) end
  if lim(i, 2) > 0 then
    local tk, tv = key(i, 2), key(i, 3)
    local old = redis.call('ZRANGEBYSCORE', tk, '-inf', horizon)
    if #old > 0 then
      local freed = 0
      for _, m in ipairs(old) do
        freed = freed + num(redis.call('HGET', tv, m))
        redis.call('HDEL', tv, m)
      end
      redis.call('HINCRBY', tv, '_sum', -freed)
      redis.call('ZREMRANGEBYSCORE', tk, '-inf', horizon)
    end
  end
  if lim(i, 3) > 0 then redis.call('ZREMRANGEBYSCORE', key(i, 4), '-inf', now) end
end

local reason, refusing, retry = 0, 0, 0
local counts, sums = {}, {}  -- what the checks read, for the headers of an admitted request
if mode == 'reserve' then
  for i = 0, n - 1 do
    local rpm, tpm, conc = lim(i, 1), lim(i, 2), lim(i, 3)
    local dtok, mtok, dcost, mcost = lim(i, 4), lim(i, 5), lim(i, 6), lim(i, 7)
    refusing = i
    if rpm > 0 then
      counts[i] = redis.call('ZCARD', key(i, 1))
      if counts[i] + 1 > rpm then
        local oldest = redis.call('ZRANGE', key(i, 1), 0, 0, 'WITHSCORES')
        reason, retry = 1, tonumber(oldest[2]) + 60000 - now
        break
      end
    end
    if tpm > 0 then
      if tokens > tpm then reason = 3; break end
      local sum = num(redis.call('HGET', key(i, 3), '_sum'))
      sums[i] = sum
      if sum + tokens > tpm then
        reason = 2
        local entries = redis.call('ZRANGE', key(i, 2), 0, -1, 'WITHSCORES')
        local freed = 0
        for e = 1, #entries, 2 do
          freed = freed + num(redis.call('HGET', key(i, 3), entries[e]))
          if sum - freed + tokens <= tpm then
            retry = tonumber(entries[e + 1]) + 60000 - now
            break
          end
        end
        break
      end
    end
    if conc > 0 and redis.call('ZCARD', key(i, 4)) + 1 > conc then
      reason, retry = 4, 1000
      break
    end
    local day = redis.call('HMGET', key(i, 5), 'tokens', 'cost')
    local month = redis.call('HMGET', key(i, 6), 'tokens', 'cost')
    if dtok > 0 and num(day[1]) + tokens > dtok then reason, retry = 5, day_reset; break end
    if mtok > 0 and num(month[1]) + tokens > mtok then reason, retry = 6, month_reset; break end
    if dcost > 0 and num(day[2]) + cost > dcost then reason, retry = 7, day_reset; break end
    if mcost > 0 and num(month[2]) + cost > mcost then reason, retry = 8, month_reset; break end
  end
  if reason == 0 then
    for i = 0, n - 1 do
      if lim(i, 1) > 0 then
        redis.call('ZADD', key(i, 1), now, id)
        redis.call('PEXPIRE', key(i, 1), 61000)
      end
      if lim(i, 2) > 0 then
        redis.call('ZADD', key(i, 2), now, id)
        redis.call('HSET', key(i, 3), id, tokens)
        redis.call('HINCRBY', key(i, 3), '_sum', tokens)
        redis.call('PEXPIRE', key(i, 2), 61000)
        redis.call('PEXPIRE', key(i, 3), 61000)
      end
      if lim(i, 3) > 0 then
        redis.call('ZADD', key(i, 4), now + lease, id)
        redis.call('PEXPIRE', key(i, 4), lease + 1000)
      end
      if lim(i, 4) > 0 or lim(i, 6) > 0 then
        redis.call('HINCRBY', key(i, 5), 'tokens', tokens)
        redis.call('HINCRBY', key(i, 5), 'cost', cost)
        redis.call('PEXPIRE', key(i, 5), day_reset + DAY)
      end
      if lim(i, 5) > 0 or lim(i, 7) > 0 then
        redis.call('HINCRBY', key(i, 6), 'tokens', tokens)
        redis.call('HINCRBY', key(i, 6), 'cost', cost)
        redis.call('PEXPIRE', key(i, 6), month_reset + DAY)
      end
    end
  end
end

-- Headers: the tightest subject (least remaining, then latest reset). An admitted request is
-- the newest entry of every window it entered, so what the checks read is enough.
local admitted_now = mode == 'reserve' and reason == 0
local rl, rr, rs, tl, tr, ts = 0, 0, 0, 0, 0, 0
for i = 0, n - 1 do
  local rpm, tpm = lim(i, 1), lim(i, 2)
  if rpm > 0 then
    local count, reset
    if admitted_now then
      count, reset = counts[i] + 1, 60000
    else
      count, reset = redis.call('ZCARD', key(i, 1)), 0
      if count > 0 then
        reset = tonumber(redis.call('ZRANGE', key(i, 1), -1, -1, 'WITHSCORES')[2]) + 60000 - now
      end
    end
    local remaining = math.max(0, rpm - count)
    if rl == 0 or remaining < rr or (remaining == rr and reset > rs) then
      rl, rr, rs = rpm, remaining, math.max(0, reset)
    end
  end
  if tpm > 0 then
    local sum, reset
    if admitted_now then
      sum, reset = sums[i] + tokens, 60000
    else
      sum, reset = num(redis.call('HGET', key(i, 3), '_sum')), 0
      local newest = redis.call('ZRANGE', key(i, 2), -1, -1, 'WITHSCORES')
      if #newest > 0 then reset = tonumber(newest[2]) + 60000 - now end
    end
    local remaining = math.max(0, tpm - sum)
    if tl == 0 or remaining < tr or (remaining == tr and reset > ts) then
      tl, tr, ts = tpm, remaining, math.max(0, reset)
    end
  end
end
local admitted = 0
if reason == 0 then admitted = 1; refusing = 0 end
return {admitted, reason, refusing, math.max(0, retry), rl, rr, rs, tl, tr, ts}
)lua";

// KEYS: as above (d and m of the day and month the reservation was charged to).
// ARGV: id, actual tokens, token delta, cost delta, subject count, seven limits per subject.
constexpr const char* kSettleScript = R"lua(
local id = ARGV[1]
local tokens = tonumber(ARGV[2])
local dtokens = tonumber(ARGV[3])
local dcost = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local function lim(i, j) return tonumber(ARGV[5 + i * 7 + j]) end
local function key(i, j) return KEYS[i * 6 + j] end
for i = 0, n - 1 do
  if lim(i, 3) > 0 then redis.call('ZREM', key(i, 4), id) end
  if lim(i, 2) > 0 then
    local old = redis.call('HGET', key(i, 3), id)
    if old then
      redis.call('HSET', key(i, 3), id, tokens)
      redis.call('HINCRBY', key(i, 3), '_sum', tokens - tonumber(old))
    end
  end
  if (lim(i, 4) > 0 or lim(i, 6) > 0) and redis.call('EXISTS', key(i, 5)) == 1 then
    redis.call('HINCRBY', key(i, 5), 'tokens', dtokens)
    redis.call('HINCRBY', key(i, 5), 'cost', dcost)
  end
  if (lim(i, 5) > 0 or lim(i, 7) > 0) and redis.call('EXISTS', key(i, 6)) == 1 then
    redis.call('HINCRBY', key(i, 6), 'tokens', dtokens)
    redis.call('HINCRBY', key(i, 6), 'cost', dcost)
  end
end
return 1
)lua";

const storage::redis::Script& ReserveScript() {
  static const storage::redis::Script kScript(kReserveScript);
  return kScript;
}
const storage::redis::Script& SettleScript() {
  static const storage::redis::Script kScript(kSettleScript);
  return kScript;
}

void AppendLimits(std::vector<std::string>& args, const std::vector<Subject>& subjects) {
  args.push_back(std::to_string(subjects.size()));
  for (const auto& s : subjects) {
    const auto& p = s.policy;
    args.push_back(std::to_string(p.requests_per_minute));
    args.push_back(std::to_string(p.tokens_per_minute));
    args.push_back(std::to_string(p.concurrent_requests));
    args.push_back(std::to_string(p.daily_tokens));
    args.push_back(std::to_string(p.monthly_tokens));
    args.push_back(std::to_string(p.daily_cost_nanos));
    args.push_back(std::to_string(p.monthly_cost_nanos));
  }
}

[[noreturn]] void Malformed(const std::string& what) {
  throw common::InfrastructureError("redis limiter: " + what);
}

}  // namespace

RedisLimiter::RedisLimiter(storage::redis::RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

std::vector<std::string> RedisLimiter::Keys(const std::vector<Subject>& subjects,
                                            std::int64_t budget_time_ms) const {
  const auto day = std::to_string(DayIndex(budget_time_ms));
  const auto month = std::to_string(MonthIndex(budget_time_ms));
  std::vector<std::string> keys;
  keys.reserve(subjects.size() * 6);
  for (const auto& s : subjects) {
    keys.push_back(prefix_ + "rq:" + s.id);
    keys.push_back(prefix_ + "tk:" + s.id);
    keys.push_back(prefix_ + "tv:" + s.id);
    keys.push_back(prefix_ + "cc:" + s.id);
    keys.push_back(prefix_ + "d:" + s.id + ":" + day);
    keys.push_back(prefix_ + "m:" + s.id + ":" + month);
  }
  return keys;
}

Task<Decision> RedisLimiter::Run(const std::vector<Subject>& subjects,
                                 std::vector<std::string> args, std::int64_t now_ms) {
  auto reply = co_await client_.Eval(ReserveScript(), Keys(subjects, now_ms), std::move(args));
  if (reply.IsError()) Malformed("script error: " + reply.str);
  if (reply.type != storage::redis::Reply::Type::kArray || reply.elements.size() != 10)
    Malformed("unexpected reply shape");
  std::int64_t v[10];
  for (std::size_t i = 0; i < 10; ++i) {
    if (reply.elements[i].type != storage::redis::Reply::Type::kInteger)
      Malformed("non-integer in reply");
    v[i] = reply.elements[i].integer;
  }
  Decision d;
  d.admitted = v[0] == 1;
  if (v[1] < 0 || v[1] > static_cast<std::int64_t>(Reason::kMonthlyCost)) Malformed("reason");
  d.reason = static_cast<Reason>(v[1]);
  if (v[2] < 0 || static_cast<std::size_t>(v[2]) >= std::max<std::size_t>(1, subjects.size()))
    Malformed("subject index");
  d.subject = static_cast<std::size_t>(v[2]);
  d.retry_after = Millis(v[3]);
  d.requests = {v[4], v[5], Millis(v[6])};
  d.tokens = {v[7], v[8], Millis(v[9])};
  co_return d;
}

Task<Decision> RedisLimiter::Reserve(ReserveRequest r) {
  const auto day_reset = (DayIndex(r.now_ms) + 1) * kDayMs - r.now_ms;
  const auto month_reset = MonthEndMs(r.now_ms) - r.now_ms;
  std::vector<std::string> args;
  args.reserve(9 + r.subjects.size() * 7);
  args.emplace_back("reserve");
  args.push_back(std::to_string(r.now_ms));
  args.push_back(r.id);
  args.push_back(std::to_string(r.tokens));
  args.push_back(std::to_string(r.cost_nanos));
  args.push_back(std::to_string(r.lease.count()));
  args.push_back(std::to_string(day_reset));
  args.push_back(std::to_string(month_reset));
  AppendLimits(args, r.subjects);
  co_return co_await Run(r.subjects, std::move(args), r.now_ms);
}

Task<Decision> RedisLimiter::Peek(std::vector<Subject> subjects, std::int64_t now_ms) {
  std::vector<std::string> args;
  args.reserve(9 + subjects.size() * 7);
  args.emplace_back("peek");
  args.push_back(std::to_string(now_ms));
  args.emplace_back("");
  args.emplace_back("0");
  args.emplace_back("0");
  args.emplace_back("0");
  args.emplace_back("0");
  args.emplace_back("0");
  AppendLimits(args, subjects);
  auto d = co_await Run(subjects, std::move(args), now_ms);
  d.admitted = true;
  co_return d;
}

Task<void> RedisLimiter::Settle(Settlement s) {
  std::vector<std::string> args;
  args.reserve(5 + s.subjects.size() * 7);
  args.push_back(s.id);
  args.push_back(std::to_string(s.tokens));
  args.push_back(std::to_string(s.tokens - s.reserved_tokens));
  args.push_back(std::to_string(s.cost_nanos - s.reserved_cost_nanos));
  AppendLimits(args, s.subjects);
  auto reply =
      co_await client_.Eval(SettleScript(), Keys(s.subjects, s.reserved_at_ms), std::move(args));
  if (reply.IsError()) Malformed("script error: " + reply.str);
}

}  // namespace bro::limits
