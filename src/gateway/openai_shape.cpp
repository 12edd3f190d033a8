#include "gateway/openai_shape.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {

namespace json = boost::json;

ApiError Unsupported(std::string message, std::string param) {
  return ApiError{http::Status::bad_request, "invalid_request_error", "unsupported_value",
                  std::move(message), std::move(param)};
}

const json::value* FieldOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string StringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::int64_t> IntOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  boost::system::error_code ec;
  auto n = v->to_number<std::int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

std::string PlainText(const json::value& content) {
  if (content.is_string()) return std::string(content.as_string());
  std::string text;
  if (!content.is_array()) return text;
  for (const auto& part : content.as_array()) {
    if (!part.is_object()) continue;
    if (StringOf(part.as_object(), "type") != "text") continue;
    if (!text.empty()) text += "\n";
    text += StringOf(part.as_object(), "text");
  }
  return text;
}

bool IsSystemRole(std::string_view role) {
  return role == "system" || role == "developer";
}

std::string SystemPrompt(const json::object& openai) {
  std::string system;
  const auto* msgs = FieldOf(openai, "messages");
  if (msgs == nullptr || !msgs->is_array()) return system;
  for (const auto& m : msgs->as_array()) {
    if (!m.is_object() || !IsSystemRole(StringOf(m.as_object(), "role"))) continue;
    const auto* content = FieldOf(m.as_object(), "content");
    const std::string text = content == nullptr ? std::string() : PlainText(*content);
    if (text.empty()) continue;
    if (!system.empty()) system += "\n\n";
    system += text;
  }
  return system;
}

std::optional<DataUrl> ParseDataUrl(std::string_view url) {
  constexpr std::string_view kBase64 = ";base64,";
  if (!url.starts_with("data:")) return std::nullopt;
  const auto sep = url.find(kBase64);
  if (sep == std::string_view::npos) return std::nullopt;
  return DataUrl{url.substr(5, sep - 5), url.substr(sep + kBase64.size())};
}

std::optional<ApiError> VisitContent(const json::value* content, const std::string& at,
                                     const ContentVisitor& visit) {
  if (content == nullptr) return std::nullopt;
  if (content->is_string()) {
    if (!content->as_string().empty()) visit.text(content->as_string());
    return std::nullopt;
  }
  if (!content->is_array()) return Unsupported("'content' must be a string or an array.", at);
  for (std::size_t j = 0; j < content->as_array().size(); ++j) {
    const auto& part = content->as_array()[j];
    const std::string pat = at + "[" + std::to_string(j) + "]";
    if (!part.is_object()) return Unsupported("Each content part must be an object.", pat);
    const auto& p = part.as_object();
    const std::string type = StringOf(p, "type");
    if (type == "text") {
      const std::string text = StringOf(p, "text");
      if (!text.empty()) visit.text(text);
    } else if (type == "image_url") {
      const auto* image = FieldOf(p, "image_url");
      std::string url;
      if (image != nullptr && image->is_object()) url = StringOf(image->as_object(), "url");
      if (image != nullptr && image->is_string()) url = std::string(image->as_string());
      if (url.empty()) return Unsupported("'image_url' needs a 'url'.", pat + ".image_url");
      if (auto e = visit.image(url, pat + ".image_url")) return e;
    } else if (type == "refusal") {
      continue;  // the assistant's own refusal carries nothing for the model
    } else {
      return Unsupported(
          "Content parts of type '" + type + "' are not supported by this model's provider.",
          pat + ".type");
    }
  }
  return std::nullopt;
}

std::variant<std::vector<FunctionTool>, ApiError> FunctionTools(const json::object& openai) {
  std::vector<FunctionTool> result;
  const auto* tools = FieldOf(openai, "tools");
  if (tools == nullptr || !tools->is_array()) return result;
  for (std::size_t i = 0; i < tools->as_array().size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const auto& t = tools->as_array()[i];
    if (!t.is_object() || StringOf(t.as_object(), "type") != "function") {
      return Unsupported("Only function tools are supported by this model's provider.",
                         at + ".type");
    }
    const auto* fn = FieldOf(t.as_object(), "function");
    if (fn == nullptr || !fn->is_object()) {
      return Unsupported("Each tool needs a 'function' object.", at + ".function");
    }
    const auto& f = fn->as_object();
    FunctionTool tool{StringOf(f, "name"), StringOf(f, "description"), FieldOf(f, "parameters")};
    if (tool.parameters != nullptr && !tool.parameters->is_object()) tool.parameters = nullptr;
    result.push_back(std::move(tool));
  }
  return result;
}

