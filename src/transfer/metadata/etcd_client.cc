#include "transfer/metadata/etcd_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/host_port.h"

namespace mooncake::transfer {
namespace {

using nlohmann::json;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// Standard alphabet with padding, as etcd's gateway writes it; nullopt on anything else.
std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (pad == 1 && in[i + 2] == '=') return std::nullopt;  // "x=y=" style garbage
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      int v = k >= 4 - pad ? 0 : value(in[i + k]);
      if (v < 0) return std::nullopt;
      n = (n << 6) | uint32_t(v);
    }
    out += char((n >> 16) & 0xff);
    if (pad < 2) out += char((n >> 8) & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

// The gateway encodes int64 fields as JSON strings; accept numbers too. Absent → 0.
int64_t Int64Field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    bool negative = !s.empty() && s[0] == '-';
    for (size_t i = negative ? 1 : 0; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return 0;
      v = v * 10 + (s[i] - '0');
    }
    return negative ? -v : v;
  }
  return 0;
}

std::string StringField(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// Smallest key greater than every key starting with `prefix` (etcd's range_end for a
// prefix); "\0" (all keys) when the prefix is all 0xff bytes.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<uint8_t>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct HttpAnswer {
  CURLcode curl = CURLE_OK;
  std::string curl_error;  // filled when curl != CURLE_OK
  long http_status = 0;
  std::string body;
};

HttpAnswer PostOnce(const std::string& url, const std::string& body,
                    std::chrono::milliseconds timeout, std::chrono::milliseconds connect_timeout) {
  HttpAnswer answer;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    answer.curl = CURLE_FAILED_INIT;
    answer.curl_error = "curl_easy_init failed";
    return answer;
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on big bodies
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: thread-safe
  curl_easy_setopt(curl, CURLOPT_PROXY, "");     // never route etcd through an env proxy
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  answer.curl = curl_easy_perform(curl);
  if (answer.curl != CURLE_OK) {
    // The error buffer says more ("Failed to connect to h port p after 0 ms: ...").
    answer.curl_error = error[0] != '\0' ? std::string(error) : curl_easy_strerror(answer.curl);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.http_status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return answer;
}

// etcd's error text from a non-200 gateway answer ({"error": ..., "message": ..., "code": n}).
std::string GatewayError(const HttpAnswer& answer) {
  json j = json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  std::string message;
  if (j.is_object()) {
    message = StringField(j, "message");
    if (message.empty()) message = StringField(j, "error");
  }
  if (message.empty()) message = answer.body.substr(0, 200);
  return fmt::format("HTTP {}: {}", answer.http_status, message);
}

Result<json> ParseAnswer(std::string_view operation, const EtcdClient& client,
                         const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd {} at {}: answer is not a JSON object: {}", operation,
                              client.EndpointList(), body.substr(0, 200)));
  }
  return j;
}

}  // namespace

Status EtcdClientOptions::Validate() const {
  if (endpoints.empty()) return InvalidParams("etcd: at least one endpoint (host:port) is needed");
  for (const std::string& e : endpoints) {
    MC_RETURN_IF_ERROR(ParseHostPort(e).status().WithContext("etcd endpoint"));
  }
  if (request_timeout.count() <= 0 || connect_timeout.count() <= 0) {
    return InvalidParams("etcd: request_timeout and connect_timeout must be positive");
  }
  return Status::Ok();
}

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  InitCurlOnce();
  options.connect_timeout = std::min(options.connect_timeout, options.request_timeout);
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

std::string EtcdClient::EndpointList() const {
  return fmt::format("{}", fmt::join(options_.endpoints, ","));
}

Result<std::string> EtcdClient::Post(std::string_view operation, const std::string& path,
                                     const std::string& body) {
  const size_t n = options_.endpoints.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  std::vector<std::string> failures;
  for (size_t k = 0; k < n; ++k) {
    const size_t index = (first + k) % n;
    const std::string& endpoint = options_.endpoints[index];
    HttpAnswer answer = PostOnce("http://" + endpoint + path, body, options_.request_timeout,
                                 options_.connect_timeout);
    if (answer.curl == CURLE_OK && answer.http_status == 200) {
      preferred_.store(index, std::memory_order_relaxed);
      return std::move(answer.body);
    }
    if (answer.curl == CURLE_OK && answer.http_status < 500) {
      // The member answered and refused: another member would say the same.
      std::string cause = GatewayError(answer);
      StatusCode code = cause.find("lease not found") != std::string::npos
                            ? StatusCode::kLeaseExpired
                            : StatusCode::kEtcdOperationError;
      return Status(code, fmt::format("etcd {} at {}: {}", operation, endpoint, cause));
    }
    failures.push_back(fmt::format(
        "{}: {}", endpoint, answer.curl != CURLE_OK ? answer.curl_error : GatewayError(answer)));
  }
  if (n == 1) {
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd {} at {}", operation, failures[0]));
  }
  return Status(StatusCode::kEtcdOperationError, fmt::format("etcd {} failed on every endpoint: {}",
                                                             operation, fmt::join(failures, "; ")));
}

