#pragma once

#include <string>

namespace bro::common {

// An HTTP(S) endpoint parsed from a base URL such as https://api.openai.com/v1.
struct HttpTarget {
  bool tls = false;
  std::string host;       // without IPv6 brackets
  std::string port;       // always set: explicit, or 80 / 443
  std::string base_path;  // e.g. "/v1", without trailing slash
};

// Throws std::invalid_argument for anything but http(s)://host[:port][/path] with a port
// in 1..65535 (an empty port means the scheme's default).
HttpTarget ParseBaseUrl(const std::string& url);

}  // namespace bro::common
