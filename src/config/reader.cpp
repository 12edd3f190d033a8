#include "config/reader.hpp"

#include <cctype>
#include <charconv>
#include <fstream>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX name

namespace bro::config {
namespace {

constexpr std::size_t kMaxSecretBytes = 4096;

}  // namespace

[[noreturn]] void Fail(const std::string& key, const std::string& what) {
  throw ConfigError(key + ": " + what);
}

namespace {

template <class Int>
Int ParseInteger(const std::string& key, const std::string& v, Int min, Int max) {
  Int out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size())
    Fail(key, "expected an integer, got '" + v + "'");
  if (out < min || out > max) {
    Fail(key,
         "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + v);
  }
  return out;
}

}  // namespace

int ParseInt(const std::string& key, const std::string& v, int min, int max) {
  return ParseInteger(key, v, min, max);
}

std::int64_t ParseInt64(const std::string& key, const std::string& v, std::int64_t min,
                        std::int64_t max) {
  return ParseInteger(key, v, min, max);
}

double ParseDouble(const std::string& key, const std::string& v, double min, double max) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size() || !(out >= min && out <= max)) {
    Fail(key, "expected a number between " + std::to_string(min) + " and " + std::to_string(max) +
                  ", got '" + v + "'");
  }
  return out;
}

// A non-negative amount of US dollars, at most one billion.
double ParseUsd(const std::string& key, const std::string& v) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size() || !(out >= 0) || out > 1e9)
    Fail(key, "expected an amount of US dollars between 0 and 1e9, got '" + v + "'");
  return out;
}

bool ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  Fail(key, "expected true or false, got '" + v + "'");
}

Duration ParseDur(const std::string& key, const std::string& v, Duration min) {
  auto d = common::ParseDuration(v);
  if (!d) Fail(key, "expected a duration such as 500ms, 30s, 5m, got '" + v + "'");
  if (*d < min) Fail(key, "must be at least " + common::FormatDuration(min));
  return *d;
}

std::uint64_t ParseBytes(const std::string& key, const std::string& v, std::uint64_t min) {
  auto s = common::ParseSize(v);
  if (!s) Fail(key, "expected a size such as 1048576, 16KiB, 8MiB, got '" + v + "'");
  if (*s < min) Fail(key, "must be at least " + std::to_string(min) + " bytes");
  return *s;
}

std::string ScalarOf(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) Fail(key, "expected a scalar value");
  return node.Scalar();
}

std::vector<std::string> StringList(const std::string& key, const YAML::Node& v,
                                    const std::string& what) {
  if (!v.IsSequence()) Fail(key, "expected a list, each item " + what);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) Fail(key + "[" + std::to_string(i) + "]", "expected " + what);
    out.push_back(v[i].Scalar());
  }
  return out;
}

std::string EnvName(const std::string& section, const std::string& key) {
  std::string out = "BRO_" + section + "_" + key;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return out;
}

std::string ReadSecretFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(key, "cannot read secret file '" + path + "'");
  std::string data;
  data.resize(kMaxSecretBytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxSecretBytes) Fail(key, "secret file '" + path + "' is larger than 4 KiB");
  while (!data.empty() && std::isspace(static_cast<unsigned char>(data.back()))) data.pop_back();
  if (data.empty()) Fail(key, "secret file '" + path + "' is empty");
  return data;
}

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

}  // namespace bro::config
