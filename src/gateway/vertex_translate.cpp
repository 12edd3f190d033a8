#include "gateway/vertex_translate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cmath>
#include <map>

#include "common/random.hpp"
#include "gateway/sse.hpp"

namespace bro::gateway::vertex {
namespace {

namespace json = boost::json;

// fileData needs a MIME type and OpenAI's image_url carries none: take it from the extension.
std::optional<std::string_view> ImageTypeOf(std::string_view url) {
  if (auto q = url.find_first_of("?#"); q != std::string_view::npos) url = url.substr(0, q);
  const auto dot = url.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string ext(url.substr(dot + 1));
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  return std::nullopt;
}

std::optional<ApiError> AddImagePart(std::string_view url, const std::string& at,
                                     json::array& parts) {
  if (auto data = ParseDataUrl(url)) {
    parts.push_back(
        json::object{{"inlineData", {{"mimeType", data->media_type}, {"data", data->data}}}});
    return std::nullopt;
  }
  auto type = ImageTypeOf(url);
  if (!type) {
    return Unsupported(
        "The image type of this URL is unknown (use .png, .jpg, .gif, .webp or a data URL).",
        at + ".url");
  }
  parts.push_back(json::object{{"fileData", {{"mimeType", *type}, {"fileUri", url}}}});
  return std::nullopt;
}

// Appends `parts` as a turn of `role`, merged into the previous turn when it has the same role
// (Gemini expects user and model turns to alternate).
void AddTurn(json::array& contents, std::string_view role, json::array parts) {
  if (parts.empty()) return;
  if (!contents.empty() && contents.back().as_object().at("role").as_string() == role) {
    auto& prev = contents.back().as_object()["parts"].as_array();
    for (auto& p : parts) prev.push_back(std::move(p));
    return;
  }
  contents.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
}

std::optional<ApiError> TranslateTools(const json::object& openai, json::object& out) {
  auto tools = FunctionTools(openai);
  if (auto* e = std::get_if<ApiError>(&tools)) return *e;
  const auto& list = std::get<std::vector<FunctionTool>>(tools);
  auto parsed = ParseToolChoice(openai);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  if (list.empty()) return std::nullopt;
  json::array declarations;
  for (const auto& t : list) {
    json::object fn{{"name", t.name}};
    if (!t.description.empty()) fn["description"] = t.description;
    // OpenAI's parameters are JSON Schema; parametersJsonSchema takes it as it is (the older
    // `parameters` field accepts only an OpenAPI subset and refuses e.g. additionalProperties).
    if (t.parameters != nullptr) fn["parametersJsonSchema"] = *t.parameters;
    declarations.push_back(std::move(fn));
  }
  out["tools"] = json::array{json::object{{"functionDeclarations", std::move(declarations)}}};
  const auto& tc = std::get<ToolChoice>(parsed);
  json::object config{{"mode", "AUTO"}};
  if (tc.mode == ToolChoice::Mode::kNone) config["mode"] = "NONE";
  if (tc.mode == ToolChoice::Mode::kRequired) config["mode"] = "ANY";
  if (tc.mode == ToolChoice::Mode::kFunction) {
    config["mode"] = "ANY";
    config["allowedFunctionNames"] = json::array{json::value(tc.function)};
  }
  out["toolConfig"] = json::object{{"functionCallingConfig", std::move(config)}};
  return std::nullopt;
}

std::optional<ApiError> TranslateGenerationConfig(const json::object& openai, json::object& out) {
  if (auto e = RequireOneChoice(openai)) return e;
  json::object config;
  const std::pair<const char*, const char*> numbers[] = {{"temperature", "temperature"},
                                                         {"top_p", "topP"},
                                                         {"presence_penalty", "presencePenalty"},
                                                         {"frequency_penalty", "frequencyPenalty"},
                                                         {"seed", "seed"}};
  for (const auto& [from, to] : numbers) {
    if (const auto* v = FieldOf(openai, from); v != nullptr && v->is_number()) config[to] = *v;
  }
  if (auto n = MaxOutputTokens(openai)) config["maxOutputTokens"] = *n;
  if (auto stop = StopSequences(openai); !stop.empty()) config["stopSequences"] = std::move(stop);
  if (const auto* rf = FieldOf(openai, "response_format")) {
    const std::string type = rf->is_object() ? StringOf(rf->as_object(), "type") : std::string();
    if (type == "json_object") {
      config["responseMimeType"] = "application/json";
    } else if (type != "text") {
      return Unsupported(
          "Only response_format text and json_object are supported by this model's "
          "provider.",
          "response_format.type");
    }
  }
  if (!config.empty()) out["generationConfig"] = std::move(config);
  return std::nullopt;
}

Usage UsageOf(const json::object& metadata) {
  // Thinking is billed as output; tool-use prompts as input.
  return {IntOf(metadata, "promptTokenCount").value_or(0) +
              IntOf(metadata, "toolUsePromptTokenCount").value_or(0),
          IntOf(metadata, "candidatesTokenCount").value_or(0) +
              IntOf(metadata, "thoughtsTokenCount").value_or(0)};
}

const json::object* FirstCandidate(const json::object& response) {
  const auto* c = response.if_contains("candidates");
  if (c == nullptr || !c->is_array() || c->as_array().empty()) return nullptr;
  const auto& first = c->as_array().front();
  return first.is_object() ? &first.as_object() : nullptr;
}

const json::array* PartsOf(const json::object& candidate) {
  const auto* content = candidate.if_contains("content");
  if (content == nullptr || !content->is_object()) return nullptr;
  const auto* parts = content->as_object().if_contains("parts");
  return parts != nullptr && parts->is_array() ? &parts->as_array() : nullptr;
}

// A model part worth forwarding: visible text, or a function call.
struct ModelPart {
  std::string text;
  const json::object* call = nullptr;
};
std::optional<ModelPart> ReadPart(const json::value& p) {
  if (!p.is_object()) return std::nullopt;
  const auto& part = p.as_object();
  if (const auto* thought = part.if_contains("thought");
      thought != nullptr && thought->is_bool() && thought->as_bool()) {
    return std::nullopt;  // thinking summaries are not part of the answer
  }
  if (const auto* fc = part.if_contains("functionCall"); fc != nullptr && fc->is_object()) {
    return ModelPart{{}, &fc->as_object()};
  }
  if (const auto* t = part.if_contains("text"); t != nullptr && t->is_string()) {
    return ModelPart{std::string(t->as_string()), nullptr};
  }
  return std::nullopt;  // executable code, inline data and later part kinds
}

// A function call as OpenAI's tool call: Gemini's id when it sends one, else a fresh one.
json::object ToolCallOf(const json::object& call) {
  std::string id = StringOf(call, "id");
  if (id.empty()) id = "call_" + common::RandomHex(12);
  const auto* args = call.if_contains("args");
  return ToolCallJson(id, StringOf(call, "name"),
                      args != nullptr && args->is_object() ? json::serialize(*args) : "{}");
}

// The reply's finish reason, or "" while it is not finished.
std::string FinishOf(const json::object& response, bool has_tool_calls) {
  if (const auto* c = FirstCandidate(response)) {
    const auto reason = StringOf(*c, "finishReason");
    return reason.empty() ? std::string() : std::string(FinishReason(reason, has_tool_calls));
  }
  // No candidate at all: the prompt itself was blocked.
  if (const auto* pf = response.if_contains("promptFeedback"); pf != nullptr && pf->is_object()) {
    if (!StringOf(pf->as_object(), "blockReason").empty()) return "content_filter";
  }
  return {};
}

const json::object* ErrorObjectOf(const json::value& v) {
  const json::value* root = &v;
  if (v.is_array() && !v.as_array().empty()) root = &v.as_array().front();
  if (!root->is_object()) return nullptr;
  const auto* e = root->as_object().if_contains("error");
  return e != nullptr && e->is_object() ? &e->as_object() : nullptr;
}

std::string Lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::variant<json::object, ApiError> TranslateRequest(const json::object& openai) {
  json::object out;
  const auto* msgs = FieldOf(openai, "messages");
  if (msgs == nullptr || !msgs->is_array())
    return Unsupported("'messages' is required.", "messages");
  json::array contents;
  std::map<std::string, std::string> call_names;  // tool_call_id -> function name
  for (std::size_t i = 0; i < msgs->as_array().size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const auto& mv = msgs->as_array()[i];
    if (!mv.is_object()) return Unsupported("Each message must be an object.", at);
    const auto& m = mv.as_object();
    const std::string role = StringOf(m, "role");
    const auto* content = FieldOf(m, "content");
    if (IsSystemRole(role)) continue;  // collected into systemInstruction
    if (role == "tool") {
      const std::string id = StringOf(m, "tool_call_id");
      auto name = call_names.find(id);
      if (id.empty() || name == call_names.end()) {
        // Gemini answers a function by name; only an earlier assistant call tells it.
        return Unsupported(
            "Tool messages need the 'tool_call_id' of an earlier assistant tool "
            "call.",
            at + ".tool_call_id");
      }
      const std::string text = content == nullptr ? std::string() : PlainText(*content);
      json::array parts{json::object{
          {"functionResponse", {{"name", name->second}, {"response", {{"content", text}}}}}}};
      AddTurn(contents, "user", std::move(parts));
      continue;
    }
    if (role != "user" && role != "assistant") {
      return Unsupported(
          "Messages with role '" + role + "' are not supported by this model's provider.",
          at + ".role");
    }
    json::array parts;
    ContentVisitor visit{[&](std::string_view text) {
                           parts.push_back(json::object{{"text", text}});
                         },
                         [&](std::string_view url, const std::string& image_at) {
                           return AddImagePart(url, image_at, parts);
                         }};
    if (auto e = VisitContent(content, at + ".content", visit)) return *e;
    if (role == "assistant") {
      if (const auto* calls = FieldOf(m, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (std::size_t j = 0; j < calls->as_array().size(); ++j) {
          auto parsed =
              ParseToolCall(calls->as_array()[j], at + ".tool_calls[" + std::to_string(j) + "]");
          if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
          auto& c = std::get<ToolCall>(parsed);
          call_names[c.id] = c.name;
          parts.push_back(
              json::object{{"functionCall", {{"name", c.name}, {"args", std::move(c.arguments)}}}});
        }
      }
    }
    AddTurn(contents, role == "assistant" ? "model" : "user", std::move(parts));
  }
  out["contents"] = std::move(contents);
  if (auto system = SystemPrompt(openai); !system.empty()) {
    out["systemInstruction"] =
        json::object{{"parts", json::array{json::object{{"text", std::move(system)}}}}};
  }
  if (auto e = TranslateTools(openai, out)) return *e;
  if (auto e = TranslateGenerationConfig(openai, out)) return *e;
  return out;
}

std::string_view FinishReason(std::string_view gemini_reason, bool has_tool_calls) {
  if (gemini_reason == "MAX_TOKENS") return "length";
  if (gemini_reason == "SAFETY" || gemini_reason == "RECITATION" || gemini_reason == "BLOCKLIST" ||
      gemini_reason == "PROHIBITED_CONTENT" || gemini_reason == "SPII" ||
      gemini_reason == "IMAGE_SAFETY") {
    return "content_filter";
  }
  // STOP, MALFORMED_FUNCTION_CALL, OTHER and reasons added later.
  return has_tool_calls ? "tool_calls" : "stop";
}

std::optional<Completion> TranslateResponse(std::string_view body, const std::string& model,
                                            std::int64_t created) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* candidate = FirstCandidate(o);
  if (candidate == nullptr && !o.contains("promptFeedback")) return std::nullopt;
  CompletionParts parts;
  parts.id = StringOf(o, "responseId");
  if (parts.id.empty()) parts.id = "vertex-" + common::RandomHex(8);
  if (const auto* list = candidate == nullptr ? nullptr : PartsOf(*candidate)) {
    for (const auto& p : *list) {
      auto part = ReadPart(p);
      if (!part) continue;
      if (part->call != nullptr) {
        parts.tool_calls.push_back(ToolCallOf(*part->call));
      } else {
        parts.text += part->text;
        parts.has_text = true;
      }
    }
  }
  if (const auto* u = o.if_contains("usageMetadata"); u != nullptr && u->is_object()) {
    parts.usage = UsageOf(u->as_object());
  }
  const std::string finish = FinishOf(o, !parts.tool_calls.empty());
  parts.finish_reason = finish.empty() ? std::string_view("stop") : std::string_view(finish);
  return MakeCompletion(std::move(parts), model, created);
}

std::string TranslateError(std::string_view body, unsigned status) {
  const std::string type = status == 429  ? "rate_limit_error"
                           : status < 500 ? "invalid_request_error"
                                          : "upstream_error";
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (!ec) {
    if (const auto* e = ErrorObjectOf(v)) {
      const std::string message = StringOf(*e, "message");
      const std::string google_status = StringOf(*e, "status");
      if (!message.empty()) {
        return http::ErrorJson(ApiError{
            static_cast<http::Status>(status),
            type,
            google_status.empty() ? "upstream_" + std::to_string(status) : Lower(google_status),
            message,
            {}});
      }
    }
  }
  return http::ErrorJson(
      ApiError{static_cast<http::Status>(status),
               type,
               "upstream_" + std::to_string(status),
               "The upstream provider returned HTTP " + std::to_string(status) + ".",
               {}});
}

StreamTranslator::StreamTranslator(std::string model, bool include_usage, std::int64_t created)
    : ChunkStream(std::move(model), include_usage, created) {
  id_ = "chatcmpl-vertex-" + common::RandomHex(8);
}

bool StreamTranslator::OnEvent(std::string_view sse_event, std::vector<std::string>& out) {
  const std::string data = SseData(sse_event);
  if (data.empty()) return true;  // comments and keep-alives
  boost::system::error_code ec;
  auto v = json::parse(data, ec);
  if (ec || !v.is_object()) return Fail("The upstream provider sent an unreadable event.", out);
  const auto& o = v.as_object();
  if (const auto* e = ErrorObjectOf(v)) {
    const auto status = StringOf(*e, "status");
    const auto message = StringOf(*e, "message");
    return Fail(status.empty() && message.empty()
                    ? std::string("The upstream provider reported an error mid-stream.")
                    : "Upstream " + status + ": " + message,
                out);
  }
  if (finished_) return true;  // a trailing event after the finish carries nothing new
  if (!started_) {
    started_ = true;
    if (const auto id = StringOf(o, "responseId"); !id.empty()) id_ = "chatcmpl-" + id;
    out.push_back(Chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  }
  if (const auto* u = o.if_contains("usageMetadata"); u != nullptr && u->is_object()) {
    const auto& metadata = u->as_object();
    usage_ = UsageOf(metadata);
    prompt_reported_ = metadata.contains("promptTokenCount");
    completion_reported_ = metadata.contains("candidatesTokenCount");
  }
  const auto* candidate = FirstCandidate(o);
  if (const auto* list = candidate == nullptr ? nullptr : PartsOf(*candidate)) {
    for (const auto& p : *list) {
      auto part = ReadPart(p);
      if (!part) continue;
      if (part->call != nullptr) {
        auto call = ToolCallOf(*part->call);
        call["index"] = tool_calls_++;
        generated_chars_ += call.at("function").at("arguments").as_string().size();
        out.push_back(Chunk({{"tool_calls", json::array{std::move(call)}}}, nullptr));
      } else if (!part->text.empty()) {
        generated_chars_ += part->text.size();
        out.push_back(Chunk({{"content", part->text}}, nullptr));
      }
    }
  }
  if (const auto finish = FinishOf(o, tool_calls_ > 0); !finish.empty()) {
    out.push_back(Chunk({}, finish.c_str()));
    finished_ = true;
  }
  return true;
}

void StreamTranslator::OnEnd(std::vector<std::string>& out) {
  if (finished_) Close(out);
}

json::object EmbeddingRequest(std::span<const std::string> texts,
                              std::optional<std::int64_t> dimensions) {
  json::array instances;
  for (const auto& t : texts) instances.push_back(json::object{{"content", t}});
  json::object out{{"instances", std::move(instances)}};
  if (dimensions) out["parameters"] = json::object{{"outputDimensionality", *dimensions}};
  return out;
}

std::optional<Embeddings> TranslateEmbeddings(std::string_view body, std::size_t expected) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* predictions = v.as_object().if_contains("predictions");
  if (predictions == nullptr || !predictions->is_array() ||
      predictions->as_array().size() != expected) {
    return std::nullopt;
  }
  Embeddings out;
  for (const auto& p : predictions->as_array()) {
    const auto* e = p.is_object() ? p.as_object().if_contains("embeddings") : nullptr;
    if (e == nullptr || !e->is_object()) return std::nullopt;
    const auto* values = e->as_object().if_contains("values");
    if (values == nullptr || !values->is_array() || values->as_array().empty()) return std::nullopt;
    std::vector<float> vec;
    vec.reserve(values->as_array().size());
    for (const auto& x : values->as_array()) {
      if (!x.is_number()) return std::nullopt;
      const double d = x.to_number<double>();
      if (!std::isfinite(d)) return std::nullopt;
      vec.push_back(static_cast<float>(d));
    }
    out.vectors.push_back(std::move(vec));
    if (const auto* s = e->as_object().if_contains("statistics"); s != nullptr && s->is_object()) {
      if (const auto* n = s->as_object().if_contains("token_count");
          n != nullptr && n->is_number()) {
        out.tokens += static_cast<std::int64_t>(n->to_number<double>());
      }
    }
  }
  return out;
}

}  // namespace bro::gateway::vertex
