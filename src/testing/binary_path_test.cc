#include "testing/binary_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mooncake::testing {
namespace {

// Restores MC_BIN_DIR when a test is done with it.
class BinaryPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("MC_BIN_DIR");
    had_ = old != nullptr;
    if (had_) saved_ = old;
  }
  void TearDown() override {
    if (had_) {
      ::setenv("MC_BIN_DIR", saved_.c_str(), 1);
    } else {
      ::unsetenv("MC_BIN_DIR");
    }
  }

 private:
  bool had_ = false;
  std::string saved_;
};

TEST_F(BinaryPathTest, UsesMcBinDir) {
  ::setenv("MC_BIN_DIR", "/opt/mc/bin/", 1);
  EXPECT_EQ(BinaryPath("mooncake_master"), "/opt/mc/bin/mooncake_master");
}

TEST_F(BinaryPathTest, FallsBackToTheTestBinarysDirectory) {
  ::unsetenv("MC_BIN_DIR");
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_EQ(BinaryPath(self.filename().string()), self.string());
}

}  // namespace
}  // namespace mooncake::testing
