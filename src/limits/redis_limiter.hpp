#pragma once

#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>

#include "limits/limiter.hpp"
#include "storage/redis/redis_client.hpp"

namespace bro::limits {

// The limiter shared by every replica. Decisions are made by one Lua script that Redis runs
// atomically (EVALSHA), so there is no read-modify-write across replicas and N replicas behave
// as one. The script follows MemoryLimiter exactly (same windows, same answers: the contract
// suite runs against both). Time comes from the caller (replica clocks are NTP-synchronised; a
// skew of a few milliseconds shifts a window's edge by as much), so tests can move it.
//
// Batching: calls that arrive while a script is in flight are queued, and the next script
// decides all of them in arrival order (at most kMaxBatch), each exactly as if it ran alone.
// Under load one round trip serves many requests and a subject's state is read and written
// once per batch instead of once per request; an idle replica sends each call at once. One
// queue serves the whole process (a queue per I/O thread halves the batches and measured
// slower, bench/README.md); each caller is resumed on its own executor. A failed batch (Redis
// down, timeout) fails each of its calls with InfrastructureError.
//
// Keys per subject S under `prefix`: s:S, a hash with the window (lo, hi: oldest and newest
// bucket; rs, ts: requests and tokens in the window; rB, tB: requests and tokens of bucket B),
// the budgets (d: day index, dt, dc: tokens and cost that day; m: end of the month in ms, mt,
// mc), the concurrency count (cc: leases held; ln: none ends before it) and TTL bookkeeping
// (k, le); c:S, a hash of concurrency leases (reservation id -> expiry). Both carry TTLs until
// their newest bucket, day, month or lease ends, plus a minute to spare so that they are
// renewed about once a minute. Memory per subject is bounded by 61 buckets and the subject's
// concurrency. All keys of a batch must live on one node: Redis Cluster is not supported
// (Memorystore's standard tier is not a cluster).
class RedisLimiter final : public Limiter {
 public:
  static constexpr std::size_t kMaxBatch = 128;

  RedisLimiter(storage::redis::RedisClient& client, std::string prefix);
  ~RedisLimiter() override;
  std::string_view Backend() const override { return "redis"; }
  Task<Decision> Reserve(ReserveRequest request) override;
  Task<void> Settle(Settlement settlement) override;
  void SettleLater(Settlement settlement, boost::asio::any_io_executor executor,
                   Done done) override;
  Task<Decision> Peek(std::vector<Subject> subjects, std::int64_t now_ms) override;
  Task<void> Drain() override;

  struct Op;  // one queued call (defined and used in the .cpp only)

 private:
  struct Queue {
    std::mutex mu;
    std::deque<std::unique_ptr<Op>> pending;
    bool flushing = false;  // a Flush coroutine is sending this queue's calls
  };

  Task<Decision> Submit(Op op);
  void Enqueue(std::unique_ptr<Op> op);
  Task<void> Flush();
  Task<void> RunBatch(std::vector<std::unique_ptr<Op>>& batch);
  static void CompleteAll(std::vector<std::unique_ptr<Op>>& batch,
                          const std::vector<Decision>& decisions, const std::exception_ptr& error);

  storage::redis::RedisClient& client_;
  std::string prefix_;
  Queue queue_;
};

}  // namespace bro::limits
