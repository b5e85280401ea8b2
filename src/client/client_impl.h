#pragma once

// The Client behind include/mooncake/store/client.h: a master (MasterApi: the gRPC MasterClient,
// or in unit tests an in-process one) for the index, a Transfer Engine for the bytes, a staging
// buffer for unregistered memory.
//
// Its methods live in: client_impl.cc (creation, transfers, the index calls), client_writes.cc
// (puts), client_reads.cc (gets and the read path), client_ranges.cc (ranged gets),
// client_admin.cc (its own segment, multi-part puts, batch index calls) and
// client_object_tier.cc (the object-storage tier). Every read entry point runs the one read
// pipeline of read_pipeline.h with its own pass.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/location_cache.h"
#include "client/object_slots.h"
#include "client/read_pipeline.h"
#include "client/staging_buffer.h"
#include "client/transfer_runner.h"
#include "master/client/master_api.h"
#include "mooncake/store/client.h"
#include "mooncake/transfer/transfer_engine.h"
#include "node/storage_node.h"
#include "store_types/object_tier.h"
#include "tier/object_store.h"

namespace mooncake::store {

class ClientImpl final : public Client {
 public:
  // Connects to options.master_address over gRPC and starts a Transfer Engine, then Assemble.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  // A client over the given master and engine: pings the master, allocates the staging buffer
  // from `engine`, opens the object tier the master names and mounts the client's own segment
  // (global_segment_size). Unit tests pass an in-process master and engine.
  static Result<std::unique_ptr<ClientImpl>> Assemble(
      ClientOptions options, std::unique_ptr<master::MasterApi> master,
      std::unique_ptr<transfer::TransferEngine> engine);
  ~ClientImpl() override;

  Status Put(const std::string& key, std::span<const uint8_t> value, const ReplicateConfig& config,
             PutMode mode) override;
  Result<std::vector<uint8_t>> Get(const std::string& key) override;
  std::vector<Status> BatchPut(const std::vector<std::string>& keys,
                               const std::vector<std::span<const uint8_t>>& values,
                               const ReplicateConfig& config, PutMode mode) override;
  std::vector<Result<std::vector<uint8_t>>> BatchGet(const std::vector<std::string>& keys) override;

  Status RegisterBuffer(void* address, size_t length) override;
  Status UnregisterBuffer(void* address) override;
  Status PutFrom(const std::string& key, const void* address, size_t length,
                 const ReplicateConfig& config, PutMode mode) override;
  Result<uint64_t> GetInto(const std::string& key, void* address, size_t capacity) override;
  std::vector<Status> BatchPutFrom(const std::vector<std::string>& keys,
                                   const std::vector<const void*>& addresses,
                                   const std::vector<size_t>& lengths,
                                   const ReplicateConfig& config, PutMode mode) override;
  std::vector<Result<uint64_t>> BatchGetInto(const std::vector<std::string>& keys,
                                             const std::vector<void*>& addresses,
                                             const std::vector<size_t>& capacities) override;
  std::vector<Status> GetIntoRanges(const std::vector<GetRange>& ranges) override;

  Status Remove(const std::string& key, RemoveMode mode) override;
  Result<bool> IsExist(const std::string& key) override;
  Result<uint64_t> GetSize(const std::string& key) override;
  std::vector<Result<bool>> BatchIsExist(const std::vector<std::string>& keys) override;
  Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode) override;
  // client_admin.cc:
  Status PutParts(const std::string& key, const std::vector<std::span<const uint8_t>>& parts,
                  const ReplicateConfig& config, PutMode mode) override;
  std::vector<Status> BatchRemove(const std::vector<std::string>& keys, RemoveMode mode) override;
  Result<uint64_t> RemoveAll(RemoveMode mode) override;
  std::vector<Result<uint64_t>> BatchGetSize(const std::vector<std::string>& keys) override;
  Status Ping() override;

  std::string local_hostname() const override;
  ObjectTierStats object_tier_stats() const override;
  ReadIntegrityStats read_integrity_stats() const override;

 private:
  // An object to write from registered memory.
  struct WriteItem {
    std::string key;
    const uint8_t* data = nullptr;
    uint64_t length = 0;
  };
  // A range of an object to read into registered memory.
  struct ReadItem {
    // The object's key (named in errors and corruption reports).
    const std::string* key = nullptr;
    const master::ReplicaListReply* object = nullptr;
    uint64_t offset = 0;
    uint64_t length = 0;
    uint8_t* destination = nullptr;
    // Verify reads from memory (ClientOptions::verify_checksum); reads from SSD are verified
    // whenever the item is checkable.
    bool verify = false;
    // Whether the bytes read can be checked, and the CRC32C they must have: the object's for
    // a whole object; for a part, the CRC32C of the blocks the part touches (block_checksums.h),
    // whose bytes outside the part are read too, into scratch: `head_length` bytes before
    // `offset` into `head`, `tail_length` bytes after the part into `tail`.
    bool checkable = false;
    uint32_t expected_crc = 0;
    uint64_t head_length = 0;
    uint64_t tail_length = 0;
    uint8_t* head = nullptr;
    uint8_t* tail = nullptr;

