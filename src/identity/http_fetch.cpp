#include "identity/http_fetch.hpp"

#include <boost/url/parse.hpp>

#include "gateway/upstream_exchange.hpp"

namespace bro::identity {
namespace {

namespace bhttp = boost::beast::http;

constexpr int kMaxIdlePerOrigin = 4;

}  // namespace

std::string FormEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

gateway::UpstreamPool& HttpFetcher::PoolFor(const common::HttpTarget& target) {
  const std::string origin =
      std::string(target.tls ? "https://" : "http://") + target.host + ":" + target.port;
  std::lock_guard lock(mu_);
  auto& pool = pools_[origin];
  if (!pool) {
    pool = std::make_unique<gateway::UpstreamPool>(target, ssl_, kMaxIdlePerOrigin, timeout_);
  }
  return *pool;
}

Task<FetchResponse> HttpFetcher::Get(std::string url, std::size_t max_bytes) {
  return Send(std::move(url), bhttp::verb::get, {}, {}, max_bytes);
}

Task<FetchResponse> HttpFetcher::PostForm(std::string url, std::string form,
                                          std::string authorization, std::size_t max_bytes) {
  return Send(std::move(url), bhttp::verb::post, std::move(form), std::move(authorization),
              max_bytes);
}

Task<FetchResponse> HttpFetcher::Send(std::string url, bhttp::verb verb, std::string body,
                                      std::string authorization, std::size_t max_bytes) {
  common::HttpTarget target;
  std::string path;
  try {
    target = common::ParseBaseUrl(url);
    auto parsed = boost::urls::parse_uri(url);
    path = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) path += "?" + std::string(parsed->encoded_query());
  } catch (const std::invalid_argument& e) {
    throw FetchError(std::string("bad issuer URL: ") + e.what());
  }
  bhttp::request<bhttp::string_body> req{verb, path, 11};
  const bool default_port =
      (target.tls && target.port == "443") || (!target.tls && target.port == "80");
  req.set(bhttp::field::host, default_port ? target.host : target.host + ":" + target.port);
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "bro-ai/" BRO_VERSION);
  if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
  if (verb == bhttp::verb::post) {
    req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
    req.body() = std::move(body);
  }
  req.keep_alive(true);
  req.prepare_payload();

  auto& pool = PoolFor(target);
  gateway::CallProgress progress;
  gateway::UpstreamExchange exchange(pool, progress);
  const auto deadline = gateway::UpstreamClock::now() + timeout_;
  // Open answers connection failures as values (it catches UpstreamConnectError itself).
  if (auto failed = co_await exchange.Open(req, deadline, deadline))
    throw FetchError(url + ": " + failed->message);
  FetchResponse out;
  out.status = exchange.Status();
  auto read = co_await exchange.ReadBody(max_bytes, deadline);
  if (const auto* err = std::get_if<http::ApiError>(&read)) {
    throw FetchError(url + ": " + err->message);
  }
  out.body = std::move(std::get<std::string>(read));
  exchange.Release();
  co_return out;
}

}  // namespace bro::identity
