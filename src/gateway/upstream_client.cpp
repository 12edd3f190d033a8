#include "gateway/upstream_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

namespace bro::gateway {

using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

const void* ContextOf(const asio::any_io_executor& ex) {
  return &asio::query(ex, asio::execution::context_as<asio::execution_context&>);
}

}  // namespace

UpstreamPool::UpstreamPool(UpstreamTarget target, asio::ssl::context& ssl, int max_idle,
                           std::chrono::milliseconds connect_timeout)
    : target_(std::move(target)),
      ssl_(ssl),
      max_idle_(static_cast<std::size_t>(max_idle)),
      connect_timeout_(connect_timeout) {}

Task<std::unique_ptr<UpstreamConnection>> UpstreamPool::Acquire() {
  const void* context = ContextOf(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    auto& idle = idle_[context];
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (c->Lowest().socket().is_open()) {
        c->reused = true;
        co_return c;
      }
    }
  }
  co_return co_await Connect();
}

Task<std::unique_ptr<UpstreamConnection>> UpstreamPool::Connect() {
  auto ex = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(target_.host, target_.port, as_tuple(use_awaitable));
  if (rec) throw UpstreamConnectError("resolve " + target_.host + ": " + rec.message(), false);
  if (std::chrono::steady_clock::now() >= deadline)
    throw UpstreamConnectError("resolve timed out", true);

  auto c = std::make_unique<UpstreamConnection>();
  c->context = ContextOf(ex);
  if (target_.tls) {
    c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, ssl_);
  } else {
    c->plain = std::make_unique<beast::tcp_stream>(ex);
  }
  auto& lowest = c->Lowest();
  lowest.expires_at(deadline);
  auto [cec, ep] = co_await lowest.async_connect(endpoints, as_tuple(use_awaitable));
  if (cec) {
    throw UpstreamConnectError(
        "connect " + target_.host + ":" + target_.port + ": " + cec.message(),
        cec == beast::error::timeout);
  }
  boost::system::error_code ignored;
  lowest.socket().set_option(tcp::no_delay(true), ignored);
  if (c->tls) {
    if (!SSL_set_tlsext_host_name(c->tls->native_handle(), target_.host.c_str())) {
      throw UpstreamConnectError("TLS: cannot set SNI", false);
    }
    c->tls->set_verify_mode(asio::ssl::verify_peer);
    c->tls->set_verify_callback(asio::ssl::host_name_verification(target_.host));
    auto [hec] =
        co_await c->tls->async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
    if (hec)
      throw UpstreamConnectError("TLS handshake with " + target_.host + ": " + hec.message(),
                                 hec == beast::error::timeout);
  }
  lowest.expires_never();
  co_return c;
}

void UpstreamPool::Release(std::unique_ptr<UpstreamConnection> c) {
  c->Lowest().expires_never();
  std::lock_guard lock(mu_);
  auto& idle = idle_[c->context];
  if (idle.size() < max_idle_) idle.push_back(std::move(c));
}

std::size_t UpstreamPool::Idle() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [context, idle] : idle_) n += idle.size();
  return n;
}

}  // namespace bro::gateway
