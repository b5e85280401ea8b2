// The S3 object store's ObjectStore calls, each one or more requests: Put (a single PUT, or a
// multipart upload sent in parallel parts and aborted on failure), Head, Get (ranged GETs in
// parallel pieces, checked against the stored CRC32C), Delete and List (paged).

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "tier/s3_object_store.h"
#include "tier/s3_object_store_internal.h"

namespace mooncake::tier {
namespace {

constexpr int kMaxListPages = 100000;

// RFC 3986 unreserved characters stay, everything else %XX: SigV4's canonical encoding.
std::string UriEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Runs fn(0) .. fn(n - 1) on up to `parallelism` threads (the caller's among them) and returns
// the first failure; after a failure no further item starts.
Status ForEachInParallel(size_t n, int parallelism, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  Status first;
  auto work = [&] {
    for (size_t i = next++; i < n && !failed.load(); i = next++) {
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard lock(mutex);
        if (first.ok()) first = std::move(s);
        failed = true;
      }
    }
  };
  std::vector<std::thread> helpers;
  const size_t extra = std::min<size_t>(n, static_cast<size_t>(std::max(parallelism, 1))) - 1;
  for (size_t i = 0; i < extra; ++i) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  return first;
}

// The status of a response that is not 2xx, naming the request.
Status HttpError(const S3ObjectStore::Response& r, const std::string& endpoint,
                 const std::string& what) {
  const StatusCode code = r.http == 404 ? StatusCode::kObjectNotFound : StatusCode::kRpcFail;
  const std::string s3 = S3Error(r.body);
  return Status(code, fmt::format("object store {}: {}: HTTP {}{}{}", endpoint, what, r.http,
                                  s3.empty() ? "" : " ", s3));
}

bool Ok(const S3ObjectStore::Response& r) { return r.http >= 200 && r.http < 300; }

// The MD5 an ETag holds ("\"<32 hex>\"" for a single-part upload), lower-case; empty for a
// multipart ETag ("<hex>-<parts>") or anything else.
std::string Md5OfEtag(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  if (etag.size() != 32) return "";
  for (char& c : etag) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return etag;
}

std::string Md5Hex(std::span<const char> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr) != 1) return "";
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 15]);
  }
  return hex;
}

}  // namespace

std::vector<std::string> S3ObjectStore::MetadataHeaders(const std::string& key, uint64_t size,
                                                        uint32_t crc) const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : key) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return {"x-amz-meta-mc-key-hex: " + hex, fmt::format("x-amz-meta-mc-size: {}", size),
          fmt::format("x-amz-meta-mc-crc32c: {:08x}", crc)};
}

Status S3ObjectStore::Put(const std::string& key, std::span<const char> data) {
  if (key.empty()) return Status(StatusCode::kInvalidKey, "object key is empty");
  const uint32_t crc = Crc32c(data.data(), data.size());
  std::vector<std::string> metadata = MetadataHeaders(key, data.size(), crc);
  if (data.size() >= options_.multipart_threshold) return PutMultipart(key, data, metadata);
  Request r;
  r.method = "PUT";
  r.object = ObjectOf(key);
  r.headers = metadata;
  r.body = data;
  const std::string what = fmt::format("PUT '{}' ({} bytes)", r.object, data.size());
  MC_ASSIGN_OR_RETURN(Response response, Perform(r, what));
  return Ok(response) ? Status::Ok() : HttpError(response, options_.endpoint, what);
}

