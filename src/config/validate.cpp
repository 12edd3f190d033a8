#include "config/validate.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/url.hpp"
#include "config/reader.hpp"
#include "storage/redis/redis_client.hpp"

namespace bro::config {
namespace {

bool IsPostgresUrl(const std::string& url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

void CheckUrl(const std::string& key, const std::string& url) {
  try {
    common::ParseBaseUrl(url);
  } catch (const std::invalid_argument& e) {
    Fail(key, e.what());
  }
}

void CheckAlgorithms(const std::string& key, const std::vector<std::string>& algs) {
  if (algs.empty()) Fail(key, "at least one algorithm is required");
  for (const auto& a : algs) {
    if (a != "RS256" && a != "ES256")
      Fail(key, "only RS256 and ES256 are accepted, got '" + a + "'");
  }
}

void CheckRole(const std::string& key, const std::string& role) {
  if (role != "admin" && role != "developer" && role != "viewer") {
    Fail(key, "expected admin, developer or viewer, got '" + role + "'");
  }
}

void ValidateAuth(AuthConfig& a, const Environment& env) {
  if (a.session_idle_timeout > a.session_ttl) {
    Fail("auth.session_idle_timeout", "must not exceed auth.session_ttl");
  }
  if (a.require_mfa_for_admin && a.mfa_amr.empty()) {
    Fail("auth.mfa_amr", "must list at least one amr value when require_mfa_for_admin is on");
  }
  auto& o = a.oidc;
  CheckAlgorithms("auth.oidc.algorithms", o.algorithms);
  CheckRole("auth.oidc.default_role", o.default_role);
  if (o.enabled) {
    CheckUrl("auth.oidc.issuer", o.issuer);
    if (!o.discovery_url.empty()) CheckUrl("auth.oidc.discovery_url", o.discovery_url);
    if (o.client_id.empty()) Fail("auth.oidc.client_id", "required when auth.oidc.enabled");
    if (o.redirect_uri.empty()) Fail("auth.oidc.redirect_uri", "required when auth.oidc.enabled");
    CheckUrl("auth.oidc.redirect_uri", o.redirect_uri);
    if (!o.client_secret_env.empty()) {
      auto it = env.find(o.client_secret_env);
      if (it == env.end() || it->second.empty()) {
        Fail("auth.oidc.client_secret_env",
             "environment variable " + o.client_secret_env + " is not set");
      }
      o.client_secret = it->second;
    } else if (!o.client_secret_file.empty()) {
      o.client_secret = ReadSecretFile("auth.oidc.client_secret_file", o.client_secret_file);
    }
  }
  CheckRole("auth.iap.default_role", a.iap.default_role);
  if (a.iap.enabled) {
    if (a.iap.audience.empty()) Fail("auth.iap.audience", "required when auth.iap.enabled");
    CheckUrl("auth.iap.jwks_url", a.iap.jwks_url);
  }
  for (std::size_t i = 0; i < a.jwt_issuers.size(); ++i) {
    const auto at = "auth.jwt_issuers[" + std::to_string(i) + "]";
    auto& j = a.jwt_issuers[i];
    if (j.issuer.empty()) Fail(at + ".issuer", "required");
    if (j.audience.empty()) Fail(at + ".audience", "required");
    CheckUrl(at + ".jwks_url", j.jwks_url);
    CheckAlgorithms(at + ".algorithms", j.algorithms);
  }
}

// Characters of a Google Cloud region and project id (also domain-scoped "example.com:p"): they
// go into a host name and a URL path.
bool GoogleId(const std::string& s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](unsigned char ch) {
    return std::islower(ch) || std::isdigit(ch) || ch == '-' || ch == '.' || ch == ':';
  });
}

void ValidateVertex(ProviderConfig& p, const std::string& at, const Environment& env) {
  const bool has_key = !p.api_key_env.empty() || !p.api_key_file.empty();
  if (p.auth == ProviderAuth::kUnset) {
    p.auth = has_key ? ProviderAuth::kApiKey : ProviderAuth::kMetadata;
  }
  if (p.auth == ProviderAuth::kApiKey && !has_key) {
    Fail(at + ".auth", "api_key needs api_key_env or api_key_file");
  }
  if (p.auth == ProviderAuth::kMetadata && has_key) {
    Fail(at + ".auth", "metadata does not use an API key: drop api_key_env/api_key_file");
  }
  if (!GoogleId(p.location) || p.location.find_first_of(".:") != std::string::npos) {
    Fail(at + ".location", "expected a region such as us-central1, europe-west4 or global");
  }
  if (p.project.empty() && p.auth == ProviderAuth::kMetadata) Fail(at + ".project", "required");
  if (!p.project.empty() && !GoogleId(p.project)) {
    Fail(at + ".project", "expected a project id (lower-case letters, digits, hyphens)");
  }
  if (p.base_url.empty()) {
    // Without a project (API-key "express mode") the global endpoint serves the model.
    p.base_url = p.location == "global" || p.project.empty()
                     ? "https://aiplatform.googleapis.com"
                     : "https://" + p.location + "-aiplatform.googleapis.com";
  }
  if (p.auth == ProviderAuth::kMetadata) {
    if (p.metadata_host.empty()) {
      auto it = env.find("GCE_METADATA_HOST");
      p.metadata_host =
          it != env.end() && !it->second.empty() ? it->second : "metadata.google.internal";
    }
    bool ok = p.metadata_host.find_first_of("/?#@ ") == std::string::npos;
    if (ok) {
      try {
        common::ParseBaseUrl("http://" + p.metadata_host);
      } catch (const std::invalid_argument&) {
        ok = false;
      }
    }
    if (!ok) Fail(at + ".metadata_host", "expected host[:port] (also from GCE_METADATA_HOST)");
  }
}

}  // namespace

