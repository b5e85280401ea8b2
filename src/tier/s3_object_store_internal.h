#pragma once

// Internal to s3_object_store.cc (construction, performing requests) and
// s3_object_operations.cc (the ObjectStore calls): what a request is, and how S3's XML answers
// are read.

#include <span>
#include <string>
#include <vector>

#include "tier/s3_object_store.h"

namespace mooncake::tier {

struct S3ObjectStore::Request {
  std::string method = "GET";  // GET, PUT, POST, HEAD, DELETE
  std::string object;          // "" = the bucket itself
  std::string query;           // canonical: sorted by name, values URI-encoded, "k=v&k2=v2"
  std::vector<std::string> headers;
  std::span<const char> body;  // PUT / POST payload
  std::span<char> into;        // GET: read the (2xx) body straight into this buffer
};

// Text of each <tag>...</tag> in `xml`, in order (S3's responses are flat enough for this).
std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag);

// The first of XmlValues(xml, tag), or "" when there is none.
std::string XmlValue(const std::string& xml, const std::string& tag);

// "S3 said NoSuchKey: The specified key does not exist." from an error body, or "".
std::string S3Error(const std::string& body);

}  // namespace mooncake::tier
