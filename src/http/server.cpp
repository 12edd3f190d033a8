#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/session.hpp"

namespace bro::http {

using asio::as_tuple;
using asio::use_awaitable;

HttpMetrics::HttpMetrics(observability::Registry& r)
    : requests(r.AddCounter("bro_http_requests_total",
                            "HTTP requests by server, route, method and status code.",
                            {"server", "route", "method", "code"})),
      duration(r.AddHistogram("bro_http_request_duration_seconds",
                              "HTTP request duration in seconds.", {"server", "route", "method"},
                              observability::LatencyBuckets())),
      rejected(r.AddCounter("bro_http_rejected_total",
                            "Connections or requests rejected before routing, by reason.",
                            {"server", "reason"})),
      connections(r.AddGauge("bro_http_connections", "Open HTTP connections.", {"server"})) {}

Server::Server(asio::io_context& ioc, ServerOptions options, const Router& router,
               observability::Logger& log, HttpMetrics& metrics)
    : ioc_(ioc),
      next_executor_([&ioc] { return asio::any_io_executor(asio::make_strand(ioc)); }),
      options_(std::move(options)),
      router_(router),
      log_(log),
      metrics_(metrics),
      acceptor_(ioc) {}

Server::Server(IoPool& pool, ServerOptions options, const Router& router,
               observability::Logger& log, HttpMetrics& metrics)
    : ioc_(pool.Main()),
      next_executor_([&pool] { return pool.Next(); }),
      options_(std::move(options)),
      router_(router),
      log_(log),
      metrics_(metrics),
      acceptor_(pool.Main()) {}

Server::~Server() = default;

unsigned short Server::Listen(const std::string& host, unsigned short port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint().port();
}

void Server::Start() {
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
}

Task<void> Server::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(next_executor_(), as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors or a transient error: back off briefly instead of spinning.
      log_.Warning("accept failed", {{"server", options_.name}, {"error", ec.message()}});
      asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(as_tuple(use_awaitable));
      continue;
    }
    if (connections_.load() >= options_.max_connections) {
      metrics_.rejected.With({options_.name, "max_connections"}).Inc();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto session = std::make_shared<Session>(*this, std::move(socket));
    Register(session);
    auto exec = session->stream_.get_executor();
    asio::co_spawn(
        exec, [session]() -> Task<void> { co_await session->Run(); }, asio::detached);
  }
}

void Server::Register(const std::shared_ptr<Session>& s) {
  connections_.fetch_add(1);
  metrics_.connections.With({options_.name}).Add(1);
  std::lock_guard lock(sessions_mu_);
  sessions_.emplace(s.get(), s);
}

void Server::Unregister(Session* s) {
  connections_.fetch_sub(1);
  metrics_.connections.With({options_.name}).Add(-1);
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(s);
}

Server::RouteMetrics& Server::MetricsFor(std::string_view route, Verb verb, unsigned status,
                                         const std::string& method) {
  const MetricsKey key{std::string(route), static_cast<unsigned>(verb), status};
  std::lock_guard lock(metrics_mu_);
  auto it = route_metrics_.find(key);
  if (it == route_metrics_.end()) {
    RouteMetrics m{
        &metrics_.requests.With({options_.name, key.route, method, std::to_string(status)}),
        &metrics_.duration.With({options_.name, key.route, method})};
    it = route_metrics_.emplace(key, m).first;
  }
  return it->second;
}

std::size_t Server::ActiveSessions() const {
  std::lock_guard lock(sessions_mu_);
  return sessions_.size();
}

void Server::BeginDrain() {
  draining_.store(true);
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  std::lock_guard lock(sessions_mu_);
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) asio::post(s->stream_.get_executor(), [s] { s->CloseIfIdle(); });
  }
}

void Server::CloseAll() {
  std::lock_guard lock(sessions_mu_);
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) asio::post(s->stream_.get_executor(), [s] { s->Close(); });
  }
}

}  // namespace bro::http
