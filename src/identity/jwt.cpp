#include "identity/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>

#include "common/random.hpp"

namespace bro::identity {
namespace {

namespace json = boost::json;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr std::size_t kEs256CoordinateBytes = 32;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct MdFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

std::optional<std::string> MemberB64(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return common::Base64UrlDecode(std::string_view(v->as_string()));
}

std::string MemberString(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

std::variant<PublicKey, std::string> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return std::string("key material rejected by OpenSSL");
  }
  PublicKey k;
  k.pkey.reset(raw, PkeyFree());
  return k;
}

std::variant<PublicKey, std::string> RsaKey(const json::object& jwk) {
  auto n = MemberB64(jwk, "n");
  auto e = MemberB64(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return std::string("bad RSA n/e");
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                                                 static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                                                 static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return std::string("bad RSA n/e");
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return std::string("RSA key size not accepted");
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return std::string("cannot build RSA key");
  }
  auto key = FromData("RSA", bld.get());
  if (auto* k = std::get_if<PublicKey>(&key)) k->alg = JwtAlg::kRS256;
  return key;
}

std::variant<PublicKey, std::string> EcKey(const json::object& jwk) {
  if (MemberString(jwk, "crv") != "P-256") return std::string("EC curve not P-256");
  auto x = MemberB64(jwk, "x");
  auto y = MemberB64(jwk, "y");
  if (!x || !y || x->size() != kEs256CoordinateBytes || y->size() != kEs256CoordinateBytes) {
    return std::string("bad EC x/y");
  }
  std::string point = "\x04" + *x + *y;
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return std::string("cannot build EC key");
  }
  auto key = FromData("EC", bld.get());
  if (auto* k = std::get_if<PublicKey>(&key)) {
    // fromdata does not always prove the point lies on the curve; an invalid point must never
    // become a key (invalid-curve attacks).
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, k->pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1)
      return std::string("EC point not on curve");
    k->alg = JwtAlg::kES256;
  }
  return key;
}

