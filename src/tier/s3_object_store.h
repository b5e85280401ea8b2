#pragma once

// s3://bucket[/prefix] over libcurl. Requests are signed with SigV4 by libcurl
// (CURLOPT_AWS_SIGV4, service s3) with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (integrity
// comes from our CRC32C, stored in x-amz-meta-mc-crc32c, and from TLS where used); path-style
// URLs <endpoint>/<bucket>/<prefix>/<object name>. Large objects go up as multipart uploads
// (aborted on failure, so no orphan parts are left behind); reads are range GETs. Every
// request is retried with exponential backoff on connection errors, timeouts, 5xx and 429.

#include <map>
#include <string>
#include <vector>

#include "tier/object_store.h"

namespace mooncake::tier {

class S3ObjectStore final : public ObjectStore {
 public:
  static Result<std::unique_ptr<ObjectStore>> Create(ObjectStoreOptions options);

  const std::string& url() const override { return options_.url; }
  Status Put(const std::string& key, std::span<const char> data) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Status Get(const std::string& key, uint64_t offset, std::span<char> out) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& key_prefix) override;

  struct Request;
  struct Response {
    long http = 0;
    std::string body;                            // unless the request read into a buffer
    std::map<std::string, std::string> headers;  // names lower-cased
  };

 private:
  S3ObjectStore(ObjectStoreOptions options, std::string bucket, std::string prefix)
      : options_(std::move(options)), bucket_(std::move(bucket)), prefix_(std::move(prefix)) {}
  // Runs `request` with retries; `what` names it in errors ("PUT key 'k'").
  Result<Response> Perform(const Request& request, const std::string& what);
  Result<Response> PerformOnce(const Request& request, bool* retryable);
  std::string UrlOf(const std::string& object, const std::string& query) const;
  std::string ObjectOf(const std::string& key) const { return prefix_ + EncodeObjectName(key); }
  std::vector<std::string> MetadataHeaders(const std::string& key, uint64_t size,
                                           uint32_t crc) const;
  Status PutMultipart(const std::string& key, std::span<const char> data,
                      const std::vector<std::string>& metadata);

  const ObjectStoreOptions options_;
  const std::string bucket_;
  const std::string prefix_;  // "" or ending in '/'
};

}  // namespace mooncake::tier
