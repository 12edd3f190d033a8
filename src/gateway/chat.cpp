#include "gateway/chat.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "common/saturating.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;

ApiError Invalid(std::string message, std::string param = {}, std::string code = {}) {
  return InvalidRequest(std::move(message), std::move(param), std::move(code));
}

std::optional<ApiError> CheckContent(const json::value& content, const std::string& at) {
  if (content.is_null() || content.is_string()) return std::nullopt;
  if (!content.is_array())
    return Invalid("'content' must be a string, an array of content parts, or null.", at);
  for (std::size_t i = 0; i < content.as_array().size(); ++i) {
    const auto& part = content.as_array()[i];
    const std::string pat = at + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return Invalid("Each content part must be an object.", pat);
    const auto* type = part.as_object().if_contains("type");
    if (type == nullptr || !type->is_string())
      return Invalid("Each content part needs a string 'type'.", pat + ".type");
  }
  return std::nullopt;
}

std::optional<ApiError> CheckNumber(const json::object& o, const char* key, double min,
                                    double max) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_number()) return Invalid(std::string("'") + key + "' must be a number.", key);
  double d = v->to_number<double>();
  if (d < min || d > max) {
    return Invalid(std::string("'") + key + "' must be between " +
                       json::serialize(json::value(min)) + " and " +
                       json::serialize(json::value(max)) + ".",
                   key);
  }
  return std::nullopt;
}

std::optional<ApiError> CheckPositiveInt(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!(v->is_int64() || v->is_uint64()) || (v->is_int64() && v->as_int64() < 1)) {
    return Invalid(std::string("'") + key + "' must be a positive integer.", key);
  }
  return std::nullopt;
}

std::int64_t CountText(const json::value& content) {
  if (content.is_string()) return EstimateTokens(content.as_string());
  std::int64_t n = 0;
  if (content.is_array()) {
    for (const auto& part : content.as_array()) {
      if (!part.is_object()) continue;
      if (const auto* t = part.as_object().if_contains("text"); t != nullptr && t->is_string()) {
        n += EstimateTokens(t->as_string());
      }
    }
  }
  return n;
}

}  // namespace

ApiError InvalidRequest(std::string message, std::string param, std::string code) {
  return ApiError{http::Status::bad_request, "invalid_request_error", std::move(code),
                  std::move(message), std::move(param)};
}

std::variant<json::object, ApiError> ParseRequestObject(std::string_view body,
                                                        std::size_t max_depth) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = max_depth;
  auto v = json::parse(body, ec, json::make_shared_resource<json::monotonic_resource>(), opts);
  if (ec) {
    return InvalidRequest(
        "We could not parse the JSON body of your request. (" + ec.message() + ")", {},
        "invalid_json");
  }
  if (!v.is_object()) {
    return InvalidRequest("The request body must be a JSON object.", {}, "invalid_json");
  }
  return std::move(v.as_object());
}

std::variant<std::string, ApiError> ReadModelField(const json::object& o) {
  const auto* model = o.if_contains("model");
  if (model == nullptr) return InvalidRequest("You must provide a model parameter.", "model");
  if (!model->is_string() || model->as_string().empty())
    return InvalidRequest("'model' must be a non-empty string.", "model");
  if (model->as_string().size() > 256)
    return InvalidRequest("'model' is longer than 256 characters.", "model");
  return std::string(model->as_string());
}

