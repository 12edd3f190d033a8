#include "limits/redis_limiter.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>

#include "common/errors.hpp"
#include "limits/redis_limiter_script.hpp"
#include "storage/redis/msgpack.hpp"

namespace bro::limits {
namespace {

namespace asio = boost::asio;

// Its SHA-1 is taken once: the client sends EVALSHA and loads the source only on NOSCRIPT.
const storage::redis::Script& BatchScript() {
  static const storage::redis::Script kScript{std::string(kRedisLimiterScript)};
  return kScript;
}

[[noreturn]] void Malformed(const std::string& what) {
  throw common::InfrastructureError("redis limiter: " + what);
}

}  // namespace

struct RedisLimiter::Op {
  enum class Kind { kReserve, kSettle, kPeek };
  Kind kind = Kind::kReserve;
  ReserveRequest reserve;          // kReserve
  Settlement settle;               // kSettle
  std::vector<Subject> subjects;   // kPeek
  std::int64_t now_ms = 0;         // kPeek
  asio::any_io_executor executor;  // the caller's: where Complete runs

  Op() = default;
  Op(Op&&) = default;
  Op& operator=(Op&&) = delete;
  virtual ~Op() = default;
  // Hands the outcome to the caller (derived below with its completion handler, type-erased
  // this way because asio::any_completion_handler of Boost 1.81 recurses without end when
  // moved; the handler lives in the same allocation as the call).
  virtual void Complete(std::exception_ptr /*error*/, Decision /*decision*/) {}

  const std::vector<Subject>& Subjects() const {
    switch (kind) {
      case Kind::kReserve:
        return reserve.subjects;
      case Kind::kSettle:
        return settle.subjects;
      case Kind::kPeek:
        break;
    }
    return subjects;
  }
};

namespace {

template <class Handler>
struct HandlerOp final : RedisLimiter::Op {
  HandlerOp(Op&& call, Handler h) : Op(std::move(call)), handler(std::move(h)) {}
  void Complete(std::exception_ptr error, Decision decision) override {
    std::move(handler)(std::move(error), std::move(decision));
  }
  Handler handler;
};

struct DoneOp final : RedisLimiter::Op {
  DoneOp(Op&& call, Limiter::Done d) : Op(std::move(call)), done(std::move(d)) {}
  void Complete(std::exception_ptr error, Decision /*decision*/) override {
    if (done) done(std::move(error));
  }
  Limiter::Done done;
};

// The script's arguments for one batch: subjects named once in KEYS, each (subject, policy)
// pair once in the head of the argument array, then the operations (one MessagePack argument;
// the layout is described at the top of redis_limiter.lua).
class BatchEncoder {
 public:
  explicit BatchEncoder(const std::string& prefix) : prefix_(prefix) {}

  void Add(const RedisLimiter::Op& op);
  const storage::redis::RespArgs& Keys() const { return keys_; }
  storage::redis::RespArgs Args() const;

 private:
  void Num(std::int64_t v) {
    ops_.Int(v);
    ++op_values_;
  }
  void Str(std::string_view v) {
    ops_.Str(v);
    ++op_values_;
  }
  void Subjects(const std::vector<Subject>& subjects);
  std::int64_t Reference(const Subject& subject);

