#include "http/router.hpp"

namespace bro::http {

void Router::Add(Route route) {
  if (route.path.ends_with("/*")) {
    prefixes_.push_back(routes_.size());
  } else {
    by_path_[route.path].push_back(routes_.size());
  }
  routes_.push_back(std::move(route));
}

const Route* Router::Find(Verb method, std::string_view path, bool& method_mismatch) const {
  method_mismatch = false;
  if (auto it = by_path_.find(std::string(path)); it != by_path_.end()) {
    for (auto idx : it->second) {
      if (routes_[idx].method == method) return &routes_[idx];
    }
    method_mismatch = true;
    return nullptr;
  }
  for (auto idx : prefixes_) {
    const auto& r = routes_[idx];
    std::string_view prefix(r.path.data(), r.path.size() - 1);  // keep the trailing '/'
    if (path.size() > prefix.size() && path.starts_with(prefix)) {
      if (r.method == method) return &r;
      method_mismatch = true;
    }
  }
  return nullptr;
}

}  // namespace bro::http
