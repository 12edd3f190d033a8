#include "api/query.hpp"

#include <algorithm>
#include <boost/url/parse_query.hpp>

namespace bro::api {

http::ApiError BadParam(std::string param, std::string message) {
  return {http::Status::bad_request, "invalid_request_error", "invalid_parameter",
          std::move(message), std::move(param)};
}

std::variant<QueryParams, http::ApiError> ParseQuery(std::string_view query,
                                                     const std::vector<std::string_view>& allowed) {
  constexpr std::size_t kMaxParams = 16, kMaxValue = 256;
  QueryParams out;
  if (query.empty()) return out;
  // Boost.URL 1.81's parse_query lets the last parameter run past the end of a view that is
  // not NUL-terminated (the request target is a view into the header buffer: "format=csv
  // HTTP/1.1"). A terminated copy keeps it inside.
  const std::string terminated(query);
  auto parsed = boost::urls::parse_query(terminated);
  if (!parsed) return BadParam("", "The query string is not valid percent-encoding.");
  for (const auto& p : *parsed) {
    if (out.size() == kMaxParams) return BadParam("", "Too many query parameters.");
    std::string name = p.key.decode();
    std::string value = p.has_value ? p.value.decode() : std::string();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return BadParam(name.substr(0, 64), "Unknown query parameter '" + name.substr(0, 64) + "'.");
    }
    if (value.size() > kMaxValue) return BadParam(name, "The value of '" + name + "' is too long.");
    if (out.contains(name)) return BadParam(name, "'" + name + "' is given more than once.");
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace bro::api
