#include "identity/oidc.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "common/random.hpp"
#include "identity/jwt.hpp"

namespace bro::identity {
namespace {

namespace json = boost::json;

constexpr std::size_t kRandomBytes = 32;
constexpr std::size_t kMaxReturnPath = 2048;
constexpr std::size_t kMaxStateValue = 4096;

std::string Sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string Str(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Origin(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return {};
  return std::string(u->scheme()) + "://" + std::string(u->encoded_authority());
}

// https, or http on the issuer's own origin (a loopback test issuer).
bool AcceptableEndpoint(const std::string& url, const std::string& issuer) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->has_userinfo() || u->encoded_host().empty()) return false;
  if (u->scheme() == "https") return true;
  return u->scheme() == "http" && Origin(url) == Origin(issuer);
}

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool EmailVerified(const json::object& claims) {
  const auto* v = claims.if_contains("email_verified");
  if (v == nullptr) return false;
  if (v->is_bool()) return v->as_bool();
  return v->is_string() && v->as_string() == "true";
}

std::string StateValue(const std::string& nonce, const std::string& verifier,
                       const std::string& return_to, const std::string& binding_hash) {
  return json::serialize(json::object{{"nonce", nonce},
                                      {"verifier", verifier},
                                      {"return_to", return_to},
                                      {"binding", binding_hash}});
}

std::string AuthorizationUrl(const Discovery& d, const OidcOptions& o, const std::string& state,
                             const std::string& nonce, const std::string& challenge) {
  std::string url = d.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + FormEncode(o.client_id) +
         "&redirect_uri=" + FormEncode(o.redirect_uri) + "&scope=" + FormEncode(o.scopes) +
         "&state=" + state + "&nonce=" + nonce + "&code_challenge=" + challenge +
         "&code_challenge_method=S256";
  return url;
}

std::string TokenForm(const OidcOptions& o, const std::string& code, const std::string& verifier) {
  std::string form = "grant_type=authorization_code&code=" + FormEncode(code) +
                     "&redirect_uri=" + FormEncode(o.redirect_uri) +
                     "&code_verifier=" + FormEncode(verifier);
  if (o.client_secret.empty()) form += "&client_id=" + FormEncode(o.client_id);
  return form;
}

std::string BasicAuth(const OidcOptions& o) {
  if (o.client_secret.empty()) return {};
  // RFC 6749 2.3.1: form-encode both parts before joining.
  return "Basic " + [](const std::string& raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(raw.data()),
                                  static_cast<int>(raw.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
  }(FormEncode(o.client_id) + ":" + FormEncode(o.client_secret));
}

JwtPolicy IdTokenPolicy(const OidcOptions& o) {
  return JwtPolicy{o.issuer, {o.client_id}, o.algorithms, o.skew};
}

}  // namespace

std::variant<Discovery, std::string> ParseDiscovery(std::string_view document,
                                                    const std::string& expected_issuer) {
  if (document.size() > kMaxDiscoveryBytes) return std::string("discovery document too large");
  auto doc = ParseJsonObject(document);
  if (!doc) return std::string("discovery document is not a JSON object");
  Discovery d{Str(*doc, "issuer"), Str(*doc, "authorization_endpoint"), Str(*doc, "token_endpoint"),
              Str(*doc, "jwks_uri")};
  if (d.issuer != expected_issuer) return std::string("discovery issuer mismatch");
  for (const auto* url : {&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri}) {
    if (url->size() > 2048 || !AcceptableEndpoint(*url, expected_issuer)) {
      return std::string("discovery endpoint not acceptable");
    }
  }
  return d;
}

std::string SafeReturnPath(std::string_view p) {
  if (p.empty() || p.size() > kMaxReturnPath || p.front() != '/') return "/";
  if (p.size() > 1 && (p[1] == '/' || p[1] == '\\')) return "/";  // //evil.test, /\evil.test
  for (char c : p) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '\\') return "/";  // controls, spaces, backslashes
  }
  return std::string(p);
}

OidcClient::OidcClient(OidcOptions options, HttpFetcher& fetcher, storage::kv::KvStore& kv,
                       const common::Clock& clock)
    : options_(std::move(options)), fetcher_(fetcher), kv_(kv), clock_(clock) {
  if (options_.discovery_url.empty()) {
    std::string base = options_.issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    options_.discovery_url = base + "/.well-known/openid-configuration";
  }
}

Task<Discovery> OidcClient::Discover() {
  {
    std::lock_guard lock(mu_);
    if (discovery_) co_return *discovery_;
  }
  auto response = co_await fetcher_.Get(options_.discovery_url, kMaxDiscoveryBytes);
  if (response.status != 200) {
    throw FetchError("discovery answered " + std::to_string(response.status));
  }
  auto parsed = ParseDiscovery(response.body, options_.issuer);
  if (auto* error = std::get_if<std::string>(&parsed)) throw FetchError(*error);
  auto d = std::get<Discovery>(parsed);
  std::lock_guard lock(mu_);
  if (!discovery_) discovery_ = d;
  co_return d;
}

