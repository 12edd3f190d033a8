#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace bro::config {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";  // 32 characters

// The ConfigError message for `yaml` (and `env`), or "" when it loads.
std::string ErrorOf(const std::string& yaml, const Environment& env = {}) {
  try {
    LoadFromString(yaml, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

// Asserts that loading fails with a message that starts by naming `key`.
void ExpectFailsNaming(const std::string& yaml, const std::string& key,
                       const Environment& env = {}) {
  const std::string error = ErrorOf(yaml, env);
  ASSERT_FALSE(error.empty()) << "expected a ConfigError naming " << key << " for:\n" << yaml;
  EXPECT_EQ(error.rfind(key + ":", 0), 0U)
      << "error '" << error << "' does not start with '" << key << ":'";
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string tmpl = (fs::temp_directory_path() / "bro-config-XXXXXX").string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

TEST(Config, DefaultsFromEmptyText) {
  const Config c = LoadFromString("", {});
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.io_threads, 0);
  EXPECT_EQ(c.server.max_connections, 10000);
  EXPECT_EQ(c.server.max_header_bytes, 16U * 1024);
  EXPECT_EQ(c.server.max_body_bytes, 1024U * 1024);
  EXPECT_EQ(c.server.chat_max_body_bytes, 8U * 1024 * 1024);
  EXPECT_EQ(c.server.read_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.server.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.server.write_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.server.shutdown_grace, std::chrono::seconds(25));
  EXPECT_EQ(c.database.url, "sqlite://data/bro.db");
  EXPECT_EQ(c.database.max_connections, 8);
  EXPECT_EQ(c.database.timeout, std::chrono::seconds(5));
  EXPECT_TRUE(c.database.migrate_on_start);
  EXPECT_EQ(c.logging.level, LogLevel::kInfo);
  EXPECT_EQ(c.logging.format, LogFormat::kJson);
  EXPECT_TRUE(c.logging.access_log);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.port, 9090);
  EXPECT_EQ(c.auth.key_cache_ttl, std::chrono::seconds(5));
  EXPECT_TRUE(c.auth.bootstrap_admin);
  EXPECT_TRUE(c.auth.key_secret.empty())
      << "SQLite without a configured secret resolves none at load";
  EXPECT_EQ(c.usage.flush_interval, std::chrono::seconds(1));
  EXPECT_EQ(c.usage.batch_size, 500);
  EXPECT_EQ(c.usage.buffer_capacity, 50000);
}

TEST(Config, NullDocumentAndNullSectionsAreDefaults) {
  EXPECT_EQ(LoadFromString("~\n", {}).server.port, 8080);
  EXPECT_EQ(LoadFromString("# only a comment\n", {}).server.port, 8080);
  const Config c = LoadFromString("server:\nlogging: ~\n", {});
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.logging.level, LogLevel::kInfo);
}

TEST(Config, EverySectionParses) {
  const std::string yaml = R"(
server:
  host: 127.0.0.1
  port: 18080
  io_threads: 3
  max_connections: 77
  max_header_bytes: 8KiB
  max_body_bytes: 2MiB
  chat_max_body_bytes: 3000000
  read_timeout: 250ms
  idle_timeout: 2m
  write_timeout: 7
  shutdown_grace: 1h
database:
  url: sqlite:///tmp/x/bro.db
  max_connections: 3
  timeout: 1500ms
  migrate_on_start: false
logging:
  level: warning
  format: text
  access_log: no
metrics:
  enabled: off
  host: 127.0.0.2
  port: 19090
auth:
  key_cache_ttl: 0ms
  bootstrap_admin: false
usage:
  flush_interval: 20ms
  batch_size: 7
  buffer_capacity: 99
providers:
  - name: local
    type: echo
    token_delay: 5ms
    latency: 10ms
  - name: vllm
    type: openai
    base_url: http://127.0.0.1:8000/v1
    connect_timeout: 1s
    first_token_timeout: 2s
    total_timeout: 3s
    max_idle_connections: 4
models:
  - name: fast
    provider: local
  - name: big
    provider: vllm
    upstream_model: meta/llama-3
)";
  const Config c = LoadFromString(yaml, {});
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 18080);
  EXPECT_EQ(c.server.io_threads, 3);
  EXPECT_EQ(c.server.max_connections, 77);
  EXPECT_EQ(c.server.max_header_bytes, 8U * 1024);
  EXPECT_EQ(c.server.max_body_bytes, 2U * 1024 * 1024);
  EXPECT_EQ(c.server.chat_max_body_bytes, 3000000U);
  EXPECT_EQ(c.server.read_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.server.idle_timeout, std::chrono::minutes(2));
  EXPECT_EQ(c.server.write_timeout, std::chrono::seconds(7));
  EXPECT_EQ(c.server.shutdown_grace, std::chrono::hours(1));
  EXPECT_EQ(c.database.url, "sqlite:///tmp/x/bro.db");
  EXPECT_EQ(c.database.max_connections, 3);
  EXPECT_EQ(c.database.timeout, std::chrono::milliseconds(1500));
  EXPECT_FALSE(c.database.migrate_on_start);
  EXPECT_EQ(c.logging.level, LogLevel::kWarning);
  EXPECT_EQ(c.logging.format, LogFormat::kText);
  EXPECT_FALSE(c.logging.access_log);
  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.host, "127.0.0.2");
  EXPECT_EQ(c.metrics.port, 19090);
  EXPECT_EQ(c.auth.key_cache_ttl, std::chrono::milliseconds(0));
  EXPECT_FALSE(c.auth.bootstrap_admin);
  EXPECT_EQ(c.usage.flush_interval, std::chrono::milliseconds(20));
  EXPECT_EQ(c.usage.batch_size, 7);
  EXPECT_EQ(c.usage.buffer_capacity, 99);
  ASSERT_EQ(c.providers.size(), 2U);
  EXPECT_EQ(c.providers[0].name, "local");
  EXPECT_EQ(c.providers[0].type, ProviderType::kEcho);
  EXPECT_EQ(c.providers[0].token_delay, std::chrono::milliseconds(5));
  EXPECT_EQ(c.providers[0].latency, std::chrono::milliseconds(10));
  EXPECT_EQ(c.providers[1].type, ProviderType::kOpenAi);
  EXPECT_EQ(c.providers[1].base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(c.providers[1].connect_timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.providers[1].first_token_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.providers[1].total_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.providers[1].max_idle_connections, 4);
  ASSERT_EQ(c.models.size(), 2U);
  EXPECT_EQ(c.models[0].name, "fast");
  EXPECT_EQ(c.models[0].upstream_model, "fast") << "upstream_model defaults to the public name";
  EXPECT_EQ(c.models[1].provider, "vllm");
  EXPECT_EQ(c.models[1].upstream_model, "meta/llama-3");
}