    // A whole object into `destination`, checkable against the object's CRC32C.
    static ReadItem WholeObject(const std::string* key, const master::ReplicaListReply* object,
                                uint8_t* destination, bool verify) {
      return {key, object, 0, object->size, destination, verify, true, object->checksum};
    }
  };
  ClientImpl(ClientOptions options, std::unique_ptr<master::MasterApi> master,
             std::unique_ptr<transfer::TransferEngine> engine);
  // Assemble's body, given the master's object tier (from its Ping).
  static Result<std::unique_ptr<ClientImpl>> Build(
      ClientOptions options, std::unique_ptr<master::MasterApi> master,
      const ObjectTierConfig& object_tier, std::unique_ptr<transfer::TransferEngine> engine);

  // PutStart for every item in one RPC, the writes of every replica in one transfer batch,
  // then PutEnd / PutRevoke in one RPC each. One status per item.
  // With `upload` (and a write-through object tier), each item is uploaded before PutEnd.
  std::vector<Status> WriteRegistered(const std::vector<WriteItem>& items,
                                      const ReplicateConfig& config, PutMode mode,
                                      bool upload = true);
  // BatchPut's body; `upload` as for WriteRegistered.
  std::vector<Status> PutValues(const std::vector<std::string>& keys,
                                const std::vector<std::span<const uint8_t>>& values,
                                const ReplicateConfig& config, PutMode mode, bool upload);
  // A plain value larger than the staging buffer: PutStart, then the value in staging-sized
  // pieces, then PutEnd (PutRevoke on failure).
  Status PutChunked(const std::string& key, std::span<const uint8_t> value,
                    const ReplicateConfig& config, PutMode mode, bool upload = true);
  // Reads every item, all first attempts in one transfer batch; an item whose transfer (or
  // SSD checksum) failed is retried on the object's next replica, memory replicas before SSD
  // ones (ReplicaReadOrder). One status per item: the last replica's error when all failed.
  std::vector<Status> ReadRegistered(const std::vector<ReadItem>& items);
  // The error of a read of `replica` of `key` whose bytes [span_begin, span_end) had CRC32C
  // `crc` where the put stored `expected`; adds the replica to `reports` for
  // ReportCorruptReplicas.
  struct Mismatch {
    uint32_t crc = 0;
    uint32_t expected = 0;
    uint64_t span_begin = 0;
    uint64_t span_end = 0;
  };
  static Status CorruptReplica(const std::string& key, const master::ReplicaListReply& object,
                               const ReplicaLocation& replica, const Mismatch& mismatch,
                               std::vector<master::CorruptReplicaReport>& reports);
  // GetIntoRanges' read of `range`: checkable (with the edges of the blocks it touches to
  // read into scratch) when reads are verified or the object has an SSD replica.
  ReadItem RangeItem(const GetRange& range, const master::ReplicaListReply& object);
  // Tells the master about replicas a read found corrupt (it drops and re-replicates them);
  // counts and logs them. A failed report is logged, not returned: the read went on anyway.
  void ReportCorruptReplicas(const std::vector<master::CorruptReplicaReport>& reports);
  // BatchGet of one object larger than the staging buffer: each replica in read order, in
  // staging-sized pieces into `value`, until one reads whole with the right checksum.
  // `staging_failed` says the error is this client's staging contention, not the replicas'.
  Status GetChunked(const std::string& key, const master::ReplicaListReply& object,
                    std::vector<uint8_t>& value, bool& staging_failed);
  // Appends the requests moving object bytes [offset, offset + length) of `replica` to/from
  // `local`.
  Status AppendRequests(const ReplicaLocation& replica, uint64_t offset, uint64_t length,
                        uint8_t* local, transfer::TransferOpcode opcode,
                        std::vector<transfer::TransferRequest>& requests);
  // The per-key replica lists: from the location cache where usable (with use_cache), the
  // rest in one master RPC (and cached). `cached[i]` says whether key i came from the cache.
  std::vector<Result<master::ReplicaListReply>> Lookup(const std::vector<std::string>& keys,
                                                       bool use_cache, std::vector<bool>& cached);
  // The passes of BatchGet / BatchGetInto / GetIntoRanges (read_pipeline.h). Every index (of
  // keys, or of ranges) whose read of a located object failed is added to `pass` (stale when
  // the location came from the cache, failed otherwise) and its location dropped from the
  // cache.
  std::vector<Result<std::vector<uint8_t>>> BatchGetOnce(const std::vector<std::string>& keys,
                                                         bool use_cache, ReadPass& pass);
  std::vector<Result<uint64_t>> BatchGetIntoOnce(const std::vector<std::string>& keys,
                                                 const std::vector<void*>& addresses,
                                                 const std::vector<size_t>& capacities,
                                                 bool use_cache, ReadPass& pass);
  std::vector<Status> GetIntoRangesOnce(const std::vector<GetRange>& ranges, bool use_cache,
                                        ReadPass& pass);
  // Records in `pass` that reading index `index` of `key` (located as `object`) failed.
  void NoteReadFailure(ReadPass& pass, size_t index, const std::string& key,
                       const master::ReplicaListReply& object, bool cached);
  // Forgets the cached locations of keys this client just wrote or removed.
  void ForgetLocations(const std::vector<std::string>& keys);
  // With options_.global_segment_size > 0: allocates this client's segment from engine_ and
  // mounts it (node_). client_admin.cc.
  Status MountSegment();

