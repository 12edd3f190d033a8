#pragma once

// The gateway's OpenAI-compatible API server in-process (http::Server + OpenAiApi + SQLite),
// and a loopback server for scripted fakes of upstream providers.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/health_api.hpp"
#include "api/limits_api.hpp"
#include "api/openai_api.hpp"
#include "api/usage_api.hpp"
#include "auth/api_keys.hpp"
#include "config/config.hpp"
#include "gateway/catalog.hpp"
#include "gateway/metrics.hpp"
#include "gateway/sse.hpp"
#include "integration/http_client.hpp"
#include "integration/support.hpp"
#include "limits/governor.hpp"
#include "limits/memory_limiter.hpp"
#include "limits/policy.hpp"
#include "storage/kv/memory_kv_store.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/sqlite_database.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::api {

using namespace std::chrono_literals;
using testing::Client;
using testing::Get;
using testing::Post;
using testing::WaitFor;
namespace asio = boost::asio;
namespace json = boost::json;

inline constexpr const char* kCatalog = R"(
providers:
  - name: echo
    type: echo
  - name: slow-echo
    type: echo
    token_delay: 20ms
models:
  - name: echo
    provider: echo
  - name: slow
    provider: slow-echo
  - name: other
    provider: echo
    upstream_model: echo-other
)";

// The gateway's API server with its database, keys, catalog and usage recorder.
class GatewayFixture : public ::testing::Test {
 protected:
  virtual std::string Catalog() const { return kCatalog; }
  virtual config::Environment Env() const { return {}; }
  virtual std::unique_ptr<limits::Limiter> MakeLimiter() {
    return std::make_unique<limits::MemoryLimiter>();
  }
  // The router's source of randomness; empty: the real one.
  virtual std::function<double()> Random() const { return {}; }
  // Where cached answers live; the Redis variant of the cache tests overrides it.
  virtual std::unique_ptr<storage::kv::KvStore> CacheStore() {
    return std::make_unique<storage::kv::MemoryKvStore>(cfg_.cache.max_bytes, clock_);
  }

