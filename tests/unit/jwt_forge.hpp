#pragma once

// Test-only token minting: RSA and P-256 keys generated in the test with OpenSSL, their JWKs,
// and JWTs signed (or deliberately mis-signed) with them. Shared by unit and integration tests.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/random.hpp"

namespace bro::testing {

class TestKey {
 public:
  enum class Kind { kRsa, kEc };

  TestKey(Kind kind, std::string kid) : kind_(kind), kid_(std::move(kid)) {
    EVP_PKEY* raw = kind == Kind::kRsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (raw == nullptr) throw std::runtime_error("key generation failed");
    pkey_.reset(raw, &EVP_PKEY_free);
  }
  const std::string& Kid() const { return kid_; }
  std::string Alg() const { return kind_ == Kind::kRsa ? "RS256" : "ES256"; }

  boost::json::object Jwk() const {
    boost::json::object o{{"kid", kid_}, {"use", "sig"}, {"alg", Alg()}};
    if (kind_ == Kind::kRsa) {
      o["kty"] = "RSA";
      o["n"] = common::Base64Url(Bn(OSSL_PKEY_PARAM_RSA_N));
      o["e"] = common::Base64Url(Bn(OSSL_PKEY_PARAM_RSA_E));
    } else {
      o["kty"] = "EC";
      o["crv"] = "P-256";
      o["x"] = common::Base64Url(Pad32(Bn(OSSL_PKEY_PARAM_EC_PUB_X)));
      o["y"] = common::Base64Url(Pad32(Bn(OSSL_PKEY_PARAM_EC_PUB_Y)));
    }
    return o;
  }
  std::string Jwks() const {
    return boost::json::serialize(boost::json::object{{"keys", boost::json::array{Jwk()}}});
  }
  // The public key as DER SubjectPublicKeyInfo: what an attacker would use as an HMAC secret.
  std::string PublicDer() const {
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(pkey_.get(), &der);
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
  }

  // Signs header.payload with this key; ES256 as raw r || s.
  std::string Sign(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t len = 0;
    if (EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey_.get(),
                              nullptr) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("sign init failed");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("sign failed");
    }
    sig.resize(len);
    if (kind_ == Kind::kRsa) return sig;
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())), &ECDSA_SIG_free);
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data() + 32), 32);
    return raw;
  }

  // A complete JWT with this key's alg and kid unless the header overrides them.
  std::string Mint(const boost::json::object& claims, boost::json::object header = {}) const {
    if (!header.contains("alg")) header["alg"] = Alg();
    if (!header.contains("kid")) header["kid"] = kid_;
    if (!header.contains("typ")) header["typ"] = "JWT";
    const std::string input = common::Base64Url(boost::json::serialize(header)) + "." +
                              common::Base64Url(boost::json::serialize(claims));
    return input + "." + common::Base64Url(Sign(input));
  }

 private:
  std::string Bn(const char* name) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), name, &bn) != 1) throw std::runtime_error(name);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }
  static std::string Pad32(std::string s) { return std::string(32 - s.size(), '\0') + s; }

  Kind kind_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// An unsigned token (alg none) or one "signed" with HMAC-SHA-256 under `secret`.
inline std::string MintUnsigned(const boost::json::object& claims, const std::string& kid) {
  boost::json::object header{{"alg", "none"}, {"kid", kid}, {"typ", "JWT"}};
  return common::Base64Url(boost::json::serialize(header)) + "." +
         common::Base64Url(boost::json::serialize(claims)) + ".";
}

inline std::string MintHs256(const boost::json::object& claims, const std::string& kid,
                             const std::string& secret) {
  boost::json::object header{{"alg", "HS256"}, {"kid", kid}, {"typ", "JWT"}};
  const std::string input = common::Base64Url(boost::json::serialize(header)) + "." +
                            common::Base64Url(boost::json::serialize(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + common::Base64Url(std::string(reinterpret_cast<char*>(mac), len));
}

}  // namespace bro::testing
