#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/duration.hpp"

namespace bro::config {

using common::Duration;

struct ServerConfig {
  std::string host = "0.0.0.0";
  int port = 8080;
  int io_threads = 0;  // 0: one per core
  int max_connections = 10000;
  int trusted_proxy_hops = 0;  // proxies whose X-Forwarded-For entries name the client
  std::uint64_t max_header_bytes = std::uint64_t{16} << 10;
  std::uint64_t max_body_bytes = std::uint64_t{1} << 20;
  std::uint64_t chat_max_body_bytes = std::uint64_t{8} << 20;
  std::uint64_t embeddings_max_body_bytes = std::uint64_t{4} << 20;
  Duration read_timeout = std::chrono::seconds(30);
  Duration idle_timeout = std::chrono::seconds(60);
  Duration write_timeout = std::chrono::seconds(30);
  Duration shutdown_grace = std::chrono::seconds(25);
};

struct DatabaseConfig {
  std::string url = "sqlite://data/bro.db";
  std::string
      url_file;  // a file holding the URL (e.g. mounted from Secret Manager); DATABASE_URL wins
  int max_connections = 8;
  Duration timeout = std::chrono::seconds(5);
  bool migrate_on_start = true;
};

// Enumerated settings. Name() gives each value's spelling in app.yaml and the environment, for
// logs and messages. kUnset: the key was not given (the load refuses it or chooses a value).
enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kJson, kText };
enum class LimitsBackend { kMemory, kRedis };
enum class FailureMode { kOpen, kClosed };
enum class CacheScope { kUser, kKey, kGlobal };
enum class ProviderType { kUnset, kEcho, kOpenAi, kAnthropic, kVertex };
enum class ProviderAuth { kUnset, kMetadata, kApiKey };

std::string_view Name(LogLevel v);
std::string_view Name(LogFormat v);
std::string_view Name(LimitsBackend v);
std::string_view Name(FailureMode v);
std::string_view Name(CacheScope v);
std::string_view Name(ProviderType v);  // "" for kUnset
std::string_view Name(ProviderAuth v);  // "" for kUnset

struct LoggingConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kJson;
  bool access_log = true;
};

struct MetricsConfig {
  bool enabled = true;
  std::string host = "0.0.0.0";
  int port = 9090;
};

struct OidcConfig {
  bool enabled = false;
  std::string issuer = "https://accounts.google.com";
  std::string discovery_url;  // default: issuer + /.well-known/openid-configuration
  std::string client_id;
  std::string client_secret_env;
  std::string client_secret_file;
  std::string client_secret;  // resolved from client_secret_env / client_secret_file
  std::string redirect_uri;   // https://HOST/auth/callback
  std::string scopes = "openid email profile";
  std::vector<std::string> algorithms{"RS256"};
  std::vector<std::string> allowed_domains;  // empty: any verified email
  std::string default_role = "viewer";       // role of a user created at first login
  bool first_user_admin = false;             // the first user of an empty system becomes admin
};

struct IapConfig {
  bool enabled = false;
  std::string audience;  // /projects/NUMBER/global/backendServices/ID
  std::string issuer = "https://cloud.google.com/iap";
  std::string jwks_url = "https://www.gstatic.com/iap/verify/public_key-jwk";
  std::string default_role = "viewer";
};

// An issuer whose JWTs are accepted as bearer tokens (service-to-service).
struct JwtIssuerConfig {
  std::string issuer;
  std::string audience;
  std::string jwks_url;
  std::vector<std::string> algorithms{"RS256"};
};

struct AuthConfig {
  std::string key_secret_file;
  Duration key_cache_ttl = std::chrono::seconds(5);
  bool bootstrap_admin = true;
  std::string
      key_secret;  // resolved at load: BRO_KEY_SECRET, key_secret_file, or generated (SQLite only)
  Duration key_rotation_grace = std::chrono::hours(24);
  std::int64_t login_per_minute = 30;  // browser logins one client address may start (0: no limit)
  Duration session_ttl = std::chrono::hours(8);
  Duration session_idle_timeout = std::chrono::hours(1);
  bool cookie_secure = true;
  bool require_mfa_for_admin = false;
  std::vector<std::string> mfa_amr{"mfa", "otp", "hwk", "swk", "sms", "fpt"};
  Duration clock_skew = std::chrono::seconds(60);
  Duration jwks_refresh = std::chrono::hours(1);
  Duration jwks_min_refetch = std::chrono::seconds(30);
  Duration issuer_timeout = std::chrono::seconds(5);
  OidcConfig oidc;
  IapConfig iap;
  std::vector<JwtIssuerConfig> jwt_issuers;
};

struct UsageConfig {
  Duration flush_interval = std::chrono::seconds(1);
  int batch_size = 500;
  int buffer_capacity = 50000;
};

// One subject's limits; 0 means unlimited. Costs are in US dollars.
struct LimitPolicyConfig {
  std::int64_t requests_per_minute = 0;
  std::int64_t tokens_per_minute = 0;
  std::int64_t concurrent_requests = 0;
  std::int64_t daily_tokens = 0;
  std::int64_t monthly_tokens = 0;
  double daily_cost_usd = 0;
  double monthly_cost_usd = 0;
};

