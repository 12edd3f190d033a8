#pragma once

// The API server with every identity part wired as in src/app (access gate, OIDC login,
// sessions, keys, users, audit) against SQLite, and a real OpenID Provider (npm oidc-provider,
// tests/e2e/lib/oidc_provider.js) started as a child process on loopback. Sessions and login
// state live in storage::kv::MemoryKvStore (the two-instance test uses Redis).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "api/access.hpp"
#include "api/auth_api.hpp"
#include "api/health_api.hpp"
#include "api/keys_api.hpp"
#include "api/limits_api.hpp"
#include "api/openai_api.hpp"
#include "api/usage_api.hpp"
#include "api/users_api.hpp"
#include "gateway/catalog.hpp"
#include "gateway/metrics.hpp"
#include "identity/audit.hpp"
#include "identity/oidc.hpp"
#include "integration/http_client.hpp"
#include "integration/support.hpp"
#include "limits/memory_limiter.hpp"
#include "storage/kv/memory_kv_store.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/sqlite_database.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::api {

using namespace std::chrono_literals;
namespace json = boost::json;
namespace asio = boost::asio;

// Real time plus an offset the test moves: the provider signs with real timestamps, and
// expiry is still tested without sleeping.
class ShiftClock final : public common::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now() + offset_.load();
  }
  void Advance(std::chrono::milliseconds d) { offset_.store(offset_.load() + d); }
  void Reset() { offset_.store(std::chrono::milliseconds(0)); }

 private:
  std::atomic<std::chrono::milliseconds> offset_{std::chrono::milliseconds(0)};
};

