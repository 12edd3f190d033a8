#include "common/url.hpp"

#include <boost/url/parse.hpp>
#include <charconv>
#include <stdexcept>

namespace bro::common {

HttpTarget ParseBaseUrl(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw std::invalid_argument("invalid URL '" + url + "'");
  // Keys belong in api_key_env / api_key_file, never in a URL that ends up in logs.
  if (parsed->has_userinfo()) throw std::invalid_argument("URL must not carry credentials");
  HttpTarget t;
  if (parsed->scheme() == "https") {
    t.tls = true;
  } else if (parsed->scheme() != "http") {
    throw std::invalid_argument("URL scheme must be http or https: '" + url + "'");
  }
  t.host = parsed->host();
  if (t.host.empty()) throw std::invalid_argument("URL has no host: '" + url + "'");
  if (t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : std::string();
  if (port.empty()) {
    t.port = t.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535) {
      throw std::invalid_argument("URL port must be 1-65535: '" + url + "'");
    }
    t.port = std::to_string(value);
  }
  t.base_path = parsed->encoded_path();
  // After an authority the path is empty or starts with '/' (RFC 3986 §3.3); Boost.URL 1.81
  // reads "h:port/v1" as host "h", empty port and path "port/v1".
  if (!t.base_path.empty() && t.base_path.front() != '/') {
    throw std::invalid_argument("URL port must be 1-65535: '" + url + "'");
  }
  while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  return t;
}

}  // namespace bro::common
