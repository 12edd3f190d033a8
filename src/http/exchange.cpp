#include "http/exchange.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>

#include "common/random.hpp"
#include "http/client_address.hpp"
#include "http/session.hpp"
#include "http/trace_context.hpp"

namespace bro::http {

using asio::as_tuple;
using asio::use_awaitable;

Exchange::Exchange(Session& session, Request& request) : session_(session), request_(request) {
  std::string_view target = request_.target();
  auto q = target.find('?');
  path_ = target.substr(0, q);
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
  trace_id_ = TraceIdFrom(request_["traceparent"]);
  if (trace_id_.empty()) trace_id_ = common::RandomHex(16);
  span_id_ = common::RandomHex(8);
}

boost::asio::ip::address Exchange::ClientAddress() const {
  const int hops = session_.server_.options_.trusted_proxy_hops;
  if (hops <= 0) return session_.remote_.address();
  std::string forwarded;
  auto [first, last] = request_.equal_range("X-Forwarded-For");
  for (auto it = first; it != last; ++it) {
    if (!forwarded.empty()) forwarded += ',';
    forwarded.append(it->value());
  }
  return ClientBehindProxies(forwarded, session_.remote_.address(), hops);
}

Task<bool> Exchange::StartStream(Response head) {
  beast::http::response<beast::http::empty_body> h{head.result(), head.version()};
  for (const auto& f : head) h.set(f.name_string(), f.value());
  h.set("traceparent", Traceparent(trace_id_, span_id_));
  h.chunked(true);
  h.keep_alive(request_.keep_alive() && !session_.server_.Draining());
  stream_status_ = head.result();
  streaming_ = true;
  beast::http::response_serializer<beast::http::empty_body> sr{h};
  session_.stream_.expires_after(session_.server_.options_.write_timeout);
  auto [ec, n] =
      co_await beast::http::async_write_header(session_.stream_, sr, as_tuple(use_awaitable));
  streamed_bytes_ += n;
  co_return !ec;
}

Task<bool> Exchange::WriteChunk(std::string_view data) {
  if (data.empty()) co_return true;
  session_.stream_.expires_after(session_.server_.options_.write_timeout);
  auto [ec, n] = co_await asio::async_write(
      session_.stream_, beast::http::make_chunk(asio::buffer(data)), as_tuple(use_awaitable));
  streamed_bytes_ += n;
  co_return !ec;
}

Task<void> Exchange::EndStream() {
  session_.stream_.expires_after(session_.server_.options_.write_timeout);
  auto [ec, n] = co_await asio::async_write(session_.stream_, beast::http::make_chunk_last(),
                                            as_tuple(use_awaitable));
  streamed_bytes_ += n;
}

namespace {

// Called once the client's socket turned readable: end of stream or an error means the client
// left; data means it pipelined its next request and is still there.
bool PeerClosed(int fd) {
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

}  // namespace

Task<void> Exchange::WaitClientGone() {
  auto& socket = session_.stream_.socket();
  auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, as_tuple(use_awaitable));
  if (ec || PeerClosed(socket.native_handle())) co_return;
  // The client pipelined its next request: it is still there. Wait until cancelled.
  asio::steady_timer forever(co_await asio::this_coro::executor, Clock::time_point::max());
  co_await forever.async_wait(as_tuple(use_awaitable));
}

void Exchange::WatchClientGone(std::function<void()> on_gone) {
  StopWatchingClient();
  watch_ = std::make_shared<Watch>();
  watch_->on_gone = std::move(on_gone);
  auto& socket = session_.stream_.socket();
  socket.async_wait(
      tcp::socket::wait_read,
      asio::bind_executor(session_.stream_.get_executor(),
                          [w = watch_, fd = socket.native_handle()](boost::system::error_code ec) {
                            if (ec || w->stopped) return;
                            if (PeerClosed(fd)) {
                              w->stopped = true;
                              w->on_gone();
                            }
                          }));
}

void Exchange::StopWatchingClient() {
  if (!watch_) return;
  const bool pending = !watch_->stopped;
  watch_->stopped = true;
  watch_.reset();
  if (pending) {
    // Only the watch is outstanding on this socket now; cancel it so it does not linger.
    boost::system::error_code ec;
    session_.stream_.socket().cancel(ec);
  }
}

}  // namespace bro::http
