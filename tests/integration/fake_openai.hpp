#pragma once

// FakeOpenAiChat: a loopback fake of OpenAI's chat completions API (POST /v1/chat/completions),
// following its published wire format: chat.completion objects, chat.completion.chunk events
// over SSE ending with `data: [DONE]`, a usage chunk (and `"usage": null` on every other chunk)
// only when stream_options.include_usage asks for it, and OpenAI error objects. The requested
// model picks the script. Requests without `Authorization: Bearer` are refused with 401, as
// OpenAI refuses them.

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "integration/gateway_fixture.hpp"

namespace bro::api {

class FakeOpenAiChat {
 public:
  unsigned short Port() const { return server_.Port(); }
  // The API base URL a provider is configured with.
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(Port()) + "/v1"; }
  std::size_t Connections() const { return server_.Connections(); }

  std::atomic<bool> saw_disconnect{false};  // gpt-hang: the gateway closed the request
  std::mutex mu;
  std::string authorization;  // of the last request
  json::object body;          // of the last request

 private:
  static http::Response Json(http::Exchange& ex, unsigned status, const std::string& text) {
    auto res = http::MakeJson(http::Status::ok, text, ex.Req().version());
    res.result(status);
    res.set("x-request-id", "req_fake_openai");
    return res;
  }
  static std::string Error(const std::string& message, const std::string& type,
                           const json::value& code) {
    return json::serialize(json::object{
        {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}});
  }
  // One chat.completion.chunk event; `usage_null` as OpenAI sends it once usage was asked for.
  static std::string Chunk(json::object delta, json::value finish, bool usage_null) {
    json::object chunk{
        {"id", "chatcmpl-fake-stream"},
        {"object", "chat.completion.chunk"},
        {"created", 1767225600},
        {"model", "gpt-4o-2024-08-06"},
        {"system_fingerprint", "fp_fake"},
        {"choices", json::array{json::object{{"index", 0},
                                             {"delta", std::move(delta)},
                                             {"logprobs", nullptr},
                                             {"finish_reason", std::move(finish)}}}}};
    if (usage_null) chunk["usage"] = nullptr;
    return "data: " + json::serialize(chunk) + "\n\n";
  }

  // The JSON is built outside the coroutine: GCC 12 rejects string literals in braced
  // json::object initializers inside coroutines ("array used as initializer").
  static std::string Opening(bool usage_null) {
    return Chunk({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}, nullptr,
                 usage_null);
  }
  static std::string Text(const std::string& text, bool usage_null) {
    return Chunk({{"content", text}}, nullptr, usage_null);
  }
  static std::string TextStream(bool include_usage) {
    std::string events = Opening(include_usage) + Text("Hello", include_usage) +
                         Text("!", include_usage) + Chunk({}, "stop", include_usage);
    if (include_usage) {
      events +=
          R"(data: {"id":"chatcmpl-fake-stream","object":"chat.completion.chunk","created":1767225600,)"
          R"("model":"gpt-4o-2024-08-06","system_fingerprint":"fp_fake","choices":[],)"
          R"("usage":{"prompt_tokens":25,"completion_tokens":6,"total_tokens":31}})"
          "\n\n";
    }
    return events + "data: [DONE]\n\n";
  }

  // The error the script `model` answers with, if it is one. The refusals quote the credential
  // they were sent (OpenAI's own 401 quotes it, masked): a gateway that relayed them would leak
  // its key, so the contract's check for that can fail.
  static std::optional<http::Response> Refusal(http::Exchange& ex, const std::string& model,
                                               const std::string& credential) {
    if (!credential.starts_with("Bearer ")) {
      return Json(ex, 401,
                  Error("You didn't provide an API key.", "invalid_request_error", nullptr));
    }
    const std::string key = credential.substr(7);
    if (model == "gpt-401") {
      return Json(ex, 401,
                  Error("Incorrect API key provided: " + key +
                            ". You can find your API key at "
                            "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error", "invalid_api_key"));
    }
    if (model == "gpt-403") {
      return Json(ex, 403,
                  Error("Project of key " + key + " does not have access to model `gpt-403`",
                        "invalid_request_error", "model_not_found"));
    }
    if (model == "gpt-429") {
      auto res =
          Json(ex, 429,
               Error("Rate limit reached for gpt-4o in organization org-fake on requests per min "
                     "(RPM): Limit 3, Used 3, Requested 1. Please try again in 12s.",
                     "requests", "rate_limit_exceeded"));
      res.set(http::Field::retry_after, "12");
      return res;
    }
    if (model == "gpt-500") {
      return Json(ex, 500,
                  Error("The server had an error while processing your request. Sorry about "
                        "that!",
                        "server_error", nullptr));
    }
    return std::nullopt;
  }

  static bool IncludeUsage(const json::object& request) {
    const auto* so = request.if_contains("stream_options");
    if (so == nullptr || !so->is_object()) return false;
    const auto* iu = so->as_object().if_contains("include_usage");
    return iu != nullptr && iu->is_bool() && iu->as_bool();
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    const std::string credential(ex.Req()[http::Field::authorization]);
    auto request = json::parse(ex.Req().body()).as_object();
    {
      std::lock_guard lock(mu);
      authorization = credential;
      body = request;
    }
    const std::string model(request.at("model").as_string());
    const bool stream = request.contains("stream") && request.at("stream").as_bool();
    const bool include_usage = IncludeUsage(request);
    if (auto refused = Refusal(ex, model, credential)) co_return std::move(*refused);
    if (!stream) {
      co_return Json(
          ex, 200,
          R"({"id":"chatcmpl-fake-1","object":"chat.completion","created":1767225600,)"
          R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant",)"
          R"("content":"Hello! How can I help?","refusal":null,"annotations":[]},)"
          R"("logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,)"
          R"("completion_tokens":8,"total_tokens":20,"prompt_tokens_details":{"cached_tokens":0},)"
          R"("completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default",)"
          R"("system_fingerprint":"fp_fake"})");
    }

    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream; charset=utf-8");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    if (model == "gpt-cut") {
      co_await ex.WriteChunk(Opening(include_usage) + Text("partial", include_usage));
      throw std::runtime_error("fake OpenAI dies mid-stream");
    }
    if (model == "gpt-hang") {  // some output, then wait for the gateway to go away
      co_await ex.WriteChunk(Opening(include_usage) + Text("waiting", include_usage));
      co_await ex.WaitClientGone();
      saw_disconnect = true;
      co_return http::Response{};
    }
    const std::string events = TextStream(include_usage);
    // Split mid-event: the provider must reassemble events across reads.
    co_await ex.WriteChunk(std::string_view(events).substr(0, 41));
    co_await ex.WriteChunk(std::string_view(events).substr(41));
    co_await ex.EndStream();
    co_return http::Response{};
  }

  LoopbackServer server_{"/v1/chat/completions", [this](http::Exchange& ex) { return Handle(ex); }};
};

}  // namespace bro::api