TEST(Config, UnknownKeysAreNamed) {
  ExpectFailsNaming("foo: 1\n", "foo");
  ExpectFailsNaming("server:\n  foo: 1\n", "server.foo");
  ExpectFailsNaming("database:\n  password: x\n", "database.password");
  ExpectFailsNaming("providers:\n  - name: e\n    type: echo\n    bogus: 1\nmodels: []\n",
                    "providers[0].bogus");
  ExpectFailsNaming(
      "providers:\n  - name: e\n    type: echo\nmodels:\n  - name: m\n    provider: e\n    x: 1\n",
      "models[0].x");
}

TEST(Config, BadValuesAreNamed) {
  ExpectFailsNaming("server:\n  port: 70000\n", "server.port");
  ExpectFailsNaming("server:\n  port: -1\n", "server.port");
  ExpectFailsNaming("server:\n  port: 80.5\n", "server.port");
  ExpectFailsNaming("server:\n  port: eighty\n", "server.port");
  ExpectFailsNaming("server:\n  read_timeout: abc\n", "server.read_timeout");
  ExpectFailsNaming("server:\n  read_timeout: 10ms\n",
                    "server.read_timeout");  // below the 100ms floor
  ExpectFailsNaming("database:\n  migrate_on_start: maybe\n", "database.migrate_on_start");
  ExpectFailsNaming("server:\n  max_body_bytes: 1TB\n", "server.max_body_bytes");
  ExpectFailsNaming("server:\n  max_header_bytes: 10\n", "server.max_header_bytes");  // below 1 KiB
  ExpectFailsNaming("logging:\n  level: verbose\n", "logging.level");
  ExpectFailsNaming("logging:\n  format: xml\n", "logging.format");
  ExpectFailsNaming("usage:\n  batch_size: 0\n", "usage.batch_size");
  ExpectFailsNaming("database:\n  url: mysql://x\n", "database.url");
  ExpectFailsNaming("database:\n  url: \"sqlite://\"\n", "database.url");
  ExpectFailsNaming("providers:\n  - name: x\n    type: gemini\nmodels: []\n", "providers[0].type");
}

