#include "tier/s3_object_store.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::tier {

struct S3ObjectStore::Request {
  std::string method = "GET";  // GET, PUT, POST, HEAD, DELETE
  std::string object;          // "" = the bucket itself
  std::string query;           // canonical: sorted by name, values URI-encoded, "k=v&k2=v2"
  std::vector<std::string> headers;
  std::span<const char> body;  // PUT / POST payload
  std::span<char> into;        // GET: read the (2xx) body straight into this buffer
};

namespace {

constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
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

std::string XmlUnescape(std::string s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  for (const auto& [entity, c] : kEntities) {
    for (size_t at = s.find(entity); at != std::string::npos; at = s.find(entity, at + 1)) {
      s.replace(at, std::strlen(entity), 1, c);
    }
  }
  return s;
}

// Text of each <tag>...</tag> in `xml`, in order (S3's responses are flat enough for this).
std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    const size_t start = at + open.size();
    const size_t end = xml.find(close, start);
    if (end == std::string::npos) break;
    out.push_back(XmlUnescape(xml.substr(start, end - start)));
    at = end + close.size();
  }
  return out;
}

std::string XmlValue(const std::string& xml, const std::string& tag) {
  auto values = XmlValues(xml, tag);
  return values.empty() ? std::string() : values.front();
}

// "S3 said NoSuchKey: The specified key does not exist." from an error body, or "".
std::string S3Error(const std::string& body) {
  const std::string code = XmlValue(body, "Code");
  if (code.empty()) return "";
  const std::string message = XmlValue(body, "Message");
  return message.empty() ? code : code + ": " + message;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const S3ObjectStore::Request* request;
  S3ObjectStore::Response* response;
  CURL* curl;
  size_t sent = 0;
  size_t received = 0;
  bool overflow = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  if (t->request->into.data() != nullptr && code >= 200 && code < 300) {
    if (t->received + n > t->request->into.size()) {
      t->overflow = true;  // more bytes than asked for: never write past the caller's buffer
      return 0;
    }
    std::memcpy(t->request->into.data() + t->received, data, n);
    t->received += n;
    return n;
  }
  if (t->response->body.size() + n > (4u << 20)) return 0;  // error/listing bodies are small
  t->response->body.append(data, n);
  return n;
}

size_t OnRead(char* out, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = std::min(size * count, t->request->body.size() - t->sent);
  std::memcpy(out, t->request->body.data() + t->sent, n);
  t->sent += n;
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    t->response->headers[name] = value;
  }
  return n;
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> S3ObjectStore::Create(ObjectStoreOptions options) {
  GlobalInit();
  const std::string rest = options.url.substr(std::strlen("s3://"));
  const size_t slash = rest.find('/');
  const std::string bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (bucket.size() < 3 || bucket.size() > 63 ||
      !std::all_of(bucket.begin(), bucket.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '-' || c == '.';
      })) {
    return InvalidParams(
        fmt::format("object store URL '{}': '{}' is not a valid bucket name "
                    "(3-63 of a-z 0-9 . -)",
                    options.url, bucket));
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!std::all_of(prefix.begin(), prefix.end(),
                   [](unsigned char c) {
                     return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
                   }) ||
      prefix.find("//") != std::string::npos || (!prefix.empty() && prefix[0] == '/')) {
    return InvalidParams(
        fmt::format("object store URL '{}': prefix '{}' may hold only "
                    "A-Z a-z 0-9 - _ . and single '/'",
                    options.url, prefix));
  }
  if (!prefix.empty()) prefix += '/';
  if (options.endpoint.empty()) {
    options.endpoint = fmt::format("https://s3.{}.amazonaws.com", options.region);
  }
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (options.endpoint.rfind("http://", 0) != 0 && options.endpoint.rfind("https://", 0) != 0) {
    return InvalidParams(
        fmt::format("object store endpoint '{}' must start with http:// or "
                    "https://",
                    options.endpoint));
  }
  return std::unique_ptr<ObjectStore>(
      new S3ObjectStore(std::move(options), bucket, std::move(prefix)));
}

namespace {

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

}  // namespace

std::string S3ObjectStore::UrlOf(const std::string& object, const std::string& query) const {
  std::string url = options_.endpoint + "/" + bucket_;
  if (!object.empty()) url += "/" + object;
  if (!query.empty()) url += "?" + query;
  return url;
}

Result<S3ObjectStore::Response> S3ObjectStore::PerformOnce(const Request& request,
                                                           bool* retryable) {
  *retryable = false;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return InternalError("curl_easy_init failed");
  Response response;
  Transfer t{&request, &response, curl};
  const std::string url = UrlOf(request.object, request.query);
  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!options_.session_token.empty()) {
    headers =
        curl_slist_append(headers, ("x-amz-security-token: " + options_.session_token).c_str());
  }
  const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  if (!options_.access_key_id.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
  }
  if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data() ? request.body.data() : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "DELETE") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (t.overflow) {
    return Status(
        StatusCode::kInvalidRead,
        fmt::format("{} answered with more bytes than the {} asked for", url, request.into.size()));
  }
  if (rc != CURLE_OK) {
    *retryable = true;
    return Status(StatusCode::kRpcFail,
                  fmt::format("{} {}: {}", request.method, url, curl_easy_strerror(rc)));
  }
  if (request.into.data() != nullptr && response.http >= 200 && response.http < 300 &&
      t.received != request.into.size()) {
    *retryable = true;  // a short body: the connection broke or the object changed
    return Status(StatusCode::kInvalidRead, fmt::format("{} {}: got {} of {} bytes", request.method,
                                                        url, t.received, request.into.size()));
  }
  if (response.http >= 500 || response.http == 429) *retryable = true;
  return response;
}

Result<S3ObjectStore::Response> S3ObjectStore::Perform(const Request& request,
                                                       const std::string& what) {
  auto backoff = options_.initial_backoff;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    bool retryable = false;
    auto response = PerformOnce(request, &retryable);
    if (response.ok() && !retryable) return response;
    last = response.ok() ? Status(StatusCode::kRpcFail, fmt::format("HTTP {} {}", response->http,
                                                                    S3Error(response->body)))
                         : response.status();
    if (!retryable || attempt == options_.max_attempts) break;
    MC_LOG_WARN("object store {}: {} failed (attempt {} of {}): {}; retrying in {} ms",
                options_.endpoint, what, attempt, options_.max_attempts, last.ToString(),
                backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
  return Status(last.code(), fmt::format("object store {} ({}): {} failed after retries: {}",
                                         options_.endpoint, bucket_, what, last.message()));
}

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

namespace {

// The status of a response that is not 2xx, naming the request.
Status HttpError(const S3ObjectStore::Response& r, const std::string& endpoint,
                 const std::string& what) {
  const StatusCode code = r.http == 404 ? StatusCode::kObjectNotFound : StatusCode::kRpcFail;
  const std::string s3 = S3Error(r.body);
  return Status(code, fmt::format("object store {}: {}: HTTP {}{}{}", endpoint, what, r.http,
                                  s3.empty() ? "" : " ", s3));
}

bool Ok(const S3ObjectStore::Response& r) { return r.http >= 200 && r.http < 300; }

}  // namespace

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
    complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1,
                            etags[i]);
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
  const uint64_t piece = out.size() >= options_.multipart_threshold ? options_.part_size
                                                                     : out.size();
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
  if (offset == 0 && out.size() == info.size && info.has_crc32c &&
      Crc32c(out.data(), out.size()) != info.crc32c) {
    return Status(
        StatusCode::kChecksumMismatch,
        fmt::format("object store {}: '{}' fails its CRC32C check", options_.endpoint, object));
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
