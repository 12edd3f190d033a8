#include "storage/kv/redis_kv_store.hpp"

#include <stdexcept>

#include "common/errors.hpp"

namespace bro::storage::kv {

namespace {

std::string Millis(std::chrono::milliseconds ttl) {
  if (ttl <= std::chrono::milliseconds::zero()) throw std::invalid_argument("kv: ttl must be > 0");
  return std::to_string(ttl.count());
}

// Builds a command outside the coroutine bodies: GCC 12 mishandles initializer lists there.
template <class... A>
std::vector<std::string> Args(A&&... a) {
  std::vector<std::string> out;
  out.reserve(sizeof...(a));
  (out.emplace_back(std::forward<A>(a)), ...);
  return out;
}

std::optional<std::string> StringOrNil(const redis::Reply& r) {
  if (r.IsNil()) return std::nullopt;
  return r.str;
}

}  // namespace

RedisKvStore::RedisKvStore(redis::RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

Task<redis::Reply> RedisKvStore::Run(std::vector<std::string> args) {
  args[1].insert(0, prefix_);
  auto reply = co_await client_.Command(std::move(args));
  if (reply.IsError()) throw common::InfrastructureError("redis: " + reply.str);
  co_return reply;
}

Task<std::optional<std::string>> RedisKvStore::Get(std::string key) {
  co_return StringOrNil(co_await Run(Args("GET", std::move(key))));
}

Task<void> RedisKvStore::Set(std::string key, std::string value, std::chrono::milliseconds ttl) {
  auto ms = Millis(ttl);
  co_await Run(Args("SET", std::move(key), std::move(value), "PX", std::move(ms)));
}

Task<bool> RedisKvStore::SetIfAbsent(std::string key, std::string value,
                                     std::chrono::milliseconds ttl) {
  auto ms = Millis(ttl);
  auto reply =
      co_await Run(Args("SET", std::move(key), std::move(value), "PX", std::move(ms), "NX"));
  co_return !reply.IsNil();
}

Task<std::optional<std::string>> RedisKvStore::Take(std::string key) {
  co_return StringOrNil(co_await Run(Args("GETDEL", std::move(key))));
}

Task<bool> RedisKvStore::Delete(std::string key) {
  auto reply = co_await Run(Args("DEL", std::move(key)));
  co_return reply.integer > 0;
}

}  // namespace bro::storage::kv
