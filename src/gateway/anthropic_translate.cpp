#include "gateway/anthropic_translate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/sse.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway::anthropic {
namespace {

namespace json = boost::json;

json::object TextBlock(std::string_view text) {
  return {{"type", "text"}, {"text", text}};
}

// An image_url part as an Anthropic image block: data URLs inline (base64), others by URL.
json::object ImageBlock(std::string_view url) {
  if (auto data = ParseDataUrl(url)) {
    return {
        {"type", "image"},
        {"source", {{"type", "base64"}, {"media_type", data->media_type}, {"data", data->data}}}};
  }
  return {{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}};
}

// User or assistant content as Anthropic blocks; empty text is left out (Anthropic refuses it).
std::variant<json::array, ApiError> ContentBlocks(const json::value* content,
                                                  const std::string& at) {
  json::array blocks;
  ContentVisitor visit{[&](std::string_view text) { blocks.push_back(TextBlock(text)); },
                       [&](std::string_view url, const std::string&) -> std::optional<ApiError> {
                         blocks.push_back(ImageBlock(url));
                         return std::nullopt;
                       }};
  if (auto e = VisitContent(content, at, visit)) return *e;
  return blocks;
}

std::optional<ApiError> TranslateTools(const json::object& openai, json::object& out) {
  auto tools = FunctionTools(openai);
  if (auto* e = std::get_if<ApiError>(&tools)) return *e;
  const auto& list = std::get<std::vector<FunctionTool>>(tools);
  if (list.empty()) return std::nullopt;
  json::array result;
  for (const auto& t : list) {
    json::object tool{{"name", t.name}};
    if (!t.description.empty()) tool["description"] = t.description;
    tool["input_schema"] =
        t.parameters != nullptr
            ? *t.parameters
            : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
    result.push_back(std::move(tool));
  }
  out["tools"] = std::move(result);

  auto parsed = ParseToolChoice(openai);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const auto& tc = std::get<ToolChoice>(parsed);
  json::object choice{{"type", "auto"}};
  switch (tc.mode) {
    case ToolChoice::Mode::kAuto:
      break;
    case ToolChoice::Mode::kNone:
      choice["type"] = "none";
      break;
    case ToolChoice::Mode::kRequired:
      choice["type"] = "any";
      break;
    case ToolChoice::Mode::kFunction:
      choice["type"] = "tool";
      choice["name"] = tc.function;
      break;
  }
  if (const auto* p = FieldOf(openai, "parallel_tool_calls");
      p != nullptr && p->is_bool() && !p->as_bool() && tc.mode != ToolChoice::Mode::kNone) {
    choice["disable_parallel_tool_use"] = true;
  }
  out["tool_choice"] = std::move(choice);
  return std::nullopt;
}

std::int64_t PromptTokensOf(const json::object& usage) {
  // Anthropic counts cached input apart from input_tokens; OpenAI's prompt_tokens includes it.
  return IntOf(usage, "input_tokens").value_or(0) +
         IntOf(usage, "cache_creation_input_tokens").value_or(0) +
         IntOf(usage, "cache_read_input_tokens").value_or(0);
}

}  // namespace