// ES256 signatures are r || s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> Es256ToDer(std::string_view raw) {
  if (raw.size() != 2 * kEs256CoordinateBytes) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()),
                        static_cast<int>(kEs256CoordinateBytes), nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + kEs256CoordinateBytes),
                        static_cast<int>(kEs256CoordinateBytes), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool VerifySignature(const PublicKey& key, std::string_view input, std::string_view signature) {
  std::string der;
  if (key.alg == JwtAlg::kES256) {
    auto converted = Es256ToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr,
                                      key.pkey.get(), nullptr) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

// A NumericDate claim: present and a finite number, or nullopt.
std::optional<double> NumericClaim(const json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  double d = 0;
  if (v->is_int64()) {
    d = static_cast<double>(v->as_int64());
  } else if (v->is_uint64()) {
    d = static_cast<double>(v->as_uint64());
  } else if (v->is_double()) {
    d = v->as_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

std::optional<json::object> ParseJsonObject(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  auto v = json::parse(text, ec, {}, opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<JwtAlg> ParseJwtAlg(std::string_view name) {
  if (name == "RS256") return JwtAlg::kRS256;
  if (name == "ES256") return JwtAlg::kES256;
  return std::nullopt;
}

std::string_view JwtAlgName(JwtAlg alg) {
  return alg == JwtAlg::kRS256 ? "RS256" : "ES256";
}

std::string_view JwtErrorName(JwtError e) {
  switch (e) {
    case JwtError::kMalformed:
      return "malformed";
    case JwtError::kAlgNotAllowed:
      return "alg_not_allowed";
    case JwtError::kUnknownKey:
      return "unknown_kid";
    case JwtError::kBadSignature:
      return "bad_signature";
    case JwtError::kWrongIssuer:
      return "wrong_issuer";
    case JwtError::kWrongAudience:
      return "wrong_audience";
    case JwtError::kExpired:
      return "expired";
    case JwtError::kNotYetValid:
      return "not_yet_valid";
    case JwtError::kIssuedInFuture:
      return "issued_in_future";
  }
  return "unknown";
}

std::variant<PublicKey, std::string> ParseJwk(const json::object& jwk) {
  const auto use = MemberString(jwk, "use");
  if (jwk.contains("use") && use != "sig") return std::string("key use is not sig");
  const auto kty = MemberString(jwk, "kty");
  std::variant<PublicKey, std::string> key = std::string("unsupported kty");
  if (kty == "RSA") key = RsaKey(jwk);
  if (kty == "EC") key = EcKey(jwk);
  auto* k = std::get_if<PublicKey>(&key);
  if (k == nullptr) return key;
  if (jwk.contains("alg") && MemberString(jwk, "alg") != JwtAlgName(k->alg)) {
    return std::string("JWK alg does not match its key type");
  }
  k->kid = MemberString(jwk, "kid");
  if (k->kid.size() > 256) return std::string("kid too long");
  return key;
}

std::variant<std::vector<PublicKey>, std::string> ParseJwks(std::string_view document) {
  if (document.size() > kMaxJwksBytes) return std::string("JWKS document too large");
  auto doc = ParseJsonObject(document);
  if (!doc) return std::string("JWKS is not a JSON object");
  const auto* keys = doc->if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return std::string("JWKS has no keys array");
  if (keys->as_array().size() > kMaxJwksKeys) return std::string("JWKS has too many keys");
  std::vector<PublicKey> out;
  for (const auto& v : keys->as_array()) {
    if (!v.is_object()) continue;
    auto key = ParseJwk(v.as_object());
    if (auto* k = std::get_if<PublicKey>(&key)) out.push_back(std::move(*k));
  }
  return out;
}

std::variant<DecodedJwt, JwtError> DecodeJwt(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return JwtError::kMalformed;
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtError::kMalformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::kMalformed;
  }
  auto header_text = common::Base64UrlDecode(token.substr(0, dot1));
  auto payload_text = common::Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = common::Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return JwtError::kMalformed;
  auto header = ParseJsonObject(*header_text);
  auto claims = ParseJsonObject(*payload_text);
  if (!header || !claims) return JwtError::kMalformed;
  // Extensions we do not implement must not be silently ignored (RFC 7515 4.1.11).
  if (header->contains("crit")) return JwtError::kMalformed;
  DecodedJwt out;
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return JwtError::kMalformed;
  out.alg = std::string(alg->as_string());
  out.kid = MemberString(*header, "kid");
  out.header = std::move(*header);
  out.claims = std::move(*claims);
  out.signing_input = std::string(token.substr(0, dot2));
  out.signature = std::move(*signature);
  return out;
}

std::variant<json::object, JwtError> VerifyJwt(const DecodedJwt& token,
                                               const std::vector<PublicKey>& keys,
                                               const JwtPolicy& policy,
                                               std::chrono::system_clock::time_point now) {
  // The header only gets to say which of our algorithms it claims; "none", HS256 (the RSA public
  // key as an HMAC secret) and anything unconfigured stop here.
  const auto alg = ParseJwtAlg(token.alg);
  if (!alg || std::find(policy.algorithms.begin(), policy.algorithms.end(), *alg) ==
                  policy.algorithms.end()) {
    return JwtError::kAlgNotAllowed;
  }
  const PublicKey* key = nullptr;
  if (!token.kid.empty()) {
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const PublicKey& k) { return k.kid == token.kid; });
    if (it == keys.end()) return JwtError::kUnknownKey;
    key = &*it;
  } else {
    const PublicKey* only = nullptr;
    int candidates = 0;
    for (const auto& k : keys) {
      if (k.alg == *alg) {
        only = &k;
        ++candidates;
      }
    }
    if (candidates != 1) return JwtError::kUnknownKey;
    key = only;
  }
  if (key->alg != *alg) return JwtError::kAlgNotAllowed;
  if (!VerifySignature(*key, token.signing_input, token.signature)) return JwtError::kBadSignature;

  const auto& c = token.claims;
  if (ClaimString(c, "iss") != policy.issuer || policy.issuer.empty()) {
    return JwtError::kWrongIssuer;
  }
  const auto aud = ClaimStrings(c, "aud");
  const bool aud_ok = std::any_of(aud.begin(), aud.end(), [&](const std::string& a) {
    return std::find(policy.audiences.begin(), policy.audiences.end(), a) != policy.audiences.end();
  });
  if (!aud_ok) return JwtError::kWrongAudience;
  const double t =
      std::chrono::duration<double>(now.time_since_epoch()).count();  // seconds since epoch
  const double skew = static_cast<double>(policy.skew.count());
  const auto exp = NumericClaim(c, "exp");
  if (!exp || t > *exp + skew) return JwtError::kExpired;
  if (c.contains("nbf")) {
    const auto nbf = NumericClaim(c, "nbf");
    if (!nbf || t + skew < *nbf) return JwtError::kNotYetValid;
  }
  if (c.contains("iat")) {
    const auto iat = NumericClaim(c, "iat");
    if (!iat || t + skew < *iat) return JwtError::kIssuedInFuture;
  }
  return c;
}

std::string ClaimString(const json::object& claims, std::string_view name) {
  return MemberString(claims, name);
}

std::vector<std::string> ClaimStrings(const json::object& claims, std::string_view name) {
  std::vector<std::string> out;
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
  } else if (v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (e.is_string()) out.emplace_back(e.as_string());
    }
  }
  return out;
}

}  // namespace bro::identity