void Validate(Config& c, const Environment& env) {
  if (!c.database.url.starts_with("sqlite://") && !IsPostgresUrl(c.database.url)) {
    // Never echo a URL that may carry a password.
    Fail("database.url", "expected sqlite://PATH or postgres://...");
  }
  if (c.database.url == "sqlite://") Fail("database.url", "missing the SQLite file path");

  if (auto it = env.find("BRO_KEY_SECRET"); it != env.end() && !it->second.empty()) {
    c.auth.key_secret = it->second;
  } else if (!c.auth.key_secret_file.empty()) {
    c.auth.key_secret = ReadSecretFile("auth.key_secret_file", c.auth.key_secret_file);
  } else if (IsPostgresUrl(c.database.url)) {
    Fail("auth.key_secret_file",
         "an API-key secret is required with PostgreSQL (set BRO_KEY_SECRET or "
         "auth.key_secret_file)");
  }
  if (!c.auth.key_secret.empty() && c.auth.key_secret.size() < 32) {
    Fail("auth.key_secret_file", "the API-key secret must be at least 32 characters");
  }

  ValidateAuth(c.auth, env);

  if (!c.redis.url.empty()) {
    try {
      storage::redis::ParseRedisUrl(c.redis.url);
    } catch (const std::invalid_argument& e) {
      Fail("redis.url", e.what());  // the message never repeats the URL (it may hold a password)
    }
  }
  if (c.redis.key_prefix.size() > 64) Fail("redis.key_prefix", "longer than 64 characters");
  if (c.limits.backend == LimitsBackend::kRedis && c.redis.url.empty()) {
    Fail("limits.backend", "redis needs redis.url (or REDIS_URL)");
  }

  std::set<std::string> provider_names;
  for (std::size_t i = 0; i < c.providers.size(); ++i) {
    auto& p = c.providers[i];
    const std::string at = "providers[" + std::to_string(i) + "]";
    if (p.name.empty()) Fail(at + ".name", "required");
    if (p.type == ProviderType::kUnset) Fail(at + ".type", "required");
    if (!provider_names.insert(p.name).second)
      Fail(at + ".name", "duplicate provider '" + p.name + "'");
    if (p.type == ProviderType::kAnthropic) {
      if (p.base_url.empty()) p.base_url = "https://api.anthropic.com";
      if (p.anthropic_version.empty()) Fail(at + ".anthropic_version", "must not be empty");
    }
    if (p.type == ProviderType::kVertex) ValidateVertex(p, at, env);
    if (p.type == ProviderType::kOpenAi || p.type == ProviderType::kAnthropic ||
        p.type == ProviderType::kVertex) {
      try {
        common::ParseBaseUrl(p.base_url);
      } catch (const std::invalid_argument& e) {
        Fail(at + ".base_url", e.what());
      }
      if (!p.api_key_env.empty()) {
        auto it = env.find(p.api_key_env);
        if (it == env.end() || it->second.empty()) {
          Fail(at + ".api_key_env", "environment variable " + p.api_key_env + " is not set");
        }
        p.api_key = it->second;
      } else if (!p.api_key_file.empty()) {
        p.api_key = ReadSecretFile(at + ".api_key_file", p.api_key_file);
      }
    }
  }
  std::set<std::string> model_names;
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    auto& m = c.models[i];
    const std::string at = "models[" + std::to_string(i) + "]";
    if (m.name.empty()) Fail(at + ".name", "required");
    if (m.name.size() > 256) Fail(at + ".name", "longer than 256 characters");
    if (!model_names.insert(m.name).second) Fail(at + ".name", "duplicate model '" + m.name + "'");
    if (m.deployments.empty()) {
      if (m.provider.empty()) Fail(at + ".provider", "required (or a list of deployments)");
      DeploymentConfig d;
      d.provider = m.provider;
      d.upstream_model = m.upstream_model;
      d.input_price_per_million = m.input_price_per_million;
      d.output_price_per_million = m.output_price_per_million;
      m.deployments.push_back(d);
    } else if (!m.provider.empty() || !m.upstream_model.empty()) {
      Fail(at + ".provider", "give either provider/upstream_model or deployments, not both");
    }
    if (m.deployments.size() > 32) Fail(at + ".deployments", "more than 32 deployments");
    for (std::size_t j = 0; j < m.deployments.size(); ++j) {
      auto& d = m.deployments[j];
      const std::string dat = at + ".deployments[" + std::to_string(j) + "]";
      if (!provider_names.contains(d.provider)) {
        Fail((m.provider.empty() ? dat : at) + ".provider",
             "unknown provider '" + d.provider + "'");
      }
      if (d.upstream_model.empty()) d.upstream_model = m.name;
    }
    if (m.upstream_model.empty()) m.upstream_model = m.deployments.front().upstream_model;
    if (m.provider.empty()) m.provider = m.deployments.front().provider;
  }
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const auto& m = c.models[i];
    const std::string at = "models[" + std::to_string(i) + "].fallbacks";
    std::set<std::string> seen;
    for (const auto& f : m.fallbacks) {
      if (!model_names.contains(f)) Fail(at, "unknown model '" + f + "'");
      if (f == m.name) Fail(at, "a model cannot fall back to itself");
      if (!seen.insert(f).second) Fail(at, "'" + f + "' is listed twice");
    }
  }
  if (c.routing.backoff_max < c.routing.backoff_base) {
    Fail("routing.backoff_max", "must be at least routing.backoff_base");
  }
}

}  // namespace bro::config
