// The response cache through the API, one suite for both backends: in-process (always)
// and Redis (when BRO_TEST_REDIS_URL is set).

#include "gateway/response_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "common/random.hpp"
#include "integration/gateway_fixture.hpp"
#include "storage/kv/redis_kv_store.hpp"

namespace bro::api {
namespace {

using namespace std::chrono_literals;

struct MemoryCache {
  static std::string SkipReason() { return {}; }
  std::unique_ptr<storage::kv::KvStore> Open(const config::CacheConfig& cfg,
                                             const common::Clock& clock) {
    return std::make_unique<storage::kv::MemoryKvStore>(cfg.max_bytes, clock);
  }
  // Past the model's TTL (100ms) on the store's clock.
  static void Expire(testing::FakeClock& clock) { clock.Advance(150ms); }
};

struct RedisCache {
  static std::string SkipReason() { return testing::RedisTestUrl() ? "" : testing::kNoRedis; }
  std::unique_ptr<storage::kv::KvStore> Open(const config::CacheConfig& /*cfg*/,
                                             const common::Clock& /*clock*/) {
    client = std::make_unique<storage::redis::RedisClient>(
        storage::redis::ParseRedisUrl(*testing::RedisTestUrl()));
    return std::make_unique<storage::kv::RedisKvStore>(*client,
                                                       "bro-test:" + common::RandomHex(8) + ":");
  }
  // Redis keeps its own time.
  static void Expire(testing::FakeClock& /*clock*/) { std::this_thread::sleep_for(250ms); }
  std::unique_ptr<storage::redis::RedisClient> client;
};

template <class Backend>
class CacheTest : public GatewayFixture {
 protected:
  void SetUp() override {
    if (auto why = Backend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    GatewayFixture::SetUp();
    auto other = Call(keys_->UpsertUser("other@example.com", auth::Role::kDeveloper));
    other_key_ = Call(keys_->CreateKey(auth::KeyHasher(kSecret), other, "t", auth::Role::kDeveloper,
                                       {}, std::nullopt))
                     .secret;
  }
  std::string Catalog() const override {
    return "providers:\n  - {name: local, type: echo}\n"
           "models:\n"
           "  - {name: cached, provider: local, cache: true, cache_ttl: 100ms}\n"
           "  - {name: plain, provider: local}\n";
  }
  std::unique_ptr<storage::kv::KvStore> CacheStore() override {
    return backend_.Open(cfg_.cache, clock_);
  }
  http::Response Send(const std::string& body, const std::string& key,
                      const std::string& extra_headers = "") {
    Client c(port_);
    c.Send(Post("/v1/chat/completions", body, Auth(key) + extra_headers));
    return c.MustRead();
  }
  static std::string Status(const http::Response& r) { return std::string(r["x-bro-cache"]); }

  Backend backend_;
  std::string other_key_;
};

using Backends = ::testing::Types<MemoryCache, RedisCache>;
class BackendNames {
 public:
  template <class T>
  static std::string GetName(int /*index*/) {
    return std::is_same_v<T, MemoryCache> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(CacheTest, Backends, BackendNames);

const std::string kRequest =
    R"({"model":"cached","temperature":1,"messages":[{"role":"user","content":"hi"}]})";
// The same request: keys in another order, other whitespace, 1 written as 1.0.
const std::string kReordered =
    "{ \"messages\": [ {\"content\": \"hi\", \"role\": \"user\"} ],\n  \"temperature\": 1.0, "
    "\"model\": \"cached\" }";

TYPED_TEST(CacheTest, TheSameRequestInAnotherKeyOrderHits) {
  auto first = this->Send(kRequest, this->admin_key_);
  ASSERT_EQ(first.result(), http::Status::ok) << first.body();
  EXPECT_EQ(this->Status(first), "miss");
  auto second = this->Send(kReordered, this->admin_key_);
  ASSERT_EQ(second.result(), http::Status::ok);
  EXPECT_EQ(this->Status(second), "hit");
  EXPECT_EQ(second.body(), first.body()) << "byte for byte the cached answer (same id)";
  const auto rows = this->UsageRows(2);
  ASSERT_EQ(rows.rows.size(), 2U);
  // Both may carry the same millisecond: find the hit by its deployment.
  const bool hit_second = rows.rows.at(1).Text(4) == "cache";
  EXPECT_EQ(rows.rows.at(hit_second ? 1 : 0).Text(4), "cache");
  EXPECT_EQ(rows.rows.at(hit_second ? 0 : 1).Text(4), "local/cached");
  EXPECT_EQ(rows.rows.at(0).Int(5), rows.rows.at(1).Int(5)) << "the tokens the client was told";
  const auto exposition = this->registry_.Render();
  EXPECT_EQ(testing::MetricValue(exposition,
                                 R"(bro_ai_cache_lookups_total{model="cached",result="hit"})"),
            1);
  EXPECT_EQ(testing::MetricValue(exposition,
                                 R"(bro_ai_cache_lookups_total{model="cached",result="miss"})"),
            1);
  EXPECT_EQ(testing::MetricValue(exposition, "bro_ai_cache_hit_ratio"), 0.5);
}

TYPED_TEST(CacheTest, AnotherTenantMisses) {
  this->Send(kRequest, this->admin_key_);
  auto other = this->Send(kRequest, this->other_key_);
  EXPECT_EQ(this->Status(other), "miss");
  EXPECT_EQ(this->Status(this->Send(kRequest, this->other_key_)), "hit");
}

TYPED_TEST(CacheTest, EntriesExpireAfterTheModelsTtl) {
  this->Send(kRequest, this->admin_key_);
  EXPECT_EQ(this->Status(this->Send(kRequest, this->admin_key_)), "hit");
  TypeParam::Expire(this->clock_);
  EXPECT_EQ(this->Status(this->Send(kRequest, this->admin_key_)), "miss");
}

TYPED_TEST(CacheTest, StreamsAreReplayedAsStreams) {
  const std::string stream_request =
      R"({"model":"cached","stream":true,"messages":[{"role":"user","content":"stream me"}]})";
  auto first = this->Send(stream_request, this->admin_key_);
  ASSERT_EQ(first.result(), http::Status::ok);
  EXPECT_EQ(this->Status(first), "miss");
  auto second = this->Send(stream_request, this->admin_key_);
  EXPECT_EQ(this->Status(second), "hit");
  EXPECT_EQ(second[http::Field::content_type], "text/event-stream; charset=utf-8");
  EXPECT_EQ(second.body(), first.body());
  EXPECT_NE(second.body().find("[DONE]"), std::string::npos);
  // A non-streaming request for the same messages is another entry.
  EXPECT_EQ(this->Status(this->Send(
                R"({"model":"cached","messages":[{"role":"user","content":"stream me"}]})",
                this->admin_key_)),
            "miss");
}

TYPED_TEST(CacheTest, TheRequestHeaderOptsInAndOut) {
  const std::string plain = R"({"model":"plain","messages":[{"role":"user","content":"x"}]})";
  EXPECT_EQ(this->Status(this->Send(plain, this->admin_key_)), "") << "model not opted in";
  EXPECT_EQ(this->Status(this->Send(plain, this->admin_key_, "x-bro-cache: on\r\n")), "miss");
  EXPECT_EQ(this->Status(this->Send(plain, this->admin_key_, "x-bro-cache: on\r\n")), "hit");
  this->Send(kRequest, this->admin_key_);
  EXPECT_EQ(this->Status(this->Send(kRequest, this->admin_key_, "x-bro-cache: off\r\n")), "");
  auto bad = this->Send(kRequest, this->admin_key_, "x-bro-cache: maybe\r\n");
  EXPECT_EQ(bad.result(), http::Status::bad_request);
  EXPECT_EQ(this->ErrorOf(bad).at("param").as_string(), "x-bro-cache");
}

// A key created with cache_responses opts every request of its own in; the header still
// opts out, and other keys are not affected.
TYPED_TEST(CacheTest, AKeyOptsInForAllItsRequests) {
  auto owner = this->Call(this->keys_->UpsertUser("cached@example.com", auth::Role::kDeveloper));
  const auto cached_key = this->Call(this->keys_->CreateKey(auth::KeyHasher(this->kSecret), owner,
                                                            "c", auth::Role::kDeveloper, {},
                                                            std::nullopt, /*cache_responses=*/true))
                              .secret;
  const std::string plain = R"({"model":"plain","messages":[{"role":"user","content":"k"}]})";
  EXPECT_EQ(this->Status(this->Send(plain, cached_key)), "miss");
  EXPECT_EQ(this->Status(this->Send(plain, cached_key)), "hit");
  EXPECT_EQ(this->Status(this->Send(plain, cached_key, "x-bro-cache: off\r\n")), "");
  EXPECT_EQ(this->Status(this->Send(plain, this->other_key_)), "") << "a key that did not opt in";
}

TYPED_TEST(CacheTest, ErrorsAreNotCached) {
  const std::string invalid = R"({"model":"cached","messages":[]})";
  EXPECT_EQ(this->Send(invalid, this->admin_key_).result(), http::Status::bad_request);
  EXPECT_EQ(this->Send(invalid, this->admin_key_).result(), http::Status::bad_request);
  EXPECT_EQ(testing::MetricValue(this->registry_.Render(),
                                 R"(bro_ai_cache_lookups_total{model="cached",result="hit"})"),
            std::nullopt);
}

TEST(CanonicalJson, SortsKeysDropsWhitespaceAndNormalizesNumbers) {
  auto canon = [](std::string_view text) { return gateway::CanonicalJson(json::parse(text)); };
  EXPECT_EQ(canon(R"({"b": [1, 2.0, 3e0], "a": {"z": null, "y": true}})"),
            R"({"a":{"y":true,"z":null},"b":[1,2,3]})");
  EXPECT_EQ(canon("0.1"), canon("1e-1"));
  EXPECT_EQ(canon("-0.0"), "0");
  EXPECT_EQ(canon(R"("a\u00e9\"")"), canon(R"("aé\"")"));
  EXPECT_NE(canon(R"({"a":1})"), canon(R"({"a":"1"})"));
  EXPECT_EQ(canon("18446744073709551615"), "18446744073709551615");
}

}  // namespace
}  // namespace bro::api
