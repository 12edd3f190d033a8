#pragma once

// Loopback fakes of two Google services that cannot run here, following their published
// protocols: FakeVertex (Vertex AI's generateContent, streamGenerateContent?alt=sse and predict,
// with recorded response shapes, stream sequences and Google error bodies; the requested model
// picks the script) and FakeMetadataServer (the GCE metadata server's service-account token
// endpoint, which insists on `Metadata-Flavor: Google` as the real one does).

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "integration/gateway_fixture.hpp"
#include "unit/vertex_events.hpp"

namespace bro::api {

inline http::Response FakeJson(http::Exchange& ex, unsigned status, const std::string& body) {
  auto res = http::MakeJson(http::Status::ok, body, ex.Req().version());
  res.result(status);
  return res;
}

// Holds a fake's handler until `release` is set (or the fake stops), in 10 ms steps.
inline Task<void> FakeHold(const std::atomic<bool>& release, const LoopbackServer& server,
                           int max_steps = 500) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < max_steps && !release && !server.Stopping(); ++i) {
    t.expires_after(10ms);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

class FakeMetadataServer {
 public:
  static constexpr const char* kPath =
      "/computeMetadata/v1/instance/service-accounts/default/token";

  unsigned short Port() const { return server_.Port(); }
  std::string Host() const { return "127.0.0.1:" + std::to_string(Port()); }
  int Requests() const { return requests_; }

  std::atomic<unsigned> status{200};
  std::atomic<std::int64_t> expires_in{3599};
  std::atomic<bool> hold{false};  // answer only once `release` is set
  std::atomic<bool> release{false};
  std::mutex mu;
  std::string body_override;  // when set, the body sent instead of a token

 private:
  Task<http::Response> Handle(http::Exchange& ex) {
    const int n = ++requests_;
    if (ex.Req()["Metadata-Flavor"] != "Google") {
      co_return FakeJson(ex, 403, "Missing Metadata-Flavor:Google header.");
    }
    if (hold) co_await FakeHold(release, server_);
    std::string body;
    {
      std::lock_guard lock(mu);
      body = body_override;
    }
    if (body.empty()) {
      body = R"({"access_token":"ya29.fake-)" + std::to_string(n) + R"(","expires_in":)" +
             std::to_string(expires_in.load()) + R"(,"token_type":"Bearer"})";
    }
    auto res = FakeJson(ex, status, body);
    res.set("Metadata-Flavor", "Google");
    co_return res;
  }

  std::atomic<int> requests_{0};
  LoopbackServer server_{kPath, [this](http::Exchange& ex) { return Handle(ex); }, http::Verb::get};
};

// What FakeVertex saw of the last request.
struct VertexSeen {
  std::mutex mu;
  std::string target, authorization, api_key;
  json::object body;
  std::vector<std::size_t> instances;  // instances per predict call
  std::atomic<bool> saw_disconnect{false};
  std::atomic<bool> release_rest{false};
};

class FakeVertex {
 public:
  unsigned short Port() const { return server_.Port(); }
  std::size_t Connections() const { return server_.Connections(); }
  VertexSeen seen;

 private:
  // /v1/projects/P/locations/L/publishers/google/models/MODEL:METHOD (also without the project).
  static std::pair<std::string, std::string> ModelAndMethod(std::string_view path) {
    const auto models = path.rfind("/models/");
    const auto colon = path.rfind(':');
    if (models == std::string_view::npos || colon == std::string_view::npos || colon < models) {
      return {};
    }
    return {std::string(path.substr(models + 8, colon - models - 8)),
            std::string(path.substr(colon + 1))};
  }

  Task<http::Response> Predict(http::Exchange& ex, const std::string& model,
                               const json::object& request) {
    using namespace testing::vertex_events;
    if (model == "embed-429") {
      auto res = FakeJson(ex, 429, ErrorBody(429, "RESOURCE_EXHAUSTED", "Quota exceeded."));
      res.set(http::Field::retry_after, "7");
      co_return res;
    }
    if (model == "embed-garbage") co_return FakeJson(ex, 200, R"({"predictions":"nope"})");
    const auto& instances = request.at("instances").as_array();
    std::size_t dims = 4;
    if (const auto* p = request.if_contains("parameters")) {
      dims = p->at("outputDimensionality").to_number<std::size_t>();
    }
    {
      std::lock_guard lock(seen.mu);
      seen.instances.push_back(instances.size());
    }
    json::array predictions;
    for (const auto& inst : instances) {
      const std::string text(inst.at("content").as_string());
      json::array values;
      for (std::size_t i = 0; i < dims; ++i) values.push_back(static_cast<double>(text.size() + i));
      predictions.push_back(json::object{
          {"embeddings",
           {{"statistics", {{"truncated", false}, {"token_count", 2}}}, {"values", values}}}});
    }
    co_return FakeJson(
        ex, 200,
        json::serialize(json::object{{"predictions", predictions},
                                     {"metadata", {{"billableCharacterCount", 10}}}}));
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    using namespace testing::vertex_events;
    const auto [model, method] = ModelAndMethod(ex.Path());
    auto request = json::parse(ex.Req().body()).as_object();
    {
      std::lock_guard lock(seen.mu);
      seen.target = std::string(ex.Req().target());
      seen.authorization = std::string(ex.Req()[http::Field::authorization]);
      seen.api_key = std::string(ex.Req()["x-goog-api-key"]);
      seen.body = request;
    }
    if (method == "predict") co_return co_await Predict(ex, model, request);
    const bool stream = method == "streamGenerateContent";
    if (model == "gemini-429") {
      auto res = FakeJson(
          ex, 429,
          ErrorBody(429, "RESOURCE_EXHAUSTED",
                    "Resource exhausted. Please try again later. Please refer to "
                    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for "
                    "more details."));
      res.set(http::Field::retry_after, "12");
      co_return res;
    }
    if (model == "gemini-400") {
      co_return FakeJson(
          ex, 400, ErrorBody(400, "INVALID_ARGUMENT", "Request contains an invalid argument."));
    }
    if (model == "gemini-403") {
      co_return FakeJson(
          ex, 403,
          ErrorBody(403, "PERMISSION_DENIED",
                    "Permission 'aiplatform.endpoints.predict' denied on resource."));
    }
    if (model == "gemini-500") {
      co_return FakeJson(ex, 500, ErrorBody(500, "INTERNAL", "Internal error encountered."));
    }
    if (model == "gemini-garbage") co_return FakeJson(ex, 200, "<html>hello</html>");
    if (!stream) {
      if (model == "gemini-tool") {
        co_return FakeJson(ex, 200,
                           Response("[" + TextPart("Let me check.") + "," +
                                        CallPart("get_weather", R"({"city":"Paris"})") + "]",
                                    "STOP", UsageMetadata(40, 22)));
      }
      co_return FakeJson(
          ex, 200,
          Response("[" + TextPart("Hello! How can I help?") + "]", "STOP", UsageMetadata(12, 8)));
    }

    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    if (model == "gemini-text") {
      const std::string events =
          Sse(Response("[" + TextPart("Hello") + "]", "", "")) +
          Sse(Response("[" + TextPart("!") + "]", "", "")) +
          Sse(Response("[" + TextPart("") + "]", "STOP", UsageMetadata(25, 6)));
      // Split mid-event: the provider must reassemble events across reads.
      co_await ex.WriteChunk(std::string_view(events).substr(0, 37));
      co_await ex.WriteChunk(std::string_view(events).substr(37));
    } else if (model == "gemini-tool") {
      co_await ex.WriteChunk(
          Sse(Response("[" + TextPart("Checking.") + "]", "", "")) +
          Sse(Response("[" + CallPart("get_weather", R"({"city":"Paris"})") + "]", "", "")));
      // The rest waits until the test saw the first call reach the client.
      co_await FakeHold(seen.release_rest, server_);
      co_await ex.WriteChunk(Sse(Response("[" + CallPart("get_time", R"({"tz":"CET"})") + "]",
                                          "STOP", UsageMetadata(31, 17))));
    } else if (model == "gemini-error-event") {
      co_await ex.WriteChunk(
          Sse(Response("[" + TextPart("Hel") + "]", "", "")) +
          Sse(ErrorBody(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")));
    } else if (model == "gemini-cut") {
      co_await ex.WriteChunk(Sse(Response("[" + TextPart("partial") + "]", "", "")));
      throw std::runtime_error("fake Vertex dies mid-stream");
    } else {  // gemini-hang: some output, then wait for the gateway to go away
      co_await ex.WriteChunk(Sse(Response("[" + TextPart("waiting") + "]", "", "")));
      co_await ex.WaitClientGone();
      seen.saw_disconnect = true;
      co_return http::Response{};
    }
    co_await ex.EndStream();
    co_return http::Response{};
  }

  LoopbackServer server_{"/v1/*", [this](http::Exchange& ex) { return Handle(ex); }};
};

}  // namespace bro::api
