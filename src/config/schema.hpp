#pragma once

#include "config/reader.hpp"

// Each section's keys, with their types and bounds (schema.cpp).
namespace bro::config {

const Fields<ServerConfig>& ServerFields();
const Fields<DatabaseConfig>& DatabaseFields();
const Fields<LoggingConfig>& LoggingFields();
const Fields<MetricsConfig>& MetricsFields();
const Fields<AuthConfig>& AuthFields();
const Fields<OidcConfig>& OidcFields();
const Fields<IapConfig>& IapFields();
const Fields<UsageConfig>& UsageFields();
const Fields<LimitsConfig>& LimitsFields();
const Fields<LimitPolicyConfig>& LimitPolicyFields();
const Fields<RedisConfig>& RedisFields();
const Fields<RoutingConfig>& RoutingFields();
const Fields<CacheConfig>& CacheFields();
const Fields<ProviderConfig>& ProviderFields();
const Fields<ModelConfig>& ModelFields();

// limits: scalar keys plus the per_key and per_user policy mappings.
void ApplyLimits(const YAML::Node& map, LimitsConfig& out);

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

}  // namespace bro::config
