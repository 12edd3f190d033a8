#include "auth/api_keys.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace bro::auth {
namespace {

TEST(KeyHasher, GeneratedKeysLookLikeKeysAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto key = KeyHasher::Generate();
    EXPECT_TRUE(key.starts_with("sk-bro-")) << key;
    EXPECT_EQ(key.size(), 7U + 43U) << "256 random bits in base64url";
    EXPECT_TRUE(KeyHasher::LooksLikeKey(key)) << key;
    EXPECT_TRUE(seen.insert(key).second) << "duplicate key";
  }
}

TEST(KeyHasher, PrefixIsTheVisibleStart) {
  const auto key = KeyHasher::Generate();
  EXPECT_EQ(KeyHasher::PrefixOf(key), key.substr(0, 12));
  EXPECT_EQ(KeyHasher::PrefixOf("short"), "short");
}

TEST(KeyHasher, HashIsKeyedHmacSha256) {
  KeyHasher a("secret-a-secret-a-secret-a-secret-a");
  KeyHasher b("secret-b-secret-b-secret-b-secret-b");
  const auto key = KeyHasher::Generate();
  EXPECT_EQ(a.Hash(key), a.Hash(key));
  EXPECT_NE(a.Hash(key), b.Hash(key)) << "the server secret keys the hash";
  EXPECT_EQ(a.Hash(key).size(), 64U);
  EXPECT_EQ(a.Hash(key).find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a.Hash(key).find(key.substr(7)), std::string::npos);
  // RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?").
  EXPECT_EQ(KeyHasher("Jefe").Hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(KeyHasher, LooksLikeKeyRejectsNearMisses) {
  const auto key = KeyHasher::Generate();
  EXPECT_FALSE(KeyHasher::LooksLikeKey(""));
  EXPECT_FALSE(KeyHasher::LooksLikeKey("sk-bro-"));
  EXPECT_FALSE(KeyHasher::LooksLikeKey(key.substr(0, key.size() - 1)));
  EXPECT_FALSE(KeyHasher::LooksLikeKey(key + "A"));
  EXPECT_FALSE(KeyHasher::LooksLikeKey("sk-xxx-" + key.substr(7)));
  std::string bad = key;
  bad[20] = '+';
  EXPECT_FALSE(KeyHasher::LooksLikeKey(bad));
  bad[20] = '\xC3';
  EXPECT_FALSE(KeyHasher::LooksLikeKey(bad));
}

TEST(Roles, ParseAndName) {
  for (auto r : {Role::kAdmin, Role::kDeveloper, Role::kViewer})
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_FALSE(ParseRole("root"));
  EXPECT_FALSE(ParseRole("Admin"));
  EXPECT_FALSE(ParseRole(""));
}

TEST(Principal, MayUseModel) {
  Principal p;
  EXPECT_TRUE(p.MayUseModel("anything")) << "no list: every model";
  p.allowed_models = {"a", "b"};
  EXPECT_TRUE(p.MayUseModel("a"));
  EXPECT_FALSE(p.MayUseModel("c"));
  EXPECT_FALSE(p.MayUseModel(""));
}

TEST(KeyScope, EqualOrNarrowerInEveryDimensionIsWithin) {
  using namespace std::chrono_literals;
  const auto t = std::chrono::system_clock::time_point{} + 1000h;
  const KeyScope held{Role::kDeveloper, {"a", "b"}, t, true};
  EXPECT_FALSE(Exceeds(held, held));
  EXPECT_FALSE(Exceeds({Role::kViewer, {"b"}, t - 1h, false}, held));
  EXPECT_FALSE(Exceeds({Role::kDeveloper, {"a"}, t, false}, KeyScope{Role::kAdmin, {}, {}, false}))
      << "an unrestricted, never-expiring caller";
}

TEST(KeyScope, WiderInAnyDimensionIsNamed) {
  using namespace std::chrono_literals;
  const auto t = std::chrono::system_clock::time_point{} + 1000h;
  const KeyScope held{Role::kDeveloper, {"a", "b"}, t, false};
  EXPECT_EQ(Exceeds({Role::kAdmin, {"a"}, t, false}, held), ScopeExcess::kRole);
  EXPECT_EQ(Exceeds({Role::kDeveloper, {}, t, false}, held), ScopeExcess::kModels)
      << "no list is every model";
  EXPECT_EQ(Exceeds({Role::kDeveloper, {"a", "c"}, t, false}, held), ScopeExcess::kModels);
  EXPECT_EQ(Exceeds({Role::kDeveloper, {"a"}, t + 1ms, false}, held), ScopeExcess::kExpiry);
  EXPECT_EQ(Exceeds({Role::kDeveloper, {"a"}, std::nullopt, false}, held), ScopeExcess::kExpiry)
      << "never expiring outlives any expiry";
  EXPECT_EQ(Exceeds({Role::kDeveloper, {"a"}, t, true}, held), ScopeExcess::kCacheResponses);
}

TEST(KeyScope, StoredKeyScopeReadsItsExpiryAndCapsItsRole) {
  KeyInfo k;
  k.role = Role::kAdmin;
  k.allowed_models = {"a"};
  k.expires_at = "2026-11-25T17:45:55.123Z";
  k.cache_responses = true;
  const auto s = ScopeOf(k, Role::kDeveloper);
  EXPECT_EQ(s.role, Role::kDeveloper) << "a key never exceeds its owner";
  EXPECT_EQ(s.models, std::vector<std::string>{"a"});
  ASSERT_TRUE(s.expires_at);
  EXPECT_EQ(common::FormatIso8601(*s.expires_at), *k.expires_at);
  EXPECT_TRUE(s.cache_responses);
  for (const char* bad : {"2026-11-25", "2026-13-01T00:00:00.000Z", "2026-02-30T00:00:00.000Z",
                          "2026-11-25T17:45:55.123", " 2026-11-25T17:45:55.123Z"}) {
    k.expires_at = bad;
    EXPECT_FALSE(ScopeOf(k, Role::kAdmin).expires_at) << bad << ": read as the widest, never";
  }
}

}  // namespace
}  // namespace bro::auth
