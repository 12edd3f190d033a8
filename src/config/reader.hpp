#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

// The generic half of loading, for src/config/ only. A section is a table of fields, each a key
// with a function that checks its value and sets one member; one table reads both app.yaml and
// the environment (BRO_<SECTION>_<KEY>), so the two cannot drift apart. Every failure is a
// ConfigError whose message starts with the key.
namespace bro::config {

[[noreturn]] void Fail(const std::string& key, const std::string& what);

int ParseInt(const std::string& key, const std::string& v, int min, int max);
std::int64_t ParseInt64(const std::string& key, const std::string& v, std::int64_t min,
                        std::int64_t max);
double ParseDouble(const std::string& key, const std::string& v, double min, double max);
double ParseUsd(const std::string& key, const std::string& v);  // 0 to one billion dollars
bool ParseBool(const std::string& key, const std::string& v);
Duration ParseDur(const std::string& key, const std::string& v, Duration min);
std::uint64_t ParseBytes(const std::string& key, const std::string& v, std::uint64_t min);

// A secret file's content without trailing whitespace; missing, empty or over 4 KiB fails.
std::string ReadSecretFile(const std::string& key, const std::string& path);

template <class Target>
struct Field {
  std::string key;
  std::function<void(Target&, const std::string& full_key, const std::string& value)> set;
  // For a key whose value is a list or mapping (then `set` is empty).
  std::function<void(Target&, const std::string& full_key, const YAML::Node& value)> node = {};
};

template <class Target>
using Fields = std::vector<Field<Target>>;

// One value of an enumerated setting and its spelling.
template <class E>
struct Spelling {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
std::string_view NameOf(E value, const std::array<Spelling<E>, N>& spellings) {
  for (const auto& s : spellings) {
    if (s.value == value) return s.name;
  }
  return {};
}

// The value spelled `v`; otherwise the message lists the spellings ("expected a, b or c").
template <class E, std::size_t N>
E ParseEnum(const std::string& key, const std::string& v,
            const std::array<Spelling<E>, N>& spellings) {
  std::string expected;
  for (std::size_t i = 0; i < N; ++i) {
    if (spellings[i].name == v) return spellings[i].value;
    if (i > 0) expected += i + 1 == N ? " or " : ", ";
    expected += spellings[i].name;
  }
  Fail(key, "expected " + expected + ", got '" + v + "'");
}

std::string ScalarOf(const YAML::Node& node, const std::string& key);

// A YAML sequence of scalars (model names, algorithms, domains); `what` names one item.
std::vector<std::string> StringList(const std::string& key, const YAML::Node& v,
                                    const std::string& what);

// BRO_<SECTION>_<KEY>, upper case.
std::string EnvName(const std::string& section, const std::string& key);

// Reads a mapping into `out`; a key the table does not know is refused, a null value is skipped.
template <class Target>
void ApplyMap(const YAML::Node& map, const std::string& prefix, const Fields<Target>& fields,
              Target& out) {
  if (!map) return;
  if (map.IsNull()) return;
  if (!map.IsMap()) Fail(prefix, "expected a mapping");
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) Fail(prefix, "keys must be strings");
    const std::string name = entry.first.Scalar();
    std::string full = prefix;
    full += '.';
    full += name;
    auto it =
        std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.key == name; });
    if (it == fields.end()) Fail(full, "unknown key");
    if (entry.second.IsNull()) continue;
    if (it->node) {
      it->node(out, full, entry.second);
    } else {
      it->set(out, full, ScalarOf(entry.second, full));
    }
  }
}

template <class Target>
std::vector<Target> ApplyList(const YAML::Node& list, const std::string& prefix,
                              const Fields<Target>& fields) {
  std::vector<Target> out;
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) Fail(prefix, "expected a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Target t;
    ApplyMap(list[i], prefix + "[" + std::to_string(i) + "]", fields, t);
    out.push_back(std::move(t));
  }
  return out;
}

// The scalar keys of one section from the environment; a failure names the variable and the key.
template <class Target>
void ApplyEnv(const Environment& env, const std::string& section, const Fields<Target>& fields,
              Target& out) {
  for (const auto& f : fields) {
    if (!f.set) continue;  // lists and mappings come from the file only
    auto name = EnvName(section, f.key);
    if (auto it = env.find(name); it != env.end()) {
      std::string label = name;
      label += " (" + section;
      label += '.';
      label += f.key;
      label += ')';
      f.set(out, label, it->second);
    }
  }
}

}  // namespace bro::config
