// Embedded mode's files hold API-key hashes, users, usage and the HMAC secret: the data
// directory bro-ai creates is 0700, the SQLite files and the secret 0600, whatever the umask,
// and the secret is never written through a file or symlink that was there before.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "app/app.hpp"
#include "app/key_secret.hpp"
#include "integration/support.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/sqlite_database.hpp"

namespace bro {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The usual umask, so that only the code under test can make the files private.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

// The permission bits in octal ("0600"), for readable failures.
std::string Mode(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return "cannot stat " + p.string();
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return octal;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

void Write(const fs::path& p, const std::string& s) {
  std::ofstream(p) << s;
}

// The error `f` throws, or "" when it throws nothing.
template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

TEST(DataPermissions, AFreshDatabaseAndSecretAreOwnerOnly) {
  ScopedUmask umask(022);
  testing::TempDir tmp;
  const auto dir = tmp.Path() / "var" / "data";
  const auto db_path = dir / "bro.db";
  storage::SqliteDatabase db(db_path.string(), 2, 5s);
  EXPECT_FALSE(db.SharedDirectoryMode());
  boost::asio::io_context ioc;
  testing::RunTask(ioc, [&]() -> Task<void> {
    co_await storage::Migrate(db,
                              storage::MigrationsFor(db.Dialect(), storage::EmbeddedMigrations()));
  }());
  // SQLite keeps -wal and -shm while a connection is open, and deletes them at the last close.
  for (const auto* suffix : {"", "-wal", "-shm"}) {
    const fs::path p = db_path.string() + suffix;
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_EQ(Mode(p), "0600") << p;
  }
  EXPECT_EQ(Mode(dir), "0700");
  EXPECT_EQ(Mode(dir.parent_path()), "0700") << "a missing parent is made private too";

  const auto secret = app::LoadOrCreateKeySecret(dir / "key_secret");
  EXPECT_EQ(secret.size(), 64U);
  EXPECT_EQ(Mode(dir / "key_secret"), "0600");
  EXPECT_EQ(app::LoadOrCreateKeySecret(dir / "key_secret"), secret) << "read back, not replaced";
}

TEST(DataPermissions, AnOperatorsDirectoryIsLeftAloneButReported) {
  ScopedUmask umask(022);
  testing::TempDir tmp;
  const auto shared = tmp.Path() / "shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0);
  storage::SqliteDatabase db((shared / "bro.db").string(), 1, 5s);
  ASSERT_TRUE(db.SharedDirectoryMode());
  EXPECT_EQ(*db.SharedDirectoryMode(), 0755U);
  EXPECT_EQ(Mode(shared), "0755") << "bro-ai must not chmod a directory it did not make";
  EXPECT_EQ(Mode(shared / "bro.db"), "0600");

  const auto private_dir = tmp.Path() / "private";
  ASSERT_EQ(::mkdir(private_dir.c_str(), 0700), 0);
  storage::SqliteDatabase quiet((private_dir / "bro.db").string(), 1, 5s);
  EXPECT_FALSE(quiet.SharedDirectoryMode());
}

TEST(DataPermissions, TheAppWarnsAboutASharedDirectory) {
  ScopedUmask umask(022);
  testing::TempDir tmp;
  const auto shared = tmp.Path() / "shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0);
  const auto log_path = tmp.Path() / "log";
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  {
    config::Config cfg;
    cfg.database.url = "sqlite://" + (shared / "bro.db").string();
    observability::Logger log(cfg.logging, fd);
    EXPECT_EQ(app::App(cfg, log).Migrate(), 0);
  }
  ::close(fd);
  std::ifstream in(log_path);
  const std::string out{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_NE(out.find("\"WARNING\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"mode\":\"0755\""), std::string::npos) << out;
  EXPECT_NE(out.find(shared.string()), std::string::npos) << out;
}

TEST(DataPermissions, TheSecretIsNotWrittenThroughAPlantedSymlink) {
  testing::TempDir tmp;
  const auto link = tmp.Path() / "key_secret";
  const auto dangling = tmp.Path() / "where-the-attacker-reads";
  fs::create_symlink(dangling, link);
  auto error = ErrorOf([&] { app::CreateSecretFile(link, "0123456789abcdef\n"); });
  EXPECT_NE(error.find(link.string()), std::string::npos) << error;
  EXPECT_NE(error.find("refusing"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dangling)) << "the secret was written through the symlink";
  EXPECT_NE(ErrorOf([&] { app::LoadOrCreateKeySecret(link); }), "");
  EXPECT_FALSE(fs::exists(dangling));

  // A symlink to a file the attacker can read: the file keeps its content.
  const auto existing = tmp.Path() / "readable";
  Write(existing, "original");
  fs::remove(link);
  fs::create_symlink(existing, link);
  EXPECT_NE(ErrorOf([&] { app::CreateSecretFile(link, "0123456789abcdef\n"); }), "");
  EXPECT_EQ(Read(existing), "original");
}

TEST(DataPermissions, TheSecretFileIsNeverReplaced) {
  testing::TempDir tmp;
  const auto path = tmp.Path() / "key_secret";
  Write(path, "short");
  auto error = ErrorOf([&] { app::CreateSecretFile(path, "0123456789abcdef\n"); });
  EXPECT_NE(error.find("exists"), std::string::npos) << error;
  EXPECT_EQ(Read(path), "short");

  // Generating a new secret would make every existing API key fail: say so instead.
  error = ErrorOf([&] { app::LoadOrCreateKeySecret(path); });
  EXPECT_NE(error.find("at least 32 characters"), std::string::npos) << error;
  EXPECT_EQ(Read(path), "short");
}

}  // namespace
}  // namespace bro
