#include "gateway/response_cache.hpp"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <vector>

#include "common/digest.hpp"
#include "common/errors.hpp"

namespace bro::gateway {

namespace json = boost::json;

namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

void AppendCanonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      std::vector<const json::key_value_pair*> entries;
      entries.reserve(o.size());
      for (const auto& kv : o) entries.push_back(&kv);
      std::sort(entries.begin(), entries.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += json::serialize(json::string_view(entries[i]->key()));
        out.push_back(':');
        AppendCanonical(entries[i]->value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendCanonical(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: {
      const double d = v.is_double()  ? v.get_double()
                       : v.is_int64() ? static_cast<double>(v.get_int64())
                                      : static_cast<double>(v.get_uint64());
      if (v.is_int64()) {
        out += std::to_string(v.get_int64());
      } else if (v.is_uint64()) {
        out += std::to_string(v.get_uint64());
      } else if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
        out += std::to_string(static_cast<long long>(d));
      } else {
        std::array<char, 32> buf{};
        auto [p, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
        out.append(buf.data(), ec == std::errc{} ? p : buf.data());
      }
      return;
    }
    default:
      out += json::serialize(v);  // strings (escaped), true, false, null
  }
}

// Stored form: "<s|j> <prompt_tokens> <completion_tokens>\n<body>".
std::string Encode(const CachedAnswer& a) {
  return std::string(a.stream ? "s " : "j ") + std::to_string(a.usage.prompt_tokens) + " " +
         std::to_string(a.usage.completion_tokens) + "\n" + a.body;
}

std::optional<CachedAnswer> Decode(std::string_view s) {
  const auto nl = s.find('\n');
  if (nl == std::string_view::npos || nl < 5 || (s[0] != 's' && s[0] != 'j') || s[1] != ' ') {
    return std::nullopt;
  }
  CachedAnswer a;
  a.stream = s[0] == 's';
  const char* p = s.data() + 2;
  const char* end = s.data() + nl;
  auto r1 = std::from_chars(p, end, a.usage.prompt_tokens);
  if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ' ') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, end, a.usage.completion_tokens);
  if (r2.ec != std::errc{} || r2.ptr != end) return std::nullopt;
  a.body.assign(s.substr(nl + 1));
  return a;
}

void CountLookup(observability::Family<observability::Counter>& f, const std::string& model,
                 const char* result) {
  f.With({model, result}).Inc();
}

void LogStoreError(observability::Logger& log, observability::Counter& errors, const char* op,
                   const std::string& what) {
  errors.Inc();
  log.Warning("response cache unavailable; answering without it",
              {{"operation", op}, {"error", what}});
}

}  // namespace

std::string CanonicalJson(const json::value& v) {
  std::string out;
  AppendCanonical(v, out);
  return out;
}

ResponseCache::ResponseCache(const config::CacheConfig& cfg, storage::kv::KvStore& store,
                             observability::Registry& registry, observability::Logger& log)
    : cfg_(cfg),
      store_(store),
      log_(log),
      lookups_(registry.AddCounter("bro_ai_cache_lookups_total",
                                   "Response cache lookups by public model and result (hit, miss).",
                                   {"model", "result"})),
      errors_(registry
                  .AddCounter("bro_ai_cache_errors_total",
                              "Response cache store failures (treated as misses).")
                  .With({})) {
  registry.AddCallbackGauge("bro_ai_cache_hit_ratio",
                            "Share of response cache lookups that hit, since start.", {}, [this] {
                              double hits = 0;
                              double all = 0;
                              lookups_.ForEach([&](const auto& labels, const auto& c) {
                                all += static_cast<double>(c.Value());
                                if (labels.at(1) == "hit") hits += static_cast<double>(c.Value());
                              });
                              std::vector<observability::GaugeSample> out;
                              out.push_back({{}, all > 0 ? hits / all : 0.0});
                              return out;
                            });
}

std::optional<bool> ResponseCache::Wanted(bool opted_in, std::string_view header) const {
  if (header.empty()) return cfg_.enabled && opted_in;
  if (header == "on") return cfg_.enabled;
  if (header == "off") return false;
  return std::nullopt;
}

std::string ResponseCache::Key(const ChatRequest& request, std::string_view model,
                               std::string_view scope) const {
  std::string material = "v1\n";
  material += scope;
  material += '\n';
  material += model;
  material += '\n';
  material += CanonicalJson(request.body);
  return "cache:" + common::Sha256Hex(material);
}

Task<std::optional<CachedAnswer>> ResponseCache::Lookup(const std::string& key,
                                                        const std::string& model) {
  std::optional<std::string> raw;
  std::string failure;
  try {
    raw = co_await store_.Get(key);
  } catch (const common::InfrastructureError& e) {
    failure = e.what();
  }
  if (!failure.empty()) LogStoreError(log_, errors_, "get", failure);
  std::optional<CachedAnswer> answer;
  if (raw) answer = Decode(*raw);
  CountLookup(lookups_, model, answer ? "hit" : "miss");
  co_return answer;
}

Task<void> ResponseCache::Store(const std::string& key, const CachedAnswer& answer,
                                std::chrono::milliseconds ttl) {
  if (answer.body.size() > cfg_.max_entry_bytes) co_return;
  std::string failure;
  try {
    co_await store_.Set(key, Encode(answer), ttl);
  } catch (const common::InfrastructureError& e) {
    failure = e.what();
  }
  if (!failure.empty()) LogStoreError(log_, errors_, "set", failure);
}

}  // namespace bro::gateway
