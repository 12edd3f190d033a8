#pragma once

#include "storage/kv/kv_store.hpp"
#include "storage/redis/redis_client.hpp"

namespace bro::storage::kv {

// KvStore on Redis, shared by every replica. Keys are prefixed (redis.key_prefix)
// so one Redis can serve several deployments. Take is GETDEL (Redis >= 6.2).
class RedisKvStore final : public KvStore {
 public:
  RedisKvStore(redis::RedisClient& client, std::string prefix);

  std::string_view Backend() const override { return "redis"; }
  Task<std::optional<std::string>> Get(std::string key) override;
  Task<void> Set(std::string key, std::string value, std::chrono::milliseconds ttl) override;
  Task<bool> SetIfAbsent(std::string key, std::string value,
                         std::chrono::milliseconds ttl) override;
  Task<std::optional<std::string>> Take(std::string key) override;
  Task<bool> Delete(std::string key) override;

 private:
  Task<redis::Reply> Run(std::vector<std::string> args);

  redis::RedisClient& client_;
  std::string prefix_;
};

}  // namespace bro::storage::kv