std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body) {
  auto parsed = ParseModelRequest<ChatRequest>(body, 64);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  ChatRequest req = std::move(std::get<ChatRequest>(parsed));
  const auto& o = req.body;

  const auto* messages = o.if_contains("messages");
  if (messages == nullptr) return Invalid("Missing required parameter: 'messages'.", "messages");
  if (!messages->is_array()) return Invalid("'messages' must be an array.", "messages");
  if (messages->as_array().empty())
    return Invalid("'messages' must contain at least one message.", "messages");
  static const std::set<std::string_view> kRoles = {"system",    "developer", "user",
                                                    "assistant", "tool",      "function"};
  for (std::size_t i = 0; i < messages->as_array().size(); ++i) {
    const auto& m = messages->as_array()[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return Invalid("Each message must be an object.", at);
    const auto* role = m.as_object().if_contains("role");
    if (role == nullptr || !role->is_string())
      return Invalid("Each message needs a string 'role'.", at + ".role");
    if (!kRoles.contains(std::string_view(role->as_string()))) {
      return Invalid("Invalid role '" + std::string(role->as_string()) + "'.", at + ".role");
    }
    const auto* content = m.as_object().if_contains("content");
    if (content == nullptr && role->as_string() != "assistant") {
      return Invalid("Missing required parameter: 'content'.", at + ".content");
    }
    if (content != nullptr) {
      if (auto e = CheckContent(*content, at + ".content")) return *e;
    }
  }

  if (const auto* s = o.if_contains("stream"); s != nullptr && !s->is_null()) {
    if (!s->is_bool()) return Invalid("'stream' must be a boolean.", "stream");
    req.stream = s->as_bool();
  }
  if (const auto* so = o.if_contains("stream_options"); so != nullptr && !so->is_null()) {
    if (!so->is_object()) return Invalid("'stream_options' must be an object.", "stream_options");
    if (!req.stream)
      return Invalid("'stream_options' is only allowed when 'stream' is true.", "stream_options");
    if (const auto* iu = so->as_object().if_contains("include_usage"); iu != nullptr) {
      if (!iu->is_bool())
        return Invalid("'include_usage' must be a boolean.", "stream_options.include_usage");
      req.include_usage = iu->as_bool();
    }
  }
  if (auto e = CheckPositiveInt(o, "max_tokens")) return *e;
  if (auto e = CheckPositiveInt(o, "max_completion_tokens")) return *e;
  if (auto e = CheckPositiveInt(o, "n")) return *e;
  if (auto e = CheckNumber(o, "temperature", 0, 2)) return *e;
  if (auto e = CheckNumber(o, "top_p", 0, 1)) return *e;
  if (auto e = CheckNumber(o, "presence_penalty", -2, 2)) return *e;
  if (auto e = CheckNumber(o, "frequency_penalty", -2, 2)) return *e;
  if (const auto* t = o.if_contains("tools"); t != nullptr && !t->is_null()) {
    if (!t->is_array()) return Invalid("'tools' must be an array.", "tools");
    for (std::size_t i = 0; i < t->as_array().size(); ++i) {
      const auto& tool = t->as_array()[i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object()) return Invalid("Each tool must be an object.", at);
      const auto* fn = tool.as_object().if_contains("function");
      if (fn == nullptr || !fn->is_object())
        return Invalid("Each tool needs a 'function' object.", at + ".function");
      const auto* name = fn->as_object().if_contains("name");
      if (name == nullptr || !name->is_string() || name->as_string().empty()) {
        return Invalid("Each function needs a non-empty string 'name'.", at + ".function.name");
      }
    }
  }
  return req;
}

std::optional<ApiError> CheckOutputBounds(const json::object& request, const OutputBounds& bounds) {
  // Types and signs were checked by ParseChatRequest; uint64 values are above INT64_MAX.
  auto above = [&request](std::string_view key, std::int64_t max) -> std::optional<std::string> {
    const auto* v = request.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64()) return std::to_string(v->as_uint64());
    if (v->is_int64() && v->as_int64() > max) return std::to_string(v->as_int64());
    return std::nullopt;
  };
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (auto got = above(key, bounds.max_output_tokens)) {
      return Invalid(std::string("'") + key + "' is too large: " + *got +
                         ". This model supports at most " +
                         std::to_string(bounds.max_output_tokens) + " completion tokens.",
                     key, "invalid_value");
    }
  }
  if (auto got = above("n", bounds.max_choices)) {
    return Invalid("'n' is too large: " + *got + ". At most " + std::to_string(bounds.max_choices) +
                       " choices are allowed.",
                   "n", "invalid_value");
  }
  return std::nullopt;
}

std::int64_t EstimateTokens(std::string_view text) {
  if (text.empty()) return 0;
  return static_cast<std::int64_t>((text.size() + 3) / 4);
}

std::int64_t EstimatePromptTokens(const boost::json::object& request) {
  std::int64_t n = 3;  // reply priming, as OpenAI counts it
  if (const auto* m = request.if_contains("messages"); m != nullptr && m->is_array()) {
    for (const auto& msg : m->as_array()) {
      n = common::SaturatingAdd(n, 4);  // per-message framing
      if (!msg.is_object()) continue;
      if (const auto* c = msg.as_object().if_contains("content"))
        n = common::SaturatingAdd(n, CountText(*c));
    }
  }
  return n;
}

Task<ChatOutcome> Provider::Embed(const EmbedCall& call) {
  (void)call;
  co_return ErrorOutcome(Invalid("The model does not support embeddings.", "model",
                                 "model_does_not_support_embeddings"));
}

ChatOutcome ErrorOutcome(const ApiError& e) {
  ChatOutcome o;
  o.status = e.status;
  o.body = http::ErrorJson(e);
  o.error_code = e.code.empty() ? e.type : e.code;
  return o;
}

}  // namespace bro::gateway
