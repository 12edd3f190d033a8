#include "http/session.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>

#include "common/errors.hpp"
#include "http/trace_context.hpp"

namespace bro::http {

using asio::as_tuple;
using asio::use_awaitable;

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

namespace {

constexpr std::size_t kProbeBytes = 2048;

// Errors of the HTTP parser (as opposed to the socket's): the request is malformed.
bool ParseError(const boost::system::error_code& ec) {
  return ec.category() == beast::http::make_error_code(beast::http::error::bad_chunk).category();
}

}  // namespace

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
    // than after the read timeout: the parser below meets the same error on these bytes. Only
    // the first bytes are probed, so a drip-fed head is not parsed again and again.
    if (!data.empty() && data.size() <= kProbeBytes) {
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
    std::sort(head_fields.begin(), head_fields.end(), std::less<>());
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
    } else if (ParseError(ec)) {
      refusal = "Malformed request body or chunked encoding.";
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
      it = std::binary_search(head_fields.begin(), head_fields.end(), f, std::less<>())
               ? std::next(it)
               : fields.erase(it);
    }
  }
  co_return true;
}

Task<Response> Session::Invoke(const Route* route, bool method_mismatch, Exchange& ex,
                               bool& failed_stream) {
  const unsigned version = ex.Version();
  if (route == nullptr) {
    co_return MakeError(
        {method_mismatch ? Status::method_not_allowed : Status::not_found,
         "invalid_request_error",
         method_mismatch ? "method_not_allowed" : "not_found",
         method_mismatch ? "Method not allowed for this path." : "No route for this path.",
         {}},
        version);
  }
  ApiError failure;
  try {
    co_return co_await route->handler(ex);
  } catch (const common::InfrastructureError& e) {
    server_.log_.Error("dependency failure", {{"route", route->name},
                                              {"error", e.what()},
                                              {"logging.googleapis.com/trace",
                                               server_.log_.TraceResource(ex.TraceId())}});
    failure = {Status::service_unavailable,
               "server_error",
               "service_unavailable",
               "The service is temporarily unavailable. Please retry.",
               {}};
  } catch (const std::exception& e) {
    server_.log_.Error(
        "unhandled error in handler",
        {{"route", route->name},
         {"error", e.what()},
         {"logging.googleapis.com/trace", server_.log_.TraceResource(ex.TraceId())},
         {"@type",
          "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"}});
    failure = {Status::internal_server_error,
               "server_error",
               "internal_error",
               "The server had an error while processing your request.",
               {}};
  }
  // A stream already under way cannot change its status: it is cut off instead.
  if (ex.Streaming()) {
    failed_stream = true;
    co_return Response{};
  }
  co_return MakeError(failure, version);
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
    bool failed_stream = false;
    Response res = co_await Invoke(route, method_mismatch, ex, failed_stream);
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
    res.set("traceparent", Traceparent(ex.TraceId(), ex.SpanId()));
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

}  // namespace bro::http