struct LimitsConfig {
  bool enabled = true;
  LimitsBackend backend = LimitsBackend::kMemory;  // memory: this process; redis: every replica
  FailureMode failure_mode = FailureMode::kOpen;   // when the backend fails: admit (open) or 503
  // Completion tokens reserved when a request sets no max_tokens.
  std::int64_t max_tokens_default = 4096;
  // The most a request may ask for: max_tokens / max_completion_tokens above this (or above
  // the model's own models[].max_output_tokens) and n above max_choices are refused with 400.
  std::int64_t max_output_tokens = 1'000'000;
  std::int64_t max_choices = 128;
  // A concurrency slot held by a replica that died is freed after this.
  Duration lease = std::chrono::minutes(10);
  // While the backend fails, how long before it is tried again.
  Duration retry_interval = std::chrono::seconds(1);
  Duration override_refresh = std::chrono::seconds(5);  // overrides re-read from the database
  LimitPolicyConfig per_key;
  LimitPolicyConfig per_user;
};

struct RedisConfig {
  std::string url;  // empty: no Redis, state stays in-process; REDIS_URL wins
  Duration connect_timeout = std::chrono::seconds(2);
  Duration command_timeout = std::chrono::seconds(1);
  int max_idle_connections = 32;  // per I/O thread
  std::string key_prefix = "bro:";
};

struct ProviderConfig {
  std::string name;
  ProviderType type = ProviderType::kUnset;  // required
  std::string base_url;
  std::string api_key_env;
  std::string api_key_file;
  std::string api_key;  // resolved from api_key_env / api_key_file
  Duration connect_timeout = std::chrono::seconds(5);
  Duration first_token_timeout = std::chrono::seconds(60);
  Duration total_timeout = std::chrono::seconds(600);
  int max_idle_connections = 64;
  std::string anthropic_version = "2023-06-01";  // anthropic only: the anthropic-version header
  std::int64_t max_tokens_default = 4096;  // anthropic only: max_tokens when the client sets none
  // vertex only: the Google Cloud project and region in the model's resource name, how the
  // gateway authenticates (metadata: an OAuth token from the GCE metadata server; api_key:
  // x-goog-api-key), the metadata server's host[:port] (resolved: this key, else
  // $GCE_METADATA_HOST, else metadata.google.internal), inputs per embeddings predict call.
  std::string project;
  std::string location = "us-central1";
  ProviderAuth auth = ProviderAuth::kUnset;  // vertex: resolved at load
  std::string metadata_host;
  int embedding_batch_size = 250;
  Duration token_delay = Duration::zero();  // echo only: pause between streamed chunks
  Duration latency = Duration::zero();      // echo only: pause before the first byte
};

// One place a public model is served from: a provider and its model name there.
struct DeploymentConfig {
  std::string provider;
  std::string upstream_model;           // defaults to the public name
  int weight = 1;                       // share of traffic among healthy deployments
  int max_concurrent = 0;               // requests in flight at once; 0 = unlimited
  double input_price_per_million = 0;   // USD per million prompt tokens
  double output_price_per_million = 0;  // USD per million completion tokens
};

struct ModelConfig {
  std::string name;
  // Shorthand for a single deployment (used when `deployments` is empty).
  std::string provider;
  std::string upstream_model;  // defaults to name
  double input_price_per_million = 0;
  double output_price_per_million = 0;
  std::vector<DeploymentConfig> deployments;  // filled from the shorthand at load
  std::vector<std::string> fallbacks;         // other public models, tried in order
  std::int64_t max_output_tokens = 0;         // 0: limits.max_output_tokens
  bool cache = false;                         // exact-match response cache for this model
  Duration cache_ttl = Duration::zero();      // zero: cache.ttl
};

struct RoutingConfig {
  int max_attempts = 3;  // upstream calls per public model (first try + retries)
  Duration backoff_base = std::chrono::milliseconds(100);
  Duration backoff_max = std::chrono::seconds(2);
  Duration retry_after_max = std::chrono::seconds(5);  // longer upstream Retry-After: don't wait
  int breaker_failures = 5;          // consecutive failures that open a deployment's circuit
  double breaker_error_ratio = 0.5;  // or this share of failures ...
  int breaker_min_requests = 20;     // ... among at least this many calls ...
  Duration breaker_window = std::chrono::seconds(30);    // ... within this window
  Duration breaker_open_for = std::chrono::seconds(30);  // then one half-open probe
};

struct CacheConfig {
  bool enabled = true;  // master switch; models opt in (models[].cache) or requests do
  Duration ttl = std::chrono::minutes(5);
  std::uint64_t max_bytes = std::uint64_t{64} << 20;       // in-process store
  std::uint64_t max_entry_bytes = std::uint64_t{1} << 20;  // larger responses are not cached
  CacheScope scope = CacheScope::kUser;                    // who shares cached answers
};

struct Config {
  ServerConfig server;
  DatabaseConfig database;
  LoggingConfig logging;
  MetricsConfig metrics;
  AuthConfig auth;
  UsageConfig usage;
  LimitsConfig limits;
  RedisConfig redis;
  RoutingConfig routing;
  CacheConfig cache;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
};

// Thrown for any invalid configuration; what() names the offending key. The CLI exits 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Environment = std::map<std::string, std::string>;
Environment ProcessEnvironment();

// Parses YAML text, applies environment overrides, resolves secrets, validates.
Config LoadFromString(const std::string& yaml_text, const Environment& env);
Config LoadFromFile(const std::string& path, const Environment& env);

// Every environment variable that overrides a scalar key, with the key it overrides (for --help and
// docs).
std::vector<std::pair<std::string, std::string>> EnvironmentOverrides();

}  // namespace bro::config