// tests/e2e/lib/oidc_provider.js as a child process; stopped by PID.
class OidcProviderProcess {
 public:
  explicit OidcProviderProcess(const std::string& redirect_uri) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    const std::string script = std::string(BRO_SOURCE_DIR) + "/tests/e2e/lib/oidc_provider.js";
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // A test process that crashes or is killed by a timeout must not leave the provider
      // running (it would also hold the test's output pipes open).
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      if (std::getenv("BRO_TEST_LOG") == nullptr) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, STDERR_FILENO);
      }
      ::execlp("node", "node", script.c_str(), "--redirect-uri", redirect_uri.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
    // Bounded: a provider that never says it is ready fails the test instead of hanging it.
    pollfd ready{fds[0], POLLIN, 0};
    if (::poll(&ready, 1, 30'000) != 1) throw std::runtime_error("oidc provider not ready in 30 s");
    char line[512] = {};
    // The pipe stays open until the provider stops: a closed stdout would kill it (EPIPE).
    const bool got = std::fgets(line, sizeof line, out_) != nullptr;
    if (!got) throw std::runtime_error("oidc provider did not start (npm ci in tests/e2e?)");
    issuer_ = std::string(json::parse(line).as_object().at("issuer").as_string());
  }
  ~OidcProviderProcess() {
    if (pid_ > 0) {
      // SIGTERM, then SIGKILL after 5 s: stopping is bounded whatever the provider is doing.
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 500 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(10'000);
      if (::waitpid(pid_, nullptr, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  OidcProviderProcess(const OidcProviderProcess&) = delete;
  OidcProviderProcess& operator=(const OidcProviderProcess&) = delete;
  const std::string& Issuer() const { return issuer_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string issuer_;
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::string location;
  std::vector<std::string> set_cookies;
  json::object Json() const {
    auto v = json::parse(body);
    return v.is_object() ? v.as_object() : json::object{};
  }
};

// A browser for tests: a cookie jar per host:port (attributes ignored, last value wins) and
// manual redirect following.
class Browser {
 public:
  HttpResult Request(const std::string& method, const std::string& url,
                     const std::string& body = "", const std::string& extra_headers = "") {
    auto u = boost::urls::parse_uri(url).value();
    const std::string origin = std::string(u.host()) + ":" + std::string(u.port());
    std::string target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) target += "?" + std::string(u.encoded_query());
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + origin +
                      "\r\nConnection: close\r\n" + extra_headers;
    std::string cookies;
    for (const auto& [k, v] : jar_[origin]) cookies += (cookies.empty() ? "" : "; ") + k + "=" + v;
    if (!cookies.empty()) raw += "Cookie: " + cookies + "\r\n";
    if (!body.empty() || method == "POST" || method == "PATCH") {
      raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    raw += "\r\n" + body;
    testing::Client c(static_cast<unsigned short>(std::stoi(std::string(u.port()))));
    c.Send(raw);
    auto res = c.MustRead();
    HttpResult out;
    out.status = res.result_int();
    out.body = res.body();
    out.location = std::string(res[http::Field::location]);
    auto [first, last] = res.equal_range(http::Field::set_cookie);
    for (auto it = first; it != last; ++it) {
      std::string sc(it->value());
      out.set_cookies.push_back(sc);
      const auto eq = sc.find('=');
      const auto semi = sc.find(';');
      const auto name = sc.substr(0, eq);
      const auto value = sc.substr(eq + 1, semi == std::string::npos ? semi : semi - eq - 1);
      if (value.empty() || sc.find("Max-Age=0") != std::string::npos) {
        jar_[origin].erase(name);
      } else {
        jar_[origin][name] = value;
      }
    }
    return out;
  }
  void SetCookie(const std::string& origin, const std::string& name, const std::string& value) {
    jar_[origin][name] = value;
  }
  std::optional<std::string> Cookie(const std::string& origin, const std::string& name) {
    auto it = jar_[origin].find(name);
    if (it == jar_[origin].end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::map<std::string, std::string>> jar_;
};

// Request header lines for Browser::Request.
inline std::string Bearer(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}
inline std::string CsrfHeader(const std::string& token) {
  return "X-CSRF-Token: " + token + "\r\n";
}

inline std::string Resolve(const std::string& base, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  auto u = boost::urls::parse_uri(base).value();
  return std::string(u.scheme()) + "://" + std::string(u.encoded_authority()) + location;
}

class IdentityFixture : public ::testing::Test {
 protected:
  static constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";
  // Providers and models as YAML; empty: the built-in echo model alone.
  virtual std::string Catalog() const { return ""; }
  virtual bool RequireMfa() const { return true; }
  virtual std::int64_t LoginPerMinute() const { return 0; }
  virtual int TrustedProxyHops() const { return 0; }
  // For fixtures that wire more into the gate (bearer issuers, IAP) before requests arrive.
  virtual void BeforeStart() {}

  void SetUp() override {
    cfg_ = config::LoadFromString(Catalog(), {});
    db_ = std::make_unique<storage::SqliteDatabase>((dir_.Path() / "bro.db").string(), 2, 5s);
    testing::RunTask(ioc_, storage::Migrate(*db_, storage::MigrationsFor(
                                                      "sqlite", storage::EmbeddedMigrations())));
    ioc_.restart();
    keys_ = std::make_unique<auth::KeyRepository>(*db_);
    authenticator_ =
        std::make_unique<auth::Authenticator>(*keys_, auth::KeyHasher(kSecret), 5s, clock_);
    users_ = std::make_unique<identity::UserRepository>(*db_);
    audit_ = std::make_unique<identity::AuditLog>(*db_, log_.Get(), clock_);
    kv_ = std::make_unique<storage::kv::MemoryKvStore>(std::size_t{16} << 20, clock_);
    sessions_ =
        std::make_unique<identity::SessionStore>(*kv_, identity::SessionOptions{8h, 1h}, clock_);
    fetcher_ = std::make_unique<identity::HttpFetcher>(ssl_, 5s);
    AccessOptions access;
    access.require_mfa_for_admin = RequireMfa();
    gate_ = std::make_unique<AccessGate>(*authenticator_, access, log_.Get());
    gate_->UseUsers(*users_);
    gate_->UseSessions(*sessions_);
    catalog_ = std::make_unique<gateway::ModelCatalog>(cfg_, ssl_, clock_);
    usage_ = std::make_unique<usage::UsageRecorder>(*db_, asio::make_strand(ioc_), cfg_.usage,
                                                    log_.Get(), registry_);
    gateway_metrics_ = std::make_unique<gateway::GatewayMetrics>(registry_);
    http_metrics_ = std::make_unique<http::HttpMetrics>(registry_);
    http::ServerOptions options;
    options.read_timeout = 5s;
    options.write_timeout = 5s;
    options.trusted_proxy_hops = TrustedProxyHops();
    server_ = std::make_unique<http::Server>(ioc_, options, router_, log_.Get(), *http_metrics_);
    port_ = server_->Listen("127.0.0.1", 0);
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    origin_ = "127.0.0.1:" + std::to_string(port_);
    provider_ = std::make_unique<OidcProviderProcess>(base_ + "/auth/callback");

    identity::OidcOptions o;
    o.issuer = provider_->Issuer();
    o.client_id = "bro-ai-test";
    o.client_secret = "bro-ai-test-secret-0123456789abcdef";
    o.redirect_uri = base_ + "/auth/callback";
    o.mfa_amr = {"otp", "mfa"};
    oidc_ = std::make_unique<identity::OidcClient>(o, *fetcher_, *kv_, clock_);
    AuthApiOptions auth_options;
    auth_options.default_role = auth::Role::kDeveloper;
    auth_options.first_user_admin = true;
    auth_options.login_per_minute = LoginPerMinute();
    auth_api_ = std::make_unique<AuthApi>(*gate_, *oidc_, *sessions_, *users_, *audit_,
                                          auth_options, clock_);
    auth_api_->UseLimiter(login_limiter_);
    model_router_ =
        std::make_unique<gateway::ModelRouter>(cfg_.routing, *catalog_, registry_, clock_);
    response_cache_ =
        std::make_unique<gateway::ResponseCache>(cfg_.cache, *kv_, registry_, log_.Get());
    openai_ = std::make_unique<OpenAiApi>(*catalog_, *model_router_, *response_cache_, *usage_,
                                          *gateway_metrics_);
    keys_api_ = std::make_unique<KeysApi>(*gate_, *keys_, *users_, *audit_, 1h, clock_);
    users_api_ = std::make_unique<UsersApi>(*gate_, *users_, *audit_, clock_);
    audit_api_ = std::make_unique<AuditApi>(*gate_, *audit_);
    usage_query_ = std::make_unique<usage::UsageQuery>(*db_);
    usage_api_ = std::make_unique<UsageApi>(*gate_, *usage_query_, clock_);
    limit_overrides_ = std::make_unique<limits::OverrideRepository>(*db_);
    limit_policies_ = std::make_unique<limits::PolicyResolver>(cfg_.limits, *limit_overrides_);
    limits_api_ = std::make_unique<LimitsApi>(*gate_, *limit_overrides_, *limit_policies_, clock_,
                                              [](const LimitsAuditEvent&) {});
    health_ = std::make_unique<HealthApi>(*db_, draining_);
    health_->Register(router_);
    openai_->Register(*gate_, router_, cfg_.server);
    keys_api_->Register(router_);
    users_api_->Register(router_);
    audit_api_->Register(router_);
    usage_api_->Register(router_);
    limits_api_->Register(router_);
    auth_api_->Register(router_);
    AccessGate::CheckCoverage(router_);
    BeforeStart();
    server_->Start();
    work_.emplace(asio::make_work_guard(ioc_));
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    server_->BeginDrain();
    server_->CloseAll();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    provider_.reset();
  }

  // The whole browser flow for `user`; returns the final answer of /auth/callback.
  HttpResult Login(Browser& b, const std::string& user, const std::string& return_to = "/") {
    std::string current = base_ + "/auth/login?return_to=" + identity::FormEncode(return_to);
    auto r = b.Request("GET", current);
    for (int hops = 0; hops < 12 && r.status >= 300 && r.status < 400; ++hops) {
      std::string next = Resolve(current, r.location);
      if (next.starts_with(base_ + "/auth/callback")) {
        last_callback_ = next;
        return b.Request("GET", next);
      }
      if (next.find("/interaction/") != std::string::npos) next += "?as=" + user;
      current = next;
      r = b.Request("GET", next);
    }
    ADD_FAILURE() << "login did not reach the callback: " << r.status << " " << r.body;
    return r;
  }

  std::string Csrf(Browser& b) {
    return std::string(b.Request("GET", base_ + "/api/v1/me").Json().at("csrf_token").as_string());
  }

  template <class T>
  T Run(asio::awaitable<T> task) {
    return asio::co_spawn(ioc_, std::move(task), asio::use_future).get();
  }

  // A key for a user made directly in the database (no login): the matrix and MFA tests.
  std::string CreateKey(const std::string& user_email, auth::Role role) {
    auto user = Run(keys_->UpsertUser(user_email, role));
    const std::vector<std::string> all;
    return Run(keys_->CreateKey(authenticator_->Hasher(), user, "t", role, all, std::nullopt))
        .secret;
  }

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  testing::TempDir dir_;
  testing::TestLogger log_;
  observability::Registry registry_;
  ShiftClock clock_;
  std::atomic<bool> draining_{false};
  asio::ssl::context ssl_{asio::ssl::context::tls_client};
  config::Config cfg_;
  std::unique_ptr<storage::SqliteDatabase> db_;
  std::unique_ptr<auth::KeyRepository> keys_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<identity::UserRepository> users_;
  std::unique_ptr<identity::AuditLog> audit_;
  std::unique_ptr<storage::kv::MemoryKvStore> kv_;
  std::unique_ptr<identity::SessionStore> sessions_;
  std::unique_ptr<identity::HttpFetcher> fetcher_;
  std::unique_ptr<AccessGate> gate_;
  std::unique_ptr<gateway::ModelCatalog> catalog_;
  std::unique_ptr<gateway::ModelRouter> model_router_;
  std::unique_ptr<gateway::ResponseCache> response_cache_;
  std::unique_ptr<usage::UsageRecorder> usage_;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics_;
  std::unique_ptr<http::HttpMetrics> http_metrics_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<OidcProviderProcess> provider_;
  std::unique_ptr<identity::OidcClient> oidc_;
  limits::MemoryLimiter login_limiter_;
  std::unique_ptr<AuthApi> auth_api_;
  std::unique_ptr<OpenAiApi> openai_;
  std::unique_ptr<KeysApi> keys_api_;
  std::unique_ptr<UsersApi> users_api_;
  std::unique_ptr<AuditApi> audit_api_;
  std::unique_ptr<usage::UsageQuery> usage_query_;
  std::unique_ptr<UsageApi> usage_api_;
  std::unique_ptr<limits::OverrideRepository> limit_overrides_;
  std::unique_ptr<limits::PolicyResolver> limit_policies_;
  std::unique_ptr<LimitsApi> limits_api_;
  std::unique_ptr<HealthApi> health_;
  unsigned short port_ = 0;
  std::string base_;
  std::string origin_;
  std::string last_callback_;
};

}  // namespace bro::api
