// Bearer JWTs of a configured issuer (service-to-service) and Identity-Aware Proxy assertions,
// through the whole stack: ES256 and RS256 keys generated in the test, their JWKS served by a
// loopback http::Server, and the attacks that must be refused.

#include <atomic>

#include "integration/identity_fixture.hpp"
#include "unit/jwt_forge.hpp"

namespace bro::api {
namespace {

using testing::TestKey;

constexpr const char* kIssuer = "https://issuer.test";
constexpr const char* kAudience = "bro-ai-service";
constexpr const char* kIapIssuer = "https://cloud.google.com/iap";
constexpr const char* kIapAudience = "/projects/1234/global/backendServices/5678";
constexpr const char* kChat = R"({"model":"echo","messages":[{"role":"user","content":"hi"}]})";

std::int64_t Epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

class BearerIapTest : public IdentityFixture {
 protected:
  void BeforeStart() override {
    jwks_router_.Add(
        {http::Verb::get, "/jwks", "/jwks", [this](http::Exchange& ex) -> Task<http::Response> {
           ++issuer_fetches_;
           co_return http::MakeJson(http::Status::ok, issuer_key_.Jwks(), ex.Version());
         }});
    jwks_router_.Add({http::Verb::get, "/iap/jwks", "/iap/jwks",
                      [this](http::Exchange& ex) -> Task<http::Response> {
                        co_return http::MakeJson(http::Status::ok, iap_key_.Jwks(), ex.Version());
                      }});
    http::ServerOptions options;
    jwks_server_ =
        std::make_unique<http::Server>(ioc_, options, jwks_router_, log_.Get(), *http_metrics_);
    const auto port = jwks_server_->Listen("127.0.0.1", 0);
    const std::string jwks_base = "http://127.0.0.1:" + std::to_string(port);
    jwks_server_->Start();

    const identity::JwksOptions jwks{std::chrono::hours(1), std::chrono::seconds(30)};
    bearer_ = std::make_unique<identity::JwtVerifier>(
        *fetcher_, jwks_base + "/jwks",
        identity::JwtPolicy{kIssuer, {kAudience}, {identity::JwtAlg::kES256}, 60s}, jwks, clock_);
    gate_->AddBearerIssuer(*bearer_);
    iap_ = std::make_unique<identity::JwtVerifier>(
        *fetcher_, jwks_base + "/iap/jwks",
        identity::JwtPolicy{kIapIssuer, {kIapAudience}, {identity::JwtAlg::kES256}, 60s}, jwks,
        clock_);
    gate_->UseIap(*iap_);
  }

  void TearDown() override {
    jwks_server_->BeginDrain();
    jwks_server_->CloseAll();
    IdentityFixture::TearDown();
  }

  json::object Claims(const std::string& iss, const std::string& aud, const std::string& email) {
    const auto now = clock_.Now();
    return {{"iss", iss},     {"aud", aud},        {"sub", "subject-" + email},
            {"email", email}, {"iat", Epoch(now)}, {"exp", Epoch(now + 10min)}};
  }
  std::string Iap(const std::string& assertion) {
    return "X-Goog-IAP-JWT-Assertion: " + assertion + "\r\n";
  }
  HttpResult Me(const std::string& headers) {
    return Browser().Request("GET", base_ + "/api/v1/me", "", headers);
  }

