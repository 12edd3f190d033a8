// Privilege containment of API keys: a caller authenticated by a key creates and rotates only
// keys that are equal to or narrower than its own key in role, models, expiry and
// cache_responses. Otherwise a key restricted to one model mints an unrestricted one, or rotates
// its user's unrestricted key and receives the successor's secret. People acting in person
// (session, JWT, IAP) keep their user's full role.

#include "auth/api_keys.hpp"
#include "integration/identity_fixture.hpp"
#include "storage/sql/postgres_database.hpp"

namespace bro::api {
namespace {

constexpr const char* kTwoModels = R"(
providers:
  - name: echo
    type: echo
models:
  - name: echo
    provider: echo
  - name: other
    provider: echo
    upstream_model: echo-other
)";

// A developer key for every model, never expiring, without cache_responses, unless told.
struct KeySpec {
  auth::Role role = auth::Role::kDeveloper;
  std::vector<std::string> models;  // empty: every model
  std::optional<std::chrono::system_clock::time_point> expires;
  bool cache_responses = false;

  KeySpec& WithRole(auth::Role r) {
    role = r;
    return *this;
  }
  KeySpec& WithModels(std::vector<std::string> m) {
    models = std::move(m);
    return *this;
  }
  KeySpec& WithExpiry(std::chrono::system_clock::time_point t) {
    expires = t;
    return *this;
  }
  KeySpec& WithCache() {
    cache_responses = true;
    return *this;
  }
};

class KeyContainmentTest : public IdentityFixture {
 protected:
  std::string Catalog() const override { return kTwoModels; }
  bool RequireMfa() const override { return false; }

  // A key made directly in the database, for a user of `user_role`.
  auth::NewKey Key(const std::string& email, auth::Role user_role, const KeySpec& spec) {
    auto user = Run(keys_->UpsertUser(email, user_role));
    return Run(keys_->CreateKey(authenticator_->Hasher(), user, "seed", spec.role, spec.models,
                                spec.expires, spec.cache_responses));
  }

  HttpResult Mint(const std::string& key, const std::string& body) {
    return Browser().Request("POST", base_ + "/api/v1/keys", body, Bearer(key));
  }
  HttpResult Rotate(const std::string& key, const std::string& id) {
    return Browser().Request("POST", base_ + "/api/v1/keys/" + id + "/rotate", "", Bearer(key));
  }
  HttpResult Chat(const std::string& key, const std::string& model) {
    return Browser().Request(
        "POST", base_ + "/v1/chat/completions",
        R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})", Bearer(key));
  }
  // The caller's user's keys, as the API lists them.
  json::array Listed(const std::string& key) {
    auto r = Browser().Request("GET", base_ + "/api/v1/keys", "", Bearer(key));
    EXPECT_EQ(r.status, 200U) << r.body;
    return r.Json().at("data").as_array();
  }
  static const json::object* Find(const json::array& keys, const std::string& id) {
    for (const auto& k : keys) {
      if (k.as_object().at("id").as_string() == id) return &k.as_object();
    }
    return nullptr;
  }
  static std::vector<std::string> Models(const json::object& key) {
    std::vector<std::string> out;
    for (const auto& m : key.at("allowed_models").as_array()) out.emplace_back(m.as_string());
    return out;
  }
  std::vector<identity::AuditRecord> Refusals(const std::string& action) {
    identity::AuditFilter f;
    f.action = action;
    f.outcome = "failure";
    return Run(audit_->Query(f));
  }
};

// A 403 with OpenAI's error object naming the parameter.
void ExpectRefused(const HttpResult& r, std::string_view param) {
  ASSERT_EQ(r.status, 403U) << r.body;
  const auto error = r.Json().at("error").as_object();
  EXPECT_EQ(error.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(error.at("code").as_string(), "insufficient_permissions");
  EXPECT_EQ(error.at("param").as_string(), param) << r.body;
  EXPECT_FALSE(error.at("message").as_string().empty());
}

TEST_F(KeyContainmentTest, RestrictedKeyCannotMintAnUnrestrictedKey) {
  const auto restricted =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo"}));
  ExpectRefused(Mint(restricted.secret, R"({"name":"wide","models":[]})"), "models");
  EXPECT_EQ(Listed(restricted.secret).size(), 1U) << "nothing was created";

  const auto refusals = Refusals("key.create");
  ASSERT_EQ(refusals.size(), 1U);
  EXPECT_EQ(refusals[0].event.reason, "exceeds_calling_key");
  EXPECT_EQ(refusals[0].event.actor_method, "api_key");
  EXPECT_EQ(refusals[0].event.details.at("param").as_string(), "models");
}

TEST_F(KeyContainmentTest, SubsetIsCreatedAndTheNewKeyIsHeldToIt) {
  const auto caller =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo", "other"}));
  ASSERT_EQ(Chat(caller.secret, "other").status, 200U) << "the caller may use both";

  auto r = Mint(caller.secret, R"({"name":"narrow","models":["echo"]})");
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string narrow(r.Json().at("key").as_string());
  EXPECT_EQ(Chat(narrow, "echo").status, 200U);
  r = Chat(narrow, "other");
  EXPECT_EQ(r.status, 404U) << r.body;
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "model_not_found");
}

