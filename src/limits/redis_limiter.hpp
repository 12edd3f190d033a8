#pragma once

#include <string>

#include "limits/limiter.hpp"
#include "storage/redis/redis_client.hpp"

namespace bro::limits {

// The limiter shared by every replica: each decision is one Lua script run atomically by Redis
// (EVALSHA), so there is no read-modify-write across replicas and N replicas behave as one.
// The scripts follow MemoryLimiter exactly (same windows, same answers: the contract suite
// runs against both). Time comes from the caller (replica clocks are NTP-synchronised; a skew
// of a few milliseconds shifts a window's edge by as much), so tests can move it.
//
// Keys per subject S under `prefix`: rq:S (zset, admitted requests by time), tk:S (zset,
// reservations by time) and tv:S (hash, tokens per reservation and their "_sum"), cc:S (zset,
// concurrency leases by expiry), d:S:DAY and m:S:MONTH (hashes: tokens, cost). Every key has
// a TTL a little longer than its window, so Redis memory is bounded by the windows. All keys
// of one decision must live on one node: Redis Cluster is not supported (Memorystore's
// standard tier is not a cluster).
class RedisLimiter final : public Limiter {
 public:
  RedisLimiter(storage::redis::RedisClient& client, std::string prefix);
  std::string_view Backend() const override { return "redis"; }
  Task<Decision> Reserve(ReserveRequest request) override;
  Task<void> Settle(Settlement settlement) override;
  Task<Decision> Peek(std::vector<Subject> subjects, std::int64_t now_ms) override;

 private:
  std::vector<std::string> Keys(const std::vector<Subject>& subjects,
                                std::int64_t budget_time_ms) const;
  Task<Decision> Run(const std::vector<Subject>& subjects, std::vector<std::string> args,
                     std::int64_t now_ms);

  storage::redis::RedisClient& client_;
  std::string prefix_;
};

}  // namespace bro::limits