std::variant<json::object, ApiError> TranslateRequest(const json::object& openai,
                                                      const std::string& upstream_model,
                                                      std::int64_t max_tokens_default) {
  json::object out;
  out["model"] = upstream_model;
  json::array messages;
  bool last_is_tool_results = false;
  const auto* msgs = FieldOf(openai, "messages");
  if (msgs == nullptr || !msgs->is_array())
    return Unsupported("'messages' is required.", "messages");
  for (std::size_t i = 0; i < msgs->as_array().size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const auto& mv = msgs->as_array()[i];
    if (!mv.is_object()) return Unsupported("Each message must be an object.", at);
    const auto& m = mv.as_object();
    const std::string role = StringOf(m, "role");
    const auto* content = FieldOf(m, "content");
    if (IsSystemRole(role)) continue;  // collected into `system`
    if (role == "tool") {
      const std::string id = StringOf(m, "tool_call_id");
      if (id.empty())
        return Unsupported("Tool messages need a 'tool_call_id'.", at + ".tool_call_id");
      json::object result{{"type", "tool_result"},
                          {"tool_use_id", id},
                          {"content", content == nullptr ? std::string() : PlainText(*content)}};
      // Results of one assistant turn's calls go back together in one user message.
      if (last_is_tool_results) {
        messages.back().as_object()["content"].as_array().push_back(std::move(result));
      } else {
        messages.push_back(
            json::object{{"role", "user"}, {"content", json::array{std::move(result)}}});
        last_is_tool_results = true;
      }
      continue;
    }
    if (role != "user" && role != "assistant") {
      return Unsupported(
          "Messages with role '" + role + "' are not supported by this model's provider.",
          at + ".role");
    }
    auto blocks = ContentBlocks(content, at + ".content");
    if (auto* e = std::get_if<ApiError>(&blocks)) return *e;
    auto& list = std::get<json::array>(blocks);
    if (role == "assistant") {
      if (const auto* calls = FieldOf(m, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (std::size_t j = 0; j < calls->as_array().size(); ++j) {
          auto call =
              ParseToolCall(calls->as_array()[j], at + ".tool_calls[" + std::to_string(j) + "]");
          if (auto* e = std::get_if<ApiError>(&call)) return *e;
          auto& c = std::get<ToolCall>(call);
          list.push_back(json::object{{"type", "tool_use"},
                                      {"id", c.id},
                                      {"name", c.name},
                                      {"input", std::move(c.arguments)}});
        }
      }
    }
    if (list.empty()) continue;  // nothing Anthropic would accept
    messages.push_back(json::object{{"role", role}, {"content", std::move(list)}});
    last_is_tool_results = false;
  }
  if (auto system = SystemPrompt(openai); !system.empty()) out["system"] = std::move(system);
  out["messages"] = std::move(messages);

  out["max_tokens"] = MaxOutputTokens(openai).value_or(max_tokens_default);
  if (auto e = RequireOneChoice(openai)) return *e;
  for (const char* key : {"temperature", "top_p"}) {
    if (const auto* v = FieldOf(openai, key); v != nullptr && v->is_number()) out[key] = *v;
  }
  if (auto stop = StopSequences(openai); !stop.empty()) out["stop_sequences"] = std::move(stop);
  if (auto e = TranslateTools(openai, out)) return *e;
  if (const auto user = StringOf(openai, "user"); !user.empty()) {
    out["metadata"] = json::object{{"user_id", user}};
  }
  if (const auto* s = FieldOf(openai, "stream"); s != nullptr && s->is_bool() && s->as_bool()) {
    out["stream"] = true;
  }
  return out;
}

std::string_view FinishReason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn, and any reason added later
}

std::optional<Completion> TranslateResponse(std::string_view anthropic_body,
                                            const std::string& model, std::int64_t created) {
  boost::system::error_code ec;
  auto v = json::parse(anthropic_body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* content = o.if_contains("content");
  if (content == nullptr || !content->is_array()) return std::nullopt;
  CompletionParts parts;
  parts.id = StringOf(o, "id");
  for (const auto& b : content->as_array()) {
    if (!b.is_object()) continue;
    const auto& block = b.as_object();
    const std::string type = StringOf(block, "type");
    if (type == "text") {
      parts.text += StringOf(block, "text");
      parts.has_text = true;
    } else if (type == "tool_use") {
      const auto* input = block.if_contains("input");
      parts.tool_calls.push_back(
          ToolCallJson(StringOf(block, "id"), StringOf(block, "name"),
                       input == nullptr ? std::string("{}") : json::serialize(*input)));
    }
    // Other blocks (thinking, server tools, ones added later) have no OpenAI equivalent.
  }
  if (const auto* u = o.if_contains("usage"); u != nullptr && u->is_object()) {
    parts.usage.prompt_tokens = PromptTokensOf(u->as_object());
    parts.usage.completion_tokens = IntOf(u->as_object(), "output_tokens").value_or(0);
  }
  parts.finish_reason = FinishReason(StringOf(o, "stop_reason"));
  return MakeCompletion(std::move(parts), model, created);
}

std::string TranslateError(std::string_view anthropic_body, unsigned status) {
  boost::system::error_code ec;
  auto v = json::parse(anthropic_body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      const std::string type = StringOf(e->as_object(), "type");
      const std::string message = StringOf(e->as_object(), "message");
      if (!message.empty()) {
        return http::ErrorJson(ApiError{static_cast<http::Status>(status),
                                        type.empty() ? "upstream_error" : type,
                                        type,
                                        message,
                                        {}});
      }
    }
  }
  return http::ErrorJson(
      ApiError{static_cast<http::Status>(status),
               "upstream_error",
               "upstream_" + std::to_string(status),
               "The upstream provider returned HTTP " + std::to_string(status) + ".",
               {}});
}