  const std::string& prefix_;
  storage::redis::RespArgs keys_;
  storage::redis::MsgpackWriter head_;  // the (subject, policy) list
  storage::redis::MsgpackWriter ops_;
  std::uint32_t op_values_ = 0;
  struct Seen {
    std::int64_t key = 0;  // 1-based pair in KEYS
    std::vector<std::pair<Policy, std::int64_t>> references;
  };
  std::unordered_map<std::string, Seen> seen_;
  std::int64_t references_ = 0;
};

std::int64_t BatchEncoder::Reference(const Subject& subject) {
  auto [it, added] = seen_.try_emplace(subject.id);
  auto& seen = it->second;
  if (added) {
    keys_.Add(prefix_ + "s:" + subject.id);
    keys_.Add(prefix_ + "c:" + subject.id);
    seen.key = static_cast<std::int64_t>(keys_.Count() / 2);
  }
  for (const auto& [policy, reference] : seen.references) {
    if (policy == subject.policy) return reference;
  }
  const auto& p = subject.policy;
  for (const std::int64_t v :
       {seen.key, p.requests_per_minute, p.tokens_per_minute, p.concurrent_requests, p.daily_tokens,
        p.monthly_tokens, p.daily_cost_nanos, p.monthly_cost_nanos}) {
    head_.Int(v);
  }
  seen.references.emplace_back(p, ++references_);
  return references_;
}

void BatchEncoder::Subjects(const std::vector<Subject>& subjects) {
  Num(static_cast<std::int64_t>(subjects.size()));
  for (const auto& s : subjects) Num(Reference(s));
}

storage::redis::RespArgs BatchEncoder::Args() const {
  storage::redis::MsgpackWriter all;
  const auto at = all.BeginArray();
  all.Int(references_);
  all.Append(head_);
  all.Append(ops_);
  all.EndArray(at, static_cast<std::uint32_t>(1 + 8 * references_) + op_values_);
  storage::redis::RespArgs args;
  args.Add(all.Bytes());
  return args;
}

std::pair<storage::redis::RespArgs, storage::redis::RespArgs> Encode(
    const std::string& prefix, const std::vector<std::unique_ptr<RedisLimiter::Op>>& batch) {
  BatchEncoder encoder(prefix);
  for (const auto& op : batch) encoder.Add(*op);
  return {encoder.Keys(), encoder.Args()};
}

// One Decision per operation (a settlement's stays default), from the script's flat answer.
std::vector<Decision> ParseAnswers(const storage::redis::Reply& reply,
                                   const std::vector<std::unique_ptr<RedisLimiter::Op>>& batch) {
  using Kind = RedisLimiter::Op::Kind;
  if (reply.IsError()) Malformed("script error: " + reply.str);
  if (reply.type != storage::redis::Reply::Type::kString) Malformed("unexpected reply type");
  std::vector<std::int64_t> values;
  try {
    values = storage::redis::ReadIntegerArray(reply.str);
  } catch (const std::invalid_argument& e) {
    Malformed(e.what());
  }
  std::size_t expected = 0;
  for (const auto& op : batch) {
    if (op->kind != Kind::kSettle) expected += 4 + 3 * op->Subjects().size();
  }
  if (values.size() != expected) Malformed("unexpected reply shape");
  std::vector<Decision> decisions(batch.size());
  std::size_t at = 0;
  auto next = [&] { return values[at++]; };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& op = *batch[i];
    if (op.kind == Kind::kSettle) continue;
    auto& d = decisions[i];
    d.admitted = next() == 1;
    const auto reason = next();
    if (reason < 0 || reason > static_cast<std::int64_t>(Reason::kMonthlyCost)) Malformed("reason");
    d.reason = static_cast<Reason>(reason);
    const auto& subjects = op.Subjects();
    const auto refusing = next();
    if (refusing < 0 ||
        static_cast<std::size_t>(refusing) >= std::max<std::size_t>(1, subjects.size()))
      Malformed("subject index");
    d.subject = static_cast<std::size_t>(refusing);
    d.retry_after = Millis(next());
    const auto now = op.kind == Kind::kReserve ? op.reserve.now_ms : op.now_ms;
    for (const auto& subject : subjects) {
      const auto requests = next(), tokens = next(), newest = next();
      const auto second = newest < 0 ? std::nullopt : std::optional<std::int64_t>(newest);
      const auto& p = subject.policy;
      if (p.requests_per_minute > 0)
        Tighten(d.requests, p.requests_per_minute, requests, second, now);
      if (p.tokens_per_minute > 0) Tighten(d.tokens, p.tokens_per_minute, tokens, second, now);
    }
  }
  return decisions;
}

}  // namespace

RedisLimiter::RedisLimiter(storage::redis::RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

RedisLimiter::~RedisLimiter() = default;

Task<Decision> RedisLimiter::Reserve(ReserveRequest request) {
  if (!AmountsInRange(request)) {
    Decision refused;
    refused.reason = Reason::kTooLarge;
    co_return refused;
  }
  Op op;
  op.kind = Op::Kind::kReserve;
  op.reserve = std::move(request);
  co_return co_await Submit(std::move(op));
}

Task<void> RedisLimiter::Settle(Settlement settlement) {
  Op op;
  op.kind = Op::Kind::kSettle;
  op.settle = Clamped(std::move(settlement));
  co_await Submit(std::move(op));
}

void RedisLimiter::SettleLater(Settlement settlement, asio::any_io_executor executor, Done done) {
  Op op;
  op.kind = Op::Kind::kSettle;
  op.settle = Clamped(std::move(settlement));
  op.executor = std::move(executor);
  Enqueue(std::make_unique<DoneOp>(std::move(op), std::move(done)));
}

Task<Decision> RedisLimiter::Peek(std::vector<Subject> subjects, std::int64_t now_ms) {
  Op op;
  op.kind = Op::Kind::kPeek;
  op.subjects = std::move(subjects);
  op.now_ms = now_ms;
  return Submit(std::move(op));
}

Task<Decision> RedisLimiter::Submit(Op op) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, Decision)>(
      [this](auto handler, Op call) {
        call.executor = asio::get_associated_executor(handler);
        Enqueue(
            std::make_unique<HandlerOp<decltype(handler)>>(std::move(call), std::move(handler)));
      },
      asio::use_awaitable, std::move(op));
}

