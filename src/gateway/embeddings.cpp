#include "gateway/embeddings.hpp"

#include <bit>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/random.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;

ApiError Invalid(std::string message, std::string param = {}, std::string code = {}) {
  return InvalidRequest(std::move(message), std::move(param), std::move(code));
}

std::optional<ApiError> CheckText(const json::value& v, const std::string& at,
                                  std::vector<std::string>& out) {
  if (v.is_number()) {
    return Invalid("Token arrays are not supported: send the input as text.", at,
                   "unsupported_value");
  }
  if (!v.is_string()) return Invalid("Each input must be a string.", at);
  if (v.as_string().empty()) return Invalid("An input must not be empty.", at);
  if (v.as_string().size() > kMaxEmbeddingInputBytes) {
    return Invalid("An input is longer than " + std::to_string(kMaxEmbeddingInputBytes) + " bytes.",
                   at);
  }
  out.emplace_back(v.as_string());
  return std::nullopt;
}

// SplitMix64: a tiny, well-mixed generator, so echo vectors are the same on every platform.
std::uint64_t SplitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::variant<EmbeddingRequest, ApiError> ParseEmbeddingRequest(std::string_view body) {
  auto parsed = ParseModelRequest<EmbeddingRequest>(body, 16);
  if (auto* e = std::get_if<ApiError>(&parsed)) return std::move(*e);
  EmbeddingRequest req = std::move(std::get<EmbeddingRequest>(parsed));
  const auto& o = req.body;

  const auto* input = o.if_contains("input");
  if (input == nullptr || input->is_null())
    return Invalid("Missing required parameter: 'input'.", "input");
  if (input->is_array()) {
    const auto& items = input->as_array();
    if (items.empty()) return Invalid("'input' must not be an empty array.", "input");
    if (items.size() > kMaxEmbeddingInputs) {
      return Invalid("'input' has " + std::to_string(items.size()) + " items; at most " +
                         std::to_string(kMaxEmbeddingInputs) + " are allowed.",
                     "input");
    }
    req.inputs.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string at = "input[" + std::to_string(i) + "]";
      if (items[i].is_array()) {
        return Invalid("Token arrays are not supported: send the input as text.", at,
                       "unsupported_value");
      }
      if (auto e = CheckText(items[i], at, req.inputs)) return *e;
    }
  } else if (auto e = CheckText(*input, "input", req.inputs)) {
    return *e;
  }

  if (const auto* f = o.if_contains("encoding_format"); f != nullptr && !f->is_null()) {
    if (!f->is_string() || (f->as_string() != "float" && f->as_string() != "base64")) {
      return Invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
    }
    req.base64 = f->as_string() == "base64";
  }
  if (const auto* d = o.if_contains("dimensions"); d != nullptr && !d->is_null()) {
    const bool integer = d->is_int64() || d->is_uint64();
    if (!integer || (d->is_int64() && d->as_int64() < 1) ||
        (d->is_uint64() && d->as_uint64() > static_cast<std::uint64_t>(kMaxEmbeddingDimensions)) ||
        (d->is_int64() && d->as_int64() > kMaxEmbeddingDimensions)) {
      return Invalid("'dimensions' must be an integer between 1 and " +
                         std::to_string(kMaxEmbeddingDimensions) + ".",
                     "dimensions");
    }
    req.dimensions = d->to_number<std::int64_t>();
    const auto values = static_cast<std::size_t>(*req.dimensions) * req.inputs.size();
    if (values > kMaxEmbeddingValues) {
      return Invalid("'dimensions' (" + std::to_string(*req.dimensions) + ") times the " +
                         std::to_string(req.inputs.size()) + " inputs asks for " +
                         std::to_string(values) + " values; at most " +
                         std::to_string(kMaxEmbeddingValues) +
                         " are allowed per request. Send fewer inputs or dimensions.",
                     "dimensions");
    }
  }
  if (const auto* u = o.if_contains("user"); u != nullptr && !u->is_null() && !u->is_string()) {
    return Invalid("'user' must be a string.", "user");
  }
  return req;
}

std::string EmbeddingResponse(const std::vector<std::vector<float>>& vectors,
                              const std::string& model, std::int64_t prompt_tokens, bool base64) {
  // Written straight into one string (no JSON tree: that held ~40 bytes per number), with each
  // float in its shortest round-trip form as OpenAI sends them.
  std::size_t values = 0;
  for (const auto& v : vectors) values += v.size();
  std::string out;
  out.reserve(128 + vectors.size() * 48 + values * (base64 ? 6 : 12) + model.size());
  out += R"({"object":"list","data":[)";
  std::string bytes;
  char number[32];
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    if (i != 0) out += ',';
    out += R"({"object":"embedding","index":)";
    out += std::to_string(i);
    out += R"(,"embedding":)";
    if (base64) {
      bytes.assign(vectors[i].size() * sizeof(float), '\0');
      for (std::size_t k = 0; k < vectors[i].size(); ++k) {
        auto bits = std::bit_cast<std::uint32_t>(vectors[i][k]);
        if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
        std::memcpy(bytes.data() + k * sizeof(float), &bits, sizeof bits);
      }
      out += '"';
      out += common::Base64(bytes);
      out += '"';
    } else {
      out += '[';
      for (std::size_t k = 0; k < vectors[i].size(); ++k) {
        if (k != 0) out += ',';
        const float x = std::isfinite(vectors[i][k]) ? vectors[i][k] : 0.0F;
        const auto [end, ec] = std::to_chars(number, number + sizeof number, x);
        const std::string_view text(number, ec == std::errc() ? end - number : 0);
        out += text;
        // Whole values ("1", "-0") stay JSON floats, as OpenAI writes them.
        if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)";
  out += json::serialize(json::value(model));
  out += R"(,"usage":{"prompt_tokens":)";
  out += std::to_string(prompt_tokens);
  out += R"(,"total_tokens":)";
  out += std::to_string(prompt_tokens);
  out += "}}";
  return out;
}

std::vector<float> EchoEmbedding(std::string_view text, std::size_t dimensions) {
  std::uint64_t state = 0xcbf29ce484222325ULL;  // FNV-1a over the text seeds the generator
  for (unsigned char ch : text) state = (state ^ ch) * 0x100000001b3ULL;
  std::vector<double> raw(dimensions);
  double norm = 0;
  for (auto& x : raw) {
    x = static_cast<double>(SplitMix(state) >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;
    norm += x * x;
  }
  norm = std::sqrt(norm);
  std::vector<float> out(dimensions);
  for (std::size_t i = 0; i < dimensions; ++i) {
    out[i] = static_cast<float>(norm > 0 ? raw[i] / norm : 1.0 / std::sqrt(dimensions));
  }
  return out;
}

}  // namespace bro::gateway
