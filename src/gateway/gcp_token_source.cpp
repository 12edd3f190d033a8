#include "gateway/gcp_token_source.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "gateway/openai_shape.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxTokenResponseBytes = 64 * 1024;
constexpr std::int64_t kMaxExpiresIn = 24 * 3600;

ApiError NoToken(const std::string& why) {
  return UpstreamError(
      http::Status::bad_gateway, "upstream_auth_error",
      "The gateway could not get an access token from the GCE metadata server: " + why);
}

// A token goes into an Authorization header: visible ASCII only.
bool HeaderSafe(std::string_view token) {
  for (unsigned char ch : token) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return !token.empty();
}

}  // namespace

GcpTokenSource::GcpTokenSource(const std::string& host, asio::ssl::context& ssl,
                               const common::Clock& clock, std::chrono::milliseconds timeout)
    : host_(host),
      pool_(ParseBaseUrl("http://" + host), ssl, 4, timeout),
      clock_(clock),
      timeout_(timeout) {}

std::uint64_t GcpTokenSource::Fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

void GcpTokenSource::Wake() {
  for (auto& t : waiters_) {
    // The timer is only touched on its own executor, where its waiter runs.
    asio::post(t->get_executor(), [t] { t->cancel(); });
  }
  waiters_.clear();
}

Task<std::variant<std::string, ApiError>> GcpTokenSource::Token() {
  const auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::string current;  // a valid token to fall back on while refreshing
    std::optional<ApiError> failed;
    std::shared_ptr<asio::steady_timer> wait;
    bool fetch = false;
    {
      std::lock_guard lock(mu_);
      const auto now = clock_.Now();
      const bool valid = !token_.empty() && now < expires_at_;
      const bool stale_fetch = fetching_ && SteadyClock::now() - fetch_started_ > timeout_ * 2;
      if (valid) current = token_;
      const bool backing_off = failure_ && now < failure_until_;
      if (valid && (now < refresh_at_ || (fetching_ && !stale_fetch) || backing_off)) {
        // fresh enough, being refreshed by another caller, or a refresh just failed
      } else if (!valid && backing_off) {
        failed = failure_;
      } else if (fetching_ && !stale_fetch) {
        wait = std::make_shared<asio::steady_timer>(executor);
        wait->expires_after(timeout_ * 2);
        waiters_.push_back(wait);
      } else {
        fetching_ = true;
        fetch_started_ = SteadyClock::now();
        ++fetches_;
        fetch = true;
      }
    }
    if (failed) co_return *failed;
    if (wait) {
      co_await wait->async_wait(asio::as_tuple(asio::use_awaitable));
      continue;  // look again: the fetch stored a token or a failure
    }
    if (!fetch) co_return current;

    auto result = co_await Fetch();
    std::optional<ApiError> error;
    {
      std::lock_guard lock(mu_);
      fetching_ = false;
      const auto now = clock_.Now();
      if (auto* got = std::get_if<Fetched>(&result)) {
        token_ = got->token;
        expires_at_ = now + got->expires_in;
        refresh_at_ =
            expires_at_ - std::min<std::chrono::seconds>(kRefreshMargin, got->expires_in / 2);
        failure_.reset();
        current = token_;
      } else {
        error = std::get<ApiError>(result);
        failure_ = error;
        failure_until_ = now + kFailureBackoff;
      }
      Wake();
    }
    // A refresh that failed while the old token is still valid: keep using it.
    if (error && current.empty()) co_return *error;
    co_return current;
  }
}

Task<std::variant<GcpTokenSource::Fetched, ApiError>> GcpTokenSource::Fetch() {
  bhttp::request<bhttp::string_body> req{
      bhttp::verb::get, "/computeMetadata/v1/instance/service-accounts/default/token", 11};
  req.set(bhttp::field::host, host_);
  req.set("Metadata-Flavor", "Google");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "bro-ai/" BRO_VERSION);
  req.keep_alive(true);

  // The fetch serves every caller waiting for it: a departing client must not cancel it.
  CallProgress progress;
  UpstreamExchange exchange(pool_, progress);
  const auto deadline = SteadyClock::now() + timeout_;
  if (auto failed = co_await exchange.Open(req, deadline, deadline)) {
    if (failed->code == "upstream_timeout") co_return NoToken("it did not answer in time.");
    if (failed->code == "upstream_unavailable") {
      co_return NoToken("it could not be reached at " + host_ + ".");
    }
    co_return NoToken("it closed the connection.");
  }
  const unsigned status = exchange.Status();
  auto body = co_await exchange.ReadBody(kMaxTokenResponseBytes, deadline);
  if (std::holds_alternative<ApiError>(body)) co_return NoToken("its answer was cut off.");
  exchange.Release();
  if (status != 200) co_return NoToken("it answered HTTP " + std::to_string(status) + ".");

  boost::system::error_code ec;
  auto v = json::parse(std::get<std::string>(body), ec);
  if (ec || !v.is_object()) co_return NoToken("its answer is not JSON.");
  Fetched out;
  out.token = StringOf(v.as_object(), "access_token");
  const auto expires_in = IntOf(v.as_object(), "expires_in");
  if (!HeaderSafe(out.token) || out.token.size() > kMaxTokenBytes) {
    co_return NoToken("its answer has no usable access_token.");
  }
  if (!expires_in || *expires_in < 1 || *expires_in > kMaxExpiresIn) {
    co_return NoToken("its answer has no usable expires_in.");
  }
  out.expires_in = std::chrono::seconds(*expires_in);
  co_return out;
}

}  // namespace bro::gateway
