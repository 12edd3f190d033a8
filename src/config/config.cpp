#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/url.hpp"
#include "storage/redis/redis_client.hpp"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name

namespace bro::config {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxSecretBytes = 4096;

[[noreturn]] void Fail(const std::string& key, const std::string& what) {
  throw ConfigError(key + ": " + what);
}

int ParseInt(const std::string& key, const std::string& v, int min, int max) {
  int out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size())
    Fail(key, "expected an integer, got '" + v + "'");
  if (out < min || out > max) {
    Fail(key,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v);
  }
  return out;
}

double ParseDouble(const std::string& key, const std::string& v, double min, double max) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size() || !(out >= min && out <= max)) {
    Fail(key, "expected a number between " + std::to_string(min) + " and " + std::to_string(max) +
                  ", got '" + v + "'");
  }
  return out;
}

std::int64_t ParseInt64(const std::string& key, const std::string& v, std::int64_t min,
                        std::int64_t max) {
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size())
    Fail(key, "expected an integer, got '" + v + "'");
  if (out < min || out > max) {
    Fail(key,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v);
  }
  return out;
}

// A non-negative amount of US dollars, at most one billion.
double ParseUsd(const std::string& key, const std::string& v) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size() || !(out >= 0) || out > 1e9)
    Fail(key, "expected an amount of US dollars between 0 and 1e9, got '" + v + "'");
  return out;
}

bool ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  Fail(key, "expected true or false, got '" + v + "'");
}

Duration ParseDur(const std::string& key, const std::string& v, Duration min) {
  auto d = common::ParseDuration(v);
  if (!d) Fail(key, "expected a duration such as 500ms, 30s, 5m, got '" + v + "'");
  if (*d < min) Fail(key, "must be at least " + common::FormatDuration(min));
  return *d;
}

std::uint64_t ParseBytes(const std::string& key, const std::string& v, std::uint64_t min) {
  auto s = common::ParseSize(v);
  if (!s) Fail(key, "expected a size such as 1048576, 16KiB, 8MiB, got '" + v + "'");
  if (*s < min) Fail(key, "must be at least " + std::to_string(min) + " bytes");
  return *s;
}

template <class Target>
struct Field {
  std::string key;
  std::function<void(Target&, const std::string& full_key, const std::string& value)> set;
  // For a key whose value is a list or mapping (then `set` is empty).
  std::function<void(Target&, const std::string& full_key, const YAML::Node& value)> node = {};
};

// A YAML sequence of scalars (model names, algorithms, domains); `what` names one item.
std::vector<std::string> StringList(const std::string& key, const YAML::Node& v,
                                    const std::string& what) {
  if (!v.IsSequence()) Fail(key, "expected a list, each item " + what);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) Fail(key + "[" + std::to_string(i) + "]", "expected " + what);
    out.push_back(v[i].Scalar());
  }
  return out;
}

template <class Target>
using Fields = std::vector<Field<Target>>;

// Nested sections and lists of sections read their fields with these.
template <class Target>
std::vector<Target> ApplyList(const YAML::Node& list, const std::string& prefix,
                              const Fields<Target>& fields);
template <class Target>
void ApplyMap(const YAML::Node& map, const std::string& prefix, const Fields<Target>& fields,
              Target& out);

// K names a struct member, so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define BRO_INT(S, K, MIN, MAX)                                                                   \
  {                                                                                               \
#K, [](S & c, const std::string& k, const std::string& v) { c.K = ParseInt(k, v, MIN, MAX); } \
  }
#define BRO_BOOL(S, K)                                                                   \
  {                                                                                      \
#K, [](S & c, const std::string& k, const std::string& v) { c.K = ParseBool(k, v); } \
  }
#define BRO_DUR(S, K, MIN)                                                                   \
  {                                                                                          \
#K, [](S & c, const std::string& k, const std::string& v) { c.K = ParseDur(k, v, MIN); } \
  }
#define BRO_SIZE(S, K, MIN)                                                                    \
  {                                                                                            \
#K, [](S & c, const std::string& k, const std::string& v) { c.K = ParseBytes(k, v, MIN); } \
  }
