#include "identity/sessions.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "common/random.hpp"

namespace bro::identity {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;

constexpr std::size_t kIdBytes = 32;
constexpr std::size_t kIdChars = 43;  // base64url of 32 bytes
constexpr std::size_t kMaxRecordBytes = 16 * 1024;

std::string Sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 failed");
  }
  return common::HexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::int64_t Ms(system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

system_clock::time_point FromMs(std::int64_t ms) {
  return system_clock::time_point(milliseconds(ms));
}

std::string RecordKey(const std::string& id) {
  return "session:" + Sha256Hex(id);
}
std::string SeenKey(const std::string& id) {
  return "session-seen:" + Sha256Hex(id);
}

std::string Encode(const SessionData& d) {
  json::array amr;
  for (const auto& a : d.amr) amr.emplace_back(a);
  return json::serialize(json::object{{"user_id", d.user_id},
                                      {"email", d.email},
                                      {"amr", std::move(amr)},
                                      {"mfa", d.mfa},
                                      {"csrf", d.csrf_token},
                                      {"created", Ms(d.created)}});
}

std::optional<SessionData> Decode(const std::string& text) {
  if (text.size() > kMaxRecordBytes) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* user = o.if_contains("user_id");
  const auto* email = o.if_contains("email");
  const auto* csrf = o.if_contains("csrf");
  const auto* created = o.if_contains("created");
  const auto* mfa = o.if_contains("mfa");
  if (user == nullptr || !user->is_string() || email == nullptr || !email->is_string() ||
      csrf == nullptr || !csrf->is_string() || created == nullptr || !created->is_int64() ||
      mfa == nullptr || !mfa->is_bool()) {
    return std::nullopt;
  }
  SessionData d;
  d.user_id = std::string(user->as_string());
  d.email = std::string(email->as_string());
  d.csrf_token = std::string(csrf->as_string());
  d.created = FromMs(created->as_int64());
  d.mfa = mfa->as_bool();
  if (const auto* amr = o.if_contains("amr"); amr != nullptr && amr->is_array()) {
    for (const auto& a : amr->as_array()) {
      if (a.is_string()) d.amr.emplace_back(a.as_string());
    }
  }
  return d;
}

}  // namespace

bool SessionStore::LooksLikeId(std::string_view id) {
  return id.size() == kIdChars && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

Task<SessionStore::Created> SessionStore::Create(SessionData data) {
  Created out;
  out.id = common::Base64Url(common::SecureRandomBytes(kIdBytes));
  data.created = clock_.Now();
  data.csrf_token = common::Base64Url(common::SecureRandomBytes(kIdBytes));
  out.data = data;
  co_await kv_.Set(RecordKey(out.id), Encode(data), options_.absolute_ttl);
  co_await kv_.Set(SeenKey(out.id), std::to_string(Ms(data.created)),
                   std::min(options_.idle_timeout, options_.absolute_ttl));
  co_return out;
}

Task<std::optional<SessionData>> SessionStore::Find(std::string id) {
  if (!LooksLikeId(id)) co_return std::nullopt;
  auto record = co_await kv_.Get(RecordKey(id));
  if (!record) co_return std::nullopt;
  auto data = Decode(*record);
  if (!data) co_return std::nullopt;
  const auto now = clock_.Now();
  if (now >= data->created + options_.absolute_ttl) co_return std::nullopt;
  auto seen_text = co_await kv_.Get(SeenKey(id));
  if (!seen_text) co_return std::nullopt;
  std::int64_t seen_ms = 0;
  try {
    seen_ms = std::stoll(*seen_text);
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
  const auto seen = FromMs(seen_ms);
  if (now >= seen + options_.idle_timeout) co_return std::nullopt;
  // Refresh the idle marker at most every tenth of the idle timeout: one write per session
  // per few minutes, not one per request.
  if (now - seen >= options_.idle_timeout / 10) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(data->created + options_.absolute_ttl - now);
    co_await kv_.Set(SeenKey(id), std::to_string(Ms(now)),
                     std::max(milliseconds(1), std::min(options_.idle_timeout, left)));
  }
  co_return data;
}

Task<void> SessionStore::Destroy(std::string id) {
  if (!LooksLikeId(id)) co_return;
  co_await kv_.Delete(RecordKey(id));
  co_await kv_.Delete(SeenKey(id));
}

}  // namespace bro::identity
