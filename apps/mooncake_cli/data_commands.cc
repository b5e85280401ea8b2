// put and get: whole values between a file (or stdin/stdout) and the store. The bytes move
// zero-copy: the value's memory is registered with the client's Transfer Engine and written
// to (read from) the replicas directly, so a large file costs one copy from disk, not three.

#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "client/client_credentials.h"
#include "commands.h"
#include "file_io.h"
#include "mooncake/common/size.h"
#include "mooncake/store/client.h"
#include "progress.h"
#include "tier/object_store_credentials.h"

namespace mooncake::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Buffers registered for zero-copy transfers stay so only for the scope of this guard.
class Registration {
 public:
  Registration(store::Client& client, std::vector<uint8_t>& bytes)
      : client_(client),
        address_(bytes.data()),
        status_(client.RegisterBuffer(address_, bytes.size())) {}
  ~Registration() {
    if (status_.ok()) client_.UnregisterBuffer(address_).IgnoreError();
  }
  const Status& status() const { return status_; }

 private:
  store::Client& client_;
  void* address_;
  Status status_;
};

Result<std::unique_ptr<store::Client>> Connect(const CliOptions& options) {
  store::ClientOptions client;
  client.master_address = options.master;
  client.local_hostname = options.local_hostname;
  client.metadata_server = options.metadata_server;
  client.protocol = options.protocol;
  client.rpc_timeout = options.rpc_timeout;
  client.auth_secret = options.auth_secret;
  // Values move zero-copy from their own registered memory; staging serves only empty values.
  client.local_buffer_size = uint64_t{1} << 20;
  store::SetObjectStoreCredentials(tier::CredentialsFromEnvironment(), client);
  return store::Client::Create(client);
}

void Summarize(const Progress& progress, const char* verb, const std::string& key, uint64_t bytes,
               Clock::time_point start) {
  if (!progress.shown()) return;
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "%s %s: %s in %.2f s (%.0f MB/s)\n", verb, key.c_str(),
               FormatSize(bytes).c_str(), secs, static_cast<double>(bytes) / secs / 1e6);
}

}  // namespace

Outcome RunPut(const CliOptions& options, const PutArgs& args) {
  const auto start = Clock::now();
  Progress progress(KnownSize(args.source));
  std::vector<uint8_t> value;
  if (Outcome read = ReadInput(args.source, value, progress); !read.ok()) return read;

  auto client = Connect(options);
  if (!client.ok()) return FromStatus(client.status(), args.key, options.master);
  ReplicateConfig config;
  config.replica_num = args.replica_num;
  const PutMode mode = args.upsert ? PutMode::kUpsert : PutMode::kCreate;
  progress.Phase("put " + args.key, 0);
  progress.Advance(value.size());
  Status put;
  if (value.empty()) {
    put = (*client)->Put(args.key, {}, config, mode);  // the client decides about empty values
  } else {
    Registration registration(**client, value);
    put = registration.status().ok()
              ? (*client)->PutFrom(args.key, value.data(), value.size(), config, mode)
              : registration.status();
  }
  progress.Finish();
  if (!put.ok()) return FromStatus(put, args.key, options.master);
  Summarize(progress, "put", args.key, value.size(), start);
  return Outcome::Ok();
}

Outcome RunGet(const CliOptions& options, const GetArgs& args) {
  const auto start = Clock::now();
  auto client = Connect(options);
  if (!client.ok()) return FromStatus(client.status(), args.key, options.master);
  // The size first, to size the buffer; an upsert in between may change it, so a value that
  // outgrew the buffer is fetched again at its new size.
  std::vector<uint8_t> value;
  std::unique_ptr<Progress> progress;
  for (int attempt = 0;; ++attempt) {
    auto size = (*client)->GetSize(args.key);
    if (!size.ok()) return FromStatus(size.status(), args.key, options.master);
    if (!progress) progress = std::make_unique<Progress>(*size);
    progress->Phase("get " + args.key, 0);
    progress->Advance(*size);
    if (*size == 0) {
      auto got = (*client)->Get(args.key);
      if (!got.ok()) return FromStatus(got.status(), args.key, options.master);
      value = std::move(*got);
      break;
    }
    value.resize(*size);
    Registration registration(**client, value);
    if (!registration.status().ok()) return FromStatus(registration.status(), "", options.master);
    auto got = (*client)->GetInto(args.key, value.data(), value.size());
    if (got.ok()) {
      value.resize(*got);
      break;
    }
    if (got.status().code() != StatusCode::kBufferOverflow || attempt == 2) {
      return FromStatus(got.status(), args.key, options.master);
    }
  }
  if (Outcome written = WriteOutput(args.destination, value, *progress); !written.ok()) {
    return written;
  }
  progress->Finish();
  Summarize(*progress, "get", args.key, value.size(), start);
  return Outcome::Ok();
}

}  // namespace mooncake::cli