StreamTranslator::StreamTranslator(std::string model, bool include_usage, std::int64_t created)
    : ChunkStream(std::move(model), include_usage, created) {
  id_ = "chatcmpl-anthropic";
}

bool StreamTranslator::OnEvent(std::string_view sse_event, std::vector<std::string>& out) {
  const std::string data = SseData(sse_event);
  if (data.empty()) return true;  // comments and keep-alives
  boost::system::error_code ec;
  auto v = json::parse(data, ec);
  if (ec || !v.is_object()) {
    return Fail("The upstream provider sent an unreadable event.", out);
  }
  const auto& o = v.as_object();
  const std::string type = StringOf(o, "type");
  const std::int64_t index = IntOf(o, "index").value_or(-1);

  if (type == "message_start") {
    if (const auto* m = o.if_contains("message"); m != nullptr && m->is_object()) {
      if (const auto id = StringOf(m->as_object(), "id"); !id.empty()) id_ = "chatcmpl-" + id;
      if (const auto* u = m->as_object().if_contains("usage"); u != nullptr && u->is_object()) {
        usage_.prompt_tokens = PromptTokensOf(u->as_object());
        prompt_reported_ = true;
      }
    }
    out.push_back(Chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  } else if (type == "content_block_start") {
    const auto* b = o.if_contains("content_block");
    if (b == nullptr || !b->is_object()) return true;
    const auto& block = b->as_object();
    const std::string block_type = StringOf(block, "type");
    if (block_type == "text") {
      if (const auto text = StringOf(block, "text"); !text.empty()) {
        generated_chars_ += text.size();
        out.push_back(Chunk({{"content", text}}, nullptr));
      }
    } else if (block_type == "tool_use") {
      const auto k = static_cast<std::int64_t>(tool_index_.size());
      tool_index_[index] = k;
      json::object call{{"index", k},
                        {"id", StringOf(block, "id")},
                        {"type", "function"},
                        {"function", {{"name", StringOf(block, "name")}, {"arguments", ""}}}};
      out.push_back(Chunk({{"tool_calls", json::array{std::move(call)}}}, nullptr));
    }
  } else if (type == "content_block_delta") {
    const auto* d = o.if_contains("delta");
    if (d == nullptr || !d->is_object()) return true;
    const std::string delta_type = StringOf(d->as_object(), "type");
    if (delta_type == "text_delta") {
      const auto text = StringOf(d->as_object(), "text");
      if (text.empty()) return true;
      generated_chars_ += text.size();
      out.push_back(Chunk({{"content", text}}, nullptr));
    } else if (delta_type == "input_json_delta") {
      const auto piece = StringOf(d->as_object(), "partial_json");
      auto it = tool_index_.find(index);
      if (piece.empty() || it == tool_index_.end()) return true;
      generated_chars_ += piece.size();
      json::object call{{"index", it->second}, {"function", {{"arguments", piece}}}};
      out.push_back(Chunk({{"tool_calls", json::array{std::move(call)}}}, nullptr));
    }
  } else if (type == "message_delta") {
    if (const auto* d = o.if_contains("delta"); d != nullptr && d->is_object()) {
      if (const auto reason = StringOf(d->as_object(), "stop_reason"); !reason.empty()) {
        finish_reason_ = FinishReason(reason);
      }
    }
    if (const auto* u = o.if_contains("usage"); u != nullptr && u->is_object()) {
      if (auto n = IntOf(u->as_object(), "output_tokens")) {
        usage_.completion_tokens = *n;
        completion_reported_ = true;
      }
      if (u->as_object().contains("input_tokens")) {
        usage_.prompt_tokens = PromptTokensOf(u->as_object());
        prompt_reported_ = true;
      }
    }
    if (!finish_reason_.empty() && !finish_sent_) {
      finish_sent_ = true;
      out.push_back(Chunk({}, finish_reason_.c_str()));
    }
  } else if (type == "message_stop") {
    if (!finish_sent_) {
      finish_sent_ = true;
      out.push_back(Chunk({}, "stop"));
    }
    Close(out);
    finished_ = true;
  } else if (type == "error") {
    std::string message = "The upstream provider reported an error mid-stream.";
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_object()) {
      const auto kind = StringOf(e->as_object(), "type");
      const auto text = StringOf(e->as_object(), "message");
      if (!kind.empty() || !text.empty()) message = "Upstream " + kind + ": " + text;
    }
    return Fail(message, out);
  }
  // ping, content_block_stop and event types added later carry nothing to forward.
  return true;
}

}  // namespace bro::gateway::anthropic
