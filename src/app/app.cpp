#include "app/app.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "api/access.hpp"
#include "api/auth_api.hpp"
#include "api/health_api.hpp"
#include "api/keys_api.hpp"
#include "api/limits_api.hpp"
#include "api/openai_api.hpp"
#include "api/usage_api.hpp"
#include "api/users_api.hpp"
#include "app/key_secret.hpp"
#include "auth/api_keys.hpp"
#include "gateway/catalog.hpp"
#include "gateway/metrics.hpp"
#include "gateway/response_cache.hpp"
#include "gateway/routing.hpp"
#include "http/server.hpp"
#include "identity/audit.hpp"
#include "identity/http_fetch.hpp"
#include "identity/jwks.hpp"
#include "identity/oidc.hpp"
#include "identity/sessions.hpp"
#include "identity/users.hpp"
#include "limits/governor.hpp"
#include "limits/memory_limiter.hpp"
#include "limits/policy.hpp"
#include "limits/redis_limiter.hpp"
#include "observability/metrics.hpp"
#include "storage/kv/memory_kv_store.hpp"
#include "storage/kv/redis_kv_store.hpp"
#include "storage/redis/redis_client.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/postgres_database.hpp"
#include "storage/sql/sqlite_database.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::app {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

template <class T>
T RunSync(asio::io_context& ioc, asio::awaitable<T> task) {
  auto future = asio::co_spawn(ioc, std::move(task), asio::use_future);
  ioc.restart();
  ioc.run();
  return future.get();
}

std::unique_ptr<storage::Database> OpenDatabase(const config::DatabaseConfig& cfg,
                                                asio::any_io_executor ex,
                                                observability::Logger& log) {
  if (cfg.url.starts_with("sqlite://")) {
    auto db = std::make_unique<storage::SqliteDatabase>(SqlitePath(cfg.url), cfg.max_connections,
                                                        cfg.timeout);
    if (auto mode = db->SharedDirectoryMode()) {
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", *mode);
      const auto dir = std::filesystem::path(SqlitePath(cfg.url)).parent_path();
      log.Warning(
          "the database directory is open to other users; it holds API-key hashes, users and "
          "usage (chmod 700 it)",
          {{"directory", dir.empty() ? "." : dir.string()}, {"mode", octal}});
    }
    return db;
  }
  return std::make_unique<storage::PostgresDatabase>(std::move(ex), cfg.url, cfg.max_connections,
                                                     cfg.timeout);
}

std::unique_ptr<storage::redis::RedisClient> OpenRedis(const config::RedisConfig& cfg) {
  if (cfg.url.empty()) return nullptr;
  auto options = storage::redis::ParseRedisUrl(cfg.url);
  options.connect_timeout = cfg.connect_timeout;
  options.command_timeout = cfg.command_timeout;
  options.max_idle = cfg.max_idle_connections;
  return std::make_unique<storage::redis::RedisClient>(std::move(options));
}

// Embedded mode keeps a generated HMAC secret next to the database file.
std::string ResolveKeySecret(const config::Config& cfg) {
  if (!cfg.auth.key_secret.empty()) return cfg.auth.key_secret;
  auto db_path = std::filesystem::path(SqlitePath(cfg.database.url));
  // The directory exists: the database, opened first, made it.
  return LoadOrCreateKeySecret(
      (db_path.has_parent_path() ? db_path.parent_path() : std::filesystem::path(".")) /
      "key_secret");
}

Task<void> MigrateTask(storage::Database& db, observability::Logger& log) {
  auto result = co_await storage::Migrate(
      db, storage::MigrationsFor(db.Dialect(), storage::EmbeddedMigrations()));
  log.Info("database schema is current", {{"dialect", std::string(db.Dialect())},
                                          {"applied", result.applied},
                                          {"version", result.current_version}});
}

std::vector<identity::JwtAlg> Algorithms(const std::vector<std::string>& names) {
  std::vector<identity::JwtAlg> out;
  for (const auto& n : names) out.push_back(identity::ParseJwtAlg(n).value());
  return out;
}

