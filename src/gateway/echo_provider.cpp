#include "gateway/echo_provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <ctime>

#include "common/random.hpp"
#include "gateway/embeddings.hpp"
#include "gateway/openai_shape.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

std::string LastUserText(const json::object& request) {
  const auto& messages = request.at("messages").as_array();
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    const auto& m = it->as_object();
    if (m.at("role").as_string() != "user") continue;
    const auto* content = m.if_contains("content");
    if (content == nullptr) return {};
    if (content->is_string()) return std::string(content->as_string());
    std::string out;
    if (content->is_array()) {
      for (const auto& part : content->as_array()) {
        if (const auto* t = part.as_object().if_contains("text"); t != nullptr && t->is_string()) {
          out += t->as_string();
        }
      }
    }
    return out;
  }
  return {};
}

// The function named by tool_choice, if the request forces one.
std::string ForcedFunction(const json::object& request) {
  const auto* choice = request.if_contains("tool_choice");
  const auto* tools = request.if_contains("tools");
  if (choice == nullptr || tools == nullptr || !tools->is_array() || tools->as_array().empty())
    return {};
  if (choice->is_string() && choice->as_string() == "required") {
    return std::string(tools->as_array()[0].at("function").at("name").as_string());
  }
  if (choice->is_object()) {
    if (const auto* fn = choice->as_object().if_contains("function");
        fn != nullptr && fn->is_object()) {
      if (const auto* name = fn->as_object().if_contains("name");
          name != nullptr && name->is_string()) {
        return std::string(name->as_string());
      }
    }
  }
  return {};
}

// The longest prefix of at most `bytes` bytes that does not end inside a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

// Splits text into ~4-character pieces, never inside a UTF-8 sequence.
std::vector<std::string_view> Pieces(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + 4);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

Task<void> Sleep(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::string Event(const json::object& o) {
  return "data: " + json::serialize(o) + "\n\n";
}

}  // namespace

EchoProvider::EchoProvider(const config::ProviderConfig& cfg)
    : name_(cfg.name),
      latency_(cfg.latency),
      token_delay_(cfg.token_delay),
      max_tokens_default_(cfg.max_tokens_default) {}