Task<JwtVerifier*> OidcClient::IdTokenVerifier() {
  auto d = co_await Discover();
  std::lock_guard lock(mu_);
  if (!verifier_) {
    verifier_ = std::make_unique<JwtVerifier>(fetcher_, d.jwks_uri, IdTokenPolicy(options_),
                                              options_.jwks, clock_);
  }
  co_return verifier_.get();
}

Task<OidcClient::Start> OidcClient::Begin(std::string return_to) {
  // Read the parameter before the first suspension (seen lost afterwards with GCC 12).
  const std::string safe_return = SafeReturnPath(return_to);
  auto d = co_await Discover();
  const auto state = common::Base64Url(common::SecureRandomBytes(kRandomBytes));
  const auto nonce = common::Base64Url(common::SecureRandomBytes(kRandomBytes));
  const auto verifier = common::Base64Url(common::SecureRandomBytes(kRandomBytes));
  const auto challenge = common::Base64Url(Sha256(verifier));
  Start out;
  out.binding = common::Base64Url(common::SecureRandomBytes(kRandomBytes));
  const auto value =
      StateValue(nonce, verifier, safe_return, common::Base64Url(Sha256(out.binding)));
  const bool stored = co_await kv_.SetIfAbsent("oidc-state:" + state, value, options_.login_ttl);
  if (!stored) throw FetchError("state collision");  // 256 random bits: never in practice
  out.redirect_url = AuthorizationUrl(d, options_, state, nonce, challenge);
  co_return out;
}

Task<OidcClient::Result> OidcClient::Finish(std::string state, std::string code,
                                            std::string binding) {
  Result r;
  if (state.empty() || state.size() > 128 || code.empty() || code.size() > 4096) {
    r.failure = "malformed_callback";
    co_return r;
  }
  // Take: a state works once, whatever happens next.
  auto stored = co_await kv_.Take("oidc-state:" + state);
  if (!stored || stored->size() > kMaxStateValue) {
    r.failure = "unknown_or_replayed_state";
    co_return r;
  }
  auto saved = ParseJsonObject(*stored);
  if (!saved) {
    r.failure = "unknown_or_replayed_state";
    co_return r;
  }
  r.return_to = SafeReturnPath(Str(*saved, "return_to"));
  if (binding.empty() ||
      !ConstantTimeEquals(common::Base64Url(Sha256(binding)), Str(*saved, "binding"))) {
    r.failure = "browser_binding_mismatch";
    co_return r;
  }
  auto d = co_await Discover();
  auto response = co_await fetcher_.PostForm(d.token_endpoint,
                                             TokenForm(options_, code, Str(*saved, "verifier")),
                                             BasicAuth(options_), kMaxTokenResponseBytes);
  if (response.status != 200) {
    r.failure = "token_exchange_status_" + std::to_string(response.status);
    co_return r;
  }
  auto token_response = ParseJsonObject(response.body);
  const std::string id_token = token_response ? Str(*token_response, "id_token") : std::string();
  if (id_token.empty()) {
    r.failure = "token_exchange_no_id_token";
    co_return r;
  }
  auto* verifier = co_await IdTokenVerifier();
  auto verified = co_await verifier->Verify(id_token);
  if (auto* e = std::get_if<JwtError>(&verified)) {
    r.failure = "id_token_" + std::string(JwtErrorName(*e));
    co_return r;
  }
  const auto& claims = std::get<json::object>(verified);
  if (!ConstantTimeEquals(Str(claims, "nonce"), Str(*saved, "nonce"))) {
    r.failure = "nonce_mismatch";
    co_return r;
  }
  const auto aud = ClaimStrings(claims, "aud");
  if (aud.size() > 1 && Str(claims, "azp") != options_.client_id) {
    r.failure = "azp_mismatch";
    co_return r;
  }
  const auto email = ToLower(Str(claims, "email"));
  const auto at = email.rfind('@');
  if (email.empty() || email.size() > 320 || at == std::string::npos || at == 0 ||
      at + 1 == email.size()) {
    r.failure = "no_email";
    co_return r;
  }
  if (!EmailVerified(claims)) {
    r.failure = "email_not_verified";
    co_return r;
  }
  if (!options_.allowed_domains.empty() &&
      std::find(options_.allowed_domains.begin(), options_.allowed_domains.end(),
                email.substr(at + 1)) == options_.allowed_domains.end()) {
    r.failure = "email_domain_not_allowed";
    co_return r;
  }
  const auto subject = Str(claims, "sub");
  if (subject.empty() || subject.size() > 255) {
    r.failure = "no_subject";
    co_return r;
  }
  r.identity.emplace();
  r.identity->email = email;
  r.identity->subject = subject;
  r.identity->name = Str(claims, "name").substr(0, 200);
  r.amr = ClaimStrings(claims, "amr");
  r.mfa = std::any_of(r.amr.begin(), r.amr.end(), [&](const std::string& a) {
    return std::find(options_.mfa_amr.begin(), options_.mfa_amr.end(), a) != options_.mfa_amr.end();
  });
  co_return r;
}

}  // namespace bro::identity
