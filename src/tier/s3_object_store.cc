// The S3 object store's construction (bucket, prefix and endpoint checked) and the one place its
// requests go out: libcurl, signed with SigV4, retried with backoff; and reading S3's XML
// answers. The ObjectStore calls built on it are in s3_object_operations.cc.

#include "tier/s3_object_store.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "tier/s3_object_store_internal.h"

namespace mooncake::tier {
namespace {

constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);

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

}  // namespace

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

std::string S3Error(const std::string& body) {
  const std::string code = XmlValue(body, "Code");
  if (code.empty()) return "";
  const std::string message = XmlValue(body, "Message");
  return message.empty() ? code : code + ": " + message;
}

namespace {

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

}  // namespace mooncake::tier