#define BRO_NUM(S, K, MIN, MAX)                                         \
  {                                                                     \
#K, [](S & c, const std::string& k,                                 \
           const std::string& v) { c.K = ParseDouble(k, v, MIN, MAX); } \
  }
#define BRO_INT64(S, K, MIN, MAX)                                      \
  {                                                                    \
#K, [](S & c, const std::string& k,                                \
           const std::string& v) { c.K = ParseInt64(k, v, MIN, MAX); } \
  }
#define BRO_USD(S, K)                                                                   \
  {                                                                                     \
#K, [](S & c, const std::string& k, const std::string& v) { c.K = ParseUsd(k, v); } \
  }
#define BRO_STR(S, K)                                                    \
  {                                                                      \
#K, [](S & c, const std::string&, const std::string& v) { c.K = v; } \
  }
#define BRO_LIST(S, K, WHAT)                                                                       \
  {                                                                                                \
#K, {}, [](S & c, const std::string& k, const YAML::Node& v) { c.K = StringList(k, v, WHAT); } \
  }

// NOLINTEND(bugprone-macro-parentheses)

using std::chrono::milliseconds;

const Fields<ServerConfig>& ServerFields() {
  static const Fields<ServerConfig> kFields = {
      BRO_STR(ServerConfig, host),
      BRO_INT(ServerConfig, port, 0, 65535),
      BRO_INT(ServerConfig, io_threads, 0, 256),
      BRO_INT(ServerConfig, max_connections, 1, 1000000),
      BRO_INT(ServerConfig, trusted_proxy_hops, 0, 16),
      BRO_SIZE(ServerConfig, max_header_bytes, 1024),
      BRO_SIZE(ServerConfig, max_body_bytes, 1024),
      BRO_SIZE(ServerConfig, chat_max_body_bytes, 1024),
      BRO_SIZE(ServerConfig, embeddings_max_body_bytes, 1024),
      BRO_DUR(ServerConfig, read_timeout, milliseconds(100)),
      BRO_DUR(ServerConfig, idle_timeout, milliseconds(100)),
      BRO_DUR(ServerConfig, write_timeout, milliseconds(100)),
      BRO_DUR(ServerConfig, shutdown_grace, milliseconds(0)),
  };
  return kFields;
}

const Fields<RedisConfig>& RedisFields() {
  static const Fields<RedisConfig> kFields = {
      BRO_STR(RedisConfig, url),
      BRO_DUR(RedisConfig, connect_timeout, milliseconds(10)),
      BRO_DUR(RedisConfig, command_timeout, milliseconds(10)),
      BRO_INT(RedisConfig, max_idle_connections, 0, 10000),
      BRO_STR(RedisConfig, key_prefix),
  };
  return kFields;
}

const Fields<DatabaseConfig>& DatabaseFields() {
  static const Fields<DatabaseConfig> kFields = {
      BRO_STR(DatabaseConfig, url),
      BRO_STR(DatabaseConfig, url_file),
      BRO_INT(DatabaseConfig, max_connections, 1, 1000),
      BRO_DUR(DatabaseConfig, timeout, milliseconds(10)),
      BRO_BOOL(DatabaseConfig, migrate_on_start),
  };
  return kFields;
}

const Fields<LoggingConfig>& LoggingFields() {
  static const Fields<LoggingConfig> kFields = {
      {"level",
       [](LoggingConfig& c, const std::string& k, const std::string& v) {
         static const std::set<std::string> kLevels = {"debug", "info", "warning", "error"};
         if (!kLevels.contains(v))
           Fail(k, "expected debug, info, warning or error, got '" + v + "'");
         c.level = v;
       }},
      {"format",
       [](LoggingConfig& c, const std::string& k, const std::string& v) {
         if (v == "json") {
           c.format = LogFormat::kJson;
         } else if (v == "text") {
           c.format = LogFormat::kText;
         } else {
           Fail(k, "expected json or text, got '" + v + "'");
         }
       }},
      BRO_BOOL(LoggingConfig, access_log),
  };
  return kFields;
}

const Fields<MetricsConfig>& MetricsFields() {
  static const Fields<MetricsConfig> kFields = {
      BRO_BOOL(MetricsConfig, enabled),
      BRO_STR(MetricsConfig, host),
      BRO_INT(MetricsConfig, port, 0, 65535),
  };
  return kFields;
}