  // ---- Object-storage tier (client_object_tier.cc) ----
  // Opens the object store the master named, if any.
  Status OpenObjectTier(const ObjectTierConfig& config);
  // Uploads a value about to be acknowledged (write-through); OK without a tier.
  Status UploadForPut(const std::string& key, std::span<const uint8_t> value);
  // The object-store entry of a pool miss; nullopt when there is none to read, with
  // `failure` set when looking failed for another reason than absence.
  std::optional<tier::ObjectInfo> FindForReadThrough(const std::string& key, Status* failure);
  // Counts a read-through and its put back into the pool (`promoted`).
  void NotePromotion(const std::string& key, const Status& promoted);
  // Replaces each kObjectNotFound result by the object read from the object store (and put
  // back into the pool).
  void ReadThrough(const std::vector<std::string>& keys, ObjectSlots& slots);
  // Replaces the error of each read in `failed` (every replica failed) by the object read
  // from the object store, when it holds the version the master listed; not put back into
  // the pool (the master still lists replicas of it). Without a tier, or when the store
  // cannot serve it, the replica's error stays (naming the store's failure).
  void FallThrough(const std::vector<std::string>& keys, const std::vector<FailedRead>& failed,
                   ObjectSlots& slots);
  // Reads the whole object `key` as listed in `read` from the object store into
  // `destination` (read.size bytes); kChecksumMismatch when the store holds other bytes.
  Status ReadListedFromObjectTier(const std::string& key, const FailedRead& read,
                                  uint8_t* destination);
  // GetIntoRanges' object tier: each range of a key the pool does not hold
  // (kObjectNotFound), and each range in `failed`, is read from the object store (range
  // GETs; not put back into the pool).
  void ReadRangesThrough(const std::vector<GetRange>& ranges, const std::vector<FailedRead>& failed,
                         std::vector<Status>& results);
  // One range of ReadRangesThrough: as is, or checked (the blocks it touches against
  // `listed`'s table; else the whole object, read once into `whole` and checked by the store).
  Status ReadRangeUnchecked(const std::string& key, const GetRange& range);
  Status ReadRangeChecked(const std::string& key, const GetRange& range,
                          const tier::ObjectInfo& info, const std::optional<FailedRead>& listed,
                          std::vector<char>& whole);
  // Whether `key` exists / its size, given the pool's answer: a key the pool does not hold
  // may be in the object store (it is read through on Get).
  Result<bool> ExistsInObjectTier(const std::string& key, Result<bool> pool);
  Result<uint64_t> SizeInObjectTier(const std::string& key, Result<uint64_t> pool);
  // The outcome of removing `key` everywhere, given the pool's answer.
  Status RemoveFromObjectTier(const std::string& key, const Status& pool);
  // Removes the object store's objects whose keys `match`; returns how many.
  Result<uint64_t> RemoveMatchingFromObjectTier(
      const std::function<bool(const std::string&)>& match);

  const ClientOptions options_;
  std::unique_ptr<master::MasterApi> master_;
  std::unique_ptr<transfer::TransferEngine> engine_;
  std::unique_ptr<TransferRunner> runner_;
  std::unique_ptr<StagingBuffer> staging_;
  LocationCache cache_;
  // Rotates the first replica tried among those of one medium group, spreading readers of
  // one object over its equal replicas (ReplicaReadOrder).
  std::atomic<uint64_t> read_rotation_{0};
  // The segment this client contributes (global_segment_size > 0), served by engine_; stopped
  // (unmounted) before engine_ goes.
  std::unique_ptr<node::StorageNode> node_;
  // The object-storage tier (null when the master names none or policy none), and the
  // master's policy: write-through uploads in the put; write-back leaves it to the nodes.
  std::unique_ptr<tier::ObjectStore> object_store_;
  ObjectTierPolicy object_tier_policy_ = ObjectTierPolicy::kNone;
  std::atomic<uint64_t> uploads_{0}, upload_failures_{0}, read_throughs_{0}, promotions_{0};
  // Replicas whose bytes failed their checksum on a read of this client.
  std::atomic<uint64_t> corrupt_replicas_detected_{0}, failed_corruption_reports_{0};
  // Ranges read unchecked because checking them would need more scratch than staging has.
  std::atomic<uint64_t> unverified_ranges_{0};
};

}  // namespace mooncake::store