Task<ChatOutcome> EchoProvider::Chat(const ChatCall& call, StreamSink& sink) {
  const auto& req = call.request.body;
  const auto start = Clock::now();
  const std::string text = LastUserText(req);
  const std::string function = ForcedFunction(req);
  std::string reply =
      function.empty() ? "Echo: " + text : json::serialize(json::object{{"text", text}});
  // Like a model, the echo stops at max_tokens (or its default): its answer is never much
  // larger than the request, and never more than the limits reserved for it.
  const auto max_tokens = MaxOutputTokens(req).value_or(max_tokens_default_);
  const bool cut = EstimateTokens(reply) > max_tokens;
  if (cut) reply = std::string(TruncateUtf8(reply, static_cast<std::size_t>(max_tokens) * 4));
  const std::string id = "chatcmpl-" + common::RandomHex(12);
  const auto created = static_cast<std::int64_t>(std::time(nullptr));
  const std::string finish = cut ? "length" : function.empty() ? "stop" : "tool_calls";

  ChatOutcome out;
  out.usage.prompt_tokens = EstimatePromptTokens(req);

  if (!call.request.stream) {
    co_await Sleep(latency_);
    out.usage.completion_tokens = EstimateTokens(reply);
    json::object message{{"role", "assistant"}, {"refusal", nullptr}};
    if (function.empty()) {
      message["content"] = reply;
    } else {
      message["content"] = nullptr;
      message["tool_calls"] = json::array{
          json::object{{"id", "call_" + common::RandomHex(8)},
                       {"type", "function"},
                       {"function", json::object{{"name", function}, {"arguments", reply}}}}};
    }
    json::object body{{"id", id},
                      {"object", "chat.completion"},
                      {"created", created},
                      {"model", call.upstream_model},
                      {"system_fingerprint", "bro-echo"},
                      {"choices", json::array{json::object{{"index", 0},
                                                           {"message", std::move(message)},
                                                           {"logprobs", nullptr},
                                                           {"finish_reason", finish}}}},
                      {"usage", UsageJson(out.usage)}};
    out.body = json::serialize(body);
    out.time_to_first_token =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    co_return out;
  }

  out.streamed = true;
  auto chunk = [&](json::object delta, json::value finish_reason) {
    return Event(
        {{"id", id},
         {"object", "chat.completion.chunk"},
         {"created", created},
         {"model", call.upstream_model},
         {"system_fingerprint", "bro-echo"},
         {"choices", json::array{json::object{{"index", 0},
                                              {"delta", std::move(delta)},
                                              {"logprobs", nullptr},
                                              {"finish_reason", std::move(finish_reason)}}}}});
  };

  auto send = [&](std::string data) -> Task<bool> {
    if (co_await sink.Send(data)) co_return true;
    out.client_gone = true;
    co_return false;
  };
  // Everything runs against the client's presence: a client that leaves stops the stream at once.
  auto produce = [&]() -> Task<void> {
    co_await Sleep(latency_);
    if (!co_await sink.Begin()) {
      out.client_gone = true;
      co_return;
    }
    json::object first{{"role", "assistant"}};
    if (function.empty()) {
      first["content"] = "";
    } else {
      first["content"] = nullptr;
      first["tool_calls"] = json::array{
          json::object{{"index", 0},
                       {"id", "call_" + common::RandomHex(8)},
                       {"type", "function"},
                       {"function", json::object{{"name", function}, {"arguments", ""}}}}};
    }
    if (!co_await send(chunk(std::move(first), nullptr))) co_return;
    out.time_to_first_token =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    std::string produced;
    for (auto piece : Pieces(reply)) {
      co_await Sleep(token_delay_);
      json::object delta;
      if (function.empty()) {
        delta["content"] = piece;
      } else {
        delta["tool_calls"] = json::array{
            json::object{{"index", 0}, {"function", json::object{{"arguments", piece}}}}};
      }
      if (!co_await send(chunk(std::move(delta), nullptr))) co_return;
      produced += piece;
      out.usage.completion_tokens = EstimateTokens(produced);
    }
    if (!co_await send(chunk(json::object{}, json::value(finish)))) co_return;
    if (call.request.include_usage) {
      json::object usage_chunk{{"id", id},
                               {"object", "chat.completion.chunk"},
                               {"created", created},
                               {"model", call.upstream_model},
                               {"system_fingerprint", "bro-echo"},
                               {"choices", json::array{}},
                               {"usage", UsageJson(out.usage)}};
      if (!co_await send(Event(usage_chunk))) co_return;
    }
    if (!co_await send("data: [DONE]\n\n")) co_return;
    co_await sink.End();
    out.status = http::Status::ok;
  };
  out.status = http::Status::ok;
  auto result = co_await (produce() || sink.ClientGone());
  if (result.index() == 1) out.client_gone = true;
  if (out.client_gone) out.error_code = "client_disconnected";
  co_return out;
}

Task<ChatOutcome> EchoProvider::Embed(const EmbedCall& call) {
  const auto& request = call.request;
  const auto dimensions =
      static_cast<std::size_t>(request.dimensions.value_or(kEchoEmbeddingDimensions));
  std::vector<std::vector<float>> vectors;
  vectors.reserve(request.inputs.size());
  ChatOutcome out;
  for (const auto& text : request.inputs) {
    vectors.push_back(EchoEmbedding(text, dimensions));
    out.usage.prompt_tokens += EstimateTokens(text);
  }
  out.status = http::Status::ok;
  out.body = EmbeddingResponse(vectors, request.model, out.usage.prompt_tokens, request.base64);
  co_return out;
}

}  // namespace bro::gateway
