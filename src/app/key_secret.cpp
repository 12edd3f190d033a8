#include "app/key_secret.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "common/random.hpp"

namespace bro::app {
namespace {

constexpr std::size_t kMinSecretChars = 32;

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string LoadOrCreateKeySecret(const std::filesystem::path& path) {
  if (std::ifstream in(path); in) {
    std::string secret;
    if (std::getline(in, secret) && secret.size() >= kMinSecretChars) return secret;
    throw std::runtime_error(
        "API-key secret file " + path.string() +
        " does not hold a secret of at least 32 characters: restore it, or remove it to have a new "
        "one generated (API keys made with the old one stop working)");
  }
  auto secret = common::HexEncode(common::SecureRandomBytes(32));
  CreateSecretFile(path, secret + '\n');
  return secret;
}

void CreateSecretFile(const std::filesystem::path& path, std::string_view content) {
  // O_EXCL fails on any existing name, a dangling symlink included; O_NOFOLLOW says the same
  // for the last component should O_EXCL ever be dropped. 0600 at creation leaves no window in
  // which the secret is readable by others, as a chmod after writing would.
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    throw std::runtime_error("cannot create the API-key secret file " + path.string() + ": " +
                             std::generic_category().message(err) +
                             (err == EEXIST || err == ELOOP
                                  ? " (refusing to write the secret through an existing file "
                                    "or symlink)"
                                  : ""));
  }
  int err = WriteAll(fd, content) && ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    // A partial secret would be refused at the next start; leave nothing behind instead.
    ::unlink(path.c_str());
    throw std::runtime_error("cannot write the API-key secret file " + path.string() + ": " +
                             std::generic_category().message(err));
  }
}

}  // namespace bro::app