  TestKey issuer_key_{TestKey::Kind::kEc, "issuer-es-1"};
  TestKey iap_key_{TestKey::Kind::kEc, "iap-es-1"};
  std::atomic<int> issuer_fetches_{0};
  http::Router jwks_router_;
  std::unique_ptr<http::Server> jwks_server_;
  std::unique_ptr<identity::JwtVerifier> bearer_;
  std::unique_ptr<identity::JwtVerifier> iap_;
};

TEST_F(BearerIapTest, ServiceTokenOfAConfiguredIssuerActsAsItsUser) {
  Run(keys_->UpsertUser("svc@example.com", auth::Role::kDeveloper));
  const auto token = issuer_key_.Mint(Claims(kIssuer, kAudience, "svc@example.com"));
  auto r = Me(Bearer(token));
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(r.Json().at("method").as_string(), "jwt");
  EXPECT_EQ(r.Json().at("role").as_string(), "developer");
  EXPECT_EQ(r.Json().at("email").as_string(), "svc@example.com");
  // Not a cookie: no CSRF token is needed to write.
  r = Browser().Request("POST", base_ + "/v1/chat/completions", kChat, Bearer(token));
  EXPECT_EQ(r.status, 200U) << r.body;
}

TEST_F(BearerIapTest, ForgedOrMisdirectedBearerTokensAreRefused) {
  Run(keys_->UpsertUser("svc@example.com", auth::Role::kDeveloper));
  auto deactivated = Run(keys_->UpsertUser("gone@example.com", auth::Role::kDeveloper));
  Run(users_->Update(deactivated.id, std::nullopt, false, clock_.Now()));
  const auto good = Claims(kIssuer, kAudience, "svc@example.com");
  TestKey stranger(TestKey::Kind::kEc, "issuer-es-1");  // same kid, not the issuer's key
  TestKey rsa(TestKey::Kind::kRsa, "issuer-rs-1");
  auto with = [&](const char* name, json::value v) {
    auto c = good;
    c[name] = std::move(v);
    return c;
  };
  const auto now = clock_.Now();
  const auto valid = issuer_key_.Mint(good);
  auto tampered_payload = valid;
  {
    const auto dot1 = valid.find('.');
    const auto dot2 = valid.find('.', dot1 + 1);
    tampered_payload = valid.substr(0, dot1 + 1) +
                       common::Base64Url(json::serialize(with("email", "admin@example.com"))) +
                       valid.substr(dot2);
  }
  auto tampered_signature = valid;
  tampered_signature[tampered_signature.size() - 5] =
      tampered_signature[tampered_signature.size() - 5] == 'A' ? 'B' : 'A';

  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"alg none", testing::MintUnsigned(good, issuer_key_.Kid())},
      {"HS256 under the public key",
       testing::MintHs256(good, issuer_key_.Kid(), issuer_key_.PublicDer())},
      {"signed by another key with the issuer's kid", stranger.Mint(good)},
      {"RS256 where ES256 is pinned", rsa.Mint(good)},
      {"unknown kid", issuer_key_.Mint(good, {{"kid", "no-such-kid"}})},
      {"wrong issuer", issuer_key_.Mint(with("iss", "https://evil.test"))},
      {"wrong audience", issuer_key_.Mint(with("aud", "someone-else"))},
      {"expired", issuer_key_.Mint(with("exp", Epoch(now - 10min)))},
      {"not yet valid", issuer_key_.Mint(with("nbf", Epoch(now + 10min)))},
      {"tampered payload", tampered_payload},
      {"tampered signature", tampered_signature},
      {"unknown user", issuer_key_.Mint(with("email", "nobody@example.com"))},
      {"deactivated user", issuer_key_.Mint(with("email", "gone@example.com"))},
      {"not a JWT", "a.b"},
  };
  for (const auto& [what, token] : attacks) {
    auto r = Me(Bearer(token));
    EXPECT_EQ(r.status, 401U) << what;
    EXPECT_EQ(r.body.find("jwt_"), std::string::npos) << what << ": the reason is not told";
  }
  EXPECT_EQ(Me(Bearer(valid)).status, 200U) << "and the valid one still works";
  // Made-up kids cannot make the gateway hammer the issuer: one fetch, one refetch at most.
  EXPECT_LE(issuer_fetches_.load(), 2);
}

TEST_F(BearerIapTest, IapAssertionSignsInAsAViewerFirst) {
  const auto assertion = iap_key_.Mint(Claims(kIapIssuer, kIapAudience, "iap-user@example.com"));
  auto r = Me(Iap(assertion));
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(r.Json().at("method").as_string(), "iap");
  EXPECT_EQ(r.Json().at("role").as_string(), "viewer") << "auth.iap.default_role";
  auto user = Run(users_->FindByEmail("iap-user@example.com"));
  ASSERT_TRUE(user);
  r = Browser().Request("POST", base_ + "/v1/chat/completions", kChat, Iap(assertion));
  EXPECT_EQ(r.status, 403U) << "a viewer";
}

TEST_F(BearerIapTest, ForgedIapAssertionsAreRefused) {
  const auto good = Claims(kIapIssuer, kIapAudience, "iap-user@example.com");
  auto with = [&](const char* name, json::value v) {
    auto c = good;
    c[name] = std::move(v);
    return c;
  };
  TestKey rsa(TestKey::Kind::kRsa, "iap-es-1");
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"RS256", rsa.Mint(good)},
      {"alg none", testing::MintUnsigned(good, iap_key_.Kid())},
      {"the bearer issuer's key", issuer_key_.Mint(good)},
      {"wrong audience", iap_key_.Mint(with("aud", "/projects/1/global/backendServices/9"))},
      {"wrong issuer", iap_key_.Mint(with("iss", kIssuer))},
      {"expired", iap_key_.Mint(with("exp", Epoch(clock_.Now() - 10min)))},
      {"no email", iap_key_.Mint(with("email", ""))},
  };
  for (const auto& [what, assertion] : attacks) {
    EXPECT_EQ(Me(Iap(assertion)).status, 401U) << what;
  }
  EXPECT_FALSE(Run(users_->FindByEmail("iap-user@example.com"))) << "no user made by a forgery";
}

TEST_F(BearerIapTest, IapWritesFromAnotherOriginAreRefused) {
  const auto assertion = iap_key_.Mint(Claims(kIapIssuer, kIapAudience, "iap-dev@example.com"));
  ASSERT_EQ(Me(Iap(assertion)).status, 200U);
  auto user = Run(users_->FindByEmail("iap-dev@example.com")).value();
  Run(users_->Update(user.id, auth::Role::kDeveloper, std::nullopt, clock_.Now()));
  const std::string body = R"({"name":"from-iap"})";
  auto r = Browser().Request("POST", base_ + "/api/v1/keys", body,
                             Iap(assertion) + "Origin: https://evil.test\r\n");
  EXPECT_EQ(r.status, 403U);
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "csrf_failed");
  r = Browser().Request("POST", base_ + "/api/v1/keys", body,
                        Iap(assertion) + "Origin: http://" + origin_ + "\r\n");
  EXPECT_EQ(r.status, 201U) << r.body;
  r = Browser().Request("POST", base_ + "/api/v1/keys", body, Iap(assertion));
  EXPECT_EQ(r.status, 201U) << "no Origin: not a browser's cross-site write";
}

}  // namespace
}  // namespace bro::api