Status EtcdClient::Put(const std::string& key, const std::string& value, EtcdLeaseId lease) {
  json request = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  MC_ASSIGN_OR_RETURN(std::string answer, Post("put", "/v3/kv/put", request.dump()));
  return ParseAnswer("put", *this, answer).status();
}

namespace {

Result<std::vector<EtcdKeyValue>> DecodeKvs(std::string_view operation, const EtcdClient& client,
                                            const json& answer) {
  std::vector<EtcdKeyValue> out;
  auto kvs = answer.find("kvs");
  if (kvs == answer.end()) return out;
  if (!kvs->is_array()) {
    return Status(
        StatusCode::kEtcdOperationError,
        fmt::format("etcd {} at {}: 'kvs' is not an array", operation, client.EndpointList()));
  }
  for (const json& kv : *kvs) {
    if (!kv.is_object()) continue;
    auto key = Base64Decode(StringField(kv, "key"));
    auto value = Base64Decode(StringField(kv, "value"));  // an empty value is absent: ""
    if (!key || !value) {
      return Status(StatusCode::kEtcdOperationError,
                    fmt::format("etcd {} at {}: key or value is not base64", operation,
                                client.EndpointList()));
    }
    out.push_back(EtcdKeyValue{std::move(*key), std::move(*value), Int64Field(kv, "lease"),
                               Int64Field(kv, "mod_revision")});
  }
  return out;
}

}  // namespace

Result<std::optional<EtcdKeyValue>> EtcdClient::Get(const std::string& key) {
  json request = {{"key", Base64Encode(key)}};
  MC_ASSIGN_OR_RETURN(std::string body, Post("get", "/v3/kv/range", request.dump()));
  MC_ASSIGN_OR_RETURN(json answer, ParseAnswer("get", *this, body));
  MC_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, DecodeKvs("get", *this, answer));
  if (kvs.empty()) return std::optional<EtcdKeyValue>();
  return std::optional<EtcdKeyValue>(std::move(kvs[0]));
}

Result<std::vector<EtcdKeyValue>> EtcdClient::GetPrefix(const std::string& prefix) {
  if (prefix.empty()) return InvalidParams("etcd GetPrefix: the prefix must not be empty");
  json request = {{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}};
  MC_ASSIGN_OR_RETURN(std::string body, Post("get prefix", "/v3/kv/range", request.dump()));
  MC_ASSIGN_OR_RETURN(json answer, ParseAnswer("get prefix", *this, body));
  return DecodeKvs("get prefix", *this, answer);
}

Result<int64_t> EtcdClient::Delete(const std::string& key) {
  json request = {{"key", Base64Encode(key)}};
  MC_ASSIGN_OR_RETURN(std::string body, Post("delete", "/v3/kv/deleterange", request.dump()));
  MC_ASSIGN_OR_RETURN(json answer, ParseAnswer("delete", *this, body));
  return Int64Field(answer, "deleted");
}

Result<EtcdLease> EtcdClient::GrantLease(std::chrono::seconds ttl) {
  if (ttl.count() < 1) return InvalidParams("etcd lease TTL must be at least 1 s");
  json request = {{"TTL", std::to_string(ttl.count())}};
  MC_ASSIGN_OR_RETURN(std::string body, Post("lease grant", "/v3/lease/grant", request.dump()));
  MC_ASSIGN_OR_RETURN(json answer, ParseAnswer("lease grant", *this, body));
  EtcdLease lease{Int64Field(answer, "ID"), std::chrono::seconds(Int64Field(answer, "TTL"))};
  if (lease.id == 0 || lease.ttl.count() <= 0) {
    std::string error = StringField(answer, "error");
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd lease grant at {}: no lease in the answer{}", EndpointList(),
                              error.empty() ? "" : ": " + error));
  }
  return lease;
}

Result<std::chrono::seconds> EtcdClient::KeepAlive(EtcdLeaseId lease) {
  // A streaming RPC in gRPC; through the gateway one request gives one {"result": ...}.
  json request = {{"ID", std::to_string(lease)}};
  MC_ASSIGN_OR_RETURN(std::string body,
                      Post("lease keepalive", "/v3/lease/keepalive", request.dump()));
  // Some gateway versions end a stream with a newline-separated second object: take the first.
  std::string first = body.substr(0, body.find('\n'));
  MC_ASSIGN_OR_RETURN(json answer, ParseAnswer("lease keepalive", *this, first));
  auto error = answer.find("error");
  if (error != answer.end()) {
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd lease keepalive at {}: {}", EndpointList(), error->dump()));
  }
  auto result = answer.find("result");
  if (result == answer.end() || !result->is_object()) {
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd lease keepalive at {}: no result in {}", EndpointList(),
                              first.substr(0, 200)));
  }
  // etcd answers an unknown lease with TTL 0 (omitted in JSON).
  return std::chrono::seconds(std::max<int64_t>(0, Int64Field(*result, "TTL")));
}

Status EtcdClient::RevokeLease(EtcdLeaseId lease) {
  json request = {{"ID", std::to_string(lease)}};
  MC_ASSIGN_OR_RETURN(std::string body, Post("lease revoke", "/v3/lease/revoke", request.dump()));
  return ParseAnswer("lease revoke", *this, body).status();
}

}  // namespace mooncake::transfer
