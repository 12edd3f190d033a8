#include "storage/sql/migrations.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bro::storage {
namespace {

TEST(MigrationsFor, OrdersCommonMigrations) {
  const std::vector<MigrationFile> files = {
      {"common/0002_keys.sql", "K"}, {"common/0001_init.sql", "I"}, {"common/0003_usage.sql", "U"}};
  const auto m = MigrationsFor("sqlite", files);
  ASSERT_EQ(m.size(), 3U);
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(m[0].name, "0001_init");
  EXPECT_EQ(m[0].sql, "I");
  EXPECT_EQ(m[1].version, 2);
  EXPECT_EQ(m[2].version, 3);
  EXPECT_EQ(m[2].sql, "U");
}

TEST(MigrationsFor, DialectFileReplacesCommonOfSameVersion) {
  const std::vector<MigrationFile> files = {{"common/0001_init.sql", "common-1"},
                                            {"common/0002_index.sql", "common-2"},
                                            {"postgres/0002_index.sql", "pg-2"},
                                            {"sqlite/0003_only_sqlite.sql", "lite-3"}};
  const auto pg = MigrationsFor("postgres", files);
  ASSERT_EQ(pg.size(), 2U);
  EXPECT_EQ(pg[0].sql, "common-1");
  EXPECT_EQ(pg[1].sql, "pg-2");
  const auto lite = MigrationsFor("sqlite", files);
  ASSERT_EQ(lite.size(), 3U);
  EXPECT_EQ(lite[1].sql, "common-2");
  EXPECT_EQ(lite[2].sql, "lite-3");
  EXPECT_EQ(lite[2].name, "0003_only_sqlite");
}

TEST(MigrationsFor, OtherDialectsAreIgnored) {
  const std::vector<MigrationFile> files = {{"common/0001_init.sql", "x"},
                                            {"mysql/0002_nope.sql", "y"}};
  EXPECT_EQ(MigrationsFor("sqlite", files).size(), 1U);
}

TEST(MigrationsFor, AllowsGapsBetweenCapabilityRangesButStartsAtOne) {
  const auto m = MigrationsFor("sqlite", {{"common/0020_c.sql", "c"}, {"common/0001_a.sql", "a"}});
  ASSERT_EQ(m.size(), 2U);
  EXPECT_EQ(m[0].version, 1);
  EXPECT_EQ(m[1].version, 20);
  EXPECT_THROW(MigrationsFor("sqlite", {{"common/0002_b.sql", ""}}), DatabaseError)
      << "must start at 1";
}

TEST(MigrationsFor, RejectsDuplicates) {
  EXPECT_THROW(MigrationsFor("sqlite", {{"common/0001_a.sql", ""}, {"common/0001_b.sql", ""}}),
               DatabaseError);
  EXPECT_THROW(
      MigrationsFor("sqlite",
                    {{"common/0001_a.sql", ""}, {"sqlite/0001_a.sql", ""}, {"sqlite/1_b.sql", ""}}),
      DatabaseError);
}

TEST(MigrationsFor, RejectsMalformedNames) {
  for (const std::string path :
       {"0001_init.sql", "common/init.sql", "common/0001init.sql", "common/0001_init.txt",
        "common/0000_zero.sql", "common/-001_neg.sql", "common/_0001.sql"}) {
    const std::vector<MigrationFile> files = {{path, "x"}};
    EXPECT_THROW(MigrationsFor("sqlite", files), DatabaseError) << path;
  }
}

TEST(MigrationsFor, EmptyIsEmpty) {
  EXPECT_TRUE(MigrationsFor("sqlite", {}).empty());
}

TEST(EmbeddedMigrations, AscendFromOneForBothDialects) {
  ASSERT_FALSE(EmbeddedMigrations().empty());
  for (const char* dialect : {"sqlite", "postgres"}) {
    const auto m = MigrationsFor(dialect, EmbeddedMigrations());
    ASSERT_FALSE(m.empty()) << dialect;
    EXPECT_EQ(m.front().version, 1) << dialect;
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(m[i - 1].version, m[i].version) << dialect;
      }
      EXPECT_FALSE(m[i].sql.empty()) << dialect << " " << m[i].name;
    }
  }
}

}  // namespace
}  // namespace bro::storage
