#include "tier/ssd_layout.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "mooncake/common/crc32c.h"
#include "testing/temp_dir.h"

namespace mooncake::tier {
namespace {

std::vector<char> Bytes(size_t n, uint8_t seed) {
  std::vector<char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>((i * 7 + seed) | 1);  // never zero
  return v;
}

// Writes an object as the SSD tier does: data first, then its header.
void WriteRecord(int fd, uint64_t offset, const std::string& key, const std::vector<char>& data,
                 uint64_t version) {
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset + kSsdHeaderBytes)),
            static_cast<ssize_t>(data.size()));
  auto header =
      EncodeSsdHeader(SsdRecord{key, data.size(), version, Crc32c(data.data(), data.size())});
  ASSERT_TRUE(header.ok());
  ASSERT_EQ(::pwrite(fd, header->data(), header->size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(kSsdHeaderBytes));
}

std::vector<ScannedRecord> Scan(int fd, uint64_t size, uint64_t* read = nullptr) {
  std::vector<ScannedRecord> out;
  auto bytes = ScanSsdSegment(fd, size, [&](const ScannedRecord& r) { out.push_back(r); });
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  if (read != nullptr && bytes.ok()) *read = *bytes;
  return out;
}

TEST(SsdLayoutTest, HeaderRoundTripsAndRejectsDamage) {
  SsdRecord r{"model/layer-1", 12345, 42, 0xdeadbeef};
  auto block = EncodeSsdHeader(r);
  ASSERT_TRUE(block.ok());
  ASSERT_EQ(block->size(), kSsdHeaderBytes);
  auto back = DecodeSsdHeader(*block);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->size, r.size);
  EXPECT_EQ(back->version, r.version);
  EXPECT_EQ(back->crc32c, r.crc32c);
  std::vector<char> flipped = *block;
  flipped[70] ^= 1;  // inside the key
  EXPECT_EQ(DecodeSsdHeader(flipped).status().code(), StatusCode::kChecksumMismatch);
  std::vector<char> zero(kSsdHeaderBytes, 0);
  EXPECT_FALSE(DecodeSsdHeader(zero).ok());
  EXPECT_EQ(
      EncodeSsdHeader(SsdRecord{std::string(kSsdMaxKeyBytes + 1, 'k'), 1, 1, 1}).status().code(),
      StatusCode::kInvalidKey);
  // An empty object still takes one data block (as it takes one byte on DRAM).
  EXPECT_EQ(SsdAllocationBytes(0), kSsdHeaderBytes + kSsdBlockBytes);
  EXPECT_EQ(SsdAllocationBytes(1), kSsdHeaderBytes + kSsdBlockBytes);
  EXPECT_EQ(SsdAllocationBytes(8192), kSsdHeaderBytes + 8192);
}

class SsdScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("mc_ssd_layout");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    fd_ = ::open(dir_->File("ssd").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(::ftruncate(fd_, kSize), 0);  // sparse: all hole
  }
  void TearDown() override { ::close(fd_); }

  static constexpr uint64_t kSize = 128 << 20;
  std::unique_ptr<testing::TempDir> dir_;
  int fd_ = -1;
};

TEST_F(SsdScanTest, FindsEveryRecordSkipsHolesDataAndGarbage) {
  // Records packed back to back, one far away, garbage in between, a header whose data would
  // pass the segment's end, and data that itself looks like a header (inside another record).
  std::vector<std::pair<uint64_t, std::string>> placed;
  uint64_t at = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    std::vector<char> data = Bytes(1000 + i * 5000, static_cast<uint8_t>(i));
    if (i == 7) {  // a fake header inside this object's data must not be reported
      auto fake = EncodeSsdHeader(SsdRecord{"fake", 10, 1, 1});
      std::copy(fake->begin(), fake->end(), data.begin());
      data.resize(std::max<size_t>(data.size(), kSsdHeaderBytes * 2));
    }
    WriteRecord(fd_, at, key, data, i + 1);
    placed.emplace_back(at, key);
    at += SsdAllocationBytes(data.size());
  }
  std::vector<char> garbage = Bytes(3 * kSsdBlockBytes, 99);
  ASSERT_EQ(::pwrite(fd_, garbage.data(), garbage.size(), static_cast<off_t>(at)), 3 * 4096);
  WriteRecord(fd_, 40 << 20, "far", Bytes(777, 5), 9);
  placed.emplace_back(40 << 20, "far");
  auto past_end = EncodeSsdHeader(SsdRecord{"too-big", 100 << 20, 1, 1});
  ASSERT_EQ(::pwrite(fd_, past_end->data(), kSsdHeaderBytes, static_cast<off_t>(50 << 20)), 4096);

  uint64_t read = 0;
  std::vector<ScannedRecord> found = Scan(fd_, kSize, &read);
  ASSERT_EQ(found.size(), placed.size());
  for (size_t i = 0; i < placed.size(); ++i) {
    EXPECT_EQ(found[i].offset, placed[i].first) << i;
    EXPECT_EQ(found[i].record.key, placed[i].second) << i;
  }
  EXPECT_EQ(found[3].record.version, 4u);
  // Holes were skipped: far less than the 128 MiB segment was read.
  EXPECT_LT(read, 8u << 20) << "scan read " << read << " bytes";
}

TEST_F(SsdScanTest, ErasedRecordsStayGoneAndTheScanStopsAtTheSegmentSize) {
  WriteRecord(fd_, 0, "a", Bytes(5000, 1), 1);
  WriteRecord(fd_, SsdAllocationBytes(5000), "b", Bytes(5000, 2), 1);
  WriteRecord(fd_, 32 << 20, "beyond", Bytes(10, 3), 1);
  ASSERT_TRUE(EraseSsdRange(fd_, 0, SsdAllocationBytes(5000)).ok());
  std::vector<ScannedRecord> found = Scan(fd_, 16 << 20);  // a segment smaller than the file
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].record.key, "b");
  // After the hole punch the range reads as zeros.
  char c = 1;
  ASSERT_EQ(::pread(fd_, &c, 1, 0), 1);
  EXPECT_EQ(c, 0);
}

TEST_F(SsdScanTest, TenThousandSmallObjectsScanQuickly) {
  // The restart goal: 10 000 objects back in <= 5 s. The scan itself must be a small part.
  std::vector<char> data = Bytes(1024, 3);
  const uint32_t crc = Crc32c(data.data(), data.size());
  std::vector<char> region(SsdAllocationBytes(1024) * 10000, 0);
  for (int i = 0; i < 10000; ++i) {
    char* base = region.data() + SsdAllocationBytes(1024) * i;
    std::copy(data.begin(), data.end(), base + kSsdHeaderBytes);
    auto header = EncodeSsdHeader(SsdRecord{"obj-" + std::to_string(i), 1024, 1, crc});
    std::copy(header->begin(), header->end(), base);
  }
  ASSERT_EQ(::pwrite(fd_, region.data(), region.size(), 0), static_cast<ssize_t>(region.size()));
  const auto start = std::chrono::steady_clock::now();
  std::vector<ScannedRecord> found = Scan(fd_, kSize);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(found.size(), 10000u);
  std::printf("scanned 10000 records in %.3f s\n", seconds);
}

}  // namespace
}  // namespace mooncake::tier