const Fields<OidcConfig>& OidcFields() {
  static const Fields<OidcConfig> kFields = {
      BRO_BOOL(OidcConfig, enabled),
      BRO_STR(OidcConfig, issuer),
      BRO_STR(OidcConfig, discovery_url),
      BRO_STR(OidcConfig, client_id),
      BRO_STR(OidcConfig, client_secret_env),
      BRO_STR(OidcConfig, client_secret_file),
      BRO_STR(OidcConfig, redirect_uri),
      BRO_STR(OidcConfig, scopes),
      BRO_LIST(OidcConfig, algorithms, "an algorithm"),
      BRO_LIST(OidcConfig, allowed_domains, "a domain"),
      BRO_STR(OidcConfig, default_role),
      BRO_BOOL(OidcConfig, first_user_admin),
  };
  return kFields;
}

const Fields<IapConfig>& IapFields() {
  static const Fields<IapConfig> kFields = {
      BRO_BOOL(IapConfig, enabled), BRO_STR(IapConfig, audience),     BRO_STR(IapConfig, issuer),
      BRO_STR(IapConfig, jwks_url), BRO_STR(IapConfig, default_role),
  };
  return kFields;
}

const Fields<JwtIssuerConfig>& JwtIssuerFields() {
  static const Fields<JwtIssuerConfig> kFields = {
      BRO_STR(JwtIssuerConfig, issuer),
      BRO_STR(JwtIssuerConfig, audience),
      BRO_STR(JwtIssuerConfig, jwks_url),
      BRO_LIST(JwtIssuerConfig, algorithms, "an algorithm"),
  };
  return kFields;
}

const Fields<AuthConfig>& AuthFields() {
  static const Fields<AuthConfig> kFields = {
      BRO_STR(AuthConfig, key_secret_file),
      BRO_DUR(AuthConfig, key_cache_ttl, milliseconds(0)),
      BRO_BOOL(AuthConfig, bootstrap_admin),
      BRO_DUR(AuthConfig, key_rotation_grace, milliseconds(0)),
      BRO_INT64(AuthConfig, login_per_minute, 0, 1'000'000),
      BRO_DUR(AuthConfig, session_ttl, milliseconds(1000)),
      BRO_DUR(AuthConfig, session_idle_timeout, milliseconds(1000)),
      BRO_BOOL(AuthConfig, cookie_secure),
      BRO_BOOL(AuthConfig, require_mfa_for_admin),
      BRO_LIST(AuthConfig, mfa_amr, "an amr value"),
      BRO_DUR(AuthConfig, clock_skew, milliseconds(0)),
      BRO_DUR(AuthConfig, jwks_refresh, milliseconds(1000)),
      BRO_DUR(AuthConfig, jwks_min_refetch, milliseconds(0)),
      BRO_DUR(AuthConfig, issuer_timeout, milliseconds(100)),
      {"oidc",
       {},
       [](AuthConfig& c, const std::string& k, const YAML::Node& v) {
         ApplyMap(v, k, OidcFields(), c.oidc);
       }},
      {"iap",
       {},
       [](AuthConfig& c, const std::string& k, const YAML::Node& v) {
         ApplyMap(v, k, IapFields(), c.iap);
       }},
      {"jwt_issuers",
       {},
       [](AuthConfig& c, const std::string& k, const YAML::Node& v) {
         c.jwt_issuers = ApplyList(v, k, JwtIssuerFields());
       }},
  };
  return kFields;
}

const Fields<UsageConfig>& UsageFields() {
  static const Fields<UsageConfig> kFields = {
      BRO_DUR(UsageConfig, flush_interval, milliseconds(10)),
      BRO_INT(UsageConfig, batch_size, 1, 100000),
      BRO_INT(UsageConfig, buffer_capacity, 1, 10000000),
  };
  return kFields;
}

constexpr std::int64_t kMaxLimit = std::int64_t{1} << 50;

