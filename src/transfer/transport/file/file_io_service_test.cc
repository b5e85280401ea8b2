#include "transfer/transport/file/file_io_service.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "testing/temp_dir.h"
#include "transfer/transport/file/file_segments.h"
#include "transfer/transport/file/staging_pool.h"

namespace mooncake::transfer::file {
namespace {

constexpr auto kWait = std::chrono::seconds(10);

uint8_t PatternByte(uint64_t i, uint8_t seed) {
  return static_cast<uint8_t>((i * 131 + (i >> 9) * 7 + seed) & 0xff);
}

std::vector<char> Pattern(uint64_t length, uint8_t seed, uint64_t first = 0) {
  std::vector<char> v(length);
  for (uint64_t i = 0; i < length; ++i) v[i] = static_cast<char>(PatternByte(first + i, seed));
  return v;
}

// The whole file as the OS sees it, through a separate buffered descriptor.
std::vector<char> ReadBack(const std::string& path, uint64_t length) {
  std::vector<char> out(length);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, out.data(), length, 0), static_cast<ssize_t>(length));
  ::close(fd);
  return out;
}

void WriteFile(const std::string& path, const std::vector<char>& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

// Runs one request and waits (bounded) for its status.
Status RunOp(FileIoService& io, TransferOpcode opcode, const std::shared_ptr<FileSegment>& segment,
             uint64_t offset, char* buffer, uint64_t length) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> result = promise->get_future();
  FileOp op;
  op.opcode = opcode;
  op.segment = segment;
  op.offset = offset;
  op.buffer = buffer;
  op.length = length;
  op.done = [promise](const Status& s) { promise->set_value(s); };
  io.Submit(std::move(op));
  if (result.wait_for(kWait) != std::future_status::ready) {
    return Status(StatusCode::kRpcTimeout, "file request did not finish within 10 s");
  }
  return result.get();
}

// An aligned buffer, as an O_DIRECT user would bring.
struct AlignedBuffer {
  explicit AlignedBuffer(uint64_t length)
      : data(static_cast<char*>(std::aligned_alloc(
            kDirectAlignment,
            (length + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment))) {}
  ~AlignedBuffer() { std::free(data); }
  char* data;
};

// Parameter: use io_uring (true) or the pread/pwrite fallback (false).
class FileIoServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("mc_file_io");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    FileIoServiceOptions options;
    options.use_io_uring = GetParam();
    options.queue_depth = 8;
    auto io = FileIoService::Create(options);
    ASSERT_TRUE(io.ok()) << io.status().ToString();
    io_ = std::move(*io);
  }

  std::shared_ptr<FileSegment> Open(const std::string& path, uint64_t size, bool direct = true) {
    FileSegmentSpec spec;
    spec.name = "seg";
    spec.path = path;
    spec.size = size;
    spec.direct_io = direct;
    auto segment = FileSegment::Open(spec);
    EXPECT_TRUE(segment.ok()) << segment.status().ToString();
    return segment.ok() ? *segment : nullptr;
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<FileIoService> io_;
};

TEST_P(FileIoServiceTest, AlignedRoundTripOnODirectFile) {
  const uint64_t size = 4 << 20;
  auto segment = Open(dir_->File("a.seg"), size);
  ASSERT_TRUE(segment);
  // /tmp is ext4 here, which accepts O_DIRECT; a tmpfs TMPDIR would take the buffered path.
  if (!segment->direct()) GTEST_SKIP() << "TMPDIR refuses O_DIRECT; covered by BufferedFallback";
  std::vector<char> data = Pattern(1 << 20, 3);
  AlignedBuffer out(1 << 20), in(1 << 20);
  std::memcpy(out.data, data.data(), data.size());
  ASSERT_TRUE(RunOp(*io_, TransferOpcode::kWrite, segment, 1 << 20, out.data, 1 << 20).ok());
  ASSERT_TRUE(RunOp(*io_, TransferOpcode::kRead, segment, 1 << 20, in.data, 1 << 20).ok());
  EXPECT_EQ(std::memcmp(in.data, data.data(), data.size()), 0);
  std::vector<char> disk = ReadBack(dir_->File("a.seg"), size);
  EXPECT_EQ(std::memcmp(disk.data() + (1 << 20), data.data(), data.size()), 0);
  EXPECT_EQ(io_->stats().bounced, 0u);
  EXPECT_EQ(io_->stats().bytes_written, 1u << 20);
}

