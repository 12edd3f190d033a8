#include "http/server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>

#include "common/errors.hpp"
#include "common/random.hpp"
#include "http/client_address.hpp"
#include "http/request_framing.hpp"

namespace bro::http {
namespace {

using asio::as_tuple;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// W3C Trace Context: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>.
std::string TraceIdFrom(std::string_view traceparent) {
  if (traceparent.size() != 55 || traceparent[2] != '-' || traceparent[35] != '-' ||
      traceparent[52] != '-')
    return {};
  auto version = traceparent.substr(0, 2);
  auto trace = traceparent.substr(3, 32);
  auto parent = traceparent.substr(36, 16);
  if (version == "ff" || !IsLowerHex(version) || !IsLowerHex(trace) || !IsLowerHex(parent))
    return {};
  if (trace.find_first_not_of('0') == std::string_view::npos) return {};
  if (parent.find_first_not_of('0') == std::string_view::npos) return {};
  return std::string(trace);
}

std::string FormatLatency(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6fs", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
 public:
  // The read buffer is capped: a head must fit in the header limit, and chunk-size lines and
  // trailers (which Beast keeps whole in the buffer until they end) in a little more. Bodies do
  // not accumulate here: the parser moves them into the request as they arrive.
  Session(Server& server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server.options_.max_header_bytes + kChunkMetadataSlack) {
    boost::system::error_code ec;
    remote_ = stream_.socket().remote_endpoint(ec);
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  Task<void> Run();
  void CloseIfIdle() {
    if (idle_) Close();
  }
  void Close() {
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  friend class Exchange;
  friend class Server;
  Task<bool> Write(Response& res);
  // Reads until the buffer holds a whole head (or the header limit is reached); the end offset,
  // or 0 after an answer was sent or the connection failed.
  Task<std::size_t> ReadHead();
  // Reads the rest of the body into `parser`, counting the bytes on the wire: chunk metadata
  // may not cost more than the body limit itself. False after an answer was sent.
  Task<bool> ReadBody(beast::http::request_parser<beast::http::string_body>& parser,
                      std::size_t limit);
  asio::mutable_buffer Prepare(std::size_t wanted) {
    return buffer_.prepare(std::min(wanted, buffer_.max_size() - buffer_.size()));
  }
  Task<void> RejectAndClose(Status status, std::string code, std::string message,
                            const char* reason);
  void AccessLog(const Request& req, std::string_view route, unsigned status, std::size_t bytes,
                 Clock::time_point start, const Exchange* ex);

  // The whole request (head and body) must arrive before this deadline. A separate timer,
  // not tcp_stream's expiry: that one closes the socket, and a 408 could not be sent.
  void ArmReadDeadline(Clock::time_point at) {
    stream_.expires_never();
    read_expired_ = false;
    const auto generation = ++read_generation_;
    read_deadline_.expires_at(at);
    read_deadline_.async_wait(
        [self = shared_from_this(), generation](boost::system::error_code ec) {
          if (ec || generation != self->read_generation_) return;
          self->read_expired_ = true;
          boost::system::error_code ignored;
          self->stream_.socket().cancel(ignored);
        });
  }
  void DisarmReadDeadline() {
    ++read_generation_;
    read_deadline_.cancel();
  }

  Server& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  tcp::endpoint remote_;
  bool idle_ = true;
  asio::steady_timer read_deadline_{stream_.get_executor()};
  std::uint64_t read_generation_ = 0;
  bool read_expired_ = false;
};

Exchange::Exchange(Session& session, Request& request) : session_(session), request_(request) {
  std::string_view target = request_.target();
  auto q = target.find('?');
  path_ = target.substr(0, q);
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
  trace_id_ = TraceIdFrom(request_["traceparent"]);
  if (trace_id_.empty()) trace_id_ = common::RandomHex(16);
  span_id_ = common::RandomHex(8);
}

std::string Exchange::RemoteIp() const {
  return session_.remote_.address().to_string();
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
  h.set("traceparent", "00-" + trace_id_ + "-" + span_id_ + "-01");
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

Task<bool> Session::Write(Response& res) {
  stream_.expires_after(server_.options_.write_timeout);
  auto [ec, n] = co_await beast::http::async_write(stream_, res, as_tuple(use_awaitable));
  co_return !ec;
}

Task<void> Session::RejectAndClose(Status status, std::string code, std::string message,
                                   const char* reason) {
  DisarmReadDeadline();
  server_.metrics_.rejected.With({server_.options_.name, reason}).Inc();
  ApiError e{status, "invalid_request_error", std::move(code), std::move(message), {}};
  auto res = MakeError(e, 11, false);
  if (!co_await Write(res)) co_return;
  // Half-close, then read and discard what the client is still sending (bounded in time and
  // bytes) so that closing does not reset the connection before it has read our answer.
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  constexpr std::size_t kMaxDrainBytes = std::size_t{4} << 20;
  std::size_t drained = 0;
  stream_.expires_after(std::chrono::seconds(1));
  while (drained < kMaxDrainBytes) {
    buffer_.clear();
    auto [rec, n] = co_await stream_.async_read_some(Prepare(16384), as_tuple(use_awaitable));
    if (rec) break;
    drained += n;
  }
}

void Session::AccessLog(const Request& req, std::string_view route, unsigned status,
                        std::size_t bytes, Clock::time_point start, const Exchange* ex) {
  auto elapsed = Clock::now() - start;
  const std::string method(req.method_string());
  // Metric objects per (route, method, status), resolved once: no label strings on the hot path.
  auto& h = server_.MetricsFor(route, req.method(), status, method);
  h.requests->Inc();
  h.duration->Observe(std::chrono::duration<double>(elapsed).count());
  auto& log = server_.log_;
  if (!server_.options_.access_log || !log.AccessLogEnabled() ||
      !log.Enabled(observability::Severity::kInfo))
    return;
  boost::json::object http_request;
  http_request["requestMethod"] = method;
  http_request["requestUrl"] = std::string(req.target().substr(0, 2048));
  http_request["status"] = status;
  http_request["responseSize"] = std::to_string(bytes);
  http_request["userAgent"] = std::string(req[Field::user_agent].substr(0, 512));
  http_request["remoteIp"] = ex != nullptr ? ex->ClientIp() : remote_.address().to_string();
  http_request["latency"] = FormatLatency(elapsed);
  http_request["protocol"] = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  boost::json::object fields;
  fields["httpRequest"] = std::move(http_request);
  fields["route"] = std::string(route);
  if (ex != nullptr) {
    fields["logging.googleapis.com/trace"] = log.TraceResource(ex->TraceId());
    fields["logging.googleapis.com/spanId"] = ex->SpanId();
    for (const auto& kv : ex->LogFields()) fields[kv.key()] = kv.value();
  }
  log.Info("request", std::move(fields));
}

Task<std::size_t> Session::ReadHead() {
  const auto& opt = server_.options_;
  for (;;) {
    const std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (const auto end = FindHeadEnd(data); end != std::string_view::npos) {
      if (end <= opt.max_header_bytes) co_return end;
      break;
    }
    if (data.size() >= opt.max_header_bytes) break;
    // Not a whole head yet. Garbage (a TLS hello, a bad request line) is answered at once rather
    // than after the read timeout: the parser below meets the same error on these bytes.
    if (!data.empty()) {
      beast::http::request_parser<beast::http::empty_body> probe;
      probe.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      boost::system::error_code pec;
      probe.put(buffer_.data(), pec);
      if (pec && pec != beast::http::error::need_more) co_return data.size();
    }
    auto [ec, n] = co_await stream_.async_read_some(Prepare(8192), as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted && read_expired_) {
      co_await RejectAndClose(Status::request_timeout, "request_timeout",
                              "The request was not received in time.", "read_timeout");
      co_return 0;
    }
    if (ec) co_return 0;
    buffer_.commit(n);
  }
  co_await RejectAndClose(Status::request_header_fields_too_large,
                          "request_header_fields_too_large", "Request header fields too large.",
                          "header_too_large");
  co_return 0;
}

Task<bool> Session::ReadBody(beast::http::request_parser<beast::http::string_body>& parser,
                             std::size_t limit) {
  // Trailer fields would be merged into the head the checks above have passed (Beast adds them
  // to the message): they are dropped instead (RFC 9110 §6.5.1 lets a recipient discard them).
  std::vector<const void*> head_fields;
  if (parser.chunked()) {
    for (const auto& f : parser.get()) head_fields.push_back(&f);
    std::sort(head_fields.begin(), head_fields.end());
    // The parser keeps a reference: a static, stateless callback outlives it.
    static auto check_extensions = [](std::uint64_t, std::string_view extensions,
                                      boost::system::error_code& ec) {
      if (extensions.size() > kMaxChunkExtensionBytes) ec = beast::http::error::bad_chunk_extension;
    };
    parser.on_chunk_header(check_extensions);
  }
  const std::size_t wire_budget = 2 * limit + 16 * kChunkMetadataSlack;
  std::size_t wire = 0;
  const char* refusal = nullptr;
  while (!parser.is_done()) {
    auto [ec, n] =
        co_await beast::http::async_read_some(stream_, buffer_, parser, as_tuple(use_awaitable));
    wire += n;
    if (ec == asio::error::operation_aborted && read_expired_) ec = beast::error::timeout;
    if (ec == beast::http::error::body_limit) {
      co_await RejectAndClose(Status::payload_too_large, "request_too_large",
                              "Request body larger than " + std::to_string(limit) + " bytes.",
                              "body_too_large");
      co_return false;
    }
    if (ec == beast::error::timeout) {
      co_await RejectAndClose(Status::request_timeout, "request_timeout",
                              "The request body was not received in time.", "read_timeout");
      co_return false;
    }
    if (ec == beast::http::error::buffer_overflow) {
      refusal = "A chunk-size line or the trailer section is too long.";
    } else if (ec == beast::http::error::bad_chunk_extension) {
      refusal = "Malformed or oversized chunk extension.";
    } else if (ec == beast::http::error::bad_chunk) {
      refusal = "Malformed chunked encoding.";
    } else if (!ec && wire > wire_budget) {
      refusal = "Chunked framing overhead exceeds the request size limit.";
    } else if (ec) {
      co_return false;  // the client left or the connection failed
    }
    if (refusal != nullptr) break;
  }
  if (refusal != nullptr) {
    co_await RejectAndClose(Status::bad_request, "bad_request", refusal, "bad_chunk_metadata");
    co_return false;
  }
  if (!head_fields.empty()) {
    auto& fields = parser.get();
    for (auto it = fields.begin(); it != fields.end();) {
      const void* f = &*it;
      it = std::binary_search(head_fields.begin(), head_fields.end(), f) ? std::next(it)
                                                                         : fields.erase(it);
    }
  }
  co_return true;
}

Task<void> Session::Run() {
  auto self = shared_from_this();
  const auto& opt = server_.options_;
  for (;;) {
    idle_ = true;
    if (server_.Draining()) break;
    if (buffer_.size() == 0) {
      stream_.expires_after(opt.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(Prepare(8192), as_tuple(use_awaitable));
      if (ec) break;  // idle timeout, peer closed, or closed by drain
      buffer_.commit(n);
    }
    idle_ = false;
    const auto start = Clock::now();

    ArmReadDeadline(start + opt.read_timeout);
    const std::size_t head_end = co_await ReadHead();
    if (head_end == 0) break;
    if (auto e = CheckRawHead({static_cast<const char*>(buffer_.data().data()), head_end})) {
      co_await RejectAndClose(e->status, e->code, e->message, e->reason);
      break;
    }
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
    // The body limit depends on the route, known only after the head: Beast would otherwise
    // refuse a large Content-Length while reading the head itself.
    parser.body_limit(boost::none);
    // The whole head is buffered: this parses it without reading.
    auto [hec, hn] =
        co_await beast::http::async_read_header(stream_, buffer_, parser, as_tuple(use_awaitable));
    if (hec == asio::error::operation_aborted && read_expired_) hec = beast::error::timeout;
    if (hec == beast::http::error::header_limit) {
      co_await RejectAndClose(Status::request_header_fields_too_large,
                              "request_header_fields_too_large", "Request header fields too large.",
                              "header_too_large");
      break;
    }
    if (hec == beast::error::timeout) {
      co_await RejectAndClose(Status::request_timeout, "request_timeout",
                              "The request was not received in time.", "read_timeout");
      break;
    }
    if (hec == beast::http::error::end_of_stream || hec == asio::error::eof ||
        hec == asio::error::connection_reset || hec == asio::error::operation_aborted) {
      break;
    }
    if (hec) {
      co_await RejectAndClose(Status::bad_request, "bad_request", "Malformed HTTP request.",
                              "bad_request");
      break;
    }
    if (auto e = CheckFraming(parser.get())) {
      co_await RejectAndClose(e->status, e->code, e->message, e->reason);
      break;
    }

    std::string_view target = parser.get().target();
    bool method_mismatch = false;
    const Route* route = server_.router_.Find(parser.get().method(),
                                              target.substr(0, target.find('?')), method_mismatch);
    const std::size_t limit =
        route != nullptr && route->body_limit != 0 ? route->body_limit : opt.max_body_bytes;
    parser.body_limit(limit);
    if (auto len = parser.content_length(); len && *len > limit) {
      co_await RejectAndClose(Status::payload_too_large, "request_too_large",
                              "Request body larger than " + std::to_string(limit) + " bytes.",
                              "body_too_large");
      break;
    }
    if (!parser.is_done()) {
      if (beast::iequals(parser.get()[Field::expect], "100-continue")) {
        Response cont{Status::continue_, 11};
        stream_.expires_after(opt.write_timeout);
        beast::http::response_serializer<beast::http::string_body> sr{cont};
        auto [cec, cn] =
            co_await beast::http::async_write_header(stream_, sr, as_tuple(use_awaitable));
        if (cec) break;
        stream_.expires_never();
      }
      if (!co_await ReadBody(parser, limit)) break;
    }

    DisarmReadDeadline();
    Request req = parser.release();
    const bool keep_alive_requested = req.keep_alive();
    Exchange ex(*this, req);
    Response res;
    bool failed_stream = false;
    if (route == nullptr) {
      ApiError e{method_mismatch ? Status::method_not_allowed : Status::not_found,
                 "invalid_request_error",
                 method_mismatch ? "method_not_allowed" : "not_found",
                 method_mismatch ? "Method not allowed for this path." : "No route for this path.",
                 {}};
      res = MakeError(e, req.version());
    } else {
      try {
        res = co_await route->handler(ex);
      } catch (const common::InfrastructureError& e) {
        server_.log_.Error("dependency failure", {{"route", route->name},
                                                  {"error", e.what()},
                                                  {"logging.googleapis.com/trace",
                                                   server_.log_.TraceResource(ex.TraceId())}});
        if (ex.Streaming()) {
          failed_stream = true;
        } else {
          res = MakeError({Status::service_unavailable,
                           "server_error",
                           "service_unavailable",
                           "The service is temporarily unavailable. Please retry.",
                           {}},
                          req.version());
        }
      } catch (const std::exception& e) {
        server_.log_.Error(
            "unhandled error in handler",
            {{"route", route->name},
             {"error", e.what()},
             {"logging.googleapis.com/trace", server_.log_.TraceResource(ex.TraceId())},
             {"@type",
              "type.googleapis.com/"
              "google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"}});
        if (ex.Streaming()) {
          failed_stream = true;
        } else {
          res = MakeError({Status::internal_server_error,
                           "server_error",
                           "internal_error",
                           "The server had an error while processing your request.",
                           {}},
                          req.version());
        }
      }
    }
    const std::string_view route_name =
        route != nullptr ? std::string_view(route->name) : "unmatched";
    if (ex.Streaming()) {
      AccessLog(req, route_name, static_cast<unsigned>(ex.StreamStatus()), ex.StreamedBytes(),
                start, &ex);
      if (failed_stream || !keep_alive_requested || server_.Draining()) break;
      continue;
    }
    const bool keep_alive = keep_alive_requested && !server_.Draining() && res.keep_alive();
    res.keep_alive(keep_alive);
    res.set("traceparent", "00-" + ex.TraceId() + "-" + ex.SpanId() + "-01");
    const bool ok = co_await Write(res);
    AccessLog(req, route_name, res.result_int(), res.body().size(), start, &ex);
    if (!ok || !keep_alive) break;
  }
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
  DisarmReadDeadline();
  server_.Unregister(this);
}

void Router::Add(Route route) {
  if (route.path.ends_with("/*")) {
    prefixes_.push_back(routes_.size());
  } else {
    by_path_[route.path].push_back(routes_.size());
  }
  routes_.push_back(std::move(route));
}

const Route* Router::Find(Verb method, std::string_view path, bool& method_mismatch) const {
  method_mismatch = false;
  if (auto it = by_path_.find(std::string(path)); it != by_path_.end()) {
    for (auto idx : it->second) {
      if (routes_[idx].method == method) return &routes_[idx];
    }
    method_mismatch = true;
    return nullptr;
  }
  for (auto idx : prefixes_) {
    const auto& r = routes_[idx];
    std::string_view prefix(r.path.data(), r.path.size() - 1);  // keep the trailing '/'
    if (path.size() > prefix.size() && path.starts_with(prefix)) {
      if (r.method == method) return &r;
      method_mismatch = true;
    }
  }
  return nullptr;
}

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