const Fields<LimitPolicyConfig>& LimitPolicyFields() {
  static const Fields<LimitPolicyConfig> kFields = {
      BRO_INT64(LimitPolicyConfig, requests_per_minute, 0, kMaxLimit),
      BRO_INT64(LimitPolicyConfig, tokens_per_minute, 0, kMaxLimit),
      BRO_INT64(LimitPolicyConfig, concurrent_requests, 0, kMaxLimit),
      BRO_INT64(LimitPolicyConfig, daily_tokens, 0, kMaxLimit),
      BRO_INT64(LimitPolicyConfig, monthly_tokens, 0, kMaxLimit),
      BRO_USD(LimitPolicyConfig, daily_cost_usd),
      BRO_USD(LimitPolicyConfig, monthly_cost_usd),
  };
  return kFields;
}

const Fields<LimitsConfig>& LimitsFields() {
  static const Fields<LimitsConfig> kFields = {
      BRO_BOOL(LimitsConfig, enabled),
      {"backend",
       [](LimitsConfig& c, const std::string& k, const std::string& v) {
         if (v != "memory" && v != "redis") Fail(k, "expected memory or redis, got '" + v + "'");
         c.backend = v;
       }},
      {"failure_mode",
       [](LimitsConfig& c, const std::string& k, const std::string& v) {
         if (v != "open" && v != "closed") Fail(k, "expected open or closed, got '" + v + "'");
         c.failure_mode = v;
       }},
      BRO_INT64(LimitsConfig, max_tokens_default, 1, 10'000'000),
      BRO_INT64(LimitsConfig, max_output_tokens, 1, 100'000'000),
      BRO_INT64(LimitsConfig, max_choices, 1, 128),
      BRO_DUR(LimitsConfig, lease, milliseconds(1000)),
      BRO_DUR(LimitsConfig, retry_interval, milliseconds(10)),
      BRO_DUR(LimitsConfig, override_refresh, milliseconds(100)),
  };
  return kFields;
}

const Fields<ProviderConfig>& ProviderFields() {
  static const Fields<ProviderConfig> kFields = {
      BRO_STR(ProviderConfig, name),
      {"type",
       [](ProviderConfig& c, const std::string& k, const std::string& v) {
         if (v != "echo" && v != "openai" && v != "anthropic" && v != "vertex") {
           Fail(k, "expected echo, openai, anthropic or vertex, got '" + v + "'");
         }
         c.type = v;
       }},
      BRO_STR(ProviderConfig, base_url),
      BRO_STR(ProviderConfig, api_key_env),
      BRO_STR(ProviderConfig, api_key_file),
      BRO_DUR(ProviderConfig, connect_timeout, milliseconds(10)),
      BRO_DUR(ProviderConfig, first_token_timeout, milliseconds(10)),
      BRO_DUR(ProviderConfig, total_timeout, milliseconds(10)),
      BRO_INT(ProviderConfig, max_idle_connections, 0, 100000),
      BRO_STR(ProviderConfig, anthropic_version),
      BRO_INT(ProviderConfig, max_tokens_default, 1, 1000000),
      BRO_STR(ProviderConfig, project),
      BRO_STR(ProviderConfig, location),
      {"auth",
       [](ProviderConfig& c, const std::string& k, const std::string& v) {
         if (v != "metadata" && v != "api_key") {
           Fail(k, "expected metadata or api_key, got '" + v + "'");
         }
         c.auth = v;
       }},
      BRO_STR(ProviderConfig, metadata_host),
      BRO_INT(ProviderConfig, embedding_batch_size, 1, 250),
      BRO_DUR(ProviderConfig, token_delay, milliseconds(0)),
      BRO_DUR(ProviderConfig, latency, milliseconds(0)),
  };
  return kFields;
}

constexpr double kMaxPrice = 1e6;  // USD per million tokens

const Fields<DeploymentConfig>& DeploymentFields() {
  static const Fields<DeploymentConfig> kFields = {
      BRO_STR(DeploymentConfig, provider),
      BRO_STR(DeploymentConfig, upstream_model),
      BRO_INT(DeploymentConfig, weight, 1, 1000),
      BRO_INT(DeploymentConfig, max_concurrent, 0, 1000000),
      BRO_NUM(DeploymentConfig, input_price_per_million, 0, kMaxPrice),
      BRO_NUM(DeploymentConfig, output_price_per_million, 0, kMaxPrice),
  };
  return kFields;
}

