#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/chat.hpp"

// The OpenAI chat shape as the translating providers (anthropic, vertex) read and write it:
// lenient field access on an already validated request, the request's tools, tool choice,
// tool calls and content parts, and the completion and chunk objects sent back. Pure: no I/O.
namespace bro::gateway {

// A 400 for an OpenAI shape the provider cannot express, naming the field.
ApiError Unsupported(std::string message, std::string param);

// The field, or nullptr when absent or null.
const boost::json::value* FieldOf(const boost::json::object& o, std::string_view key);
// The string field, or "" when absent or not a string.
std::string StringOf(const boost::json::object& o, std::string_view key);
std::optional<std::int64_t> IntOf(const boost::json::object& o, std::string_view key);

// The text of a string or of an array's text parts (system prompts, tool results).
std::string PlainText(const boost::json::value& content);

// The system and developer messages' text, joined by blank lines (empty when there is none).
std::string SystemPrompt(const boost::json::object& openai);
bool IsSystemRole(std::string_view role);

// The media type and payload of a `data:<type>;base64,<payload>` URL.
struct DataUrl {
  std::string_view media_type;
  std::string_view data;
};
std::optional<DataUrl> ParseDataUrl(std::string_view url);

// Walks user or assistant content (a string or content parts): text parts to `text` (empty text
// skipped), image_url parts to `image` with the part's path; refusal parts are skipped, anything
// else is a 400 naming the part.
struct ContentVisitor {
  std::function<void(std::string_view text)> text;
  std::function<std::optional<ApiError>(std::string_view url, const std::string& at)> image;
};
std::optional<ApiError> VisitContent(const boost::json::value* content, const std::string& at,
                                     const ContentVisitor& visit);

struct FunctionTool {
  std::string name;
  std::string description;
  const boost::json::value* parameters = nullptr;  // the JSON schema, when given as an object
};
// The request's `tools`; only function tools can be translated.
std::variant<std::vector<FunctionTool>, ApiError> FunctionTools(const boost::json::object& openai);

struct ToolChoice {
  enum class Mode { kAuto, kNone, kRequired, kFunction };
  Mode mode = Mode::kAuto;
  std::string function;  // kFunction: the function the model must call
};
std::variant<ToolChoice, ApiError> ParseToolChoice(const boost::json::object& openai);

// One assistant tool call; the arguments must be a JSON object (or empty).
struct ToolCall {
  std::string id;
  std::string name;
  boost::json::object arguments;
};
std::variant<ToolCall, ApiError> ParseToolCall(const boost::json::value& call,
                                               const std::string& at);

// max_completion_tokens, else max_tokens.
std::optional<std::int64_t> MaxOutputTokens(const boost::json::object& openai);
// `stop` as a list (a string or an array of strings).
boost::json::array StopSequences(const boost::json::object& openai);
// Translating providers produce one choice.
std::optional<ApiError> RequireOneChoice(const boost::json::object& openai);

boost::json::object UsageJson(const Usage& u);
boost::json::object ToolCallJson(std::string_view id, std::string_view name,
                                 std::string_view arguments);

// An OpenAI chat.completion built from a translated reply.
struct Completion {
  std::string body;
  Usage usage;
};
struct CompletionParts {
  std::string id;
  std::string text;
  bool has_text = false;
  boost::json::array tool_calls;
  std::string_view finish_reason = "stop";
  Usage usage;
};
Completion MakeCompletion(CompletionParts parts, const std::string& model, std::int64_t created);

// The OpenAI side of a translated stream: builds chat.completion.chunk events and keeps what the
// stream produced (tokens, generated text, whether it finished or failed) for usage records.
class ChunkStream {
 public:
  ChunkStream(std::string model, bool include_usage, std::int64_t created);
  virtual ~ChunkStream() = default;
  ChunkStream(const ChunkStream&) = delete;
  ChunkStream& operator=(const ChunkStream&) = delete;

  // One complete SSE event from the upstream; the OpenAI events it makes are appended to `out`.
  // Returns false when the stream must end (an in-band error, or data that is not JSON).
  virtual bool OnEvent(std::string_view sse_event, std::vector<std::string>& out) = 0;
  // Events due once the upstream stream ended cleanly (e.g. the usage chunk and [DONE]).
  virtual void OnEnd(std::vector<std::string>& out) { (void)out; }

  bool Finished() const { return finished_; }          // the upstream said the reply is complete
  const std::string& Error() const { return error_; }  // set when the upstream reported one
  const Usage& Tokens() const { return usage_; }
  bool PromptReported() const { return prompt_reported_; }
  bool CompletionReported() const { return completion_reported_; }
  std::size_t GeneratedChars() const { return generated_chars_; }

 protected:
  std::string Chunk(boost::json::object delta, const char* finish_reason) const;
  // The usage chunk (when the client asked for it) and [DONE].
  void Close(std::vector<std::string>& out);
  // Ends the stream with an OpenAI error event.
  bool Fail(std::string message, std::vector<std::string>& out);

  std::string model_;
  bool include_usage_;
  std::int64_t created_;
  std::string id_;
  bool finished_ = false;
  std::string error_;
  Usage usage_;
  bool prompt_reported_ = false;
  bool completion_reported_ = false;
  std::size_t generated_chars_ = 0;
};

}  // namespace bro::gateway
