#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <unordered_map>

#include "common/time.hpp"
#include "storage/kv/kv_store.hpp"

namespace bro::storage::kv {

// The in-process KvStore: one mutex, a hash map and a least-recently-used list,
// bounded in bytes (keys plus values). When full, the least recently used
// entries go first; expired entries are dropped when met and when space is needed.
class MemoryKvStore final : public KvStore {
 public:
  MemoryKvStore(std::size_t max_bytes, const common::Clock& clock);

  std::string_view Backend() const override { return "memory"; }
  Task<std::optional<std::string>> Get(std::string key) override;
  Task<void> Set(std::string key, std::string value, std::chrono::milliseconds ttl) override;
  Task<bool> SetIfAbsent(std::string key, std::string value,
                         std::chrono::milliseconds ttl) override;
  Task<std::optional<std::string>> Take(std::string key) override;
  Task<bool> Delete(std::string key) override;

  std::size_t Bytes() const;
  std::size_t Size() const;

 private:
  using TimePoint = std::chrono::system_clock::time_point;
  struct Entry {
    std::string value;
    TimePoint expires;
    std::list<std::string>::iterator lru;
  };
  using Map = std::unordered_map<std::string, Entry>;

  // All private helpers expect mu_ held.
  Map::iterator FindLive(const std::string& key, TimePoint now);
  void Erase(Map::iterator it);
  void Store(std::string key, std::string value, TimePoint expires);

  const std::size_t max_bytes_;
  const common::Clock& clock_;
  mutable std::mutex mu_;
  Map entries_;
  std::list<std::string> lru_;  // front = most recently used
  std::size_t bytes_ = 0;
};

}  // namespace bro::storage::kv