Status S3ObjectStore::PutMultipart(const std::string& key, std::span<const char> data,
                                   const std::vector<std::string>& metadata) {
  const std::string object = ObjectOf(key);
  Request start;
  start.method = "POST";
  start.object = object;
  start.query = "uploads=";
  start.headers = metadata;
  const std::string what = fmt::format("multipart upload of '{}' ({} bytes)", object, data.size());
  MC_ASSIGN_OR_RETURN(Response started, Perform(start, what + ": initiate"));
  if (!Ok(started)) return HttpError(started, options_.endpoint, what + ": initiate");
  const std::string upload_id = XmlValue(started.body, "UploadId");
  if (upload_id.empty()) {
    return Status(StatusCode::kRpcFail, fmt::format("object store {}: {}: no UploadId in the "
                                                    "answer",
                                                    options_.endpoint, what));
  }
  const std::string id_query = "uploadId=" + UriEncode(upload_id);
  auto abort = [&](Status why) {
    Request r;
    r.method = "DELETE";
    r.object = object;
    r.query = id_query;
    auto aborted = Perform(r, what + ": abort");
    if (!aborted.ok() || !Ok(*aborted)) {
      MC_LOG_WARN(
          "object store {}: could not abort {} (upload id {}); its parts stay until a "
          "lifecycle rule removes them",
          options_.endpoint, what, upload_id);
    }
    return why;
  };
  // Parts go up parallel_parts at a time; their ETags are listed in part order.
  const size_t parts = (data.size() + options_.part_size - 1) / options_.part_size;
  std::vector<std::string> etags(parts);
  Status sent_all = ForEachInParallel(parts, options_.parallel_parts, [&](size_t i) -> Status {
    const uint64_t offset = i * options_.part_size;
    Request r;
    r.method = "PUT";
    r.object = object;
    r.query = fmt::format("partNumber={}&{}", i + 1, id_query);  // sorted: p < u
    r.body = data.subspan(offset, std::min<uint64_t>(options_.part_size, data.size() - offset));
    const std::string part_what = fmt::format("{}: part {}", what, i + 1);
    MC_ASSIGN_OR_RETURN(Response sent, Perform(r, part_what));
    if (!Ok(sent)) return HttpError(sent, options_.endpoint, part_what);
    etags[i] = sent.headers["etag"];
    if (etags[i].empty()) {
      return Status(StatusCode::kRpcFail, part_what + ": no ETag in the answer");
    }
    return Status::Ok();
  });
  if (!sent_all.ok()) return abort(sent_all);
  std::string complete = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < parts; ++i) {
    complete +=
        fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
  }
  complete += "</CompleteMultipartUpload>";
  Request done;
  done.method = "POST";
  done.object = object;
  done.query = id_query;
  done.headers = {"Content-Type: application/xml"};
  done.body = std::span<const char>(complete.data(), complete.size());
  auto finished = Perform(done, what + ": complete");
  if (!finished.ok()) return abort(finished.status());
  // S3 may answer 200 with an error document when completing fails late.
  if (!Ok(*finished) || !S3Error(finished->body).empty()) {
    return abort(HttpError(*finished, options_.endpoint, what + ": complete"));
  }
  return Status::Ok();
}

Result<ObjectInfo> S3ObjectStore::Head(const std::string& key) {
  Request r;
  r.method = "HEAD";
  r.object = ObjectOf(key);
  const std::string what = fmt::format("HEAD '{}'", r.object);
  MC_ASSIGN_OR_RETURN(Response response, Perform(r, what));
  if (!Ok(response)) return HttpError(response, options_.endpoint, what);
  ObjectInfo info;
  info.key = key;
  info.size = std::strtoull(response.headers["content-length"].c_str(), nullptr, 10);
  const std::string crc = response.headers["x-amz-meta-mc-crc32c"];
  if (!crc.empty()) {
    info.crc32c = static_cast<uint32_t>(std::strtoul(crc.c_str(), nullptr, 16));
    info.has_crc32c = true;
  }
  info.etag_md5 = Md5OfEtag(response.headers["etag"]);
  return info;
}

