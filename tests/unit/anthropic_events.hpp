#pragma once

// Anthropic Messages streaming events as Anthropic sends them (docs.anthropic.com, "Streaming
// Messages"), for the translation's unit tests and the FakeAnthropic integration tests.

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace bro::testing::anthropic_events {

inline std::string Event(const std::string& type, const std::string& data) {
  return "event: " + type + "\ndata: " + data + "\n\n";
}
inline std::string Quoted(const std::string& s) {
  return boost::json::serialize(boost::json::value(s));
}

inline std::string MessageStart(const std::string& id, int input_tokens) {
  return Event(
      "message_start",
      R"({"type":"message_start","message":{"id":")" + id +
          R"(","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":)" +
          std::to_string(input_tokens) + R"(,"output_tokens":1}}})");
}
inline std::string Ping() {
  return Event("ping", R"({"type": "ping"})");
}
inline std::string BlockStart(int index, const std::string& block) {
  return Event("content_block_start", R"({"type":"content_block_start","index":)" +
                                          std::to_string(index) + R"(,"content_block":)" + block +
                                          "}");
}
inline std::string TextStart(int index) {
  return BlockStart(index, R"({"type":"text","text":""})");
}
inline std::string ToolStart(int index, const std::string& id, const std::string& name) {
  return BlockStart(
      index, R"({"type":"tool_use","id":")" + id + R"(","name":")" + name + R"(","input":{}})");
}
inline std::string Delta(int index, const std::string& delta) {
  return Event("content_block_delta", R"({"type":"content_block_delta","index":)" +
                                          std::to_string(index) + R"(,"delta":)" + delta + "}");
}
inline std::string TextDelta(int index, const std::string& text) {
  return Delta(index, R"({"type":"text_delta","text":)" + Quoted(text) + "}");
}
inline std::string JsonDelta(int index, const std::string& partial) {
  return Delta(index, R"({"type":"input_json_delta","partial_json":)" + Quoted(partial) + "}");
}
inline std::string BlockStop(int index) {
  return Event("content_block_stop",
               R"({"type":"content_block_stop","index":)" + std::to_string(index) + "}");
}
inline std::string MessageDelta(const std::string& stop_reason, int output_tokens) {
  return Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" +
                                    stop_reason +
                                    R"(","stop_sequence":null},"usage":{"output_tokens":)" +
                                    std::to_string(output_tokens) + "}}");
}
inline std::string MessageStop() {
  return Event("message_stop", R"({"type":"message_stop"})");
}
inline std::string Error(const std::string& type, const std::string& message) {
  return Event("error", R"({"type":"error","error":{"type":")" + type + R"(","message":)" +
                            Quoted(message) + "}}");
}

}  // namespace bro::testing::anthropic_events