// The messages are built from the same spellings Name() gives, so pin both.
TEST(Config, EnumeratedKeysKeepTheirSpellingsAndMessages) {
  const std::string catalog = "providers:\n  - name: v\n    type: vertex\n    project: p\n";
  EXPECT_EQ(ErrorOf("logging:\n  level: verbose\n"),
            "logging.level: expected debug, info, warning or error, got 'verbose'");
  EXPECT_EQ(ErrorOf("logging:\n  format: xml\n"),
            "logging.format: expected json or text, got 'xml'");
  EXPECT_EQ(ErrorOf("limits:\n  backend: etcd\n"),
            "limits.backend: expected memory or redis, got 'etcd'");
  EXPECT_EQ(ErrorOf("limits:\n  failure_mode: ajar\n"),
            "limits.failure_mode: expected open or closed, got 'ajar'");
  EXPECT_EQ(ErrorOf("cache:\n  scope: team\n"),
            "cache.scope: expected user, key or global, got 'team'");
  EXPECT_EQ(ErrorOf("providers:\n  - name: x\n    type: gemini\nmodels: []\n"),
            "providers[0].type: expected echo, openai, anthropic or vertex, got 'gemini'");
  EXPECT_EQ(ErrorOf(catalog + "    auth: oauth\nmodels: []\n"),
            "providers[0].auth: expected metadata or api_key, got 'oauth'");

  const Config c = LoadFromString(
      "logging:\n  level: warning\n  format: text\nlimits:\n  failure_mode: closed\n"
      "cache:\n  scope: global\n" +
          catalog + "models: []\n",
      {{"BRO_LIMITS_BACKEND", "redis"}, {"REDIS_URL", "redis://127.0.0.1:6379"}});
  EXPECT_EQ(Name(c.logging.level), "warning");
  EXPECT_EQ(Name(c.logging.format), "text");
  EXPECT_EQ(Name(c.limits.backend), "redis");
  EXPECT_EQ(Name(c.limits.failure_mode), "closed");
  EXPECT_EQ(Name(c.cache.scope), "global");
  EXPECT_EQ(Name(c.providers[0].type), "vertex");
  EXPECT_EQ(Name(c.providers[0].auth), "metadata");
  EXPECT_EQ(Name(ProviderType::kUnset), "");
}

TEST(Config, StructureErrorsAreNamed) {
  ExpectFailsNaming("server: 5\n", "server");
  ExpectFailsNaming("server:\n  port: [1, 2]\n", "server.port");
  ExpectFailsNaming("server:\n  port: {a: 1}\n", "server.port");
  ExpectFailsNaming("providers: {name: x}\n", "providers");
  ExpectFailsNaming("providers:\n  - just-a-string\n", "providers[0]");
  EXPECT_FALSE(ErrorOf("- a\n- b\n").empty()) << "a top-level list is not a configuration";
  EXPECT_FALSE(ErrorOf("just text\n").empty());
}

TEST(Config, DatabaseUrlErrorNeverEchoesTheUrl) {
  const std::string error = ErrorOf("database:\n  url: mysql://user:hunter2@db/x\n");
  ASSERT_FALSE(error.empty());
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
}

TEST(Config, EnvironmentOverridesBeatYaml) {
  const std::string yaml =
      "server:\n  port: 8081\ndatabase:\n  url: sqlite://a.db\nlogging:\n  level: debug\n";
  const Environment env = {{"BRO_SERVER_PORT", "9999"},
                           {"DATABASE_URL", "sqlite://from-env.db"},
                           {"BRO_LOGGING_LEVEL", "error"},
                           {"BRO_USAGE_BATCH_SIZE", "42"},
                           {"BRO_SERVER_READ_TIMEOUT", "2s"}};
  const Config c = LoadFromString(yaml, env);
  EXPECT_EQ(c.server.port, 9999);
  EXPECT_EQ(c.database.url, "sqlite://from-env.db");
  EXPECT_EQ(c.logging.level, LogLevel::kError);
  EXPECT_EQ(c.usage.batch_size, 42);
  EXPECT_EQ(c.server.read_timeout, std::chrono::seconds(2));
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
  const std::string error = ErrorOf("", {{"BRO_SERVER_PORT", "abc"}});
  ASSERT_FALSE(error.empty());
  EXPECT_NE(error.find("BRO_SERVER_PORT"), std::string::npos) << error;
  EXPECT_NE(error.find("server.port"), std::string::npos) << error;
}

