#pragma once

// A blocking HTTP/1.1 test client on a raw socket, for driving servers under test.

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "http/types.hpp"

namespace bro::testing {

using http::Response;
using http::tcp;
namespace beast = boost::beast;

// A blocking HTTP/1.1 client on a raw socket. Raw reads (ReadUntil, Closed) give up after 5 s
// (SO_RCVTIMEO); Read gives up after 15 s with timed_out — Asio's synchronous reads wait again
// after SO_RCVTIMEO fires, so Read runs an asynchronous read against a deadline instead.
class Client {
 public:
  explicit Client(unsigned short port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  void Send(std::string_view raw) { boost::asio::write(socket_, boost::asio::buffer(raw)); }

  // The next complete response, or nullopt (see Error()).
  std::optional<Response> Read() {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bool done = false;
    beast::http::async_read(socket_, buffer_, parser, [&](beast::error_code ec, std::size_t) {
      error_ = ec;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(15));
    if (!done) {
      boost::system::error_code ignored;
      socket_.cancel(ignored);
      ioc_.restart();
      ioc_.run();
      error_ = boost::asio::error::timed_out;
    }
    // Asio left the descriptor non-blocking; raw recv below relies on SO_RCVTIMEO.
    boost::system::error_code ignored;
    socket_.native_non_blocking(false, ignored);
    if (error_) return std::nullopt;
    return parser.release();
  }
  Response MustRead() {
    auto r = Read();
    if (!r) throw std::runtime_error("no response: " + error_.message());
    return std::move(*r);
  }

  // Raw bytes until `needle` arrived (true) or the read timed out / the peer closed (false).
  bool ReadUntil(std::string_view needle) {
    char buf[4096];
    for (;;) {
      if (raw_.find(needle) != std::string::npos) return true;
      const ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) return false;
      raw_.append(buf, static_cast<std::size_t>(n));
    }
  }
  const std::string& Raw() const { return raw_; }

  // True when the server closed the connection (EOF or reset) before the read timeout;
  // any bytes still arriving first are discarded.
  bool Closed() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  // Sends `piece` again and again, as a client streaming an endless field would, until the
  // server answers (or closes), or `max_bytes` went out. Returns the bytes sent.
  std::size_t SendUntilAnswered(std::string_view piece, std::size_t max_bytes) {
    std::size_t sent = 0;
    while (sent < max_bytes) {
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) break;
      boost::system::error_code ec;
      boost::asio::write(socket_, boost::asio::buffer(piece), ec);
      if (ec) break;
      sent += piece.size();
    }
    return sent;
  }

  void Close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  const boost::system::error_code& Error() const { return error_; }

 private:
  boost::asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  boost::system::error_code error_;
  std::string raw_;
};

inline std::string Get(const std::string& target, const std::string& headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n";
}

inline std::string Post(const std::string& target, const std::string& body,
                        const std::string& headers = "") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
}

}  // namespace bro::testing