Status S3ObjectStore::Get(const std::string& key, uint64_t offset, std::span<char> out) {
  MC_ASSIGN_OR_RETURN(ObjectInfo info, Head(key));
  if (offset > info.size || out.size() > info.size - offset) {
    return InvalidParams(fmt::format("range {}+{} passes the end of object '{}' ({} bytes)", offset,
                                     out.size(), key, info.size));
  }
  if (out.empty()) return Status::Ok();
  const std::string object = ObjectOf(key);
  // A large read comes in part_size pieces, parallel_parts at a time.
  const uint64_t piece =
      out.size() >= options_.multipart_threshold ? options_.part_size : out.size();
  const size_t pieces = (out.size() + piece - 1) / piece;
  MC_RETURN_IF_ERROR(ForEachInParallel(pieces, options_.parallel_parts, [&](size_t i) -> Status {
    const uint64_t at = i * piece;
    const uint64_t n = std::min<uint64_t>(piece, out.size() - at);
    Request r;
    r.object = object;
    r.headers = {fmt::format("Range: bytes={}-{}", offset + at, offset + at + n - 1)};
    r.into = out.subspan(at, n);
    const std::string what = fmt::format("GET '{}' bytes {}+{}", object, offset + at, n);
    MC_ASSIGN_OR_RETURN(Response response, Perform(r, what));
    if (!Ok(response)) return HttpError(response, options_.endpoint, what);
    return Status::Ok();
  }));
  if (offset != 0 || out.size() != info.size) return Status::Ok();
  if (info.has_crc32c) {
    if (Crc32c(out.data(), out.size()) != info.crc32c) {
      return Status(
          StatusCode::kChecksumMismatch,
          fmt::format("object store {}: '{}' fails its CRC32C check", options_.endpoint, object));
    }
    return Status::Ok();
  }
  // Written by another tool: S3's own checksum of a single-part upload is the MD5 in its ETag.
  if (info.etag_md5.empty()) {
    return Status(StatusCode::kChecksumMismatch,
                  fmt::format("object store {}: '{}' carries no CRC32C (x-amz-meta-mc-crc32c) and "
                              "its ETag is not an MD5 (a multipart upload), so its bytes cannot be "
                              "checked; upload it through Mooncake Store or as a single part",
                              options_.endpoint, object));
  }
  if (Md5Hex(out) != info.etag_md5) {
    return Status(
        StatusCode::kChecksumMismatch,
        fmt::format("object store {}: '{}' fails its MD5 (ETag) check", options_.endpoint, object));
  }
  return Status::Ok();
}

Status S3ObjectStore::Delete(const std::string& key) {
  Request r;
  r.method = "DELETE";
  r.object = ObjectOf(key);
  const std::string what = fmt::format("DELETE '{}'", r.object);
  MC_ASSIGN_OR_RETURN(Response response, Perform(r, what));
  if (Ok(response) || response.http == 404) return Status::Ok();
  return HttpError(response, options_.endpoint, what);
}

Result<std::vector<ObjectInfo>> S3ObjectStore::List(const std::string& key_prefix) {
  // The encoding is per byte, so the encoded prefix selects exactly the keys with that prefix
  // (except a key that is "." or "..", whose name is escaped whole: filtered below).
  const std::string encoded =
      key_prefix.empty() || key_prefix[0] == '.' ? std::string() : EncodeObjectName(key_prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  for (int page = 0; page < kMaxListPages; ++page) {
    Request r;
    r.query = (token.empty() ? "" : "continuation-token=" + UriEncode(token) + "&") +
              "list-type=2&prefix=" + UriEncode(prefix_ + encoded);
    const std::string what = fmt::format("LIST '{}{}'", prefix_, encoded);
    MC_ASSIGN_OR_RETURN(Response response, Perform(r, what));
    if (!Ok(response)) return HttpError(response, options_.endpoint, what);
    const std::vector<std::string> keys = XmlValues(response.body, "Key");
    const std::vector<std::string> sizes = XmlValues(response.body, "Size");
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].compare(0, prefix_.size(), prefix_) != 0) continue;
      const std::string name = keys[i].substr(prefix_.size());
      if (name.find('/') != std::string::npos) continue;  // another prefix's object
      auto key = DecodeObjectName(name);
      if (!key.ok() || key->compare(0, key_prefix.size(), key_prefix) != 0) continue;
      ObjectInfo info;
      info.key = *key;
      info.size = i < sizes.size() ? std::strtoull(sizes[i].c_str(), nullptr, 10) : 0;
      out.push_back(std::move(info));
    }
    if (XmlValue(response.body, "IsTruncated") != "true") return out;
    token = XmlValue(response.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  return Status(StatusCode::kRpcFail,
                fmt::format("object store {}: LIST did not end (no continuation token or over {} "
                            "pages)",
                            options_.endpoint, kMaxListPages));
}

}  // namespace mooncake::tier
