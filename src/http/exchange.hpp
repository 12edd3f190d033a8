#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/types.hpp"

namespace bro::http {

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

}  // namespace bro::http
