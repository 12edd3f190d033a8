#include "storage/kv/memory_kv_store.hpp"

#include <stdexcept>

namespace bro::storage::kv {

namespace {

void RequirePositive(std::chrono::milliseconds ttl) {
  if (ttl <= std::chrono::milliseconds::zero()) throw std::invalid_argument("kv: ttl must be > 0");
}

}  // namespace

MemoryKvStore::MemoryKvStore(std::size_t max_bytes, const common::Clock& clock)
    : max_bytes_(max_bytes), clock_(clock) {}

MemoryKvStore::Map::iterator MemoryKvStore::FindLive(const std::string& key, TimePoint now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return it;
  if (it->second.expires <= now) {
    Erase(it);
    return entries_.end();
  }
  return it;
}

void MemoryKvStore::Erase(Map::iterator it) {
  bytes_ -= it->first.size() + it->second.value.size();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void MemoryKvStore::Store(std::string key, std::string value, TimePoint expires) {
  if (auto it = entries_.find(key); it != entries_.end()) Erase(it);
  const std::size_t size = key.size() + value.size();
  if (size > max_bytes_) return;  // larger than the whole store: not kept, like an evicted entry
  while (bytes_ + size > max_bytes_ && !lru_.empty()) Erase(entries_.find(lru_.back()));
  lru_.push_front(key);
  bytes_ += size;
  entries_.emplace(std::move(key), Entry{std::move(value), expires, lru_.begin()});
}

Task<std::optional<std::string>> MemoryKvStore::Get(std::string key) {
  std::optional<std::string> out;
  {
    std::lock_guard lock(mu_);
    auto it = FindLive(key, clock_.Now());
    if (it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      out = it->second.value;
    }
  }
  co_return out;
}

Task<void> MemoryKvStore::Set(std::string key, std::string value, std::chrono::milliseconds ttl) {
  RequirePositive(ttl);
  {
    std::lock_guard lock(mu_);
    Store(std::move(key), std::move(value), clock_.Now() + ttl);
  }
  co_return;
}

Task<bool> MemoryKvStore::SetIfAbsent(std::string key, std::string value,
                                      std::chrono::milliseconds ttl) {
  RequirePositive(ttl);
  bool stored = false;
  {
    std::lock_guard lock(mu_);
    const auto now = clock_.Now();
    if (FindLive(key, now) == entries_.end()) {
      Store(std::move(key), std::move(value), now + ttl);
      stored = true;
    }
  }
  co_return stored;
}

Task<std::optional<std::string>> MemoryKvStore::Take(std::string key) {
  std::optional<std::string> out;
  {
    std::lock_guard lock(mu_);
    auto it = FindLive(key, clock_.Now());
    if (it != entries_.end()) {
      out = it->second.value;
      Erase(it);
    }
  }
  co_return out;
}

Task<bool> MemoryKvStore::Delete(std::string key) {
  bool existed = false;
  {
    std::lock_guard lock(mu_);
    auto it = FindLive(key, clock_.Now());
    if (it != entries_.end()) {
      Erase(it);
      existed = true;
    }
  }
  co_return existed;
}

std::size_t MemoryKvStore::Bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t MemoryKvStore::Size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace bro::storage::kv