  void SetUp() override {
    cfg_ = config::LoadFromString(Catalog(), Env());
    cfg_.server.max_body_bytes = 1024;
    cfg_.server.chat_max_body_bytes = 64 * 1024;
    db_ = std::make_unique<storage::SqliteDatabase>((dir_.Path() / "bro.db").string(), 2, 5s);
    testing::RunTask(ioc_, PrepareDatabase());
    ioc_.restart();
    keys_ = std::make_unique<auth::KeyRepository>(*db_);
    authenticator_ =
        std::make_unique<auth::Authenticator>(*keys_, auth::KeyHasher(kSecret), 5s, clock_);
    catalog_ = std::make_unique<gateway::ModelCatalog>(cfg_, ssl_, clock_);
    usage_ = std::make_unique<usage::UsageRecorder>(*db_, asio::make_strand(ioc_), cfg_.usage,
                                                    log_.Get(), registry_);
    gateway_metrics_ = std::make_unique<gateway::GatewayMetrics>(registry_);
    http_metrics_ = std::make_unique<http::HttpMetrics>(registry_);
    router_model_ = std::make_unique<gateway::ModelRouter>(cfg_.routing, *catalog_, registry_,
                                                           clock_, Random());
    cache_store_ = CacheStore();
    cache_ =
        std::make_unique<gateway::ResponseCache>(cfg_.cache, *cache_store_, registry_, log_.Get());

    limit_overrides_ = std::make_unique<limits::OverrideRepository>(*db_);
    limit_policies_ = std::make_unique<limits::PolicyResolver>(cfg_.limits, *limit_overrides_);
    testing::RunTask(ioc_, limit_policies_->Load());
    ioc_.restart();
    limiter_ = MakeLimiter();
    governor_ = std::make_unique<limits::Governor>(
        cfg_.limits, *limiter_, *limit_policies_, *usage_, limits::CatalogPrices(*catalog_), clock_,
        ioc_.get_executor(), log_.Get(), registry_);
    gate_ = std::make_unique<AccessGate>(*authenticator_, AccessOptions{}, log_.Get());
    api_ = std::make_unique<OpenAiApi>(*catalog_, *router_model_, *cache_, *usage_,
                                       *gateway_metrics_, governor_.get());
    api_->Register(*gate_, router_, cfg_.server);
    usage_query_ = std::make_unique<usage::UsageQuery>(*db_);
    usage_api_ = std::make_unique<UsageApi>(*gate_, *usage_query_, clock_);
    usage_api_->Register(router_);
    limits_api_ = std::make_unique<LimitsApi>(
        *gate_, *limit_overrides_, *limit_policies_, clock_, [this](const LimitsAuditEvent& e) {
          std::lock_guard lock(audit_mu_);
          audit_events_.push_back(std::string(e.action) + " " + e.actor.user_id + " " +
                                  json::serialize(e.details));
        });
    limits_api_->Register(router_);
    health_ = std::make_unique<HealthApi>(*db_, draining_);
    health_->Register(router_);
    http::ServerOptions options;
    options.max_body_bytes = cfg_.server.max_body_bytes;
    options.read_timeout = 5s;
    options.idle_timeout = 10s;
    options.write_timeout = 5s;
    server_ = std::make_unique<http::Server>(ioc_, options, router_, log_.Get(), *http_metrics_);
    port_ = server_->Listen("127.0.0.1", 0);
    server_->Start();
    work_.emplace(asio::make_work_guard(ioc_));
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->BeginDrain();
      server_->CloseAll();
      WaitFor([this] { return server_->ActiveSessions() == 0; }, 5s);
    }
    work_.reset();
    if (thread_.joinable()) {
      if (!WaitFor([this] { return ioc_.stopped(); }, 5s)) ioc_.stop();
      thread_.join();
    }
    server_.reset();
  }

  asio::awaitable<void> PrepareDatabase() {
    const auto migrations = storage::MigrationsFor("sqlite", storage::EmbeddedMigrations());
    co_await storage::Migrate(*db_, migrations);
    auth::KeyRepository repo(*db_);
    auth::KeyHasher hasher(kSecret);
    const std::vector<std::string> all;
    const std::vector<std::string> only_other = {"other"};
    auto admin = co_await repo.UpsertUser("admin@example.com", auth::Role::kAdmin);
    admin_key_ =
        (co_await repo.CreateKey(hasher, admin, "t", auth::Role::kAdmin, all, std::nullopt)).secret;
    auto viewer = co_await repo.UpsertUser("viewer@example.com", auth::Role::kViewer);
    viewer_key_ =
        (co_await repo.CreateKey(hasher, viewer, "t", auth::Role::kViewer, all, std::nullopt))
            .secret;
    restricted_key_ = (co_await repo.CreateKey(hasher, admin, "t", auth::Role::kDeveloper,
                                               only_other, std::nullopt))
                          .secret;
  }

  // Runs `task` on the server's io_context (its thread) and waits for it.
  template <class T>
  T Call(asio::awaitable<T> task) {
    return asio::co_spawn(ioc_, std::move(task), asio::use_future).get();
  }

  storage::Rows Sql(std::string_view sql) { return Call(db_->Execute({"test", sql}, {})); }

  // Waits until `n` records are buffered, writes them, and returns the usage rows.
  storage::Rows UsageRows(std::size_t n) {
    EXPECT_TRUE(WaitFor([&] { return usage_->Buffered() >= n; }))
        << "usage records: " << usage_->Buffered();
    EXPECT_TRUE(Call(usage_->FlushOnce()));
    return Sql(
        "SELECT status, streamed, model, provider, deployment, prompt_tokens, completion_tokens, "
        "api_key_id, "
        "user_id, error_code, ttft_ms, latency_ms FROM usage_records ORDER BY created_at, id");
  }

  std::string Auth(const std::string& key) const { return "Authorization: Bearer " + key + "\r\n"; }

  http::Response Chat(const std::string& body, const std::string& key) {
    Client c(port_);
    c.Send(Post("/v1/chat/completions", body, Auth(key)));
    return c.MustRead();
  }

  // The data of every event of a streamed body.
  static std::vector<std::string> Events(const std::string& body) {
    gateway::SseSplitter splitter;
    std::vector<std::string> data;
    splitter.Feed(body, [&](std::string_view e) { data.push_back(gateway::SseData(e)); });
    return data;
  }

  static json::object ErrorOf(const http::Response& res) {
    auto v = json::parse(res.body());
    return v.as_object().at("error").as_object();
  }

  static constexpr const char* kSecret = "api-test-secret-api-test-secret-api-test";

  testing::TempDir dir_;
  config::Config cfg_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  testing::TestLogger log_;
  observability::Registry registry_;
  testing::FakeClock clock_;
  std::atomic<bool> draining_{false};
  asio::ssl::context ssl_{asio::ssl::context::tls_client};
  std::unique_ptr<storage::SqliteDatabase> db_;
  std::unique_ptr<auth::KeyRepository> keys_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<gateway::ModelCatalog> catalog_;
  std::unique_ptr<gateway::ModelRouter> router_model_;
  std::unique_ptr<storage::kv::KvStore> cache_store_;
  std::unique_ptr<gateway::ResponseCache> cache_;
  std::unique_ptr<usage::UsageRecorder> usage_;
  std::unique_ptr<gateway::GatewayMetrics> gateway_metrics_;
  std::unique_ptr<http::HttpMetrics> http_metrics_;
  std::unique_ptr<AccessGate> gate_;
  std::unique_ptr<limits::OverrideRepository> limit_overrides_;
  std::unique_ptr<limits::PolicyResolver> limit_policies_;
  std::unique_ptr<limits::Limiter> limiter_;
  std::unique_ptr<limits::Governor> governor_;
  std::unique_ptr<OpenAiApi> api_;
  std::unique_ptr<usage::UsageQuery> usage_query_;
  std::unique_ptr<UsageApi> usage_api_;
  std::unique_ptr<LimitsApi> limits_api_;
  std::mutex audit_mu_;
  std::vector<std::string> audit_events_;
  std::unique_ptr<HealthApi> health_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::string admin_key_, viewer_key_, restricted_key_;
};