TEST_F(KeyContainmentTest, OmittedModelsInheritTheCallersList) {
  const auto caller =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo"}));
  auto r = Mint(caller.secret, R"({"name":"inherits"})");
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string id(r.Json().at("id").as_string());
  const std::string secret(r.Json().at("key").as_string());
  const auto keys = Listed(caller.secret);
  const auto* listed = Find(keys, id);
  ASSERT_NE(listed, nullptr);
  EXPECT_EQ(Models(*listed), std::vector<std::string>{"echo"}) << "never every model";
  EXPECT_EQ(Chat(secret, "other").status, 404U);
}

TEST_F(KeyContainmentTest, SupersetOrOtherModelsAreRefused) {
  const auto caller =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo"}));
  ExpectRefused(Mint(caller.secret, R"({"name":"more","models":["echo","other"]})"), "models");
  ExpectRefused(Mint(caller.secret, R"({"name":"else","models":["other"]})"), "models");
  EXPECT_EQ(Listed(caller.secret).size(), 1U);
}

TEST_F(KeyContainmentTest, ExpiryLaterThanTheCallersIsRefusedAndOmittedInherits) {
  const auto caller =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithExpiry(clock_.Now() + 2h));
  ExpectRefused(Mint(caller.secret, R"({"name":"later","expires_in_hours":3})"),
                "expires_in_hours");
  EXPECT_EQ(Mint(caller.secret, R"({"name":"sooner","expires_in_hours":1})").status, 201U);

  auto r = Mint(caller.secret, R"({"name":"inherits"})");
  ASSERT_EQ(r.status, 201U) << r.body;
  const auto listed = Listed(caller.secret);
  const auto* own = Find(listed, caller.id);
  const auto* minted = Find(listed, std::string(r.Json().at("id").as_string()));
  ASSERT_NE(own, nullptr);
  ASSERT_NE(minted, nullptr);
  ASSERT_TRUE(own->at("expires_at").is_string());
  EXPECT_EQ(minted->at("expires_at"), own->at("expires_at")) << "never 'does not expire'";
}

TEST_F(KeyContainmentTest, RoleEscalationIsRefusedAndOmittedRoleIsTheCallers) {
  // An admin's developer key: the user could have admin keys, this key cannot make them.
  const auto caller =
      Key("boss@example.com", auth::Role::kAdmin, KeySpec().WithRole(auth::Role::kDeveloper));
  ExpectRefused(Mint(caller.secret, R"({"name":"up","role":"admin"})"), "role");
  auto r = Mint(caller.secret, R"({"name":"same"})");
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_EQ(r.Json().at("role").as_string(), "developer");
}

TEST_F(KeyContainmentTest, CacheResponsesOnlyFromAKeyThatHasIt) {
  const auto plain = Key("dev@example.com", auth::Role::kDeveloper, KeySpec());
  ExpectRefused(Mint(plain.secret, R"({"name":"cached","cache_responses":true})"),
                "cache_responses");
  const auto cached = Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithCache());
  auto r = Mint(cached.secret, R"({"name":"cached","cache_responses":true})");
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_TRUE(r.Json().at("cache_responses").as_bool());
}

TEST_F(KeyContainmentTest, RestrictedKeyCannotRotateAMorePowerfulKey) {
  const auto wide = Key("dev@example.com", auth::Role::kDeveloper, KeySpec());
  const auto narrow =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo"}));
  ExpectRefused(Rotate(narrow.secret, wide.id), "allowed_models");
  const auto keys = Listed(wide.secret);
  const auto* untouched = Find(keys, wide.id);
  ASSERT_NE(untouched, nullptr);
  EXPECT_TRUE(untouched->at("replaced_by").is_null()) << "no successor was issued";
  EXPECT_EQ(keys.size(), 2U);
  EXPECT_EQ(Refusals("key.rotate").size(), 1U);

  // Other dimensions of the rotated key are compared the same way.
  const auto expiring =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithExpiry(clock_.Now() + 2h));
  ExpectRefused(Rotate(expiring.secret, wide.id), "expires_at");
  const auto cached = Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithCache());
  ExpectRefused(Rotate(wide.secret, cached.id), "cache_responses");
  const auto admin_key =
      Key("boss@example.com", auth::Role::kAdmin, KeySpec().WithRole(auth::Role::kAdmin));
  const auto dev_key =
      Key("boss@example.com", auth::Role::kAdmin, KeySpec().WithRole(auth::Role::kDeveloper));
  ExpectRefused(Rotate(dev_key.secret, admin_key.id), "role");

  // Rotating itself, or a narrower key, stays possible; the successor keeps the old limits.
  auto r = Rotate(narrow.secret, narrow.id);
  ASSERT_EQ(r.status, 201U) << r.body;
  EXPECT_EQ(Chat(std::string(r.Json().at("key").as_string()), "other").status, 404U);
  const auto narrower =
      Key("dev@example.com", auth::Role::kDeveloper, KeySpec().WithModels({"echo"}));
  EXPECT_EQ(Rotate(wide.secret, narrower.id).status, 201U);
}