TEST_P(FileIoServiceTest, UnalignedWritesKeepTheirNeighbours) {
  const uint64_t size = 64 << 10;
  const std::string path = dir_->File("u.seg");
  std::vector<char> expected = Pattern(size, 9);
  WriteFile(path, expected);
  auto segment = Open(path, size);
  ASSERT_TRUE(segment);
  struct Range {
    uint64_t offset, length;
  };
  // Inside one block, across one edge, across several blocks, ending at the file's end.
  for (Range r : {Range{1, 10}, Range{4090, 20}, Range{5000, 3 * 4096 + 17}, Range{size - 7, 7},
                  Range{0, 4095}}) {
    std::vector<char> data = Pattern(r.length, static_cast<uint8_t>(r.offset));
    std::memcpy(expected.data() + r.offset, data.data(), r.length);
    ASSERT_TRUE(RunOp(*io_, TransferOpcode::kWrite, segment, r.offset, data.data(), r.length).ok())
        << r.offset << "+" << r.length;
  }
  EXPECT_EQ(ReadBack(path, size), expected);
  // And unaligned reads (unaligned buffer, offset and length) see the same bytes.
  std::vector<char> in(20000 + 1);
  ASSERT_TRUE(RunOp(*io_, TransferOpcode::kRead, segment, 4001, in.data() + 1, 20000).ok());
  EXPECT_EQ(std::memcmp(in.data() + 1, expected.data() + 4001, 20000), 0);
  if (segment->direct()) {
    EXPECT_GE(io_->stats().bounced, 6u);
  }
}

TEST_P(FileIoServiceTest, ConcurrentReadersAllGetTheirBytes) {
  const uint64_t size = 8 << 20;
  const std::string path = dir_->File("c.seg");
  std::vector<char> content = Pattern(size, 21);
  WriteFile(path, content);
  auto segment = Open(path, size);
  ASSERT_TRUE(segment);
  // More requests than the ring's depth (8), mixing aligned and unaligned ones.
  constexpr int kRequests = 64;
  std::vector<std::vector<char>> buffers(kRequests);
  std::vector<std::future<Status>> results;
  std::vector<uint64_t> offsets;
  for (int i = 0; i < kRequests; ++i) {
    const uint64_t offset =
        (static_cast<uint64_t>(i) * 127 * 1024 + (i % 3) * 1000) % (size - 70000);
    const uint64_t length = 65536 + (i % 2) * 333;
    offsets.push_back(offset);
    buffers[i].resize(length);
    auto promise = std::make_shared<std::promise<Status>>();
    results.push_back(promise->get_future());
    FileOp op;
    op.opcode = TransferOpcode::kRead;
    op.segment = segment;
    op.offset = offset;
    op.buffer = buffers[i].data();
    op.length = length;
    op.done = [promise](const Status& s) { promise->set_value(s); };
    io_->Submit(std::move(op));
  }
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(results[i].wait_for(kWait), std::future_status::ready) << i;
    ASSERT_TRUE(results[i].get().ok()) << i;
    EXPECT_EQ(std::memcmp(buffers[i].data(), content.data() + offsets[i], buffers[i].size()), 0)
        << "request " << i;
  }
}

TEST_P(FileIoServiceTest, RangePastTheEndIsRefusedWithoutIo) {
  auto segment = Open(dir_->File("e.seg"), 10000);
  ASSERT_TRUE(segment);
  std::vector<char> buffer(8192);
  Status s = RunOp(*io_, TransferOpcode::kRead, segment, 9000, buffer.data(), 1001);
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  EXPECT_NE(s.message().find("past the end"), std::string::npos) << s.ToString();
  s = RunOp(*io_, TransferOpcode::kWrite, segment, ~uint64_t{0} - 10, buffer.data(), 100);
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams);
  // The last bytes exactly are fine.
  EXPECT_TRUE(RunOp(*io_, TransferOpcode::kRead, segment, 9000, buffer.data(), 1000).ok());
  EXPECT_EQ(io_->stats().reads, 1u);
}

