#pragma once

// FakeAnthropicMessages: a loopback fake of Anthropic's Messages API (POST /v1/messages),
// following its published wire format: message objects, the SSE event sequence message_start,
// content_block_start, ping, content_block_delta, content_block_stop, message_delta,
// message_stop, and Anthropic error bodies ({"type":"error","error":{...}}). The requested model
// picks the script. Like the real API it refuses a request without x-api-key (401) or
// anthropic-version (400).

#include <atomic>
#include <mutex>
#include <string>

#include "integration/gateway_fixture.hpp"
#include "unit/anthropic_events.hpp"

namespace bro::api {

class FakeAnthropicMessages {
 public:
  unsigned short Port() const { return server_.Port(); }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(Port()); }
  std::size_t Connections() const { return server_.Connections(); }

  std::atomic<bool> saw_disconnect{false};  // claude-hang: the gateway closed the request
  std::mutex mu;
  std::string api_key;  // of the last request
  json::object body;    // of the last request

 private:
  static http::Response Json(http::Exchange& ex, unsigned status, const std::string& text) {
    auto res = http::MakeJson(http::Status::ok, text, ex.Req().version());
    res.result(status);
    res.set("request-id", "req_fake_anthropic");
    return res;
  }
  static std::string Error(const std::string& type, const std::string& message) {
    return json::serialize(
        json::object{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    using namespace testing::anthropic_events;
    const std::string key(ex.Req()["x-api-key"]);
    auto request = json::parse(ex.Req().body()).as_object();
    {
      std::lock_guard lock(mu);
      api_key = key;
      body = request;
    }
    if (key.empty()) {
      co_return Json(ex, 401, Error("authentication_error", "x-api-key header is required"));
    }
    if (ex.Req()["anthropic-version"].empty()) {
      co_return Json(ex, 400,
                     Error("invalid_request_error", "anthropic-version: header is required"));
    }
    const std::string model(request.at("model").as_string());
    const bool stream = request.contains("stream") && request.at("stream").as_bool();
    // The refusals quote the key they were sent: a gateway that relayed them would leak it, so
    // the contract's check for that can fail.
    if (model == "claude-401") {
      co_return Json(ex, 401, Error("authentication_error", "invalid x-api-key: " + key));
    }
    if (model == "claude-403") {
      co_return Json(ex, 403,
                     Error("permission_error",
                           "Your API key " + key +
                               " does not have permission to use the specified resource."));
    }
    if (model == "claude-429") {
      auto res = Json(ex, 429,
                      Error("rate_limit_error",
                            "Number of request tokens has exceeded your per-minute rate limit"));
      res.set(http::Field::retry_after, "12");
      res.set("anthropic-ratelimit-requests-remaining", "0");
      co_return res;
    }
    if (model == "claude-500") co_return Json(ex, 500, Error("api_error", "Internal server error"));
    if (!stream) {
      co_return Json(
          ex, 200,
          R"({"id":"msg_01FakeContract","type":"message","role":"assistant",)"
          R"("model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello! How can I help?"}],)"
          R"("stop_reason":"end_turn","stop_sequence":null,)"
          R"("usage":{"input_tokens":12,"output_tokens":8}})");
    }

    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream; charset=utf-8");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    const std::string opening = MessageStart("msg_01FakeContract", 25) + TextStart(0) + Ping();
    if (model == "claude-cut") {
      co_await ex.WriteChunk(opening + TextDelta(0, "partial"));
      throw std::runtime_error("fake Anthropic dies mid-stream");
    }
    if (model == "claude-hang") {  // some output, then wait for the gateway to go away
      co_await ex.WriteChunk(opening + TextDelta(0, "waiting"));
      co_await ex.WaitClientGone();
      saw_disconnect = true;
      co_return http::Response{};
    }
    const std::string events = opening + TextDelta(0, "Hello") + TextDelta(0, "!") + BlockStop(0) +
                               MessageDelta("end_turn", 6) + MessageStop();
    // Split mid-event: the provider must reassemble events across reads.
    co_await ex.WriteChunk(std::string_view(events).substr(0, 41));
    co_await ex.WriteChunk(std::string_view(events).substr(41));
    co_await ex.EndStream();
    co_return http::Response{};
  }

  LoopbackServer server_{"/v1/messages", [this](http::Exchange& ex) { return Handle(ex); }};
};

}  // namespace bro::api