TEST_F(KeyContainmentTest, UnrestrictedKeysAndSessionsAreUnchanged) {
  // An unrestricted, never-expiring admin key creates anything its role allows, for anyone.
  const auto admin_key = Key("admin@example.com", auth::Role::kAdmin,
                             KeySpec().WithRole(auth::Role::kAdmin).WithCache());
  auto dev = Run(keys_->UpsertUser("dev@example.com", auth::Role::kDeveloper));
  auto r = Mint(admin_key.secret, R"({"name":"for-dev","user_id":")" + dev.id +
                                      R"(","models":["other"],"cache_responses":true})");
  EXPECT_EQ(r.status, 201U) << r.body;
  r = Mint(admin_key.secret, R"({"name":"wide","role":"admin","expires_in_hours":87600})");
  EXPECT_EQ(r.status, 201U) << r.body;

  // A user in a browser session acts with the user's role, whatever their keys are limited to.
  Browser alice;
  ASSERT_EQ(Login(alice, "alice").status, 302U);
  const auto me = alice.Request("GET", base_ + "/api/v1/me").Json();
  const std::string csrf(me.at("csrf_token").as_string());
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"narrow","models":["echo"]})",
                    CsrfHeader(csrf));
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string narrow(r.Json().at("key").as_string());
  r = alice.Request("POST", base_ + "/api/v1/keys", R"({"name":"wide","cache_responses":true})",
                    CsrfHeader(csrf));
  ASSERT_EQ(r.status, 201U) << r.body;
  const std::string wide_id(r.Json().at("id").as_string());
  ExpectRefused(Rotate(narrow, wide_id), "allowed_models");
  r = alice.Request("POST", base_ + "/api/v1/keys/" + wide_id + "/rotate", "", CsrfHeader(csrf));
  EXPECT_EQ(r.status, 201U) << r.body;
}

// The calling key's expiry reaches the Principal from both dialects' shared query.
void ExpectPrincipalCarriesExpiry(storage::Database& db, asio::io_context& ioc) {
  const auto migrations = storage::MigrationsFor(db.Dialect(), storage::EmbeddedMigrations());
  testing::RunTask(ioc, storage::Migrate(db, migrations));
  auth::KeyRepository repo(db);
  const auth::KeyHasher hasher("containment-secret-containment-secret");
  const auto user =
      testing::RunTask(ioc, repo.UpsertUser("dev@example.com", auth::Role::kDeveloper));
  // Millisecond precision is what is stored; a whole number of seconds compares exactly.
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::vector<std::string> all;
  const auto expiring = testing::RunTask(
      ioc, repo.CreateKey(hasher, user, "e", auth::Role::kDeveloper, all, now + 3h));
  const auto forever = testing::RunTask(
      ioc, repo.CreateKey(hasher, user, "f", auth::Role::kDeveloper, all, std::nullopt));
  auto p = testing::RunTask(ioc, repo.FindActive(hasher.Hash(expiring.secret), now));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->key_expires_at);
  EXPECT_EQ(*p->key_expires_at, now + 3h);
  p = testing::RunTask(ioc, repo.FindActive(hasher.Hash(forever.secret), now));
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->key_expires_at);
}

TEST(KeyContainmentStorage, PrincipalCarriesExpirySqlite) {
  testing::TempDir dir;
  asio::io_context ioc;
  storage::SqliteDatabase db((dir.Path() / "bro.db").string(), 2, 5s);
  ExpectPrincipalCarriesExpiry(db, ioc);
}

TEST(KeyContainmentStorage, PrincipalCarriesExpiryPostgres) {
  if (!testing::PostgresAdminUrl()) GTEST_SKIP() << testing::kNoPostgres;
  testing::PostgresTestDatabase pg;
  asio::io_context ioc;
  storage::PostgresDatabase db(ioc.get_executor(), pg.Url(), 2, 5s);
  ExpectPrincipalCarriesExpiry(db, ioc);
}

}  // namespace
}  // namespace bro::api
