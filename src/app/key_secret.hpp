#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace bro::app {

// Embedded mode's HMAC secret for API keys: read from `path` (next to the SQLite file), or
// generated and written there on first start. Throws when `path` exists but holds no secret
// of at least 32 characters: regenerating it would silently invalidate every API key.
std::string LoadOrCreateKeySecret(const std::filesystem::path& path);

// Writes `content` to a new file that is 0600 from the moment it exists. Refuses (throws) when
// `path` exists, also as a symlink, so that nothing planted there receives the secret.
void CreateSecretFile(const std::filesystem::path& path, std::string_view content);

}  // namespace bro::app
