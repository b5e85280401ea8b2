#include "tier/object_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "testing/temp_dir.h"

namespace mooncake::tier {
namespace {

std::vector<char> Bytes(size_t n, uint8_t seed) {
  std::vector<char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>((i * 31 + seed) & 0xff);
  return v;
}

TEST(ObjectNameTest, RoundTripsEveryByteAndRejectsForeignNames) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (const std::string& key : {std::string("plain-Key.1"), std::string("a/b c_d"), all,
                                 std::string("."), std::string(".."), std::string("_")}) {
    const std::string name = EncodeObjectName(key);
    for (unsigned char c : name) {
      EXPECT_TRUE(std::isalnum(c) || c == '.' || c == '-' || c == '_') << name;
    }
    EXPECT_NE(name, ".");
    EXPECT_NE(name, "..");
    auto back = DecodeObjectName(name);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, key);
  }
  EXPECT_EQ(EncodeObjectName("a/b"), "a_2Fb");
  for (const char* bad : {"", "a_2", "a_zz", "_41", "a b", "a_2f"}) {
    EXPECT_FALSE(DecodeObjectName(bad).ok()) << bad;
  }
}

TEST(ObjectStoreOptionsTest, BadOptionsAreRefusedByName) {
  ObjectStoreOptions o;
  o.url = "ftp://x";
  EXPECT_NE(ObjectStore::Create(o).status().message().find("s3:// or file://"), std::string::npos);
  o.url = "file://relative/dir";
  EXPECT_EQ(ObjectStore::Create(o).status().code(), StatusCode::kInvalidParams);
  o.url = "s3://Bad_Bucket";
  EXPECT_NE(ObjectStore::Create(o).status().message().find("bucket"), std::string::npos);
  o.url = "s3://good-bucket/pre fix";
  EXPECT_EQ(ObjectStore::Create(o).status().code(), StatusCode::kInvalidParams);
  o.url = "s3://good-bucket/prefix";
  o.part_size = 1 << 20;
  EXPECT_EQ(ObjectStore::Create(o).status().code(), StatusCode::kInvalidParams);
  o.part_size = 16 << 20;
  o.endpoint = "127.0.0.1:9000";  // no scheme
  EXPECT_EQ(ObjectStore::Create(o).status().code(), StatusCode::kInvalidParams);
  o.endpoint = "http://127.0.0.1:9000";
  EXPECT_TRUE(ObjectStore::Create(o).ok());
}

class FileObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("mc_objstore");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    ObjectStoreOptions o;
    o.url = "file://" + dir_->path() + "/bucket/prefix";
    auto store = ObjectStore::Create(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(FileObjectStoreTest, PutHeadGetRangeDeleteList) {
  std::vector<char> data = Bytes(100000, 7);
  ASSERT_TRUE(store_->Put("layer/0", data).ok());
  ASSERT_TRUE(store_->Put("layer/1", Bytes(10, 1)).ok());
  ASSERT_TRUE(store_->Put("other", {}).ok());  // empty objects are objects too
  auto info = store_->Head("layer/0");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->key, "layer/0");
  EXPECT_EQ(info->size, 100000u);
  EXPECT_TRUE(info->has_crc32c);
  std::vector<char> whole(100000), part(1000);
  ASSERT_TRUE(store_->Get("layer/0", 0, whole).ok());
  EXPECT_EQ(whole, data);
  ASSERT_TRUE(store_->Get("layer/0", 5000, part).ok());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), data.begin() + 5000));
  EXPECT_EQ(store_->Get("layer/0", 99500, part).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(store_->Get("missing", 0, part).code(), StatusCode::kObjectNotFound);
  EXPECT_EQ(store_->Head("missing").status().code(), StatusCode::kObjectNotFound);

  auto listed = store_->List("layer/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "layer/0");
  EXPECT_EQ((*listed)[1].size, 10u);
  EXPECT_EQ(store_->List("")->size(), 3u);

  ASSERT_TRUE(store_->Put("layer/0", Bytes(3, 3)).ok());  // replace
  EXPECT_EQ(store_->Head("layer/0")->size, 3u);
  ASSERT_TRUE(store_->Delete("layer/0").ok());
  ASSERT_TRUE(store_->Delete("layer/0").ok());  // idempotent
  EXPECT_EQ(store_->List("layer/")->size(), 1u);
  EXPECT_EQ(store_->Put("", Bytes(1, 1)).code(), StatusCode::kInvalidKey);
}

TEST_F(FileObjectStoreTest, AFlippedByteIsReportedNotReturned) {
  std::vector<char> data = Bytes(4096, 9);
  ASSERT_TRUE(store_->Put("k", data).ok());
  const std::string path = dir_->path() + "/bucket/prefix/k";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, 32 + 1 + 100), 1);  // header, key "k", then byte 100
  c ^= 0x40;
  ASSERT_EQ(::pwrite(fd, &c, 1, 32 + 1 + 100), 1);
  ::close(fd);
  std::vector<char> out(4096);
  Status s = store_->Get("k", 0, out);
  EXPECT_EQ(s.code(), StatusCode::kChecksumMismatch) << s.ToString();
  // A truncated file is refused as damaged.
  ASSERT_EQ(::truncate(path.c_str(), 2000), 0);
  EXPECT_EQ(store_->Get("k", 0, out).code(), StatusCode::kFileReadFail);
}

TEST_F(FileObjectStoreTest, ANewStoreOnTheSameDirectorySeesEverything) {
  ASSERT_TRUE(store_
                  ->Put("a\x01"
                        "b",
                        Bytes(77, 2))
                  .ok());
  ObjectStoreOptions o;
  o.url = store_->url();
  auto again = ObjectStore::Create(o);
  ASSERT_TRUE(again.ok());
  auto listed = (*again)->List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, std::string("a\x01"
                                          "b"));
  std::vector<char> out(77);
  EXPECT_TRUE((*again)
                  ->Get("a\x01"
                        "b",
                        0, out)
                  .ok());
  EXPECT_EQ(out, Bytes(77, 2));
}

}  // namespace
}  // namespace mooncake::tier
