#include "config/schema.hpp"

namespace bro::config {
namespace {

// The spellings of the enumerated settings, in the order error messages list them.
constexpr auto kLogLevels = std::to_array<Spelling<LogLevel>>({{LogLevel::kDebug, "debug"},
                                                               {LogLevel::kInfo, "info"},
                                                               {LogLevel::kWarning, "warning"},
                                                               {LogLevel::kError, "error"}});
constexpr auto kLogFormats =
    std::to_array<Spelling<LogFormat>>({{LogFormat::kJson, "json"}, {LogFormat::kText, "text"}});
constexpr auto kLimitsBackends = std::to_array<Spelling<LimitsBackend>>(
    {{LimitsBackend::kMemory, "memory"}, {LimitsBackend::kRedis, "redis"}});
constexpr auto kFailureModes = std::to_array<Spelling<FailureMode>>(
    {{FailureMode::kOpen, "open"}, {FailureMode::kClosed, "closed"}});
constexpr auto kCacheScopes = std::to_array<Spelling<CacheScope>>(
    {{CacheScope::kUser, "user"}, {CacheScope::kKey, "key"}, {CacheScope::kGlobal, "global"}});
constexpr auto kProviderTypes =
    std::to_array<Spelling<ProviderType>>({{ProviderType::kEcho, "echo"},
                                           {ProviderType::kOpenAi, "openai"},
                                           {ProviderType::kAnthropic, "anthropic"},
                                           {ProviderType::kVertex, "vertex"}});
constexpr auto kProviderAuths = std::to_array<Spelling<ProviderAuth>>(
    {{ProviderAuth::kMetadata, "metadata"}, {ProviderAuth::kApiKey, "api_key"}});

}  // namespace

std::string_view Name(LogLevel v) {
  return NameOf(v, kLogLevels);
}
std::string_view Name(LogFormat v) {
  return NameOf(v, kLogFormats);
}
std::string_view Name(LimitsBackend v) {
  return NameOf(v, kLimitsBackends);
}
std::string_view Name(FailureMode v) {
  return NameOf(v, kFailureModes);
}
std::string_view Name(CacheScope v) {
  return NameOf(v, kCacheScopes);
}
std::string_view Name(ProviderType v) {
  return NameOf(v, kProviderTypes);
}
std::string_view Name(ProviderAuth v) {
  return NameOf(v, kProviderAuths);
}

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
#define BRO_ENUM(S, K, SPELLINGS)                                      \
  {                                                                    \
#K, [](S & c, const std::string& k,                                \
           const std::string& v) { c.K = ParseEnum(k, v, SPELLINGS); } \
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
      BRO_ENUM(LoggingConfig, level, kLogLevels),
      BRO_ENUM(LoggingConfig, format, kLogFormats),
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

namespace {

const Fields<JwtIssuerConfig>& JwtIssuerFields() {
  static const Fields<JwtIssuerConfig> kFields = {
      BRO_STR(JwtIssuerConfig, issuer),
      BRO_STR(JwtIssuerConfig, audience),
      BRO_STR(JwtIssuerConfig, jwks_url),
      BRO_LIST(JwtIssuerConfig, algorithms, "an algorithm"),
  };
  return kFields;
}

}  // namespace

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
      BRO_ENUM(LimitsConfig, backend, kLimitsBackends),
      BRO_ENUM(LimitsConfig, failure_mode, kFailureModes),
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
      BRO_ENUM(ProviderConfig, type, kProviderTypes),
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
      BRO_ENUM(ProviderConfig, auth, kProviderAuths),
      BRO_STR(ProviderConfig, metadata_host),
      BRO_INT(ProviderConfig, embedding_batch_size, 1, 250),
      BRO_DUR(ProviderConfig, token_delay, milliseconds(0)),
      BRO_DUR(ProviderConfig, latency, milliseconds(0)),
  };
  return kFields;
}

constexpr double kMaxPrice = 1e6;  // USD per million tokens

namespace {

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

}  // namespace

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
      BRO_ENUM(CacheConfig, scope, kCacheScopes),
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
#undef BRO_ENUM

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

}  // namespace bro::config