TEST(Config, EnvironmentOverridesListsEveryScalarSection) {
  const auto overrides = EnvironmentOverrides();
  auto has = [&](const std::string& env, const std::string& key) {
    for (const auto& [e, k] : overrides) {
      if (e == env && k == key) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("BRO_SERVER_PORT", "server.port"));
  EXPECT_TRUE(has("BRO_DATABASE_MAX_CONNECTIONS", "database.max_connections"));
  EXPECT_TRUE(has("BRO_LOGGING_FORMAT", "logging.format"));
  EXPECT_TRUE(has("BRO_METRICS_PORT", "metrics.port"));
  EXPECT_TRUE(has("BRO_AUTH_KEY_CACHE_TTL", "auth.key_cache_ttl"));
  EXPECT_TRUE(has("BRO_USAGE_FLUSH_INTERVAL", "usage.flush_interval"));
  EXPECT_TRUE(has("DATABASE_URL", "database.url"));
  // Nested sections are listed where their keys live in app.yaml.
  EXPECT_TRUE(has("BRO_AUTH_OIDC_CLIENT_ID", "auth.oidc.client_id"));
  EXPECT_TRUE(has("BRO_LIMITS_PER_USER_TOKENS_PER_MINUTE", "limits.per_user.tokens_per_minute"));
  EXPECT_EQ(LoadFromString("", {{"BRO_SERVER_HOST", "10.1.2.3"}}).server.host, "10.1.2.3");
  EXPECT_EQ(LoadFromString("", {{"BRO_METRICS_HOST", "10.1.2.4"}}).metrics.host, "10.1.2.4");
}

TEST(Config, PostgresNeedsAKeySecret) {
  ExpectFailsNaming("database:\n  url: postgres://u@h/db\n", "auth.key_secret_file");
  ExpectFailsNaming("", "auth.key_secret_file", {{"DATABASE_URL", "postgresql://u@h/db"}});
  const Config c =
      LoadFromString("database:\n  url: postgres://u@h/db\n", {{"BRO_KEY_SECRET", kSecret}});
  EXPECT_EQ(c.auth.key_secret, kSecret);
}

TEST(Config, ShortSecretFails) {
  ExpectFailsNaming("", "auth.key_secret_file", {{"BRO_KEY_SECRET", "too-short"}});
  ExpectFailsNaming("database:\n  url: postgres://u@h/db\n", "auth.key_secret_file",
                    {{"BRO_KEY_SECRET", std::string(31, 'x')}});
}

TEST(Config, SecretFromFileIsTrimmedAndEnvWins) {
  TempFile secret(std::string(kSecret) + "\n\n");
  const std::string yaml =
      "database:\n  url: postgres://u@h/db\nauth:\n  key_secret_file: " + secret.Path() + "\n";
  EXPECT_EQ(LoadFromString(yaml, {}).auth.key_secret, kSecret);
  const std::string other(40, 'z');
  EXPECT_EQ(LoadFromString(yaml, {{"BRO_KEY_SECRET", other}}).auth.key_secret, other);
}

TEST(Config, UnreadableOrEmptySecretFileFails) {
  ExpectFailsNaming("auth:\n  key_secret_file: /nonexistent/bro/secret\n", "auth.key_secret_file");
  TempFile empty("  \n");
  ExpectFailsNaming("auth:\n  key_secret_file: " + empty.Path() + "\n", "auth.key_secret_file");
  TempFile huge(std::string(8192, 's'));
  ExpectFailsNaming("auth:\n  key_secret_file: " + huge.Path() + "\n", "auth.key_secret_file");
}

TEST(Config, DatabaseUrlFromFileAndEnvironmentWins) {
  TempFile url("sqlite://from-file.db\n");
  const std::string yaml = "database:\n  url_file: " + url.Path() + "\n";
  EXPECT_EQ(LoadFromString(yaml, {}).database.url, "sqlite://from-file.db");
  EXPECT_EQ(LoadFromString(yaml, {{"DATABASE_URL", "sqlite://env.db"}}).database.url,
            "sqlite://env.db");
}

TEST(Config, OpenAiProviderNeedsBaseUrl) {
  ExpectFailsNaming("providers:\n  - name: o\n    type: openai\nmodels: []\n",
                    "providers[0].base_url");
  ExpectFailsNaming(
      "providers:\n  - name: o\n    type: openai\n    base_url: ftp://x\nmodels: []\n",
      "providers[0].base_url");
}

// Every base_url that passes validation must be usable: the provider parses it at start,
// and a URL it cannot parse would stop the process with exit 1 and no key named.
TEST(Config, OpenAiProviderBaseUrlMustBeAUsableUrl) {
  for (const std::string url :
       {"http://", "https://", "http://h:port/v1", "http://[::1/v1", "http://h o/v1"}) {
    ExpectFailsNaming(
        "providers:\n  - name: o\n    type: openai\n    base_url: \"" + url + "\"\nmodels: []\n",
        "providers[0].base_url");
  }
}

TEST(Config, AnthropicProviderDefaultsAndValidation) {
  const auto c = LoadFromString("providers:\n  - name: a\n    type: anthropic\nmodels: []\n", {});
  EXPECT_EQ(c.providers[0].base_url, "https://api.anthropic.com");
  EXPECT_EQ(c.providers[0].anthropic_version, "2023-06-01");
  EXPECT_EQ(c.providers[0].max_tokens_default, 4096);
  const auto set = LoadFromString(
      "providers:\n  - name: a\n    type: anthropic\n    base_url: http://127.0.0.1:9/\n"
      "    anthropic_version: 2024-01-01\n    max_tokens_default: 512\n"
      "    api_key_env: TEST_ANTHROPIC_KEY\nmodels: []\n",
      {{"TEST_ANTHROPIC_KEY", "sk-ant-test"}});
  EXPECT_EQ(set.providers[0].anthropic_version, "2024-01-01");
  EXPECT_EQ(set.providers[0].max_tokens_default, 512);
  EXPECT_EQ(set.providers[0].api_key, "sk-ant-test");
  ExpectFailsNaming(
      "providers:\n  - name: a\n    type: anthropic\n    max_tokens_default: 0\nmodels: []\n",
      "providers[0].max_tokens_default");
  ExpectFailsNaming(
      "providers:\n  - name: a\n    type: anthropic\n    anthropic_version: \"\"\nmodels: []\n",
      "providers[0].anthropic_version");
  ExpectFailsNaming(
      "providers:\n  - name: a\n    type: anthropic\n    base_url: ftp://x\nmodels: []\n",
      "providers[0].base_url");
  ExpectFailsNaming(
      "providers:\n  - name: a\n    type: anthropic\n    api_key_env: TEST_NOT_SET\nmodels: []\n",
      "providers[0].api_key_env");
}

TEST(Config, VertexProviderDefaultsAndValidation) {
  const std::string head = "providers:\n  - name: v\n    type: vertex\n";
  const auto c = LoadFromString(head + "    project: my-proj\nmodels: []\n", {});
  const auto& p = c.providers[0];
  EXPECT_EQ(p.auth, ProviderAuth::kMetadata) << "no API key configured: the metadata server";
  EXPECT_EQ(p.location, "us-central1");
  EXPECT_EQ(p.base_url, "https://us-central1-aiplatform.googleapis.com");
  EXPECT_EQ(p.metadata_host, "metadata.google.internal");
  EXPECT_EQ(p.embedding_batch_size, 250);

  // GCE_METADATA_HOST is the convention; an explicit key wins over it.
  const auto from_env = LoadFromString(head + "    project: p1\nmodels: []\n",
                                       {{"GCE_METADATA_HOST", "127.0.0.1:8181"}});
  EXPECT_EQ(from_env.providers[0].metadata_host, "127.0.0.1:8181");
  const auto explicit_host =
      LoadFromString(head + "    project: p1\n    metadata_host: 127.0.0.1:9\nmodels: []\n",
                     {{"GCE_METADATA_HOST", "127.0.0.1:8181"}});
  EXPECT_EQ(explicit_host.providers[0].metadata_host, "127.0.0.1:9");

  const auto global =
      LoadFromString(head + "    project: p1\n    location: global\nmodels: []\n", {});
  EXPECT_EQ(global.providers[0].base_url, "https://aiplatform.googleapis.com");
  const auto eu =
      LoadFromString(head + "    project: p1\n    location: europe-west4\nmodels: []\n", {});
  EXPECT_EQ(eu.providers[0].base_url, "https://europe-west4-aiplatform.googleapis.com");

  // An API key selects api_key auth; without a project, the global "express mode" endpoint.
  const auto keyed = LoadFromString(head + "    api_key_env: TEST_VERTEX_KEY\nmodels: []\n",
                                    {{"TEST_VERTEX_KEY", "AIza-test"}});
  EXPECT_EQ(keyed.providers[0].auth, ProviderAuth::kApiKey);
  EXPECT_EQ(keyed.providers[0].api_key, "AIza-test");
  EXPECT_EQ(keyed.providers[0].base_url, "https://aiplatform.googleapis.com");

  ExpectFailsNaming(head + "models: []\n", "providers[0].project");
  ExpectFailsNaming(head + "    project: p1\n    auth: oauth\nmodels: []\n", "providers[0].auth");
  ExpectFailsNaming(head + "    project: p1\n    auth: api_key\nmodels: []\n", "providers[0].auth");
  ExpectFailsNaming(head + "    project: p1\n    auth: metadata\n    api_key_env: K\nmodels: []\n",
                    "providers[0].auth");
  ExpectFailsNaming(head + "    project: \"My Project\"\nmodels: []\n", "providers[0].project");
  ExpectFailsNaming(head + "    project: p/../x\nmodels: []\n", "providers[0].project");
  ExpectFailsNaming(head + "    project: p1\n    location: evil.com/x\nmodels: []\n",
                    "providers[0].location");
  ExpectFailsNaming(head + "    project: p1\n    location: \"\"\nmodels: []\n",
                    "providers[0].location");
  for (const std::string host : {"http://x/", "h:port", "a@b", "h/path", "h:99999"}) {
    ExpectFailsNaming(head + "    project: p1\n    metadata_host: \"" + host + "\"\nmodels: []\n",
                      "providers[0].metadata_host");
  }
  ExpectFailsNaming(head + "    project: p1\nmodels: []\n", "providers[0].metadata_host",
                    {{"GCE_METADATA_HOST", "bad host"}});
  ExpectFailsNaming(head + "    project: p1\n    embedding_batch_size: 0\nmodels: []\n",
                    "providers[0].embedding_batch_size");
  ExpectFailsNaming(head + "    project: p1\n    base_url: ftp://x\nmodels: []\n",
                    "providers[0].base_url");
}

TEST(Config, EmbeddingsBodyLimit) {
  EXPECT_EQ(LoadFromString("", {}).server.embeddings_max_body_bytes, std::uint64_t{4} << 20);
  EXPECT_EQ(LoadFromString("server:\n  embeddings_max_body_bytes: 64KiB\n", {})
                .server.embeddings_max_body_bytes,
            std::uint64_t{64} << 10);
  ExpectFailsNaming("server:\n  embeddings_max_body_bytes: 10\n",
                    "server.embeddings_max_body_bytes");
}

TEST(Config, ProviderApiKeyFromEnvironment) {
  const std::string yaml =
      "providers:\n  - name: o\n    type: openai\n    base_url: https://api.example.com/v1\n"
      "    api_key_env: TEST_UPSTREAM_KEY\nmodels: []\n";
  ExpectFailsNaming(yaml, "providers[0].api_key_env");
  EXPECT_EQ(LoadFromString(yaml, {{"TEST_UPSTREAM_KEY", "sk-upstream"}}).providers[0].api_key,
            "sk-upstream");
}

TEST(Config, ProviderNeedsNameAndTypeAndUniqueName) {
  ExpectFailsNaming("providers:\n  - type: echo\nmodels: []\n", "providers[0].name");
  ExpectFailsNaming("providers:\n  - name: e\nmodels: []\n", "providers[0].type");
  ExpectFailsNaming(
      "providers:\n  - name: e\n    type: echo\n  - name: e\n    type: echo\nmodels: []\n",
      "providers[1].name");
}

TEST(Config, ModelNamingUnknownProviderFails) {
  ExpectFailsNaming(
      "providers:\n  - name: e\n    type: echo\nmodels:\n  - name: m\n    provider: nope\n",
      "models[0].provider");
}

TEST(Config, DuplicateModelFails) {
  ExpectFailsNaming(
      "providers:\n  - name: e\n    type: echo\nmodels:\n  - name: m\n    provider: e\n  - name: "
      "m\n    provider: e\n",
      "models[1].name");
}

TEST(Config, ModelNameRequiredAndBounded) {
  ExpectFailsNaming("providers:\n  - name: e\n    type: echo\nmodels:\n  - provider: e\n",
                    "models[0].name");
  ExpectFailsNaming("providers:\n  - name: e\n    type: echo\nmodels:\n  - name: " +
                        std::string(300, 'm') + "\n    provider: e\n",
                    "models[0].name");
}

TEST(Config, DefaultCatalogIsEcho) {
  const Config c = LoadFromString("server:\n  port: 1234\n", {});
  ASSERT_EQ(c.providers.size(), 1U);
  EXPECT_EQ(c.providers[0].name, "echo");
  EXPECT_EQ(c.providers[0].type, ProviderType::kEcho);
  ASSERT_EQ(c.models.size(), 1U);
  EXPECT_EQ(c.models[0].name, "echo");
  EXPECT_EQ(c.models[0].provider, "echo");
  EXPECT_EQ(c.models[0].upstream_model, "echo");
}

TEST(Config, ExplicitCatalogReplacesTheDefault) {
  const Config c = LoadFromString(
      "providers:\n  - name: p\n    type: echo\nmodels:\n  - name: mine\n    provider: p\n", {});
  ASSERT_EQ(c.models.size(), 1U);
  EXPECT_EQ(c.models[0].name, "mine");
  ASSERT_EQ(c.providers.size(), 1U);
  EXPECT_EQ(c.providers[0].name, "p");
}

TEST(Config, RepositoryAppYamlLoads) {
  const std::string path = std::string(BRO_SOURCE_DIR) + "/config/app.yaml";
  ASSERT_TRUE(fs::exists(path)) << path;
  Config c;
  ASSERT_NO_THROW(c = LoadFromFile(path, {}));
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.metrics.port, 9090);
  ASSERT_FALSE(c.models.empty());
  EXPECT_NE(std::find_if(c.models.begin(), c.models.end(),
                         [](const ModelConfig& m) { return m.name == "echo"; }),
            c.models.end());
}