const Fields<ModelConfig>& ModelFields() {
  static const Fields<ModelConfig> kFields = {
      BRO_STR(ModelConfig, name),
      BRO_STR(ModelConfig, provider),
      BRO_STR(ModelConfig, upstream_model),
      BRO_NUM(ModelConfig, input_price_per_million, 0, kMaxPrice),
      BRO_NUM(ModelConfig, output_price_per_million, 0, kMaxPrice),
      BRO_INT64(ModelConfig, max_output_tokens, 0, 100'000'000),
      {"deployments",
       {},
       [](ModelConfig& c, const std::string& k, const YAML::Node& v) {
         c.deployments = ApplyList(v, k, DeploymentFields());
       }},
      BRO_LIST(ModelConfig, fallbacks, "a model name"),
      BRO_BOOL(ModelConfig, cache),
      BRO_DUR(ModelConfig, cache_ttl, milliseconds(1)),
  };
  return kFields;
}

const Fields<RoutingConfig>& RoutingFields() {
  static const Fields<RoutingConfig> kFields = {
      BRO_INT(RoutingConfig, max_attempts, 1, 10),
      BRO_DUR(RoutingConfig, backoff_base, milliseconds(0)),
      BRO_DUR(RoutingConfig, backoff_max, milliseconds(0)),
      BRO_DUR(RoutingConfig, retry_after_max, milliseconds(0)),
      BRO_INT(RoutingConfig, breaker_failures, 1, 1000),
      BRO_NUM(RoutingConfig, breaker_error_ratio, 0.01, 1.0),
      BRO_INT(RoutingConfig, breaker_min_requests, 1, 100000),
      BRO_DUR(RoutingConfig, breaker_window, milliseconds(100)),
      BRO_DUR(RoutingConfig, breaker_open_for, milliseconds(10)),
  };
  return kFields;
}

const Fields<CacheConfig>& CacheFields() {
  static const Fields<CacheConfig> kFields = {
      BRO_BOOL(CacheConfig, enabled),
      BRO_DUR(CacheConfig, ttl, milliseconds(1)),
      BRO_SIZE(CacheConfig, max_bytes, 1024),
      BRO_SIZE(CacheConfig, max_entry_bytes, 256),
      {"scope",
       [](CacheConfig& c, const std::string& k, const std::string& v) {
         if (v != "user" && v != "key" && v != "global") {
           Fail(k, "expected user, key or global, got '" + v + "'");
         }
         c.scope = v;
       }},
  };
  return kFields;
}

#undef BRO_INT
#undef BRO_BOOL
#undef BRO_DUR
#undef BRO_SIZE
#undef BRO_STR
#undef BRO_LIST
#undef BRO_INT64
#undef BRO_USD
#undef BRO_NUM

std::string ScalarOf(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) Fail(key, "expected a scalar value");
  return node.Scalar();
}

template <class Target>
void ApplyMap(const YAML::Node& map, const std::string& prefix, const Fields<Target>& fields,
              Target& out) {
  if (!map) return;
  if (map.IsNull()) return;
  if (!map.IsMap()) Fail(prefix, "expected a mapping");
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) Fail(prefix, "keys must be strings");
    const std::string name = entry.first.Scalar();
    std::string full = prefix;
    full += '.';
    full += name;
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.key == name; });
    if (it == fields.end()) Fail(full, "unknown key");
    if (entry.second.IsNull()) continue;
    if (it->node) {
      it->node(out, full, entry.second);
    } else {
      it->set(out, full, ScalarOf(entry.second, full));
    }
  }
}

template <class Target>
std::vector<Target> ApplyList(const YAML::Node& list, const std::string& prefix,
                              const Fields<Target>& fields) {
  std::vector<Target> out;
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) Fail(prefix, "expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Target t;
    ApplyMap(list[i], prefix + "[" + std::to_string(i) + "]", fields, t);
    out.push_back(std::move(t));
  }
  return out;
}

std::string EnvName(const std::string& section, const std::string& key) {
  std::string out = "BRO_" + section + "_" + key;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return out;
}

