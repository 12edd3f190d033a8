#include "api/health_api.hpp"

namespace bro::api {

void HealthApi::Register(http::Router& router) {
  router.Add(
      {http::Verb::get, "/health", "/health", [](http::Exchange& ex) -> Task<http::Response> {
         co_return http::MakeJson(http::Status::ok, R"({"status":"ok"})", ex.Req().version());
       }});
  router.Add(
      {http::Verb::get, "/ready", "/ready", [this](http::Exchange& ex) -> Task<http::Response> {
         if (draining_.load()) {
           co_return http::MakeJson(http::Status::service_unavailable, R"({"status":"draining"})",
                                    ex.Req().version());
         }
         if (!co_await db_.Ping()) {
           co_return http::MakeJson(http::Status::service_unavailable,
                                    R"({"status":"database unreachable"})", ex.Req().version());
         }
         co_return http::MakeJson(http::Status::ok, R"({"status":"ready"})", ex.Req().version());
       }});
}

}  // namespace bro::api
