#include "config/config.hpp"

#include <fstream>
#include <set>

#include "config/reader.hpp"
#include "config/schema.hpp"
#include "config/validate.hpp"

// Loading in order: app.yaml through each section's field table (schema.cpp), the environment
// over it through the same tables, then what needs the whole configuration (validate.cpp).
namespace bro::config {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;

}  // namespace

Config LoadFromString(const std::string& yaml_text, const Environment& env) {
  if (yaml_text.size() > kMaxConfigBytes) throw ConfigError("config: file larger than 1 MiB");
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("config: invalid YAML: ") + e.what());
  }
  Config c;
  bool has_catalog = false;
  if (root && !root.IsNull()) {
    if (!root.IsMap()) throw ConfigError("config: the top level must be a mapping");
    // Each top-level section is named once, where it is read; any other key is refused.
    std::set<std::string, std::less<>> known;
    auto section = [&](const char* name) {
      known.emplace(name);
      return root[name];
    };
    auto map = [&](const char* name, const auto& fields, auto& target) {
      ApplyMap(section(name), name, fields, target);
    };
    try {
      map("server", ServerFields(), c.server);
      map("database", DatabaseFields(), c.database);
      map("logging", LoggingFields(), c.logging);
      map("metrics", MetricsFields(), c.metrics);
      map("auth", AuthFields(), c.auth);
      map("usage", UsageFields(), c.usage);
      ApplyLimits(section("limits"), c.limits);
      map("redis", RedisFields(), c.redis);
      map("routing", RoutingFields(), c.routing);
      map("cache", CacheFields(), c.cache);
      c.providers = ApplyList(section("providers"), "providers", ProviderFields());
      c.models = ApplyList(section("models"), "models", ModelFields());
    } catch (const YAML::Exception& e) {
      throw ConfigError(std::string("config: ") + e.what());
    }
    for (const auto& entry : root) {
      const auto name = entry.first.as<std::string>("");
      if (!known.contains(name)) Fail(name, "unknown key");
      if (name == "providers" || name == "models") has_catalog = true;
    }
  }
  if (!has_catalog) {
    // No catalog configured: serve the built-in development model.
    config::ProviderConfig echo;
    echo.name = "echo";
    echo.type = ProviderType::kEcho;
    c.providers.push_back(echo);
    config::ModelConfig model;
    model.name = model.provider = model.upstream_model = "echo";
    c.models.push_back(model);
  }
  ForEachEnvSection(c, [&env](const char* section, const char* /*path*/, const auto& fields,
                              auto& target) { ApplyEnv(env, section, fields, target); });
  if (auto it = env.find("REDIS_URL"); it != env.end() && !it->second.empty()) {
    c.redis.url = it->second;
  }
  if (auto it = env.find("DATABASE_URL"); it != env.end() && !it->second.empty()) {
    c.database.url = it->second;
  } else if (!c.database.url_file.empty()) {
    c.database.url = ReadSecretFile("database.url_file", c.database.url_file);
  }
  Validate(c, env);
  return c;
}

Config LoadFromFile(const std::string& path, const Environment& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config: cannot open '" + path + "'");
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return LoadFromString(text, env);
}

std::vector<std::pair<std::string, std::string>> EnvironmentOverrides() {
  std::vector<std::pair<std::string, std::string>> out;
  Config unused;
  ForEachEnvSection(
      unused, [&out](const char* section, const char* path, const auto& fields, auto& /*target*/) {
        for (const auto& f : fields) {
          out.emplace_back(EnvName(section, f.key), std::string(path) + "." + f.key);
        }
      });
  out.emplace_back("DATABASE_URL", "database.url");
  out.emplace_back("REDIS_URL", "redis.url");
  out.emplace_back("BRO_KEY_SECRET", "auth.key_secret_file (the secret itself)");
  return out;
}

}  // namespace bro::config