TEST(Config, MissingFileFails) {
  EXPECT_THROW(LoadFromFile("/nonexistent/bro/app.yaml", {}), ConfigError);
}

TEST(Config, HostileHugeTextFails) {
  std::string huge = "server:\n  host: \"";
  huge.append((1 << 20) + 16, 'a');
  huge += "\"\n";
  EXPECT_THROW(LoadFromString(huge, {}), ConfigError);
  TempFile file(huge);
  EXPECT_THROW(LoadFromFile(file.Path(), {}), ConfigError);
}

TEST(Config, HostileInvalidYamlFails) {
  for (const std::string yaml :
       {"server: [unclosed\n", "server:\n  port: 1\n bad-indent: 2\n", "{{{{\n", "\"\n",
        "server: &a [*a]\n", "? [a, b]\n: 1\n", "\t\tport: 1\n"}) {
    EXPECT_THROW(LoadFromString(yaml, {}), ConfigError) << yaml;
  }
}

TEST(Config, HostileDeepNestingFailsWithoutCrashing) {
  // 300k nested flow sequences: a naive recursive parser would overflow the stack.
  std::string deep(300'000, '[');
  EXPECT_THROW(LoadFromString("server: " + deep + "\n", {}), ConfigError);
  std::string deep_maps;
  for (int i = 0; i < 100'000; ++i) deep_maps += "{a: ";
  EXPECT_THROW(LoadFromString(deep_maps, {}), ConfigError);
}

TEST(Config, HostileBinaryGarbageFails) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131 + 7) % 256);
  EXPECT_THROW(LoadFromString(garbage, {}), ConfigError);
}

}  // namespace
}  // namespace bro::config

