#include "http/types.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace bro::http {

std::string ErrorJson(const ApiError& e) {
  boost::json::object err;
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? boost::json::value(nullptr) : boost::json::value(e.param);
  err["code"] = e.code.empty() ? boost::json::value(nullptr) : boost::json::value(e.code);
  boost::json::object root;
  root["error"] = std::move(err);
  return boost::json::serialize(root);
}

Response MakeJson(Status status, std::string body, unsigned version, bool keep_alive) {
  Response res{status, version};
  res.set(Field::content_type, "application/json");
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

Response MakeError(const ApiError& e, unsigned version, bool keep_alive) {
  return MakeJson(e.status, ErrorJson(e), version, keep_alive);
}

}  // namespace bro::http