TEST_P(FileIoServiceTest, FileTruncatedUnderTheReaderFailsCleanly) {
  const uint64_t size = 1 << 20;
  const std::string path = dir_->File("t.seg");
  WriteFile(path, Pattern(size, 5));
  auto segment = Open(path, size);
  ASSERT_TRUE(segment);
  ASSERT_EQ(::truncate(path.c_str(), 8192), 0);  // someone else shrinks it
  AlignedBuffer buffer(65536);
  Status s = RunOp(*io_, TransferOpcode::kRead, segment, 512 << 10, buffer.data, 65536);
  EXPECT_EQ(s.code(), StatusCode::kFileReadFail) << s.ToString();
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  // A read that straddles the new end fails too; one before it still works.
  s = RunOp(*io_, TransferOpcode::kRead, segment, 4096, buffer.data, 8192);
  EXPECT_EQ(s.code(), StatusCode::kFileReadFail) << s.ToString();
  EXPECT_TRUE(RunOp(*io_, TransferOpcode::kRead, segment, 0, buffer.data, 8192).ok());
  EXPECT_EQ(io_->stats().failed, 2u);
}

TEST_P(FileIoServiceTest, BufferedSegmentNeedsNoAlignment) {
  // What a filesystem that refuses O_DIRECT gets (tmpfs before Linux 6.6, some FUSE and
  // network filesystems): the same requests, buffered, with no bounce buffers.
  auto segment = Open(dir_->File("b.seg"), 100000, /*direct=*/false);
  ASSERT_TRUE(segment);
  EXPECT_FALSE(segment->direct());
  std::vector<char> data = Pattern(777, 1);
  std::vector<char> in(777);
  ASSERT_TRUE(RunOp(*io_, TransferOpcode::kWrite, segment, 12345, data.data(), 777).ok());
  ASSERT_TRUE(RunOp(*io_, TransferOpcode::kRead, segment, 12345, in.data(), 777).ok());
  EXPECT_EQ(in, data);
  EXPECT_EQ(io_->stats().bounced, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, FileIoServiceTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "io_uring" : "pread"; });

TEST(StagingPoolTest, RecyclesAlignedBuffersWithinItsBound) {
  auto pool = StagingPool::Create(/*max_cached_bytes=*/2 << 20);
  char* first = nullptr;
  {
    std::shared_ptr<char> a = pool->Acquire(1 << 20);
    ASSERT_TRUE(a);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.get()) % kDirectAlignment, 0u);
    first = a.get();
  }
  EXPECT_EQ(pool->cached_bytes(), 1u << 20);
  std::shared_ptr<char> again = pool->Acquire(1000 * 1000);  // same power-of-two class
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool->cached_bytes(), 0u);
  {  // Three idle MiB-buffers do not fit a 2 MiB bound: one is freed.
    auto x = pool->Acquire(1 << 20), y = pool->Acquire(1 << 20), z = pool->Acquire(1 << 20);
  }
  EXPECT_EQ(pool->cached_bytes(), 2u << 20);
  // A buffer outliving the last outside reference to its pool still goes home safely.
  std::shared_ptr<char> late = pool->Acquire(4096);
  pool.reset();
  late.reset();
}

TEST(FileSegmentTest, OpenRefusesWhatItCannotServe) {
  auto dir = testing::TempDir::Create("mc_file_seg");
  ASSERT_TRUE(dir.ok());
  FileSegmentSpec spec;
  spec.name = "x";
  spec.path = dir->path();  // a directory
  EXPECT_EQ(FileSegment::Open(spec).status().code(), StatusCode::kInvalidParams);
  spec.path = dir->File("missing/deeper");  // parent does not exist
  EXPECT_EQ(FileSegment::Open(spec).status().code(), StatusCode::kFileNotFound);
  spec.path = dir->File("empty");
  spec.size = 0;  // 0 = current size, and the new file is empty
  Status s = FileSegment::Open(spec).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidParams) << s.ToString();
  spec.name = "a/b";
  spec.size = 4096;
  EXPECT_EQ(FileSegment::Open(spec).status().code(), StatusCode::kInvalidParams);
}