namespace bro::config {
namespace {

TEST(ConfigRedis, UrlFromFileOrRedisUrlWhichWins) {
  const std::string yaml =
      "redis:\n  url: redis://file:6379/1\n  command_timeout: 250ms\n  key_prefix: 'x:'\n";
  const Config from_file = LoadFromString(yaml, {});
  EXPECT_EQ(from_file.redis.url, "redis://file:6379/1");
  EXPECT_EQ(from_file.redis.command_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(from_file.redis.key_prefix, "x:");
  EXPECT_EQ(LoadFromString(yaml, {{"REDIS_URL", "redis://env:6379/0"}}).redis.url,
            "redis://env:6379/0");
  EXPECT_TRUE(LoadFromString("", {}).redis.url.empty());
}

TEST(ConfigRedis, ABadUrlIsNamedWithoutItsPassword) {
  try {
    LoadFromString("", {{"REDIS_URL", "redis://:hunter2@h:99999/0"}});
    FAIL() << "accepted a bad port";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("redis.url"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
  EXPECT_THROW(LoadFromString("", {{"REDIS_URL", "rediss://h:6380"}}), ConfigError);
  EXPECT_THROW(LoadFromString("redis:\n  key_prefix: " + std::string(65, 'p') + "\n", {}),
               ConfigError);
}

// Identity and access: auth.*, auth.oidc, auth.iap, auth.jwt_issuers.
using namespace std::chrono_literals;

const std::string kOidc =
    "auth:\n  oidc:\n    enabled: true\n    issuer: https://id.example.com\n"
    "    client_id: bro\n    redirect_uri: https://bro.example.com/auth/callback\n";

TEST(ConfigAuth, Defaults) {
  const auto c = LoadFromString("", {});
  EXPECT_EQ(c.auth.session_ttl, 8h);
  EXPECT_EQ(c.auth.session_idle_timeout, 1h);
  EXPECT_EQ(c.auth.key_rotation_grace, 24h);
  EXPECT_TRUE(c.auth.cookie_secure);
  EXPECT_FALSE(c.auth.require_mfa_for_admin);
  EXPECT_EQ(c.auth.mfa_amr, (std::vector<std::string>{"mfa", "otp", "hwk", "swk", "sms", "fpt"}));
  EXPECT_FALSE(c.auth.oidc.enabled);
  EXPECT_EQ(c.auth.oidc.issuer, "https://accounts.google.com");
  EXPECT_EQ(c.auth.oidc.algorithms, std::vector<std::string>{"RS256"});
  EXPECT_FALSE(c.auth.iap.enabled);
  EXPECT_EQ(c.auth.iap.issuer, "https://cloud.google.com/iap");
  EXPECT_TRUE(c.auth.jwt_issuers.empty());
}

TEST(ConfigAuth, NestedSectionsAndLists) {
  const auto c = LoadFromString(kOidc +
                                    "    algorithms: [ES256, RS256]\n"
                                    "    allowed_domains: [example.com]\n"
                                    "    default_role: developer\n"
                                    "  mfa_amr: [otp]\n"
                                    "  require_mfa_for_admin: true\n"
                                    "  iap:\n    enabled: true\n    audience: /projects/1/x\n"
                                    "  jwt_issuers:\n"
                                    "    - {issuer: https://a.test, audience: bro, "
                                    "jwks_url: https://a.test/jwks, algorithms: [ES256]}\n",
                                {});
  EXPECT_TRUE(c.auth.oidc.enabled);
  EXPECT_EQ(c.auth.oidc.client_id, "bro");
  EXPECT_EQ(c.auth.oidc.algorithms, (std::vector<std::string>{"ES256", "RS256"}));
  EXPECT_EQ(c.auth.oidc.allowed_domains, std::vector<std::string>{"example.com"});
  EXPECT_EQ(c.auth.oidc.default_role, "developer");
  EXPECT_EQ(c.auth.mfa_amr, std::vector<std::string>{"otp"});
  EXPECT_TRUE(c.auth.iap.enabled);
  ASSERT_EQ(c.auth.jwt_issuers.size(), 1U);
  EXPECT_EQ(c.auth.jwt_issuers[0].algorithms, std::vector<std::string>{"ES256"});
}

TEST(ConfigAuth, UnknownNestedKeysAreNamedInFull) {
  ExpectFailsNaming("auth:\n  oidc:\n    client_idd: x\n", "auth.oidc.client_idd");
  ExpectFailsNaming("auth:\n  iap:\n    audiance: x\n", "auth.iap.audiance");
  ExpectFailsNaming("auth:\n  jwt_issuers:\n    - {issuer: a, bogus: 1}\n",
                    "auth.jwt_issuers[0].bogus");
  ExpectFailsNaming("auth:\n  oidc: yes\n", "auth.oidc");
}

TEST(ConfigAuth, ListsMustBeListsOfScalars) {
  ExpectFailsNaming("auth:\n  mfa_amr: otp\n", "auth.mfa_amr");
  ExpectFailsNaming("auth:\n  mfa_amr: [[otp]]\n", "auth.mfa_amr[0]");
  ExpectFailsNaming("auth:\n  oidc:\n    algorithms: {a: 1}\n", "auth.oidc.algorithms");
}

TEST(ConfigAuth, ValidationNamesTheKey) {
  ExpectFailsNaming("auth:\n  session_ttl: 1h\n  session_idle_timeout: 2h\n",
                    "auth.session_idle_timeout");
  ExpectFailsNaming("auth:\n  require_mfa_for_admin: true\n  mfa_amr: []\n", "auth.mfa_amr");
  ExpectFailsNaming("auth:\n  oidc:\n    algorithms: [HS256]\n", "auth.oidc.algorithms");
  ExpectFailsNaming("auth:\n  oidc:\n    algorithms: [none]\n", "auth.oidc.algorithms");
  ExpectFailsNaming("auth:\n  oidc:\n    default_role: root\n", "auth.oidc.default_role");
  ExpectFailsNaming("auth:\n  oidc:\n    enabled: true\n    redirect_uri: https://b/cb\n",
                    "auth.oidc.client_id");
  ExpectFailsNaming("auth:\n  oidc:\n    enabled: true\n    client_id: x\n",
                    "auth.oidc.redirect_uri");
  ExpectFailsNaming(kOidc + "    client_secret_env: NOPE_SECRET\n", "auth.oidc.client_secret_env");
  ExpectFailsNaming("auth:\n  iap:\n    enabled: true\n", "auth.iap.audience");
  ExpectFailsNaming("auth:\n  jwt_issuers:\n    - {issuer: a, jwks_url: https://a/j}\n",
                    "auth.jwt_issuers[0].audience");
  ExpectFailsNaming(
      "auth:\n  jwt_issuers:\n    - {issuer: a, audience: b, jwks_url: 'not a url'}\n",
      "auth.jwt_issuers[0].jwks_url");
  ExpectFailsNaming("auth:\n  session_ttl: 10ms\n", "auth.session_ttl");
}

TEST(ConfigAuth, SecretFromTheNamedEnvironmentVariable) {
  const auto c =
      LoadFromString(kOidc + "    client_secret_env: OIDC_SECRET\n", {{"OIDC_SECRET", "s3cret"}});
  EXPECT_EQ(c.auth.oidc.client_secret, "s3cret");
}

TEST(ConfigAuth, ScalarsHaveEnvironmentOverrides) {
  const auto c = LoadFromString(kOidc, {{"BRO_AUTH_OIDC_CLIENT_ID", "from-env"},
                                        {"BRO_AUTH_SESSION_TTL", "2h"},
                                        {"BRO_AUTH_IAP_DEFAULT_ROLE", "developer"}});
  EXPECT_EQ(c.auth.oidc.client_id, "from-env");
  EXPECT_EQ(c.auth.session_ttl, 2h);
  EXPECT_EQ(c.auth.iap.default_role, "developer");
  ExpectFailsNaming("", "BRO_AUTH_COOKIE_SECURE (auth.cookie_secure)",
                    {{"BRO_AUTH_COOKIE_SECURE", "maybe"}});
}

}  // namespace
}  // namespace bro::config
