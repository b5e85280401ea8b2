#include "testing/temp_dir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace mooncake::testing {
namespace {

namespace fs = std::filesystem;

TEST(TempDirTest, CreatesAnEmptyPrivateDirectory) {
  Result<TempDir> dir = TempDir::Create("mc_temp_dir_test");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir->path()));
  EXPECT_TRUE(fs::is_empty(dir->path()));
  EXPECT_EQ(fs::path(dir->path()).filename().string().rfind("mc_temp_dir_test.", 0), 0u);
  EXPECT_EQ(fs::status(dir->path()).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST(TempDirTest, TwoDirectoriesDiffer) {
  Result<TempDir> a = TempDir::Create();
  Result<TempDir> b = TempDir::Create();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->path(), b->path());
}

TEST(TempDirTest, DestructorRemovesNestedContents) {
  std::string path;
  {
    Result<TempDir> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok());
    path = dir->path();
    fs::create_directories(path + "/a/b");
    std::ofstream(dir->File("a/b/file.txt")) << "data";
    std::ofstream(dir->File("top.txt")) << "data";
    ASSERT_TRUE(fs::exists(path + "/a/b/file.txt"));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, MoveTransfersOwnership) {
  Result<TempDir> created = TempDir::Create();
  ASSERT_TRUE(created.ok());
  TempDir first = std::move(created).value();
  const std::string path = first.path();
  {
    TempDir second = std::move(first);
    EXPECT_EQ(second.path(), path);
    EXPECT_TRUE(first.path().empty());  // NOLINT(bugprone-use-after-move): documented state.
    EXPECT_TRUE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, MoveAssignmentRemovesTheOldDirectory) {
  Result<TempDir> a = TempDir::Create();
  Result<TempDir> b = TempDir::Create();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string old_path = a->path();
  const std::string new_path = b->path();
  *a = std::move(*b);
  EXPECT_FALSE(fs::exists(old_path));
  EXPECT_EQ(a->path(), new_path);
  EXPECT_TRUE(b->path().empty());  // NOLINT(bugprone-use-after-move): documented state.
  EXPECT_TRUE(fs::exists(new_path));
}

TEST(TempDirTest, HonoursTmpdir) {
  Result<TempDir> parent = TempDir::Create();
  ASSERT_TRUE(parent.ok());
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", parent->path().c_str(), 1);
  Result<TempDir> child = TempDir::Create();
  if (old) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(fs::path(child->path()).parent_path(), fs::path(parent->path()));
}

TEST(TempDirTest, FailsCleanlyWhenTmpdirIsMissing) {
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent/mc_temp_dir_test", 1);
  Result<TempDir> dir = TempDir::Create();
  if (old) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("/nonexistent/mc_temp_dir_test"), std::string::npos);
}

}  // namespace
}  // namespace mooncake::testing
