#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http/exchange.hpp"
#include "http/io_pool.hpp"
#include "http/router.hpp"
#include "http/types.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

namespace bro::http {

class Session;

struct ServerOptions {
  std::string name = "api";  // labels metrics and logs: "api" or "metrics"
  std::size_t max_header_bytes = std::size_t{16} << 10;
  std::size_t max_body_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  int max_connections = 10000;
  bool access_log = true;
  // Proxies in front of the server whose X-Forwarded-For entries are trusted (ClientIp).
  int trusted_proxy_hops = 0;
};

struct HttpMetrics {
  explicit HttpMetrics(observability::Registry& r);
  observability::Family<observability::Counter>& requests;
  observability::Family<observability::Histogram>& duration;
  observability::Family<observability::Counter>&
      rejected;  // by reason: max_connections, header_too_large...
  observability::Family<observability::Gauge>& connections;
};

class Server {
 public:
  // Connections on strands of one multi-threaded io_context.
  Server(asio::io_context& ioc, ServerOptions options, const Router& router,
         observability::Logger& log, HttpMetrics& metrics);
  // Connections spread over the contexts of an IoPool (one thread each, no strands).
  Server(IoPool& pool, ServerOptions options, const Router& router, observability::Logger& log,
         HttpMetrics& metrics);
  ~Server();

  // Binds and listens; returns the bound port (useful with port 0). Throws on failure.
  unsigned short Listen(const std::string& host, unsigned short port);
  void Start();
  // Stops accepting, closes the listener and idle keep-alive connections; busy
  // connections finish their current exchange and then close.
  void BeginDrain();
  // Closes every remaining connection (after the grace period).
  void CloseAll();
  std::size_t ActiveSessions() const;
  bool Draining() const { return draining_.load(); }

 private:
  friend class Session;
  friend class Exchange;
  Task<void> AcceptLoop();
  struct RouteMetrics {
    observability::Counter* requests;
    observability::Histogram* duration;
  };
  struct MetricsKey {
    std::string route;
    unsigned verb;
    unsigned status;
    bool operator==(const MetricsKey&) const = default;
  };
  struct MetricsKeyHash {
    std::size_t operator()(const MetricsKey& k) const {
      return std::hash<std::string>()(k.route) ^ (static_cast<std::size_t>(k.verb) << 16) ^
             static_cast<std::size_t>(k.status);
    }
  };
  RouteMetrics& MetricsFor(std::string_view route, Verb verb, unsigned status,
                           const std::string& method);
  void Register(const std::shared_ptr<Session>& s);
  void Unregister(Session* s);

  asio::io_context& ioc_;
  std::function<asio::any_io_executor()> next_executor_;
  ServerOptions options_;
  const Router& router_;
  observability::Logger& log_;
  HttpMetrics& metrics_;
  tcp::acceptor acceptor_;
  std::atomic<bool> draining_{false};
  std::atomic<int> connections_{0};
  std::mutex metrics_mu_;
  std::unordered_map<MetricsKey, RouteMetrics, MetricsKeyHash> route_metrics_;
  mutable std::mutex sessions_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

}  // namespace bro::http
