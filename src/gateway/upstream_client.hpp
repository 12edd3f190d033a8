#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/url.hpp"
#include "http/types.hpp"

namespace bro::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Where an OpenAI-compatible provider lives (parsed in common/, so config validates it too).
using common::ParseBaseUrl;
using UpstreamTarget = common::HttpTarget;

// One keep-alive connection to an upstream, plain or TLS.
class UpstreamConnection {
 public:
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool reused = false;
  const void* context = nullptr;  // the io_context the connection's socket belongs to

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  template <class F>
  auto With(F&& f) {
    return tls ? f(*tls) : f(*plain);
  }
};

// A pool of idle keep-alive connections to one upstream. Connections are
// created on demand (resolve, connect and TLS handshake with certificate and
// host-name verification, each bounded by connect_timeout) and returned only
// after a clean, complete exchange.
class UpstreamPool {
 public:
  // Connections belong to the io_context of the coroutine that opened them and are
  // only handed to coroutines of that same context, so a connection's I/O and
  // timers always run on the thread of the request using it (see http::IoPool).
  UpstreamPool(UpstreamTarget target, asio::ssl::context& ssl, int max_idle,
               std::chrono::milliseconds connect_timeout);
  Task<std::unique_ptr<UpstreamConnection>> Acquire();
  Task<std::unique_ptr<UpstreamConnection>> Connect();
  void Release(std::unique_ptr<UpstreamConnection> c);
  const UpstreamTarget& Target() const { return target_; }
  std::size_t Idle() const;

 private:
  UpstreamTarget target_;
  asio::ssl::context& ssl_;
  std::size_t max_idle_;
  std::chrono::milliseconds connect_timeout_;
  mutable std::mutex mu_;
  std::unordered_map<const void*, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
};

// Raised when a connection cannot be made (refused, DNS, TLS, timeout).
class UpstreamConnectError : public std::runtime_error {
 public:
  UpstreamConnectError(const std::string& what, bool timeout)
      : std::runtime_error(what), timeout_(timeout) {}
  bool Timeout() const { return timeout_; }

 private:
  bool timeout_;
};

}  // namespace bro::gateway
