#pragma once

// The providers of the provider contract suite (provider_contract_test.cpp), one Backend each: it
// starts the provider's fake upstream (if it has one), names the upstream model that makes the
// fake play each script, and builds the provider as the catalog would from its ProviderConfig.
// A new provider joins the contract with a Backend here and one line in the suite's type list.

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/time.hpp"
#include "config/config.hpp"
#include "gateway/anthropic_provider.hpp"
#include "gateway/chat.hpp"
#include "gateway/echo_provider.hpp"
#include "gateway/openai_provider.hpp"
#include "gateway/vertex_provider.hpp"
#include "integration/fake_anthropic.hpp"
#include "integration/fake_openai.hpp"
#include "integration/fake_vertex.hpp"

namespace bro::testing {

// The last user message of every contract request.
inline constexpr std::string_view kContractPrompt = "Say hello.";
// What every fake sends with its 429.
inline constexpr std::string_view kContractRetryAfter = "12";

// What the contract asks an upstream to do.
enum class Script {
  kText,          // answer "Hello! How can I help?" (streamed: "Hello" "!") with usage
  kRateLimited,   // 429 with Retry-After: 12
  kUnauthorized,  // 401
  kForbidden,     // 403
  kServerError,   // 500
  kCut,           // stream "partial", then reset the connection
  kHang,          // stream "waiting", then wait for the gateway to close the request
};

// Timeouts of the remote providers: far above what a healthy loopback call takes, and below
// the suite's bound on a whole call, so that a provider that misses a departed client still ends.
// (`type` is left as it is: the provider's class is the type.)
inline config::ProviderConfig RemoteConfig(const std::string& name, std::string base_url,
                                           std::string api_key) {
  config::ProviderConfig cfg;
  cfg.name = name + "-contract";
  cfg.base_url = std::move(base_url);
  cfg.api_key = std::move(api_key);
  cfg.connect_timeout = std::chrono::seconds(1);
  cfg.first_token_timeout = std::chrono::seconds(5);
  cfg.total_timeout = std::chrono::seconds(10);
  return cfg;
}

// The text the fakes' kText script answers.
inline std::string FakeReply(bool stream) {
  return stream ? "Hello!" : "Hello! How can I help?";
}

struct EchoProviderBackend {
  static std::string Name() { return "Echo"; }
  static constexpr bool kHasUpstream = false;
  static std::optional<std::string> UpstreamModel(Script s) {
    if (s == Script::kText || s == Script::kHang) return "echo-contract";
    return std::nullopt;
  }
  static std::string Reply(bool /*stream*/) { return "Echo: " + std::string(kContractPrompt); }
  static std::string ApiKey() { return {}; }
  bool UpstreamSawDisconnect() const { return false; }
  std::unique_ptr<gateway::Provider> Open(asio::ssl::context& /*ssl*/,
                                          const common::Clock& /*clock*/) {
    config::ProviderConfig cfg;
    cfg.name = "echo-contract";
    // A pause between pieces, so that a client can leave while the stream is under way.
    cfg.token_delay = std::chrono::milliseconds(5);
    return std::make_unique<gateway::EchoProvider>(cfg);
  }
};

struct OpenAiProviderBackend {
  static std::string Name() { return "OpenAi"; }
  static constexpr bool kHasUpstream = true;
  static std::optional<std::string> UpstreamModel(Script s) {
    switch (s) {
      case Script::kText:
        return "gpt-text";
      case Script::kRateLimited:
        return "gpt-429";
      case Script::kUnauthorized:
        return "gpt-401";
      case Script::kForbidden:
        return "gpt-403";
      case Script::kServerError:
        return "gpt-500";
      case Script::kCut:
        return "gpt-cut";
      case Script::kHang:
        return "gpt-hang";
    }
    return std::nullopt;
  }
  static std::string Reply(bool stream) { return FakeReply(stream); }
  static std::string ApiKey() { return "sk-proj-contract-openai-4f1c9e"; }
  bool UpstreamSawDisconnect() const { return fake.saw_disconnect; }
  std::unique_ptr<gateway::Provider> Open(asio::ssl::context& ssl, const common::Clock& /*clock*/) {
    return std::make_unique<gateway::OpenAiProvider>(
        RemoteConfig("openai", fake.BaseUrl(), ApiKey()), ssl);
  }
  api::FakeOpenAiChat fake;
};

struct AnthropicProviderBackend {
  static std::string Name() { return "Anthropic"; }
  static constexpr bool kHasUpstream = true;
  static std::optional<std::string> UpstreamModel(Script s) {
    switch (s) {
      case Script::kText:
        return "claude-text";
      case Script::kRateLimited:
        return "claude-429";
      case Script::kUnauthorized:
        return "claude-401";
      case Script::kForbidden:
        return "claude-403";
      case Script::kServerError:
        return "claude-500";
      case Script::kCut:
        return "claude-cut";
      case Script::kHang:
        return "claude-hang";
    }
    return std::nullopt;
  }
  static std::string Reply(bool stream) { return FakeReply(stream); }
  static std::string ApiKey() { return "sk-ant-api03-contract-7d2b1a"; }
  bool UpstreamSawDisconnect() const { return fake.saw_disconnect; }
  std::unique_ptr<gateway::Provider> Open(asio::ssl::context& ssl, const common::Clock& /*clock*/) {
    return std::make_unique<gateway::AnthropicProvider>(
        RemoteConfig("anthropic", fake.BaseUrl(), ApiKey()), ssl);
  }
  api::FakeAnthropicMessages fake;
};

// Against FakeVertex (shared with vertex_api_test). Authentication is left at its default, not
// the metadata server: the key goes in x-goog-api-key.
struct VertexProviderBackend {
  static std::string Name() { return "Vertex"; }
  static constexpr bool kHasUpstream = true;
  static std::optional<std::string> UpstreamModel(Script s) {
    switch (s) {
      case Script::kText:
        return "gemini-text";
      case Script::kRateLimited:
        return "gemini-429";
      case Script::kUnauthorized:
        return std::nullopt;  // FakeVertex scripts no 401
      case Script::kForbidden:
        return "gemini-403";
      case Script::kServerError:
        return "gemini-500";
      case Script::kCut:
        return "gemini-cut";
      case Script::kHang:
        return "gemini-hang";
    }
    return std::nullopt;
  }
  static std::string Reply(bool stream) { return FakeReply(stream); }
  static std::string ApiKey() { return "AIzaSy-contract-vertex-93e0"; }
  bool UpstreamSawDisconnect() const { return fake.seen.saw_disconnect; }
  std::unique_ptr<gateway::Provider> Open(asio::ssl::context& ssl, const common::Clock& clock) {
    auto cfg = RemoteConfig("vertex", "http://127.0.0.1:" + std::to_string(fake.Port()), ApiKey());
    cfg.project = "contract-proj";
    cfg.location = "europe-west4";
    return std::make_unique<gateway::VertexProvider>(cfg, ssl, clock);
  }
  api::FakeVertex fake;
};

}  // namespace bro::testing
