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

#include "http/io_pool.hpp"
#include "http/types.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

namespace bro::http {

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

class Session;

// One request/response exchange on a connection. Handlers read the request and
// either return a Response or take over the connection for a chunked stream.
class Exchange {
 public:
  Exchange(Session& session, Request& request);

  Request& Req() { return request_; }
  std::string_view Path() const { return path_; }
  std::string_view Query() const { return query_; }
  const std::string& TraceId() const { return trace_id_; }
  const std::string& SpanId() const { return span_id_; }
  std::string RemoteIp() const;  // the socket's peer
  // The client's address: the peer, or behind trusted proxies what they vouch for in
  // X-Forwarded-For (http/client_address.hpp).
  boost::asio::ip::address ClientAddress() const;
  std::string ClientIp() const { return ClientAddress().to_string(); }

  // Streaming: send the head with chunked transfer encoding, then chunks.
  // WriteChunk returns false when the client is gone (the stream must stop).
  Task<bool> StartStream(Response head);
  Task<bool> WriteChunk(std::string_view data);
  Task<void> EndStream();
  bool Streaming() const { return streaming_; }
  Status StreamStatus() const { return stream_status_; }
  std::size_t StreamedBytes() const { return streamed_bytes_; }

  // Completes when the client closes its side of the connection; used to cancel
  // upstream work for a client that went away. Never completes otherwise.
  Task<void> WaitClientGone();
  // The same without a coroutine: calls on_gone (on this connection's executor) if the
  // client closes before StopWatchingClient(). Cheaper on hot paths than racing WaitClientGone.
  void WatchClientGone(std::function<void()> on_gone);
  void StopWatchingClient();

  // Extra fields for this request's access-log line (principal, model...).
  boost::json::object& LogFields() { return log_fields_; }
  const boost::json::object& LogFields() const { return log_fields_; }
  unsigned Version() const { return request_.version(); }

 private:
  Session& session_;
  Request& request_;
  std::string_view path_;
  std::string_view query_;
  std::string trace_id_;
  std::string span_id_;
  bool streaming_ = false;
  Status stream_status_ = Status::ok;
  std::size_t streamed_bytes_ = 0;
  boost::json::object log_fields_;
  struct Watch {
    std::function<void()> on_gone;
    bool stopped = false;
  };
  std::shared_ptr<Watch> watch_;
};

using Handler = std::function<Task<Response>(Exchange&)>;

struct Route {
  Verb method;
  std::string path;  // exact path, or a prefix when it ends with "/*"
  std::string name;  // metric/log label, e.g. "/v1/chat/completions"
  Handler handler;
  std::size_t body_limit = 0;  // 0: server default
};

class Router {
 public:
  void Add(Route route);
  // nullptr when nothing matches; method_mismatch tells 405 from 404.
  const Route* Find(Verb method, std::string_view path, bool& method_mismatch) const;
  const std::vector<Route>& Routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_path_;
  std::vector<std::size_t> prefixes_;
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
