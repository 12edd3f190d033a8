#include "gateway/anthropic_translate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/sse.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway::anthropic {
namespace {

namespace json = boost::json;

ApiError Unsupported(std::string message, std::string param) {
  return ApiError{http::Status::bad_request, "invalid_request_error", "unsupported_value",
                  std::move(message), std::move(param)};
}

const json::value* Field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string StringField(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::int64_t> IntField(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  auto n = v->to_number<std::int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

// The text of a string or of an array's text parts (system prompts, tool results).
std::string PlainText(const json::value& content) {
  if (content.is_string()) return std::string(content.as_string());
  std::string text;
  if (!content.is_array()) return text;
  for (const auto& part : content.as_array()) {
    if (!part.is_object()) continue;
    if (StringField(part.as_object(), "type") != "text") continue;
    if (!text.empty()) text += "\n";
    text += StringField(part.as_object(), "text");
  }
  return text;
}

json::object TextBlock(std::string_view text) {
  return {{"type", "text"}, {"text", text}};
}

// An image_url part as an Anthropic image block: data URLs inline (base64), others by URL.
json::object ImageBlock(std::string_view url) {
  constexpr std::string_view kBase64 = ";base64,";
  if (url.starts_with("data:")) {
    if (auto sep = url.find(kBase64); sep != std::string_view::npos) {
      return {{"type", "image"},
              {"source",
               {{"type", "base64"},
                {"media_type", url.substr(5, sep - 5)},
                {"data", url.substr(sep + kBase64.size())}}}};
    }
  }
  return {{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}};
}

// User or assistant content as Anthropic blocks; empty text is left out (Anthropic refuses it).
std::variant<json::array, ApiError> ContentBlocks(const json::value* content,
                                                  const std::string& at) {
  json::array blocks;
  if (content == nullptr) return blocks;
  if (content->is_string()) {
    if (!content->as_string().empty()) blocks.push_back(TextBlock(content->as_string()));
    return blocks;
  }
  if (!content->is_array()) return Unsupported("'content' must be a string or an array.", at);
  for (std::size_t j = 0; j < content->as_array().size(); ++j) {
    const auto& part = content->as_array()[j];
    const std::string pat = at + "[" + std::to_string(j) + "]";
    if (!part.is_object()) return Unsupported("Each content part must be an object.", pat);
    const auto& p = part.as_object();
    const std::string type = StringField(p, "type");
    if (type == "text") {
      const std::string text = StringField(p, "text");
      if (!text.empty()) blocks.push_back(TextBlock(text));
    } else if (type == "image_url") {
      const auto* image = Field(p, "image_url");
      std::string url;
      if (image != nullptr && image->is_object()) url = StringField(image->as_object(), "url");
      if (image != nullptr && image->is_string()) url = std::string(image->as_string());
      if (url.empty()) return Unsupported("'image_url' needs a 'url'.", pat + ".image_url");
      blocks.push_back(ImageBlock(url));
    } else if (type == "refusal") {
      continue;  // the assistant's own refusal carries nothing for the model
    } else {
      return Unsupported(
          "Content parts of type '" + type + "' are not supported by this model's provider.",
          pat + ".type");
    }
  }
  return blocks;
}

std::variant<json::object, ApiError> ToolUseBlock(const json::value& call, const std::string& at) {
  if (!call.is_object()) return Unsupported("Each tool call must be an object.", at);
  const auto& c = call.as_object();
  const auto* fn = Field(c, "function");
  if (fn == nullptr || !fn->is_object()) {
    return Unsupported("Each tool call needs a 'function' object.", at + ".function");
  }
  const std::string id = StringField(c, "id");
  if (id.empty()) return Unsupported("Each tool call needs an 'id'.", at + ".id");
  const std::string arguments = StringField(fn->as_object(), "arguments");
  json::value input = json::object{};
  if (arguments.find_first_not_of(" \t\r\n") != std::string::npos) {
    boost::system::error_code ec;
    input = json::parse(arguments, ec);
    if (ec || !input.is_object()) {
      return Unsupported("Tool call arguments must be a JSON object.", at + ".function.arguments");
    }
  }
  return json::object{{"type", "tool_use"},
                      {"id", id},
                      {"name", StringField(fn->as_object(), "name")},
                      {"input", std::move(input)}};
}

std::optional<ApiError> TranslateTools(const json::object& openai, json::object& out) {
  const auto* tools = Field(openai, "tools");
  if (tools == nullptr || !tools->is_array() || tools->as_array().empty()) return std::nullopt;
  json::array result;
  for (std::size_t i = 0; i < tools->as_array().size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const auto& t = tools->as_array()[i];
    if (!t.is_object() || StringField(t.as_object(), "type") != "function") {
      return Unsupported("Only function tools are supported by this model's provider.",
                         at + ".type");
    }
    const auto* fn = Field(t.as_object(), "function");
    if (fn == nullptr || !fn->is_object()) {
      return Unsupported("Each tool needs a 'function' object.", at + ".function");
    }
    const auto& f = fn->as_object();
    json::object tool{{"name", StringField(f, "name")}};
    if (const auto d = StringField(f, "description"); !d.empty()) tool["description"] = d;
    const auto* params = Field(f, "parameters");
    tool["input_schema"] =
        params != nullptr && params->is_object()
            ? *params
            : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
    result.push_back(std::move(tool));
  }
  out["tools"] = std::move(result);

  json::object choice{{"type", "auto"}};
  if (const auto* tc = Field(openai, "tool_choice")) {
    if (tc->is_string() && tc->as_string() == "auto") {
      choice["type"] = "auto";
    } else if (tc->is_string() && tc->as_string() == "none") {
      choice["type"] = "none";
    } else if (tc->is_string() && tc->as_string() == "required") {
      choice["type"] = "any";
    } else if (tc->is_object() && StringField(tc->as_object(), "type") == "function" &&
               Field(tc->as_object(), "function") != nullptr &&
               Field(tc->as_object(), "function")->is_object()) {
      choice["type"] = "tool";
      choice["name"] = StringField(tc->as_object().at("function").as_object(), "name");
    } else {
      return Unsupported("'tool_choice' must be auto, none, required or a named function.",
                         "tool_choice");
    }
  }
  if (const auto* p = Field(openai, "parallel_tool_calls");
      p != nullptr && p->is_bool() && !p->as_bool() && choice["type"] != "none") {
    choice["disable_parallel_tool_use"] = true;
  }
  out["tool_choice"] = std::move(choice);
  return std::nullopt;
}

std::int64_t PromptTokensOf(const json::object& usage) {
  // Anthropic counts cached input apart from input_tokens; OpenAI's prompt_tokens includes it.
  return IntField(usage, "input_tokens").value_or(0) +
         IntField(usage, "cache_creation_input_tokens").value_or(0) +
         IntField(usage, "cache_read_input_tokens").value_or(0);
}

json::object UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

}  // namespace

std::variant<json::object, ApiError> TranslateRequest(const json::object& openai,
                                                      const std::string& upstream_model,
                                                      std::int64_t max_tokens_default) {
  json::object out;
  out["model"] = upstream_model;
  std::string system;
  json::array messages;
  bool last_is_tool_results = false;
  const auto* msgs = Field(openai, "messages");
  if (msgs == nullptr || !msgs->is_array())
    return Unsupported("'messages' is required.", "messages");
  for (std::size_t i = 0; i < msgs->as_array().size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const auto& mv = msgs->as_array()[i];
    if (!mv.is_object()) return Unsupported("Each message must be an object.", at);
    const auto& m = mv.as_object();
    const std::string role = StringField(m, "role");
    const auto* content = Field(m, "content");
    if (role == "system" || role == "developer") {
      const std::string text = content == nullptr ? std::string() : PlainText(*content);
      if (text.empty()) continue;
      if (!system.empty()) system += "\n\n";
      system += text;
      continue;
    }
    if (role == "tool") {
      const std::string id = StringField(m, "tool_call_id");
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
      if (const auto* calls = Field(m, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (std::size_t j = 0; j < calls->as_array().size(); ++j) {
          auto block =
              ToolUseBlock(calls->as_array()[j], at + ".tool_calls[" + std::to_string(j) + "]");
          if (auto* e = std::get_if<ApiError>(&block)) return *e;
          list.push_back(std::move(std::get<json::object>(block)));
        }
      }
    }
    if (list.empty()) continue;  // nothing Anthropic would accept
    messages.push_back(json::object{{"role", role}, {"content", std::move(list)}});
    last_is_tool_results = false;
  }
  if (!system.empty()) out["system"] = system;
  out["messages"] = std::move(messages);

  std::int64_t max_tokens = max_tokens_default;
  if (auto n = IntField(openai, "max_completion_tokens")) {
    max_tokens = *n;
  } else if (auto m = IntField(openai, "max_tokens")) {
    max_tokens = *m;
  }
  out["max_tokens"] = max_tokens;
  if (auto n = IntField(openai, "n"); n && *n != 1) {
    return Unsupported("Only n=1 is supported by this model's provider.", "n");
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (const auto* v = Field(openai, key); v != nullptr && v->is_number()) out[key] = *v;
  }
  if (const auto* stop = Field(openai, "stop")) {
    json::array sequences;
    if (stop->is_string()) sequences.push_back(stop->as_string());
    if (stop->is_array()) {
      for (const auto& s : stop->as_array()) {
        if (s.is_string()) sequences.push_back(s.as_string());
      }
    }
    if (!sequences.empty()) out["stop_sequences"] = std::move(sequences);
  }
  if (auto e = TranslateTools(openai, out)) return *e;
  if (const auto user = StringField(openai, "user"); !user.empty()) {
    out["metadata"] = json::object{{"user_id", user}};
  }
  if (const auto* s = Field(openai, "stream"); s != nullptr && s->is_bool() && s->as_bool()) {
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
  std::string text;
  bool has_text = false;
  json::array tool_calls;
  for (const auto& b : content->as_array()) {
    if (!b.is_object()) continue;
    const auto& block = b.as_object();
    const std::string type = StringField(block, "type");
    if (type == "text") {
      text += StringField(block, "text");
      has_text = true;
    } else if (type == "tool_use") {
      const auto* input = block.if_contains("input");
      tool_calls.push_back(json::object{
          {"id", StringField(block, "id")},
          {"type", "function"},
          {"function",
           {{"name", StringField(block, "name")},
            {"arguments", input == nullptr ? std::string("{}") : json::serialize(*input)}}}});
    }
    // Other blocks (thinking, server tools, ones added later) have no OpenAI equivalent.
  }
  json::object message{{"role", "assistant"}};
  message["content"] = has_text || tool_calls.empty() ? json::value(text) : json::value(nullptr);
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  message["refusal"] = nullptr;

  Completion out;
  if (const auto* u = o.if_contains("usage"); u != nullptr && u->is_object()) {
    out.usage.prompt_tokens = PromptTokensOf(u->as_object());
    out.usage.completion_tokens = IntField(u->as_object(), "output_tokens").value_or(0);
  }
  json::object completion{
      {"id", "chatcmpl-" + StringField(o, "id")},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices",
       json::array{json::object{{"index", 0},
                                {"message", std::move(message)},
                                {"logprobs", nullptr},
                                {"finish_reason", FinishReason(StringField(o, "stop_reason"))}}}},
      {"usage", UsageJson(out.usage)}};
  out.body = json::serialize(completion);
  return out;
}

std::string TranslateError(std::string_view anthropic_body, unsigned status) {
  boost::system::error_code ec;
  auto v = json::parse(anthropic_body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      const std::string type = StringField(e->as_object(), "type");
      const std::string message = StringField(e->as_object(), "message");
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
    : model_(std::move(model)), include_usage_(include_usage), created_(created) {}

std::string StreamTranslator::Chunk(json::object delta, const char* finish_reason) const {
  json::object chunk{
      {"id", id_},
      {"object", "chat.completion.chunk"},
      {"created", created_},
      {"model", model_},
      {"choices", json::array{json::object{
                      {"index", 0},
                      {"delta", std::move(delta)},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason == nullptr ? json::value(nullptr)
                                                                 : json::value(finish_reason)}}}}};
  return "data: " + json::serialize(chunk) + "\n\n";
}

bool StreamTranslator::OnEvent(std::string_view sse_event, std::vector<std::string>& out) {
  const std::string data = SseData(sse_event);
  if (data.empty()) return true;  // comments and keep-alives
  boost::system::error_code ec;
  auto v = json::parse(data, ec);
  if (ec || !v.is_object()) {
    error_ = "upstream_stream_error";
    out.push_back(StreamErrorEvent(error_, "The upstream provider sent an unreadable event."));
    return false;
  }
  const auto& o = v.as_object();
  const std::string type = StringField(o, "type");
  const std::int64_t index = IntField(o, "index").value_or(-1);

  if (type == "message_start") {
    if (const auto* m = o.if_contains("message"); m != nullptr && m->is_object()) {
      if (const auto id = StringField(m->as_object(), "id"); !id.empty()) id_ = "chatcmpl-" + id;
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
    const std::string block_type = StringField(block, "type");
    if (block_type == "text") {
      if (const auto text = StringField(block, "text"); !text.empty()) {
        generated_chars_ += text.size();
        out.push_back(Chunk({{"content", text}}, nullptr));
      }
    } else if (block_type == "tool_use") {
      const auto k = static_cast<std::int64_t>(tool_index_.size());
      tool_index_[index] = k;
      json::object call{{"index", k},
                        {"id", StringField(block, "id")},
                        {"type", "function"},
                        {"function", {{"name", StringField(block, "name")}, {"arguments", ""}}}};
      out.push_back(Chunk({{"tool_calls", json::array{std::move(call)}}}, nullptr));
    }
  } else if (type == "content_block_delta") {
    const auto* d = o.if_contains("delta");
    if (d == nullptr || !d->is_object()) return true;
    const std::string delta_type = StringField(d->as_object(), "type");
    if (delta_type == "text_delta") {
      const auto text = StringField(d->as_object(), "text");
      if (text.empty()) return true;
      generated_chars_ += text.size();
      out.push_back(Chunk({{"content", text}}, nullptr));
    } else if (delta_type == "input_json_delta") {
      const auto piece = StringField(d->as_object(), "partial_json");
      auto it = tool_index_.find(index);
      if (piece.empty() || it == tool_index_.end()) return true;
      generated_chars_ += piece.size();
      json::object call{{"index", it->second}, {"function", {{"arguments", piece}}}};
      out.push_back(Chunk({{"tool_calls", json::array{std::move(call)}}}, nullptr));
    }
  } else if (type == "message_delta") {
    if (const auto* d = o.if_contains("delta"); d != nullptr && d->is_object()) {
      if (const auto reason = StringField(d->as_object(), "stop_reason"); !reason.empty()) {
        finish_reason_ = FinishReason(reason);
      }
    }
    if (const auto* u = o.if_contains("usage"); u != nullptr && u->is_object()) {
      if (auto n = IntField(u->as_object(), "output_tokens")) {
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
    if (include_usage_) {
      json::object chunk{
          {"id", id_},       {"object", "chat.completion.chunk"}, {"created", created_},
          {"model", model_}, {"choices", json::array{}},          {"usage", UsageJson(usage_)}};
      out.push_back("data: " + json::serialize(chunk) + "\n\n");
    }
    out.emplace_back("data: [DONE]\n\n");
    finished_ = true;
  } else if (type == "error") {
    std::string message = "The upstream provider reported an error mid-stream.";
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_object()) {
      const auto kind = StringField(e->as_object(), "type");
      const auto text = StringField(e->as_object(), "message");
      if (!kind.empty() || !text.empty()) message = "Upstream " + kind + ": " + text;
    }
    error_ = "upstream_stream_error";
    out.push_back(StreamErrorEvent(error_, message));
    return false;
  }
  // ping, content_block_stop and event types added later carry nothing to forward.
  return true;
}

}  // namespace bro::gateway::anthropic
