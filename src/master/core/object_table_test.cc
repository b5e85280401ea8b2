// ObjectTable (open addressing with tombstones) and ObjectRecord's compact replica storage.

#include "master/core/object_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "master/core/object_record.h"

namespace mooncake::master {
namespace {

void ExpectConsistent(const ObjectTable& table) {
  Status s = table.CheckConsistency();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

ReplicaRecord Replica(SegmentId segment, uint64_t address) {
  return ReplicaRecord{address, 4096, segment, segment * 10};
}

TEST(ObjectRecordTest, KeyIsStoredInlineWithTheRecord) {
  const std::string key(300, 'k');
  ObjectRecord* record = ObjectRecord::Create(key);
  EXPECT_EQ(record->key(), key);
  EXPECT_EQ(static_cast<const void*>(record->key().data()), static_cast<const void*>(record + 1));
  EXPECT_TRUE(record->replicas().empty());
  EXPECT_FALSE(record->visible);
  ObjectRecord::Destroy(record);
  // Keys are bytes, NULs included.
  record = ObjectRecord::Create(std::string_view("a\0b", 3));
  EXPECT_EQ(record->key(), std::string_view("a\0b", 3));
  ObjectRecord::Destroy(record);
}

TEST(ObjectRecordTest, SmallFootprint) {
  // The per-object figure in master_core_memory_bench rests on these (LP64).
  EXPECT_LE(sizeof(ObjectRecord), 96u);
  EXPECT_EQ(sizeof(ReplicaRecord), 24u);
}

TEST(ObjectRecordTest, ReplicasGrowShrinkAndKeepTheirOrder) {
  ObjectRecord* record = ObjectRecord::Create("k");
  for (uint32_t i = 0; i < ObjectRecord::kMaxReplicas; ++i) {
    record->AddReplica(Replica(i, 1000 + i));
    ASSERT_EQ(record->replicas().size(), i + 1);
    for (uint32_t j = 0; j <= i; ++j) EXPECT_EQ(record->replicas()[j].segment, j);
  }
  ReplicaRecord* found = record->FindMember(5, 50);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->address, 1005u);
  EXPECT_EQ(record->FindMember(5, 51), nullptr);
  record->EraseReplicaAt(0);
  record->EraseReplicaAt(7);  // was segment 8
  std::vector<SegmentId> left;
  for (const ReplicaRecord& r : record->replicas()) left.push_back(r.segment);
  EXPECT_EQ(left, (std::vector<SegmentId>{1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15}));
  while (record->replicas().size() > 1) record->EraseReplicaAt(record->replicas().size() - 1);
  EXPECT_EQ(record->replicas()[0].segment, 1u);  // back inline
  std::vector<ReplicaRecord> taken = record->TakeReplicas();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_TRUE(record->replicas().empty());
  record->SetReplicas(std::vector<ReplicaRecord>{Replica(3, 1), Replica(4, 2), Replica(5, 3)});
  EXPECT_EQ(record->replicas().size(), 3u);
  // Pending replicas are found too.
  record->pending = std::make_unique<PendingPut>();
  record->pending->replicas.push_back(Replica(9, 99));
  EXPECT_EQ(record->FindMember(9, 90)->address, 99u);
  ObjectRecord::Destroy(record);  // frees the heap array and the pending put (ASan checks)
}

TEST(ObjectTableTest, InsertFindErase) {
  ObjectTable table;
  EXPECT_EQ(table.Find("missing"), nullptr);
  ObjectRecord* a = table.Insert("a");
  ObjectRecord* b = table.Insert("b");
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find("a"), a);
  EXPECT_EQ(table.Find("b"), b);
  EXPECT_EQ(table.Find("c"), nullptr);
  table.Erase(a);
  EXPECT_EQ(table.Find("a"), nullptr);
  EXPECT_EQ(table.Find("b"), b);
  EXPECT_EQ(table.size(), 1u);
  ExpectConsistent(table);
}

TEST(ObjectTableTest, RecordsNeverMoveAcrossGrowth) {
  ObjectTable table;
  std::vector<ObjectRecord*> records;
  for (int i = 0; i < 10000; ++i) records.push_back(table.Insert("key-" + std::to_string(i)));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(table.Find("key-" + std::to_string(i)), records[i]);
  ExpectConsistent(table);
}

TEST(ObjectTableTest, ChurnWithTombstonesStaysConsistentAndBounded) {
  // Insert/erase churn at a steady size: tombstones must be cleaned (in-place rebuilds), so
  // lookups keep terminating and the table does not grow without bound.
  ObjectTable table;
  table.Reserve(1000);
  std::vector<ObjectRecord*> live;
  int next = 0;
  for (int i = 0; i < 1000; ++i) live.push_back(table.Insert("k" + std::to_string(next++)));
  std::mt19937 rng(7);
  for (int round = 0; round < 50000; ++round) {
    const size_t victim = rng() % live.size();
    table.Erase(live[victim]);
    live[victim] = table.Insert("k" + std::to_string(next++));
  }
  ExpectConsistent(table);
  EXPECT_EQ(table.size(), 1000u);
  for (ObjectRecord* record : live) EXPECT_EQ(table.Find(record->key()), record);
  EXPECT_EQ(table.Find("k0"), nullptr);
}

TEST(ObjectTableTest, RandomOperationsAgreeWithAModel) {
  ObjectTable table;
  std::unordered_set<std::string> model;
  std::mt19937 rng(42);
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "key/" + std::to_string(rng() % 700);
    ObjectRecord* found = table.Find(key);
    ASSERT_EQ(found != nullptr, model.count(key) == 1) << key;
    if (found == nullptr) {
      table.Insert(key);
      model.insert(key);
    } else if (rng() % 2 == 0) {
      table.Erase(found);
      model.erase(key);
    }
    ASSERT_EQ(table.size(), model.size());
    if (step % 997 == 0) ExpectConsistent(table);
  }
  size_t visited = 0;
  table.ForEach([&](const ObjectRecord* record) {
    ++visited;
    EXPECT_EQ(model.count(std::string(record->key())), 1u);
  });
  EXPECT_EQ(visited, model.size());
  ExpectConsistent(table);
}

}  // namespace
}  // namespace mooncake::master