std::variant<ToolChoice, ApiError> ParseToolChoice(const json::object& openai) {
  ToolChoice choice;
  const auto* tc = FieldOf(openai, "tool_choice");
  if (tc == nullptr) return choice;
  if (tc->is_string() && tc->as_string() == "auto") return choice;
  if (tc->is_string() && tc->as_string() == "none") {
    choice.mode = ToolChoice::Mode::kNone;
    return choice;
  }
  if (tc->is_string() && tc->as_string() == "required") {
    choice.mode = ToolChoice::Mode::kRequired;
    return choice;
  }
  if (tc->is_object() && StringOf(tc->as_object(), "type") == "function") {
    const auto* fn = FieldOf(tc->as_object(), "function");
    if (fn != nullptr && fn->is_object()) {
      choice.mode = ToolChoice::Mode::kFunction;
      choice.function = StringOf(fn->as_object(), "name");
      return choice;
    }
  }
  return Unsupported("'tool_choice' must be auto, none, required or a named function.",
                     "tool_choice");
}

std::variant<ToolCall, ApiError> ParseToolCall(const json::value& call, const std::string& at) {
  if (!call.is_object()) return Unsupported("Each tool call must be an object.", at);
  const auto& c = call.as_object();
  const auto* fn = FieldOf(c, "function");
  if (fn == nullptr || !fn->is_object()) {
    return Unsupported("Each tool call needs a 'function' object.", at + ".function");
  }
  ToolCall out{StringOf(c, "id"), StringOf(fn->as_object(), "name"), {}};
  if (out.id.empty()) return Unsupported("Each tool call needs an 'id'.", at + ".id");
  const std::string arguments = StringOf(fn->as_object(), "arguments");
  if (arguments.find_first_not_of(" \t\r\n") != std::string::npos) {
    boost::system::error_code ec;
    auto input = json::parse(arguments, ec);
    if (ec || !input.is_object()) {
      return Unsupported("Tool call arguments must be a JSON object.", at + ".function.arguments");
    }
    out.arguments = std::move(input.as_object());
  }
  return out;
}

std::optional<std::int64_t> MaxOutputTokens(const json::object& openai) {
  if (auto n = IntOf(openai, "max_completion_tokens")) return n;
  return IntOf(openai, "max_tokens");
}

json::array StopSequences(const json::object& openai) {
  json::array sequences;
  const auto* stop = FieldOf(openai, "stop");
  if (stop == nullptr) return sequences;
  if (stop->is_string()) sequences.push_back(stop->as_string());
  if (stop->is_array()) {
    for (const auto& s : stop->as_array()) {
      if (s.is_string()) sequences.push_back(s.as_string());
    }
  }
  return sequences;
}

std::optional<ApiError> RequireOneChoice(const json::object& openai) {
  if (auto n = IntOf(openai, "n"); n && *n != 1) {
    return Unsupported("Only n=1 is supported by this model's provider.", "n");
  }
  return std::nullopt;
}

json::object UsageJson(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json::object ToolCallJson(std::string_view id, std::string_view name, std::string_view arguments) {
  return {
      {"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", arguments}}}};
}

Completion MakeCompletion(CompletionParts parts, const std::string& model, std::int64_t created) {
  json::object message{{"role", "assistant"}};
  message["content"] =
      parts.has_text || parts.tool_calls.empty() ? json::value(parts.text) : json::value(nullptr);
  if (!parts.tool_calls.empty()) message["tool_calls"] = std::move(parts.tool_calls);
  message["refusal"] = nullptr;
  json::object completion{
      {"id", "chatcmpl-" + parts.id},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices", json::array{json::object{{"index", 0},
                                           {"message", std::move(message)},
                                           {"logprobs", nullptr},
                                           {"finish_reason", parts.finish_reason}}}},
      {"usage", UsageJson(parts.usage)}};
  return {json::serialize(completion), parts.usage};
}

ChunkStream::ChunkStream(std::string model, bool include_usage, std::int64_t created)
    : model_(std::move(model)), include_usage_(include_usage), created_(created) {}

std::string ChunkStream::Chunk(json::object delta, const char* finish_reason) const {
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

void ChunkStream::Close(std::vector<std::string>& out) {
  if (include_usage_) {
    json::object chunk{
        {"id", id_},       {"object", "chat.completion.chunk"}, {"created", created_},
        {"model", model_}, {"choices", json::array{}},          {"usage", UsageJson(usage_)}};
    out.push_back("data: " + json::serialize(chunk) + "\n\n");
  }
  out.emplace_back("data: [DONE]\n\n");
}

bool ChunkStream::Fail(std::string message, std::vector<std::string>& out) {
  error_ = "upstream_stream_error";
  out.push_back(StreamErrorEvent(error_, message));
  return false;
}

}  // namespace bro::gateway