Task<void> RedisLimiter::Drain() {
  // Each batch ends within the client's command timeout, so this ends too.
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    bool idle = false;
    {
      std::lock_guard lock(queue_.mu);
      idle = queue_.pending.empty() && !queue_.flushing;
    }
    if (idle) break;
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(asio::use_awaitable);
  }
}

void RedisLimiter::Enqueue(std::unique_ptr<Op> op) {
  // The flush runs where the first caller of a quiet period runs (the Redis client keeps its
  // connections per io_context); every caller is resumed on its own executor.
  auto ex = op->executor;
  bool start = false;
  {
    std::lock_guard lock(queue_.mu);
    queue_.pending.push_back(std::move(op));
    if (!queue_.flushing) queue_.flushing = start = true;
  }
  if (start) asio::co_spawn(ex, Flush(), asio::detached);
}

Task<void> RedisLimiter::Flush() {
  const auto ex = co_await asio::this_coro::executor;
  for (;;) {
    // Let what this thread already has to run (other requests reaching their limits check)
    // join the batch: one turn of the event loop, no timer.
    co_await asio::post(ex, asio::use_awaitable);
    std::vector<std::unique_ptr<Op>> batch;
    {
      std::lock_guard lock(queue_.mu);
      while (!queue_.pending.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.pending.front()));
        queue_.pending.pop_front();
      }
      if (batch.empty()) queue_.flushing = false;
    }
    if (batch.empty()) break;
    co_await RunBatch(batch);
  }
}

Task<void> RedisLimiter::RunBatch(std::vector<std::unique_ptr<Op>>& batch) {
  std::exception_ptr error;
  std::vector<Decision> decisions;
  try {
    const auto encoded = Encode(prefix_, batch);
    auto reply = co_await client_.Eval(BatchScript(), encoded.first, encoded.second);
    decisions = ParseAnswers(reply, batch);
  } catch (...) {
    error = std::current_exception();
  }
  decisions.resize(batch.size());
  CompleteAll(batch, decisions, error);
}

// Resumes each caller on its own executor: one post per executor, not per call (a post to an
// idle I/O thread wakes it, and waking it once per call measured as much as the rest of the
// client's work).
void RedisLimiter::CompleteAll(std::vector<std::unique_ptr<Op>>& batch,
                               const std::vector<Decision>& decisions,
                               const std::exception_ptr& error) {
  using Calls = std::vector<std::pair<std::unique_ptr<Op>, Decision>>;
  std::vector<std::pair<asio::any_io_executor, Calls>> by_executor;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto it = std::find_if(by_executor.begin(), by_executor.end(),
                           [&](const auto& group) { return group.first == batch[i]->executor; });
    if (it == by_executor.end()) {
      by_executor.emplace_back(batch[i]->executor, Calls());
      it = std::prev(by_executor.end());
    }
    it->second.emplace_back(std::move(batch[i]), decisions[i]);
  }
  for (auto& [executor, calls] : by_executor) {
    asio::post(executor, [calls = std::move(calls), error]() mutable {
      for (auto& [op, decision] : calls) op->Complete(error, decision);
    });
  }
}

void BatchEncoder::Add(const RedisLimiter::Op& op) {
  using Kind = RedisLimiter::Op::Kind;
  switch (op.kind) {
    case Kind::kReserve: {
      const auto& r = op.reserve;
      Str("R");
      Num(r.now_ms);
      Str(r.id);
      Num(r.tokens);
      Num(r.cost_nanos);
      Num(r.lease.count());
      Num(DayIndex(r.now_ms));
      Num(MonthEndMs(r.now_ms));
      Subjects(r.subjects);
      break;
    }
    case Kind::kSettle: {
      const auto& st = op.settle;
      Str("S");
      Num(st.now_ms);
      Str(st.id);
      Num(st.reserved_at_ms);
      Num(st.tokens - st.reserved_tokens);
      Num(st.cost_nanos - st.reserved_cost_nanos);
      Num(DayIndex(st.reserved_at_ms));
      Num(MonthEndMs(st.reserved_at_ms));
      Num(st.lease.count());
      Subjects(st.subjects);
      break;
    }
    case Kind::kPeek:
      Str("P");
      Num(op.now_ms);
      Subjects(op.subjects);
      break;
  }
}

}  // namespace bro::limits
