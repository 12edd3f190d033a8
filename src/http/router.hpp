#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/types.hpp"

namespace bro::http {

class Exchange;

using Handler = std::function<Task<Response>(Exchange&)>;

struct Route {
  Verb method;
  std::string path;  // exact path, or a prefix when it ends with "/*"
  std::string name;  // metric/log label, e.g. "/v1/chat/completions"
  Handler handler;
  std::size_t body_limit = 0;  // 0: server default
};

class Router {
 public:
  void Add(Route route);
  // nullptr when nothing matches; method_mismatch tells 405 from 404.
  const Route* Find(Verb method, std::string_view path, bool& method_mismatch) const;
  const std::vector<Route>& Routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_path_;
  std::vector<std::size_t> prefixes_;
};

}  // namespace bro::http
