#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/errors.hpp"
#include "gateway/upstream_client.hpp"

namespace bro::identity {

struct FetchResponse {
  unsigned status = 0;
  std::string body;
};

// The issuer could not be reached, answered too slowly or sent too much.
class FetchError : public common::InfrastructureError {
 public:
  using common::InfrastructureError::InfrastructureError;
};

// The few HTTP calls identity makes to issuers (discovery, JWKS, token endpoint), over the
// gateway's pooled upstream connections (gateway::UpstreamPool: TLS with certificate and host
// name verification, connect timeout) — one pool per origin, each response size-limited.
class HttpFetcher {
 public:
  HttpFetcher(boost::asio::ssl::context& ssl, std::chrono::milliseconds timeout)
      : ssl_(ssl), timeout_(timeout) {}
  Task<FetchResponse> Get(std::string url, std::size_t max_bytes);
  // application/x-www-form-urlencoded POST; `authorization` may be empty.
  Task<FetchResponse> PostForm(std::string url, std::string form, std::string authorization,
                               std::size_t max_bytes);

 private:
  Task<FetchResponse> Send(std::string url, boost::beast::http::verb verb, std::string body,
                           std::string authorization, std::size_t max_bytes);
  gateway::UpstreamPool& PoolFor(const common::HttpTarget& target);

  boost::asio::ssl::context& ssl_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<gateway::UpstreamPool>> pools_;
};

// application/x-www-form-urlencoded / query-string escaping.
std::string FormEncode(std::string_view s);

}  // namespace bro::identity
