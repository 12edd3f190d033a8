#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "http/types.hpp"

namespace bro::gateway {

using http::ApiError;

// A validated OpenAI chat completion request. `body` is the client's JSON as sent.
struct ChatRequest {
  boost::json::object body;  // allocated from a per-request arena (monotonic resource)
  std::string_view raw;      // the bytes the client sent (owned by the HTTP request)
  std::string model;
  bool stream = false;
  bool include_usage = false;
};

// Parses and validates a /v1/chat/completions body; errors name the offending field.
std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body);

// How much output one request may ask for (limits.max_output_tokens or the model's own
// max_output_tokens; limits.max_choices).
struct OutputBounds {
  std::int64_t max_output_tokens = 1'000'000;
  std::int64_t max_choices = 128;
};
// 400 naming the field when max_tokens, max_completion_tokens or n is above its bound: the
// reservation a request causes is bounded before any arithmetic is done on it.
std::optional<ApiError> CheckOutputBounds(const boost::json::object& request,
                                          const OutputBounds& bounds);

// Shared by every /v1 body parser.
ApiError InvalidRequest(std::string message, std::string param = {}, std::string code = {});
// The body as a JSON object in a per-request arena (freed at once when the request ends).
std::variant<boost::json::object, ApiError> ParseRequestObject(std::string_view body,
                                                               std::size_t max_depth);
// The `model` field: a non-empty string of at most 256 characters.
std::variant<std::string, ApiError> ReadModelField(const boost::json::object& body);
// What every /v1 body parser does first: the body as a JSON object at most max_depth deep and
// its `model` field, in a Request with body, raw and model members.
template <class Request>
std::variant<Request, ApiError> ParseModelRequest(std::string_view body, std::size_t max_depth) {
  auto parsed = ParseRequestObject(body, max_depth);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  Request req;
  req.body = std::move(std::get<boost::json::object>(parsed));
  req.raw = body;
  auto model = ReadModelField(req.body);
  if (auto* e = std::get_if<ApiError>(&model)) return std::move(*e);
  req.model = std::move(std::get<std::string>(model));
  return req;
}

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// Token estimate used where a provider reports none (echo, cancelled streams):
// about four characters per token, at least one for non-empty text.
std::int64_t EstimateTokens(std::string_view text);
std::int64_t EstimatePromptTokens(const boost::json::object& request);

// Where a streaming provider writes Server-Sent Events. Send returns false once
// the client is gone; the provider must then stop and report what it produced.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual Task<bool> Begin() = 0;
  virtual Task<bool> Send(std::string_view sse_bytes) = 0;
  virtual Task<void> End() = 0;
  // Completes when the client disconnects (never otherwise).
  virtual Task<void> ClientGone() = 0;
  // Calls on_gone if the client disconnects before StopWatchingClient(); no coroutine needed.
  virtual void WatchClientGone(const std::function<void()>& on_gone) { (void)on_gone; }
  virtual void StopWatchingClient() {}
  // Whether anything has reached the client yet. Until then a failed call can still be retried
  // on another deployment and answered with a plain error (see gateway::ModelRouter).
  virtual bool Started() const { return true; }
};

// What a chat call produced. When `streamed` is false, `status`/`body` are the
// response to send; when true, the stream has already been written to the sink.
struct ChatOutcome {
  http::Status status = http::Status::ok;
  std::string body;
  bool streamed = false;
  Usage usage;
  std::optional<std::chrono::milliseconds> time_to_first_token;
  std::string error_code;  // empty on success
  bool client_gone = false;
  std::string retry_after;  // upstream Retry-After, relayed with 429
};

struct ChatCall {
  const ChatRequest& request;
  std::string upstream_model;
  std::string trace_id;
  std::string span_id;
};

struct EmbedCall;  // gateway/embeddings.hpp

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view Name() const = 0;
  virtual std::string_view Type() const = 0;
  virtual Task<ChatOutcome> Chat(const ChatCall& call, StreamSink& sink) = 0;
  // POST /v1/embeddings; the outcome's body is the OpenAI embeddings list (never streamed).
  // Providers without embeddings answer 400 `model does not support embeddings`.
  virtual Task<ChatOutcome> Embed(const EmbedCall& call);
};

ChatOutcome ErrorOutcome(const ApiError& e);

}  // namespace bro::gateway