TEST(FileSegmentTest, ShortFileIsExtendedSparse) {
  auto dir = testing::TempDir::Create("mc_file_seg");
  ASSERT_TRUE(dir.ok());
  FileSegmentSpec spec;
  spec.name = "s";
  spec.path = dir->File("s.seg");
  spec.size = 10000;
  auto segment = FileSegment::Open(spec);
  ASSERT_TRUE(segment.ok()) << segment.status().ToString();
  EXPECT_EQ((*segment)->size(), 10000u);
  struct stat st {};
  ASSERT_EQ(::stat(spec.path.c_str(), &st), 0);
  EXPECT_GE(static_cast<uint64_t>(st.st_size), 10000u);
  // Re-opening with size 0 takes the file's size.
  spec.size = 0;
  segment = FileSegment::Open(spec);
  ASSERT_TRUE(segment.ok());
  EXPECT_EQ((*segment)->size(), static_cast<uint64_t>(st.st_size));
}

TEST(FileSegmentsTest, AddressesNamesAndUnregister) {
  auto dir = testing::TempDir::Create("mc_file_segs");
  ASSERT_TRUE(dir.ok());
  FileSegments files;
  FileSegmentSpec spec{"one", dir->File("one"), 1 << 20, true};
  auto base = files.Register(spec);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  EXPECT_NE(*base & kFileAddressBase, 0u);
  EXPECT_EQ(files.Register(spec).status().code(), StatusCode::kSegmentAlreadyExists);
  auto base2 = files.Register(FileSegmentSpec{"two", dir->File("two"), 4096, true});
  ASSERT_TRUE(base2.ok());
  EXPECT_NE(*base, *base2);
  EXPECT_TRUE(files.Contains(*base, 1 << 20));
  EXPECT_FALSE(files.Contains(*base, (1 << 20) + 1));
  EXPECT_FALSE(files.Contains(*base2 + 1, 4096));
  EXPECT_FALSE(files.Contains(0x1000, 16));  // memory-like addresses are never files
  std::vector<BufferDescriptor> snapshot = files.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].location, "file:one");
  EXPECT_EQ(snapshot[0].length, 1u << 20);
  SegmentDescriptor d;
  d.buffers = snapshot;
  EXPECT_EQ(d.FindFileSegment("two"), 1);
  EXPECT_EQ(d.FindFileSegment("tw"), -1);

  // A request through the table lands in the file.
  std::vector<char> data = Pattern(100, 4);
  std::promise<Status> wrote;
  files.Submit(TransferOpcode::kWrite, *base + 5000, data.data(), data.size(),
               [&](const Status& s) { wrote.set_value(s); });
  ASSERT_EQ(wrote.get_future().wait_for(kWait), std::future_status::ready);
  std::vector<char> disk = ReadBack(dir->File("one"), 5100);
  EXPECT_EQ(std::memcmp(disk.data() + 5000, data.data(), 100), 0);

  ASSERT_TRUE(files.Unregister("one").ok());
  EXPECT_EQ(files.Unregister("one").code(), StatusCode::kSegmentNotFound);
  EXPECT_FALSE(files.Contains(*base, 1));
  std::promise<Status> refused;
  files.Submit(TransferOpcode::kRead, *base, data.data(), 10,
               [&](const Status& s) { refused.set_value(s); });
  EXPECT_EQ(refused.get_future().get().code(), StatusCode::kInvalidParams);
  // A new registration never reuses the old range.
  auto base3 = files.Register(FileSegmentSpec{"one", dir->File("one"), 1 << 20, true});
  ASSERT_TRUE(base3.ok());
  EXPECT_NE(*base3, *base);
}

}  // namespace
}  // namespace mooncake::transfer::file
