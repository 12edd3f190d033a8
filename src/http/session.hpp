#pragma once

// One connection's loop (internal to http/): read a request within its limits and deadline,
// route it, answer it, keep the connection alive or close it. Exchange and Server reach into it.

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "http/request_framing.hpp"
#include "http/server.hpp"

namespace bro::http {

using Clock = std::chrono::steady_clock;

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
  // Counts the request in the route's metrics and writes its access-log line (access_log.cpp).
  void AccessLog(const Request& req, std::string_view route, unsigned status, std::size_t bytes,
                 Clock::time_point start, const Exchange* ex);
  // Calls the route's handler; infrastructure failures become 503, anything else 500 (a
  // stream already started is cut off instead: `failed_stream`).
  Task<Response> Invoke(const Route* route, bool method_mismatch, Exchange& ex,
                        bool& failed_stream);

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

}  // namespace bro::http
