#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/task.hpp"

namespace bro::storage::kv {

// A small key-value store with expiry, shared by the features that need state
// across requests (sessions, login state, response cache). MemoryKvStore serves
// one process; RedisKvStore (when REDIS_URL is set) is shared by every replica.
// Both pass tests/integration/kv_store_contract_test.cpp.
//
// Calls throw common::InfrastructureError when the store cannot be reached or
// answers with an error; callers decide whether that fails the request.
class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual std::string_view Backend() const = 0;  // "memory" | "redis"

  virtual Task<std::optional<std::string>> Get(std::string key) = 0;
  // ttl > 0 is required: nothing lives forever in these stores.
  virtual Task<void> Set(std::string key, std::string value, std::chrono::milliseconds ttl) = 0;
  // Stores only when the key is absent; true when it stored.
  virtual Task<bool> SetIfAbsent(std::string key, std::string value,
                                 std::chrono::milliseconds ttl) = 0;
  // Removes and returns the value in one step (one-time tokens: replay-safe).
  virtual Task<std::optional<std::string>> Take(std::string key) = 0;
  // True when the key existed.
  virtual Task<bool> Delete(std::string key) = 0;
};

}  // namespace bro::storage::kv