// An http::Server on 127.0.0.1:0 answering `path` with `handler`: the scaffold of every fake
// upstream.
class LoopbackServer {
 public:
  using Handler = std::function<Task<http::Response>(http::Exchange&)>;
  LoopbackServer(const std::string& path, Handler handler, http::Verb verb = http::Verb::post)
      : handler_(std::move(handler)), metrics_(registry_) {
    router_.Add({verb, path, "fake",
                 [this](http::Exchange& ex) -> Task<http::Response> { return handler_(ex); }});
    http::ServerOptions o;
    o.read_timeout = 5s;
    o.idle_timeout = 10s;
    server_ = std::make_unique<http::Server>(ioc_, o, router_, log_.Get(), metrics_);
    port_ = server_->Listen("127.0.0.1", 0);
    server_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~LoopbackServer() {
    stopping_ = true;
    server_->BeginDrain();
    server_->CloseAll();
    WaitFor([this] { return server_->ActiveSessions() == 0; }, 5s);
    work_.reset();
    if (!WaitFor([this] { return ioc_.stopped(); }, 5s)) ioc_.stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  unsigned short Port() const { return port_; }
  std::size_t Connections() const { return server_->ActiveSessions(); }
  bool Stopping() const { return stopping_; }

 private:
  Handler handler_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  testing::TestLogger log_;
  observability::Registry registry_;
  http::HttpMetrics metrics_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

// A port nothing listens on.
inline unsigned short ClosedPort() {
  asio::io_context ioc;
  http::tcp::acceptor a(ioc, http::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace bro::api
