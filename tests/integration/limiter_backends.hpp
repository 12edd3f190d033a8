#pragma once

// The limiter backends of the contract suite (and of the gateway tests that run against both).

#include <memory>
#include <string>

#include "common/random.hpp"
#include "integration/support.hpp"
#include "limits/limiter.hpp"
#include "limits/memory_limiter.hpp"
#include "limits/redis_limiter.hpp"
#include "storage/redis/redis_client.hpp"

namespace bro::testing {

struct MemoryLimiterBackend {
  static std::string Name() { return "Memory"; }
  static std::string SkipReason() { return {}; }
  std::unique_ptr<limits::Limiter> Open() { return std::make_unique<limits::MemoryLimiter>(); }
};

// Each limiter gets a key prefix of its own on the shared test Redis.
struct RedisLimiterBackend {
  static std::string Name() { return "Redis"; }
  static std::string SkipReason() { return RedisTestUrl() ? "" : kNoRedis; }
  std::unique_ptr<limits::Limiter> Open() {
    client = std::make_unique<storage::redis::RedisClient>(
        storage::redis::ParseRedisUrl(RedisTestUrl().value()));
    return std::make_unique<limits::RedisLimiter>(*client,
                                                  "bro-test:" + common::RandomHex(8) + ":limits:");
  }
  std::unique_ptr<storage::redis::RedisClient> client;
};

}  // namespace bro::testing
