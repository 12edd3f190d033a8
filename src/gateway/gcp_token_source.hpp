#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/time.hpp"
#include "gateway/chat.hpp"
#include "gateway/upstream_client.hpp"

namespace bro::gateway {

// OAuth access tokens of the instance's service account (on GKE: the Kubernetes service
// account's, through Workload Identity) from the GCE metadata server:
// GET http://{host}/computeMetadata/v1/instance/service-accounts/default/token with
// `Metadata-Flavor: Google`, answered {"access_token","expires_in","token_type"}. Google's C++
// client libraries are not packaged in Debian 12, and this one request is all the gateway needs.
//
// A token is kept until kRefreshMargin before it expires (half its lifetime for short ones),
// then refreshed by the first caller while the others go on using it. When there is no valid
// token, concurrent callers share one fetch. A failed fetch is answered to everyone waiting for
// it and remembered for kFailureBackoff, so a dead metadata server is not hammered.
class GcpTokenSource {
 public:
  static constexpr std::chrono::minutes kRefreshMargin{5};
  static constexpr std::chrono::seconds kFailureBackoff{1};
  static constexpr std::size_t kMaxTokenBytes = 8192;

  // `host` is host[:port] (config metadata_host / GCE_METADATA_HOST); `timeout` bounds one fetch.
  GcpTokenSource(const std::string& host, asio::ssl::context& ssl, const common::Clock& clock,
                 std::chrono::milliseconds timeout);

  // A valid access token, or a 502 `upstream_auth_error` saying why there is none.
  Task<std::variant<std::string, ApiError>> Token();

  // Fetches made so far (observability and tests).
  std::uint64_t Fetches() const;

 private:
  struct Fetched {
    std::string token;
    std::chrono::seconds expires_in{0};
  };
  Task<std::variant<Fetched, ApiError>> Fetch();
  void Wake();  // under mu_

  std::string host_;
  UpstreamPool pool_;
  const common::Clock& clock_;
  std::chrono::milliseconds timeout_;

  mutable std::mutex mu_;
  std::string token_;
  std::chrono::system_clock::time_point expires_at_;
  std::chrono::system_clock::time_point refresh_at_;
  bool fetching_ = false;
  std::chrono::steady_clock::time_point fetch_started_;
  // Callers waiting for the fetch in flight; each timer belongs to its caller's executor.
  std::vector<std::shared_ptr<asio::steady_timer>> waiters_;
  std::optional<ApiError> failure_;
  std::chrono::system_clock::time_point failure_until_;
  std::uint64_t fetches_ = 0;
};

}  // namespace bro::gateway
