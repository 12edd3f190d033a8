// The KvStore contract: one suite, run against MemoryKvStore always and against
// RedisKvStore whenever BRO_TEST_REDIS_URL is set (scripts/test.sh sets it).
// Each Redis test works under a key prefix of its own.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/random.hpp"
#include "integration/support.hpp"
#include "storage/kv/memory_kv_store.hpp"
#include "storage/kv/redis_kv_store.hpp"

namespace bro::storage::kv {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using testing::RunTask;

struct MemoryBackend {
  static std::string SkipReason() { return {}; }
  KvStore& Open() {
    store.emplace(1 << 20, clock);
    return *store;
  }
  // Moves the store's notion of time past `ttl`.
  void Elapse(std::chrono::milliseconds d) { clock.Advance(d); }
  testing::FakeClock clock;
  std::optional<MemoryKvStore> store;
};

struct RedisBackend {
  static std::string SkipReason() { return testing::RedisTestUrl() ? "" : testing::kNoRedis; }
  KvStore& Open() {
    client.emplace(redis::ParseRedisUrl(*testing::RedisTestUrl()));
    store.emplace(*client, "bro-test:" + common::RandomHex(8) + ":");
    return *store;
  }
  // Redis keeps its own time: the tests use short TTLs and wait them out.
  static void Elapse(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }
  std::optional<redis::RedisClient> client;
  std::optional<RedisKvStore> store;
};

template <class Backend>
class KvStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Backend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    kv_ = &backend_.Open();
  }
  template <class T>
  T Run(asio::awaitable<T> task) {
    return RunTask(ioc_, std::move(task));
  }
  std::optional<std::string> Get(const std::string& k) { return Run(kv_->Get(k)); }
  void Set(const std::string& k, const std::string& v, std::chrono::milliseconds ttl = 60s) {
    Run(kv_->Set(k, v, ttl));
  }

  asio::io_context ioc_;
  Backend backend_;
  KvStore* kv_ = nullptr;
};

using Backends = ::testing::Types<MemoryBackend, RedisBackend>;
class BackendNames {
 public:
  template <class T>
  static std::string GetName(int /*index*/) {
    return std::is_same_v<T, MemoryBackend> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(KvStoreContract, Backends, BackendNames);

TYPED_TEST(KvStoreContract, GetOfAMissingKeyIsEmpty) {
  EXPECT_EQ(this->Get("absent"), std::nullopt);
}

TYPED_TEST(KvStoreContract, SetThenGetReturnsTheValueByteForByte) {
  const std::string binary("a\0b\r\n$3\r\n\xff", 10);
  this->Set("k", binary);
  EXPECT_EQ(this->Get("k"), binary);
  this->Set("k", "replaced");
  EXPECT_EQ(this->Get("k"), "replaced");
}

TYPED_TEST(KvStoreContract, ValuesExpireAfterTheirTtl) {
  this->Set("short", "v", 100ms);
  this->Set("long", "v", 60s);
  this->backend_.Elapse(250ms);
  EXPECT_EQ(this->Get("short"), std::nullopt);
  EXPECT_EQ(this->Get("long"), "v");
}

TYPED_TEST(KvStoreContract, SetIfAbsentStoresOnlyOnce) {
  EXPECT_TRUE(this->Run(this->kv_->SetIfAbsent("once", "first", 60s)));
  EXPECT_FALSE(this->Run(this->kv_->SetIfAbsent("once", "second", 60s)));
  EXPECT_EQ(this->Get("once"), "first");
}

TYPED_TEST(KvStoreContract, SetIfAbsentSucceedsAgainAfterExpiry) {
  EXPECT_TRUE(this->Run(this->kv_->SetIfAbsent("lease", "a", 100ms)));
  this->backend_.Elapse(250ms);
  EXPECT_TRUE(this->Run(this->kv_->SetIfAbsent("lease", "b", 60s)));
  EXPECT_EQ(this->Get("lease"), "b");
}

TYPED_TEST(KvStoreContract, TakeReturnsTheValueOnceOnly) {
  this->Set("state", "s1");
  EXPECT_EQ(this->Run(this->kv_->Take("state")), "s1");
  EXPECT_EQ(this->Run(this->kv_->Take("state")), std::nullopt);
  EXPECT_EQ(this->Get("state"), std::nullopt);
}

TYPED_TEST(KvStoreContract, TakeOfAnExpiredValueIsEmpty) {
  this->Set("state", "s1", 100ms);
  this->backend_.Elapse(250ms);
  EXPECT_EQ(this->Run(this->kv_->Take("state")), std::nullopt);
}

TYPED_TEST(KvStoreContract, DeleteSaysWhetherTheKeyExisted) {
  this->Set("d", "v");
  EXPECT_TRUE(this->Run(this->kv_->Delete("d")));
  EXPECT_FALSE(this->Run(this->kv_->Delete("d")));
  EXPECT_EQ(this->Get("d"), std::nullopt);
}

TYPED_TEST(KvStoreContract, ANonPositiveTtlIsRefused) {
  EXPECT_THROW(this->Set("k", "v", 0ms), std::invalid_argument);
  EXPECT_THROW(this->Run(this->kv_->SetIfAbsent("k", "v", -1ms)), std::invalid_argument);
  EXPECT_EQ(this->Get("k"), std::nullopt);
}

TYPED_TEST(KvStoreContract, LargeValuesRoundTrip) {
  std::string big(3 << 20, 'x');
  big[12345] = 'y';
  // The memory backend of this suite holds 1 MiB: a larger value is not kept (as if evicted).
  this->Set("big", big);
  auto got = this->Get("big");
  if (this->kv_->Backend() == "memory") {
    EXPECT_EQ(got, std::nullopt);
  } else {
    EXPECT_EQ(got, big);
  }
}

// Memory-only: the bound and the eviction order.
TEST(MemoryKvStore, EvictsTheLeastRecentlyUsedWhenFull) {
  testing::FakeClock clock;
  MemoryKvStore kv(30, clock);
  asio::io_context ioc;
  RunTask(ioc, kv.Set("a", "123456789", 60s));  // 10 bytes
  RunTask(ioc, kv.Set("b", "123456789", 60s));  // 20
  RunTask(ioc, kv.Get("a"));                    // a is now the most recent
  RunTask(ioc, kv.Set("c", "123456789", 60s));  // 30
  RunTask(ioc, kv.Set("d", "123456789", 60s));  // evicts b
  EXPECT_EQ(RunTask(ioc, kv.Get("b")), std::nullopt);
  EXPECT_EQ(RunTask(ioc, kv.Get("a")), "123456789");
  EXPECT_EQ(RunTask(ioc, kv.Get("d")), "123456789");
  EXPECT_LE(kv.Bytes(), 30U);
  EXPECT_EQ(kv.Size(), 3U);
}

TEST(MemoryKvStore, ByteCountFollowsOverwritesTakesAndDeletes) {
  testing::FakeClock clock;
  MemoryKvStore kv(1000, clock);
  asio::io_context ioc;
  RunTask(ioc, kv.Set("k", "12345", 60s));
  RunTask(ioc, kv.Set("k", "1", 60s));
  EXPECT_EQ(kv.Bytes(), 2U);
  RunTask(ioc, kv.Set("t", "abc", 60s));
  RunTask(ioc, kv.Take("t"));
  RunTask(ioc, kv.Delete("k"));
  EXPECT_EQ(kv.Bytes(), 0U);
  EXPECT_EQ(kv.Size(), 0U);
}

}  // namespace
}  // namespace bro::storage::kv
