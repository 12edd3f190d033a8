// The session contract: one suite, run on MemoryKvStore always and on RedisKvStore whenever
// BRO_TEST_REDIS_URL is set. Expiry is decided by SessionStore with the injected clock, so it
// is the same on both backends (Redis's own TTLs are only the clean-up behind it).

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>

#include "common/random.hpp"
#include "identity/sessions.hpp"
#include "integration/support.hpp"
#include "storage/kv/memory_kv_store.hpp"
#include "storage/kv/redis_kv_store.hpp"

namespace bro::identity {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using testing::RunTask;

struct MemorySessions {
  static std::string SkipReason() { return {}; }
  storage::kv::KvStore& Open(const common::Clock& clock) {
    store.emplace(1 << 20, clock);
    return *store;
  }
  std::optional<storage::kv::MemoryKvStore> store;
};

struct RedisSessions {
  static std::string SkipReason() { return testing::RedisTestUrl() ? "" : testing::kNoRedis; }
  storage::kv::KvStore& Open(const common::Clock&) {
    client.emplace(storage::redis::ParseRedisUrl(*testing::RedisTestUrl()));
    store.emplace(*client, "bro-test-sessions:" + common::RandomHex(8) + ":");
    return *store;
  }
  std::optional<storage::redis::RedisClient> client;
  std::optional<storage::kv::RedisKvStore> store;
};

template <class Backend>
class SessionContract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Backend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    kv_ = &backend_.Open(clock_);
    sessions_.emplace(*kv_, SessionOptions{8h, 1h}, clock_);
  }
  template <class T>
  T Run(asio::awaitable<T> task) {
    return RunTask(ioc_, std::move(task));
  }
  SessionStore::Created Create(const std::string& user = "u1") {
    SessionData d;
    d.user_id = user;
    d.email = user + "@example.com";
    d.amr = {"pwd", "otp"};
    d.mfa = true;
    return Run(sessions_->Create(d));
  }
  std::optional<SessionData> Find(const std::string& id) { return Run(sessions_->Find(id)); }

  asio::io_context ioc_;
  testing::FakeClock clock_;
  Backend backend_;
  storage::kv::KvStore* kv_ = nullptr;
  std::optional<SessionStore> sessions_;
};

using Backends = ::testing::Types<MemorySessions, RedisSessions>;
class BackendNames {
 public:
  template <class T>
  static std::string GetName(int /*index*/) {
    return std::is_same_v<T, MemorySessions> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(SessionContract, Backends, BackendNames);

TYPED_TEST(SessionContract, CreatedSessionIsFoundWithItsData) {
  auto s = this->Create();
  EXPECT_TRUE(SessionStore::LooksLikeId(s.id));
  auto found = this->Find(s.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->email, "u1@example.com");
  EXPECT_TRUE(found->mfa);
  EXPECT_EQ(found->amr, (std::vector<std::string>{"pwd", "otp"}));
  EXPECT_EQ(found->csrf_token, s.data.csrf_token);
  EXPECT_FALSE(found->csrf_token.empty());
}

TYPED_TEST(SessionContract, IdsAndCsrfTokensAreNeverReused) {
  auto a = this->Create();
  auto b = this->Create();
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.data.csrf_token, b.data.csrf_token);
}

TYPED_TEST(SessionContract, TheStoreNeverHoldsTheIdItself) {
  auto s = this->Create();
  EXPECT_FALSE(this->Run(this->kv_->Get("session:" + s.id)));
}

TYPED_TEST(SessionContract, DestroyEndsTheSession) {
  auto s = this->Create();
  this->Run(this->sessions_->Destroy(s.id));
  EXPECT_FALSE(this->Find(s.id));
  this->Run(this->sessions_->Destroy(s.id));  // twice is harmless
}

TYPED_TEST(SessionContract, IdleTimeoutEndsAnUnusedSession) {
  auto s = this->Create();
  this->clock_.Advance(59min);
  EXPECT_TRUE(this->Find(s.id)) << "used at 59 min: the idle clock restarts";
  this->clock_.Advance(59min);
  EXPECT_TRUE(this->Find(s.id)) << "118 min old, idle for 59 min";
  this->clock_.Advance(61min);
  EXPECT_FALSE(this->Find(s.id)) << "idle for 61 min";
}

TYPED_TEST(SessionContract, AbsoluteExpiryEndsEvenAnActiveSession) {
  auto s = this->Create();
  for (int i = 0; i < 9; ++i) {
    this->clock_.Advance(50min);
    ASSERT_TRUE(this->Find(s.id)) << (i + 1) * 50 << " min";
  }
  this->clock_.Advance(31min);  // 8 h 1 min
  EXPECT_FALSE(this->Find(s.id));
}

TYPED_TEST(SessionContract, HostileIdsFindNothing) {
  this->Create();
  for (const std::string& bad :
       {std::string(), std::string("x"), std::string(43, '*'), std::string(10000, 'a'),
        std::string("../../etc/passwd"), std::string(42, 'A') + '\n', std::string(43, '\0')}) {
    EXPECT_FALSE(this->Find(bad)) << bad.size();
    this->Run(this->sessions_->Destroy(bad));
  }
}

TYPED_TEST(SessionContract, ACorruptRecordIsNoSession) {
  auto s = this->Create();
  // The record lives under the SHA-256 of the id; garbage there (another writer, a version
  // skew) must read as no session, not as a crash or a half-filled one.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(s.id.data(), s.id.size(), digest, &len, EVP_sha256(), nullptr), 1);
  const auto key =
      "session:" + common::HexEncode(std::string_view(reinterpret_cast<char*>(digest), len));
  ASSERT_TRUE(this->Run(this->kv_->Get(key))) << "the record key is where the store says";
  for (const std::string& junk :
       {std::string("not json"), std::string(R"({"user_id":1})"), std::string("[]"),
        std::string(R"({"user_id":"u","email":"e","csrf":"c","created":"x","mfa":true})"),
        std::string(20000, '{')}) {
    this->Run(this->kv_->Set(key, junk, std::chrono::milliseconds(60000)));
    EXPECT_FALSE(this->Find(s.id)) << junk.substr(0, 40);
  }
}

}  // namespace
}  // namespace bro::identity