identity::JwksOptions JwksOptionsOf(const config::AuthConfig& a) {
  return identity::JwksOptions{a.jwks_refresh, a.jwks_min_refetch};
}

identity::OidcOptions OidcOptionsOf(const config::AuthConfig& a) {
  identity::OidcOptions o;
  o.issuer = a.oidc.issuer;
  o.discovery_url = a.oidc.discovery_url;
  o.client_id = a.oidc.client_id;
  o.client_secret = a.oidc.client_secret;
  o.redirect_uri = a.oidc.redirect_uri;
  o.scopes = a.oidc.scopes;
  o.algorithms = Algorithms(a.oidc.algorithms);
  o.skew = std::chrono::duration_cast<std::chrono::seconds>(a.clock_skew);
  o.allowed_domains = a.oidc.allowed_domains;
  o.mfa_amr = a.mfa_amr;
  o.jwks = JwksOptionsOf(a);
  return o;
}

}  // namespace

std::string SqlitePath(const std::string& url) {
  return url.substr(std::string_view("sqlite://").size());
}

App::App(config::Config cfg, observability::Logger& log) : cfg_(std::move(cfg)), log_(log) {}

int App::Migrate() {
  asio::io_context ioc;
  auto db = OpenDatabase(cfg_.database, ioc.get_executor(), log_);
  RunSync(ioc, MigrateTask(*db, log_));
  return 0;
}

int App::CreateKey(const KeyRequest& request) {
  auto role = auth::ParseRole(request.role);
  if (!role) {
    std::cerr << "bro-ai: --role must be admin, developer or viewer\n";
    return 2;
  }
  if (request.email.empty() || request.email.size() > 320 ||
      request.email.find('@') == std::string::npos) {
    std::cerr << "bro-ai: --user must be an email address\n";
    return 2;
  }
  asio::io_context ioc;
  auto db = OpenDatabase(cfg_.database, ioc.get_executor(), log_);
  auth::KeyRepository repo(*db);
  auth::KeyHasher hasher(ResolveKeySecret(cfg_));
  auto key = RunSync(ioc, [&]() -> Task<auth::NewKey> {
    co_await MigrateTask(*db, log_);
    auto user = co_await repo.UpsertUser(request.email, *role);
    std::optional<std::chrono::system_clock::time_point> expires;
    if (request.expires_in) expires = std::chrono::system_clock::now() + *request.expires_in;
    co_return co_await repo.CreateKey(hasher, user, request.name, *role, request.models, expires);
  }());
  log_.Info("api key created",
            {{"user", request.email}, {"key_prefix", key.prefix}, {"role", request.role}});
  log_.Flush();
  std::cout << key.secret << std::endl;
  return 0;
}

