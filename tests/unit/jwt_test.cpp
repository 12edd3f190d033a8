#include "identity/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "common/random.hpp"
#include "jwt_forge.hpp"

namespace bro::identity {
namespace {

namespace json = boost::json;
using testing::TestKey;
using namespace std::chrono_literals;

constexpr const char* kIssuer = "https://issuer.test";
const auto kNow = std::chrono::system_clock::from_time_t(1'800'000'000);
constexpr std::int64_t kNowSec = 1'800'000'000;

const TestKey& Rsa() {
  static const TestKey k(TestKey::Kind::kRsa, "rsa-1");
  return k;
}
const TestKey& Ec() {
  static const TestKey k(TestKey::Kind::kEc, "ec-1");
  return k;
}

std::vector<PublicKey> Keys() {
  std::vector<PublicKey> out;
  for (const auto* k : {&Rsa(), &Ec()}) {
    auto parsed = ParseJwks(k->Jwks());
    auto& keys = std::get<std::vector<PublicKey>>(parsed);
    out.insert(out.end(), keys.begin(), keys.end());
  }
  return out;
}

JwtPolicy Policy() {
  return {kIssuer, {"client-1"}, {JwtAlg::kRS256, JwtAlg::kES256}, 60s};
}

json::object Claims() {
  return {{"iss", kIssuer},          {"aud", "client-1"},   {"sub", "u1"},
          {"exp", kNowSec + 300},    {"iat", kNowSec - 10}, {"nbf", kNowSec - 10},
          {"email", "a@example.com"}};
}

std::variant<json::object, JwtError> Verify(const std::string& token,
                                            const JwtPolicy& policy = Policy()) {
  auto decoded = DecodeJwt(token);
  if (auto* e = std::get_if<JwtError>(&decoded)) return *e;
  return VerifyJwt(std::get<DecodedJwt>(decoded), Keys(), policy, kNow);
}

void ExpectRejected(const std::string& token, JwtError expected,
                    const JwtPolicy& policy = Policy()) {
  auto r = Verify(token, policy);
  ASSERT_TRUE(std::holds_alternative<JwtError>(r)) << "accepted: " << token;
  EXPECT_EQ(JwtErrorName(std::get<JwtError>(r)), JwtErrorName(expected));
}

TEST(Jwt, ValidRs256AndEs256TokensVerify) {
  for (const auto* k : {&Rsa(), &Ec()}) {
    auto r = Verify(k->Mint(Claims()));
    ASSERT_TRUE(std::holds_alternative<json::object>(r))
        << k->Alg() << " " << JwtErrorName(std::get<JwtError>(r));
    EXPECT_EQ(ClaimString(std::get<json::object>(r), "email"), "a@example.com");
  }
}

TEST(JwtAttack, AlgNoneIsRejected) {
  ExpectRejected(testing::MintUnsigned(Claims(), "rsa-1"), JwtError::kAlgNotAllowed);
  // With a non-empty garbage signature too: still no algorithm of ours.
  ExpectRejected(testing::MintUnsigned(Claims(), "rsa-1") + "AAAA", JwtError::kAlgNotAllowed);
}

TEST(JwtAttack, Hs256SignedWithTheRsaPublicKeyIsRejected) {
  ExpectRejected(testing::MintHs256(Claims(), "rsa-1", Rsa().PublicDer()),
                 JwtError::kAlgNotAllowed);
  // Even the JWK's own serialized text as the HMAC secret.
  ExpectRejected(testing::MintHs256(Claims(), "rsa-1", json::serialize(Rsa().Jwk())),
                 JwtError::kAlgNotAllowed);
}

TEST(JwtAttack, HeaderAlgThatDisagreesWithTheKeyIsRejected) {
  // An RSA key named by an ES256 header: the key decides, not the token.
  ExpectRejected(Ec().Mint(Claims(), {{"kid", "rsa-1"}}), JwtError::kAlgNotAllowed);
}

TEST(JwtAttack, AlgorithmNotConfiguredForTheIssuerIsRejected) {
  auto policy = Policy();
  policy.algorithms = {JwtAlg::kRS256};
  ExpectRejected(Ec().Mint(Claims()), JwtError::kAlgNotAllowed, policy);
}

TEST(JwtAttack, WrongIssuerIsRejected) {
  auto c = Claims();
  c["iss"] = "https://evil.test";
  ExpectRejected(Rsa().Mint(c), JwtError::kWrongIssuer);
  c["iss"] = "https://issuer.test/";
  ExpectRejected(Rsa().Mint(c), JwtError::kWrongIssuer);
  c.erase("iss");
  ExpectRejected(Rsa().Mint(c), JwtError::kWrongIssuer);
}

TEST(JwtAttack, WrongAudienceIsRejected) {
  auto c = Claims();
  c["aud"] = "client-2";
  ExpectRejected(Rsa().Mint(c), JwtError::kWrongAudience);
  c["aud"] = json::array{"client-2", "client-3"};
  ExpectRejected(Rsa().Mint(c), JwtError::kWrongAudience);
  c["aud"] = json::array{"client-2", "client-1"};
  EXPECT_TRUE(std::holds_alternative<json::object>(Verify(Rsa().Mint(c))));
}

TEST(JwtAttack, ExpiredIsRejectedBeyondTheSkew) {
  auto c = Claims();
  c["exp"] = kNowSec - 30;  // within 60 s skew
  EXPECT_TRUE(std::holds_alternative<json::object>(Verify(Rsa().Mint(c))));
  c["exp"] = kNowSec - 61;
  ExpectRejected(Rsa().Mint(c), JwtError::kExpired);
  c.erase("exp");
  ExpectRejected(Rsa().Mint(c), JwtError::kExpired);
  c["exp"] = "never";
  ExpectRejected(Rsa().Mint(c), JwtError::kExpired);
}

TEST(JwtAttack, NbfInTheFutureIsRejected) {
  auto c = Claims();
  c["nbf"] = kNowSec + 61;
  ExpectRejected(Rsa().Mint(c), JwtError::kNotYetValid);
  c["nbf"] = kNowSec + 30;
  EXPECT_TRUE(std::holds_alternative<json::object>(Verify(Rsa().Mint(c))));
  c.erase("nbf");
  c["iat"] = kNowSec + 3600;
  ExpectRejected(Rsa().Mint(c), JwtError::kIssuedInFuture);
}

TEST(JwtAttack, UnknownKidIsRejected) {
  const TestKey stranger(TestKey::Kind::kRsa, "stranger");
  ExpectRejected(stranger.Mint(Claims()), JwtError::kUnknownKey);
  // A stranger's key claiming a known kid fails the signature.
  ExpectRejected(stranger.Mint(Claims(), {{"kid", "rsa-1"}}), JwtError::kBadSignature);
}

TEST(JwtAttack, TamperedPayloadIsRejected) {
  const auto token = Rsa().Mint(Claims());
  auto c = Claims();
  c["email"] = "admin@example.com";
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const auto forged =
      token.substr(0, dot1 + 1) + common::Base64Url(json::serialize(c)) + token.substr(dot2);
  ExpectRejected(forged, JwtError::kBadSignature);
  for (const auto* k : {&Rsa(), &Ec()}) {
    auto t = k->Mint(Claims());
    const auto header_end = t.find('.');
    // Flip one payload character within the alphabet.
    t[header_end + 5] = t[header_end + 5] == 'A' ? 'B' : 'A';
    auto r = Verify(t);
    EXPECT_TRUE(std::holds_alternative<JwtError>(r)) << k->Alg();
  }
}

TEST(JwtAttack, TamperedSignatureIsRejected) {
  for (const auto* k : {&Rsa(), &Ec()}) {
    auto t = k->Mint(Claims());
    const auto sig = t.rfind('.') + 1;
    t[sig + 3] = t[sig + 3] == 'A' ? 'B' : 'A';
    ExpectRejected(t, JwtError::kBadSignature);
    // Truncated signature.
    const auto whole = k->Mint(Claims());
    const auto dot = whole.rfind('.');
    auto sig_bytes = common::Base64UrlDecode(whole.substr(dot + 1)).value();
    sig_bytes.resize(sig_bytes.size() - 3);
    ExpectRejected(whole.substr(0, dot + 1) + common::Base64Url(sig_bytes),
                   JwtError::kBadSignature);
  }
  // An ES256 signature in DER (as OpenSSL emits it) rather than r||s.
  auto t = Ec().Mint(Claims());
  t = t.substr(0, t.rfind('.') + 1) + common::Base64Url(std::string(72, '\x30'));
  ExpectRejected(t, JwtError::kBadSignature);
}

TEST(JwtAttack, MalformedTokensAreRejected) {
  const auto good = Rsa().Mint(Claims());
  ExpectRejected("", JwtError::kMalformed);
  ExpectRejected("a.b", JwtError::kMalformed);
  ExpectRejected(good + ".x", JwtError::kMalformed);
  ExpectRejected(std::string(kMaxTokenBytes + 1, 'a'), JwtError::kMalformed);
  // Padding and the standard alphabet are not base64url.
  ExpectRejected(good + "=", JwtError::kMalformed);
  auto plus = good;
  plus[plus.rfind('.') + 2] = '+';
  ExpectRejected(plus, JwtError::kMalformed);
  // `crit` extensions are refused.
  ExpectRejected(Rsa().Mint(Claims(), {{"crit", json::array{"exp"}}}), JwtError::kMalformed);
  // Payload not an object.
  const auto header = good.substr(0, good.find('.'));
  ExpectRejected(header + "." + common::Base64Url("[1,2]") + ".AAAA", JwtError::kMalformed);
}

TEST(Base64Url, StrictDecoding) {
  EXPECT_EQ(common::Base64UrlDecode("aGk").value(), "hi");
  EXPECT_EQ(common::Base64UrlDecode("").value(), "");
  EXPECT_FALSE(common::Base64UrlDecode("aGk="));
  EXPECT_FALSE(common::Base64UrlDecode("aGl"));  // non-zero trailing bits
  EXPECT_FALSE(common::Base64UrlDecode("a"));
  EXPECT_FALSE(common::Base64UrlDecode("a b"));
  for (int i = 0; i < 50; ++i) {
    const auto bytes = common::SecureRandomBytes(static_cast<std::size_t>(i));
    EXPECT_EQ(common::Base64UrlDecode(common::Base64Url(bytes)).value(), bytes);
  }
}

TEST(Jwks, HostileDocumentsAreRefusedOrSkipped) {
  EXPECT_TRUE(std::holds_alternative<std::string>(ParseJwks("not json")));
  EXPECT_TRUE(std::holds_alternative<std::string>(ParseJwks("{}")));
  EXPECT_TRUE(std::holds_alternative<std::string>(ParseJwks(std::string(kMaxJwksBytes + 1, ' '))));
  json::array many;
  for (std::size_t i = 0; i <= kMaxJwksKeys; ++i) many.push_back(Rsa().Jwk());
  EXPECT_TRUE(std::holds_alternative<std::string>(
      ParseJwks(json::serialize(json::object{{"keys", many}}))));

  auto weak = Rsa().Jwk();
  weak["n"] = common::Base64Url(std::string(128, '\xff'));  // 1024 bits
  auto hmac = json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "h"}};
  auto enc = Rsa().Jwk();
  enc["use"] = "enc";
  auto mismatched = Ec().Jwk();
  mismatched["alg"] = "RS256";
  auto off_curve = Ec().Jwk();
  off_curve["y"] = common::Base64Url(std::string(32, '\x01'));
  auto p384 = Ec().Jwk();
  p384["crv"] = "P-384";
  for (const auto& bad : {weak, hmac, enc, mismatched, off_curve, p384}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(ParseJwk(bad))) << json::serialize(bad);
  }
  auto parsed = ParseJwks(json::serialize(
      json::object{{"keys", json::array{weak, hmac, Ec().Jwk(), enc, off_curve, Rsa().Jwk()}}}));
  ASSERT_TRUE(std::holds_alternative<std::vector<PublicKey>>(parsed));
  EXPECT_EQ(std::get<std::vector<PublicKey>>(parsed).size(), 2U);
}

TEST(Jwt, TokenWithoutKidNeedsExactlyOneCandidateKey) {
  json::object header{{"kid", nullptr}};
  auto t = Ec().Mint(Claims(), header);
  // kid:null is not a string -> treated as absent; one ES256 key exists.
  EXPECT_TRUE(std::holds_alternative<json::object>(Verify(t)));
}

}  // namespace
}  // namespace bro::identity
