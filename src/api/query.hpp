#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/types.hpp"

namespace bro::api {

// A request's query string, percent-decoded. Unknown names, repeated names, malformed
// encoding, more than 16 parameters or values over 256 bytes are a 400 naming the parameter.
using QueryParams = std::map<std::string, std::string, std::less<>>;
std::variant<QueryParams, http::ApiError> ParseQuery(std::string_view query,
                                                     const std::vector<std::string_view>& allowed);

http::ApiError BadParam(std::string param, std::string message);

}  // namespace bro::api
