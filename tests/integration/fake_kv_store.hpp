#pragma once

// A test-only in-process KvStore ("fake") so identity tests run before storage::kv::MemoryKvStore
// is merged on this branch. Expiry follows the injected clock, so TTL tests never sleep.

#include <map>
#include <mutex>

#include "common/time.hpp"
#include "storage/kv/kv_store.hpp"

namespace bro::testing {

class FakeKvStore final : public storage::kv::KvStore {
 public:
  explicit FakeKvStore(const common::Clock& clock) : clock_(clock) {}
  std::string_view Backend() const override { return "fake"; }
  storage::kv::Task<std::optional<std::string>> Get(std::string key) override {
    std::lock_guard lock(mu_);
    co_return Live(key);
  }
  storage::kv::Task<void> Set(std::string key, std::string value,
                              std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mu_);
    items_[key] = {std::move(value), clock_.Now() + ttl};
    co_return;
  }
  storage::kv::Task<bool> SetIfAbsent(std::string key, std::string value,
                                      std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mu_);
    if (Live(key)) co_return false;
    items_[key] = {std::move(value), clock_.Now() + ttl};
    co_return true;
  }
  storage::kv::Task<std::optional<std::string>> Take(std::string key) override {
    std::lock_guard lock(mu_);
    auto v = Live(key);
    items_.erase(key);
    co_return v;
  }
  storage::kv::Task<bool> Delete(std::string key) override {
    std::lock_guard lock(mu_);
    const bool had = Live(key).has_value();
    items_.erase(key);
    co_return had;
  }
  std::size_t Size() {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  std::optional<std::string> Live(const std::string& key) {
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    if (clock_.Now() >= it->second.expires) {
      items_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }
  struct Item {
    std::string value;
    std::chrono::system_clock::time_point expires;
  };
  const common::Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Item> items_;
};

}  // namespace bro::testing
