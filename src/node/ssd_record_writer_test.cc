// SsdRecordWriter on a real SSD file: a written header is what a restart's scan finds, an
// erased one is not, failures are counted rather than returned, and syncs are counted.

#include "node/ssd_record_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store_types/ssd_geometry.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace mooncake::node {
namespace {

constexpr uint64_t kFileBytes = 1 << 20;
constexpr uint64_t kBase = uint64_t{1} << 40;

class SsdRecordWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("ssd_record_writer_test");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    const std::string path = dir_->File("node.ssd");
    auto file = SsdFile::Open(path, kFileBytes);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    file_ = std::move(*file);
    std::filesystem::resize_file(path, kFileBytes);  // as the engine's registration does
    writer_ = std::make_unique<SsdRecordWriter>(*file_, "node/ssd", kBase);
  }

  // What a restart's scan would announce.
  std::vector<ManifestEntry> Scan() {
    auto scan = file_->Scan(kBase, clock_);
    EXPECT_TRUE(scan.ok()) << scan.status().ToString();
    return scan.ok() ? scan->entries : std::vector<ManifestEntry>{};
  }

  static SsdRecordAction Write(const std::string& key, uint64_t offset, uint64_t size) {
    ManifestEntry entry;
    entry.key = key;
    entry.address = kBase + offset;
    entry.length = SsdAllocationBytes(size);
    entry.size = size;
    entry.version = 4;
    entry.checksum = 0xabcdef01;
    return {SsdRecordAction::Kind::kWriteHeader, entry};
  }

  static SsdRecordAction Erase(uint64_t address, uint64_t length) {
    SsdRecordAction erase{SsdRecordAction::Kind::kErase, {}};
    erase.entry.address = address;
    erase.entry.length = length;
    return erase;
  }

  testing::FakeClock clock_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<SsdFile> file_;
  std::unique_ptr<SsdRecordWriter> writer_;
};

TEST_F(SsdRecordWriterTest, AWrittenHeaderIsFoundByTheScanAtItsAddress) {
  const std::vector<SsdRecordAction> actions{Write("a", 0, 100), Write("b", 65536, 9000)};
  writer_->Carry(actions);
  const std::vector<ManifestEntry> found = Scan();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].key, "a");
  EXPECT_EQ(found[0].address, kBase);
  EXPECT_EQ(found[1].key, "b");
  EXPECT_EQ(found[1].address, kBase + 65536);
  EXPECT_EQ(found[1].size, 9000u);
  EXPECT_EQ(found[1].version, 4u);
  EXPECT_EQ(found[1].checksum, 0xabcdef01u);
  EXPECT_EQ(found[1].length, SsdAllocationBytes(9000));
  EXPECT_EQ(writer_->errors(), 0u);
}

TEST_F(SsdRecordWriterTest, AnErasedRecordIsNoLongerFound) {
  writer_->Carry(std::vector{Write("a", 0, 100), Write("b", 65536, 100)});
  writer_->Carry(std::vector{Erase(kBase, kSsdHeaderBytes)});
  const std::vector<ManifestEntry> found = Scan();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].key, "b");
  EXPECT_EQ(writer_->errors(), 0u);
}

TEST_F(SsdRecordWriterTest, AnErasureBelowTheBaseTouchesNothing) {
  writer_->Carry(std::vector{Write("a", 0, 100)});
  // Below the base: no offset of the file (subtracting would wrap around to a huge one).
  writer_->Carry(std::vector{Erase(kBase - kSsdHeaderBytes, 2 * kSsdHeaderBytes)});
  EXPECT_EQ(Scan().size(), 1u);
  EXPECT_EQ(writer_->errors(), 0u);
}

TEST_F(SsdRecordWriterTest, FailuresAreCountedAndTheRestStillCarriedOut) {
  SsdRecordAction too_long = Write(std::string(kSsdMaxKeyBytes + 1, 'k'), 0, 10);
  const std::vector<SsdRecordAction> actions{too_long, Write("past-end", kFileBytes, 10),
                                             Write("ok", 65536, 10)};
  writer_->Carry(actions);
  EXPECT_EQ(writer_->errors(), 2u);
  const std::vector<ManifestEntry> found = Scan();
  ASSERT_EQ(found.size(), 1u) << "a failure stops nothing after it";
  EXPECT_EQ(found[0].key, "ok");
}

TEST_F(SsdRecordWriterTest, EverySyncIsCounted) {
  EXPECT_EQ(writer_->syncs(), 0u);
  writer_->Carry(std::vector{Write("a", 0, 100)});
  writer_->Sync();
  writer_->Sync();
  EXPECT_EQ(writer_->syncs(), 2u);
  EXPECT_EQ(writer_->errors(), 0u);
}

}  // namespace
}  // namespace mooncake::node