template <class Target>
void ApplyEnv(const Environment& env, const std::string& section, const Fields<Target>& fields,
              Target& out) {
  for (const auto& f : fields) {
    if (!f.set) continue;  // lists and mappings come from the file only
    auto name = EnvName(section, f.key);
    if (auto it = env.find(name); it != env.end()) {
      std::string label = name;
      label += " (" + section;
      label += '.';
      label += f.key;
      label += ')';
      f.set(out, label, it->second);
    }
  }
}

std::string ReadSecretFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(key, "cannot read secret file '" + path + "'");
  std::string data;
  data.resize(kMaxSecretBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxSecretBytes) Fail(key, "secret file '" + path + "' is larger than 4 KiB");
  while (!data.empty() && std::isspace(static_cast<unsigned char>(data.back()))) data.pop_back();
  if (data.empty()) Fail(key, "secret file '" + path + "' is empty");
  return data;
}

// limits: scalar keys plus the per_key and per_user policy mappings.
void ApplyLimits(const YAML::Node& map, LimitsConfig& out) {
  if (!map || map.IsNull()) return;
  if (!map.IsMap()) Fail("limits", "expected a mapping");
  YAML::Node scalars(YAML::NodeType::Map);
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) Fail("limits", "keys must be strings");
    const std::string name = entry.first.Scalar();
    if (name == "per_key") {
      ApplyMap(entry.second, "limits.per_key", LimitPolicyFields(), out.per_key);
    } else if (name == "per_user") {
      ApplyMap(entry.second, "limits.per_user", LimitPolicyFields(), out.per_user);
    } else {
      scalars[name] = entry.second;
    }
  }
  ApplyMap(scalars, "limits", LimitsFields(), out);
}

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
  if (p.auth.empty()) p.auth = has_key ? "api_key" : "metadata";
  if (p.auth == "api_key" && !has_key) {
    Fail(at + ".auth", "api_key needs api_key_env or api_key_file");
  }
  if (p.auth == "metadata" && has_key) {
    Fail(at + ".auth", "metadata does not use an API key: drop api_key_env/api_key_file");
  }
  if (!GoogleId(p.location) || p.location.find_first_of(".:") != std::string::npos) {
    Fail(at + ".location", "expected a region such as us-central1, europe-west4 or global");
  }
  if (p.project.empty() && p.auth == "metadata") Fail(at + ".project", "required");
  if (!p.project.empty() && !GoogleId(p.project)) {
    Fail(at + ".project", "expected a project id (lower-case letters, digits, hyphens)");
  }
  if (p.base_url.empty()) {
    // Without a project (API-key "express mode") the global endpoint serves the model.
    p.base_url = p.location == "global" || p.project.empty()
                     ? "https://aiplatform.googleapis.com"
                     : "https://" + p.location + "-aiplatform.googleapis.com";
  }
  if (p.auth == "metadata") {
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
  if (c.limits.backend == "redis" && c.redis.url.empty()) {
    Fail("limits.backend", "redis needs redis.url (or REDIS_URL)");
  }

  std::set<std::string> provider_names;
  for (std::size_t i = 0; i < c.providers.size(); ++i) {
    auto& p = c.providers[i];
    const std::string at = "providers[" + std::to_string(i) + "]";
    if (p.name.empty()) Fail(at + ".name", "required");
    if (p.type.empty()) Fail(at + ".type", "required");
    if (!provider_names.insert(p.name).second)
      Fail(at + ".name", "duplicate provider '" + p.name + "'");
    if (p.type == "anthropic") {
      if (p.base_url.empty()) p.base_url = "https://api.anthropic.com";
      if (p.anthropic_version.empty()) Fail(at + ".anthropic_version", "must not be empty");
    }
    if (p.type == "vertex") ValidateVertex(p, at, env);
    if (p.type == "openai" || p.type == "anthropic" || p.type == "vertex") {
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

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

namespace {

// The sections the environment sets (BRO_<SECTION>_<KEY>), each named once: LoadFromString
// applies them and EnvironmentOverrides lists them. `path` is where the keys live in app.yaml.
template <class Visit>
void ForEachEnvSection(Config& c, Visit&& visit) {
  visit("server", "server", ServerFields(), c.server);
  visit("database", "database", DatabaseFields(), c.database);
  visit("logging", "logging", LoggingFields(), c.logging);
  visit("metrics", "metrics", MetricsFields(), c.metrics);
  visit("auth", "auth", AuthFields(), c.auth);
  visit("auth_oidc", "auth.oidc", OidcFields(), c.auth.oidc);
  visit("auth_iap", "auth.iap", IapFields(), c.auth.iap);
  visit("usage", "usage", UsageFields(), c.usage);
  visit("limits", "limits", LimitsFields(), c.limits);
  visit("limits_per_key", "limits.per_key", LimitPolicyFields(), c.limits.per_key);
  visit("limits_per_user", "limits.per_user", LimitPolicyFields(), c.limits.per_user);
  visit("redis", "redis", RedisFields(), c.redis);
  visit("routing", "routing", RoutingFields(), c.routing);
  visit("cache", "cache", CacheFields(), c.cache);
}

}  // namespace

Config LoadFromString(const std::string& yaml_text, const Environment& env) {
  if (yaml_text.size() > kMaxConfigBytes) throw ConfigError("config: file larger than 1 MiB");
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("config: invalid YAML: ") + e.what());
  }
  Config c;
  bool has_catalog = false;
  if (root && !root.IsNull()) {
    if (!root.IsMap()) throw ConfigError("config: the top level must be a mapping");
    // Each top-level section is named once, where it is read; any other key is refused.
    std::set<std::string, std::less<>> known;
    auto section = [&](const char* name) {
      known.emplace(name);
      return root[name];
    };
    auto map = [&](const char* name, const auto& fields, auto& target) {
      ApplyMap(section(name), name, fields, target);
    };
    try {
      map("server", ServerFields(), c.server);
      map("database", DatabaseFields(), c.database);
      map("logging", LoggingFields(), c.logging);
      map("metrics", MetricsFields(), c.metrics);
      map("auth", AuthFields(), c.auth);
      map("usage", UsageFields(), c.usage);
      ApplyLimits(section("limits"), c.limits);
      map("redis", RedisFields(), c.redis);
      map("routing", RoutingFields(), c.routing);
      map("cache", CacheFields(), c.cache);
      c.providers = ApplyList(section("providers"), "providers", ProviderFields());
      c.models = ApplyList(section("models"), "models", ModelFields());
    } catch (const YAML::Exception& e) {
      throw ConfigError(std::string("config: ") + e.what());
    }
    for (const auto& entry : root) {
      const auto name = entry.first.as<std::string>("");
      if (!known.contains(name)) Fail(name, "unknown key");
      if (name == "providers" || name == "models") has_catalog = true;
    }
  }
  if (!has_catalog) {
    // No catalog configured: serve the built-in development model.
    config::ProviderConfig echo;
    echo.name = "echo";
    echo.type = "echo";
    c.providers.push_back(echo);
    config::ModelConfig model;
    model.name = model.provider = model.upstream_model = "echo";
    c.models.push_back(model);
  }
  ForEachEnvSection(c, [&env](const char* section, const char* /*path*/, const auto& fields,
                              auto& target) { ApplyEnv(env, section, fields, target); });
  if (auto it = env.find("REDIS_URL"); it != env.end() && !it->second.empty()) {
    c.redis.url = it->second;
  }
  if (auto it = env.find("DATABASE_URL"); it != env.end() && !it->second.empty()) {
    c.database.url = it->second;
  } else if (!c.database.url_file.empty()) {
    c.database.url = ReadSecretFile("database.url_file", c.database.url_file);
  }
  Validate(c, env);
  return c;
}

Config LoadFromFile(const std::string& path, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config: cannot open '" + path + "'");
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return LoadFromString(text, env);
}

std::vector<std::pair<std::string, std::string>> EnvironmentOverrides() {
  std::vector<std::pair<std::string, std::string>> out;
  Config unused;
  ForEachEnvSection(
      unused, [&out](const char* section, const char* path, const auto& fields, auto& /*target*/) {
        for (const auto& f : fields) {
          out.emplace_back(EnvName(section, f.key), std::string(path) + "." + f.key);
        }
      });
  out.emplace_back("DATABASE_URL", "database.url");
  out.emplace_back("REDIS_URL", "redis.url");
  out.emplace_back("BRO_KEY_SECRET", "auth.key_secret_file (the secret itself)");
  return out;
}

}  // namespace bro::config
