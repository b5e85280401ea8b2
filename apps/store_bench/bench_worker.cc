#include "bench_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "client/client_credentials.h"
#include "tier/object_store_credentials.h"

namespace mooncake::bench {
namespace {

using Clock = std::chrono::steady_clock;

uint8_t PatternByte(int thread, size_t i) { return static_cast<uint8_t>(i * 131 + thread * 7 + 1); }

ReplicateConfig Replicas(int replica_num) {
  ReplicateConfig config;
  config.replica_num = replica_num;
  return config;
}

}  // namespace

size_t KeysPerThread(const BenchOptions& options) {
  if (options.keys > 0) return std::max(options.keys, options.batch_size);
  const size_t fill =
      static_cast<size_t>((uint64_t{64} << 20) / std::max<uint64_t>(options.value_size, 1));
  return std::max(options.batch_size, std::min<size_t>(1024, std::max<size_t>(fill, 1)));
}

double Quantile(std::vector<double>& samples, double q) {
  if (samples.empty()) return 0;
  const size_t index = std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index),
                   samples.end());
  return samples[index];
}

BenchWorker::BenchWorker(const BenchOptions& options, int thread)
    : options_(options), thread_(thread), keys_(KeysPerThread(options)) {}

BenchWorker::~BenchWorker() {
  if (registered_) client_->UnregisterBuffer(buffer_.data()).IgnoreError();
}

std::string BenchWorker::Key(size_t index) const {
  return fmt::format("{}t{}-{:06}", options_.prefix, thread_, index % keys_);
}

Status BenchWorker::Prepare() {
  store::ClientOptions client;
  client.master_address = options_.master;
  client.protocol = options_.protocol;
  client.verify_checksum = options_.verify_checksum;
  client.auth_secret = options_.auth_secret;
  // Values move zero-copy from `buffer_`; the staging buffer is never used.
  client.local_buffer_size = uint64_t{1} << 20;
  store::SetObjectStoreCredentials(tier::CredentialsFromEnvironment(), client);
  MC_ASSIGN_OR_RETURN(client_, store::Client::Create(client));

  const size_t n = options_.batch_size;
  buffer_.resize(n * options_.value_size);
  for (size_t i = 0; i < buffer_.size(); ++i) buffer_[i] = PatternByte(thread_, i);
  MC_RETURN_IF_ERROR(client_->RegisterBuffer(buffer_.data(), buffer_.size()));
  registered_ = true;
  batch_keys_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sources_.push_back(buffer_.data() + i * options_.value_size);
    destinations_.push_back(buffer_.data() + i * options_.value_size);
    lengths_.push_back(options_.value_size);
  }
  if (options_.op != "get") return Status::Ok();

  // Put every key of the ring (in batches), then read the first batch back and verify it.
  for (size_t first = 0; first < keys_; first += n) {
    for (size_t i = 0; i < n; ++i) batch_keys_[i] = Key(first + i);
    const auto results = client_->BatchPutFrom(batch_keys_, sources_, lengths_,
                                               Replicas(options_.replica_num), PutMode::kUpsert);
    for (const Status& s : results) MC_RETURN_IF_ERROR(s.WithContext("preloading keys for get"));
  }
  std::fill(buffer_.begin(), buffer_.end(), 0);
  std::string error;
  if (Call(0, &error) != n) return Status(StatusCode::kInternalError, "first get: " + error);
  // Key i's value is slot i of the buffer as it was put; a range lands at the slot's start.
  const uint64_t length = options_.range_size > 0 ? options_.range_size : options_.value_size;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t from = i * options_.value_size + RangeOffset(i);
    for (uint64_t j = 0; j < length; ++j) {
      if (buffer_[i * options_.value_size + j] != PatternByte(thread_, from + j)) {
        return Status(StatusCode::kInternalError,
                      fmt::format("byte {} of key {} read back differs from what was put",
                                  RangeOffset(i) + j, i));
      }
    }
  }
  return Status::Ok();
}

uint64_t BenchWorker::RangeOffset(size_t call_item) const {
  if (options_.range_size == 0) return 0;
  const uint64_t slots = options_.value_size / options_.range_size;
  return (call_item * 7 % slots) * options_.range_size;
}

size_t BenchWorker::Call(size_t first, std::string* error) {
  const size_t n = options_.batch_size;
  for (size_t i = 0; i < n; ++i) batch_keys_[i] = Key(first + i);
  size_t ok = 0;
  auto note = [&](const Status& s) {
    if (s.ok()) {
      ++ok;
    } else if (error->empty()) {
      *error = s.ToString();
    }
  };
  if (options_.op == "put") {
    const ReplicateConfig config = Replicas(options_.replica_num);
    if (n == 1) {
      note(client_->PutFrom(batch_keys_[0], sources_[0], lengths_[0], config, PutMode::kUpsert));
    } else {
      for (const Status& s :
           client_->BatchPutFrom(batch_keys_, sources_, lengths_, config, PutMode::kUpsert)) {
        note(s);
      }
    }
  } else if (options_.range_size > 0) {
    std::vector<store::GetRange> ranges(n);
    for (size_t i = 0; i < n; ++i) {
      ranges[i] = {batch_keys_[i], RangeOffset(first + i), destinations_[i], options_.range_size};
    }
    for (const Status& s : client_->GetIntoRanges(ranges)) note(s);
  } else if (n == 1) {
    note(client_->GetInto(batch_keys_[0], destinations_[0], lengths_[0]).status());
  } else {
    for (const auto& r : client_->BatchGetInto(batch_keys_, destinations_, lengths_)) {
      note(r.status());
    }
  }
  return ok;
}

WorkerStats BenchWorker::Run(const std::atomic<bool>& stop) {
  WorkerStats stats;
  stats.latency_us.reserve(1 << 16);
  size_t cursor = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const auto start = Clock::now();
    const size_t ok = Call(cursor, &stats.first_error);
    stats.latency_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    stats.ok_ops += ok;
    stats.failed_ops += options_.batch_size - ok;
    cursor += options_.batch_size;
  }
  return stats;
}

Status BenchWorker::RemoveRunKeys() {
  if (client_ == nullptr) return Status(StatusCode::kInternalError, "not connected");
  // The prefix is [a-z0-9-] only: no regex metacharacters to escape.
  return client_->RemoveByRegex("^" + options_.prefix, RemoveMode::kForce).status();
}

}  // namespace mooncake::bench