int App::Serve(const std::string& role) {
  const int threads = cfg_.server.io_threads > 0
                          ? cfg_.server.io_threads
                          : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  http::IoPool io(threads);
  auto& ioc = io.Main();
  auto db = OpenDatabase(cfg_.database, ioc.get_executor(), log_);
  if (cfg_.database.migrate_on_start) RunSync(ioc, MigrateTask(*db, log_));

  common::SystemClock clock;
  // Shared state (sessions, login state, cached responses) lives in Redis when REDIS_URL is
  // set, so that every replica sees it; otherwise in this process.
  auto redis = OpenRedis(cfg_.redis);
  std::unique_ptr<storage::kv::KvStore> kv;
  if (redis) {
    kv = std::make_unique<storage::kv::RedisKvStore>(*redis, cfg_.redis.key_prefix);
  } else {
    kv = std::make_unique<storage::kv::MemoryKvStore>(std::size_t{64} << 20, clock);
  }
  log_.Info("shared state store", {{"backend", std::string(kv->Backend())}});
  auth::KeyRepository keys(*db);
  auth::Authenticator authenticator(keys, auth::KeyHasher(ResolveKeySecret(cfg_)),
                                    cfg_.auth.key_cache_ttl, clock);
  if (cfg_.auth.bootstrap_admin && RunSync(ioc, keys.CountUsers()) == 0) {
    auto key = RunSync(ioc, [&]() -> Task<auth::NewKey> {
      auto admin = co_await keys.UpsertUser("admin@localhost", auth::Role::kAdmin);
      co_return co_await keys.CreateKey(authenticator.Hasher(), admin, "bootstrap",
                                        auth::Role::kAdmin, {}, std::nullopt);
    }());
    log_.Warning("bootstrap admin created; its API key is printed once on stderr",
                 {{"user", "admin@localhost"}, {"key_prefix", key.prefix}});
    log_.Flush();
    std::cerr << "\n  Bootstrap admin API key (shown once, store it now):\n\n    " << key.secret
              << "\n\n";
  }

  observability::Registry registry;
  observability::RegisterProcessMetrics(registry, BRO_VERSION);
  registry.AddCallbackGauge(
      "bro_db_pool_connections", "Database pool connections by state.", {"state"}, [&db] {
        auto s = db->Stats();
        return std::vector<observability::GaugeSample>{{{"in_use"}, static_cast<double>(s.in_use)},
                                                       {{"idle"}, static_cast<double>(s.idle)},
                                                       {{"max"}, static_cast<double>(s.max)}};
      });
  registry.AddCallbackGauge(
      "bro_log_lines_dropped", "Log lines dropped because the log buffer was full.", {}, [this] {
        return std::vector<observability::GaugeSample>{{{}, static_cast<double>(log_.Dropped())}};
      });
  http::HttpMetrics http_metrics(registry);
  gateway::GatewayMetrics gateway_metrics(registry);

  asio::ssl::context ssl(asio::ssl::context::tls_client);
  ssl.set_default_verify_paths();
  ssl.set_verify_mode(asio::ssl::verify_peer);
  gateway::ModelCatalog catalog(cfg_, ssl, clock);
  gateway::ModelRouter model_router(cfg_.routing, catalog, registry, clock);
  // Cached answers are shared by every replica through Redis when it is configured.
  std::unique_ptr<storage::kv::KvStore> cache_store;
  if (redis) {
    cache_store = std::make_unique<storage::kv::RedisKvStore>(*redis, cfg_.redis.key_prefix);
  } else {
    cache_store = std::make_unique<storage::kv::MemoryKvStore>(cfg_.cache.max_bytes, clock);
  }
  gateway::ResponseCache response_cache(cfg_.cache, *cache_store, registry, log_);
  usage::UsageRecorder usage(*db, ioc.get_executor(), cfg_.usage, log_, registry);

  limits::OverrideRepository limit_overrides(*db);
  limits::PolicyResolver limit_policies(cfg_.limits, limit_overrides);
  RunSync(ioc, limit_policies.Load());
  limit_policies.Start(asio::make_strand(ioc), log_);
  std::unique_ptr<limits::Limiter> limiter;
  if (cfg_.limits.backend == config::LimitsBackend::kRedis) {
    // Validated at load: limits.backend redis requires redis.url, so `redis` is set.
    limiter = std::make_unique<limits::RedisLimiter>(*redis, cfg_.redis.key_prefix + "limits:");
  } else {
    limiter = std::make_unique<limits::MemoryLimiter>();
  }
  log_.Info("limits", {{"enabled", cfg_.limits.enabled},
                       {"backend", std::string(limiter->Backend())},
                       {"failure_mode", config::Name(cfg_.limits.failure_mode)}});
  limits::Governor governor(cfg_.limits, *limiter, limit_policies, usage,
                            limits::CatalogPrices(catalog), clock, ioc.get_executor(), log_,
                            registry);

  std::atomic<bool> draining{false};
  http::Router api_router;
  api::HealthApi health(*db, draining);
  health.Register(api_router);

  identity::UserRepository users(*db);
  identity::AuditLog audit(*db, log_, clock);
  identity::HttpFetcher fetcher(ssl, cfg_.auth.issuer_timeout);
  api::AccessOptions access;
  access.require_mfa_for_admin = cfg_.auth.require_mfa_for_admin;
  access.session_cookie = cfg_.auth.cookie_secure ? "__Host-bro_session" : "bro_session";
  access.iap_default_role = auth::ParseRole(cfg_.auth.iap.default_role).value();
  api::AccessGate gate(authenticator, access, log_);
  gate.UseUsers(users);

  std::vector<std::unique_ptr<identity::JwtVerifier>> bearer;
  for (const auto& j : cfg_.auth.jwt_issuers) {
    identity::JwtPolicy policy{
        j.issuer,
        {j.audience},
        Algorithms(j.algorithms),
        std::chrono::duration_cast<std::chrono::seconds>(cfg_.auth.clock_skew)};
    bearer.push_back(std::make_unique<identity::JwtVerifier>(fetcher, j.jwks_url, policy,
                                                             JwksOptionsOf(cfg_.auth), clock));
    gate.AddBearerIssuer(*bearer.back());
  }
  std::unique_ptr<identity::JwtVerifier> iap;
  if (cfg_.auth.iap.enabled) {
    identity::JwtPolicy policy{
        cfg_.auth.iap.issuer,
        {cfg_.auth.iap.audience},
        {identity::JwtAlg::kES256},
        std::chrono::duration_cast<std::chrono::seconds>(cfg_.auth.clock_skew)};
    iap = std::make_unique<identity::JwtVerifier>(fetcher, cfg_.auth.iap.jwks_url, policy,
                                                  JwksOptionsOf(cfg_.auth), clock);
    gate.UseIap(*iap);
  }

  identity::SessionStore sessions(
      *kv, identity::SessionOptions{cfg_.auth.session_ttl, cfg_.auth.session_idle_timeout}, clock);
  gate.UseSessions(sessions);
  std::unique_ptr<storage::kv::KvStore> login_states;
  std::unique_ptr<identity::OidcClient> oidc;
  std::unique_ptr<api::AuthApi> auth_api;
  if (cfg_.auth.oidc.enabled) {
    // Without Redis, pending logins (anyone can start one) get a bounded store of their own, so
    // that a flood of /auth/login cannot evict the sessions of signed-in users from `kv`.
    if (!redis)
      login_states = std::make_unique<storage::kv::MemoryKvStore>(std::size_t{8} << 20, clock);
    oidc = std::make_unique<identity::OidcClient>(OidcOptionsOf(cfg_.auth), fetcher,
                                                  login_states ? *login_states : *kv, clock);
    api::AuthApiOptions options;
    options.cookie_secure = cfg_.auth.cookie_secure;
    options.default_role = auth::ParseRole(cfg_.auth.oidc.default_role).value();
    options.first_user_admin = cfg_.auth.oidc.first_user_admin;
    options.login_per_minute = cfg_.auth.login_per_minute;
    auth_api = std::make_unique<api::AuthApi>(gate, *oidc, sessions, users, audit, options, clock);
    auth_api->UseLimiter(*limiter);
  }

  api::OpenAiApi openai(catalog, model_router, response_cache, usage, gateway_metrics, &governor,
                        {cfg_.limits.max_output_tokens, cfg_.limits.max_choices});
  usage::UsageQuery usage_query(*db);
  api::UsageApi usage_api(gate, usage_query, clock);
  // Limit changes go to the audit log (asynchronously: the change itself is already stored).
  api::LimitsApi limits_api(
      gate, limit_overrides, limit_policies, clock, [&audit, &ioc](const api::LimitsAuditEvent& e) {
        identity::AuditEvent event;
        event.actor_user_id = e.actor.user_id;
        event.actor_method = e.actor.key_prefix.empty() ? "session" : "api_key";
        event.action = std::string(e.action);
        event.target_type = "limits";
        event.details = e.details;
        asio::co_spawn(ioc, audit.Record(std::move(event)), asio::detached);
      });
  api::KeysApi keys_api(gate, keys, users, audit, cfg_.auth.key_rotation_grace, clock);
  api::UsersApi users_api(gate, users, audit, clock);
  api::AuditApi audit_api(gate, audit);
  if (role != "worker") {
    openai.Register(gate, api_router, cfg_.server);
    keys_api.Register(api_router);
    users_api.Register(api_router);
    audit_api.Register(api_router);
    usage_api.Register(api_router);
    limits_api.Register(api_router);
    if (auth_api) auth_api->Register(api_router);
  }
  api::AccessGate::CheckCoverage(api_router);

  http::Router metrics_router;
  metrics_router.Add({http::Verb::get, "/metrics", "/metrics",
                      [&registry](http::Exchange& ex) -> Task<http::Response> {
                        http::Response res{http::Status::ok, ex.Req().version()};
                        res.set(http::Field::content_type,
                                "text/plain; version=0.0.4; charset=utf-8");
                        res.body() = registry.Render();
                        res.prepare_payload();
                        co_return res;
                      }});
  health.Register(metrics_router);

  http::ServerOptions api_options;
  api_options.name = "api";
  api_options.max_header_bytes = cfg_.server.max_header_bytes;
  api_options.max_body_bytes = cfg_.server.max_body_bytes;
  api_options.read_timeout = cfg_.server.read_timeout;
  api_options.idle_timeout = cfg_.server.idle_timeout;
  api_options.write_timeout = cfg_.server.write_timeout;
  api_options.max_connections = cfg_.server.max_connections;
  api_options.trusted_proxy_hops = cfg_.server.trusted_proxy_hops;
  api_options.access_log = cfg_.logging.access_log;
  http::ServerOptions metrics_options = api_options;
  metrics_options.name = "metrics";
  metrics_options.access_log = false;
  metrics_options.max_connections = 64;

  http::Server api_server(io, api_options, api_router, log_, http_metrics);
  http::Server metrics_server(ioc, metrics_options, metrics_router, log_, http_metrics);
  unsigned short api_port = 0, metrics_port = 0;
  try {
    api_port = api_server.Listen(cfg_.server.host, static_cast<unsigned short>(cfg_.server.port));
    if (cfg_.metrics.enabled) {
      metrics_port =
          metrics_server.Listen(cfg_.metrics.host, static_cast<unsigned short>(cfg_.metrics.port));
    }
  } catch (const std::exception& e) {
    log_.Error("cannot listen", {{"error", e.what()}});
    return 1;
  }
  api_server.Start();
  if (cfg_.metrics.enabled) metrics_server.Start();
  usage.Start();
  log_.Info("listening",
            {{"address", cfg_.server.host + ":" + std::to_string(api_port)},
             {"metrics_address",
              cfg_.metrics.enabled ? cfg_.metrics.host + ":" + std::to_string(metrics_port) : ""},
             {"role", role},
             {"database", std::string(db->Dialect())},
             {"threads", threads},
             {"version", BRO_VERSION}});
  std::cerr << "bro-ai " << BRO_VERSION << " listening on http://" << cfg_.server.host << ":"
            << api_port;
  if (cfg_.metrics.enabled) std::cerr << " (metrics on :" << metrics_port << "/metrics)";
  std::cerr << std::endl;

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto [ec, sig] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        log_.Info("shutdown requested: draining",
                  {{"signal", sig},
                   {"in_flight", api_server.ActiveSessions()},
                   {"grace", common::FormatDuration(cfg_.server.shutdown_grace)}});
        draining = true;
        api_server.BeginDrain();
        const auto deadline = Clock::now() + cfg_.server.shutdown_grace;
        asio::steady_timer tick(ioc);
        while (api_server.ActiveSessions() > 0 && Clock::now() < deadline) {
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (auto left = api_server.ActiveSessions(); left > 0) {
          log_.Warning("grace period over: closing remaining connections", {{"connections", left}});
        }
        api_server.CloseAll();
        co_await limiter->Drain();  // settlements the last answers queued
        co_await limit_policies.Stop();
        co_await usage.Stop();
        metrics_server.BeginDrain();
        metrics_server.CloseAll();
        log_.Info("shutdown complete");
        io.Stop();
      },
      asio::detached);

  io.Run();
  log_.Flush();
  return 0;
}

}  // namespace bro::app
