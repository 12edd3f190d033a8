#pragma once

// The limiter backends of the contract suite (and of the gateway tests that run against both).

#include <memory>
#include <string>

#include "limits/limiter.hpp"
#include "limits/memory_limiter.hpp"

namespace bro::testing {

struct MemoryLimiterBackend {
  static std::string Name() { return "Memory"; }
  static std::string SkipReason() { return {}; }
  std::unique_ptr<limits::Limiter> Open() { return std::make_unique<limits::MemoryLimiter>(); }
};

struct RedisLimiterBackend {
  static std::string Name() { return "Redis"; }
  static std::string SkipReason() {
    return "RedisLimiter is not built yet: the Redis half of the contract was NOT run";
  }
  std::unique_ptr<limits::Limiter> Open() { return nullptr; }
};

}  // namespace bro::testing
