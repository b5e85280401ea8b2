#include "p2p/p2p_records.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace mooncake::p2p {
namespace {

using json = nlohmann::json;

std::string EscapeName(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

Status Malformed(std::string_view what, std::string_view why) {
  return {StatusCode::kInvalidParams, fmt::format("malformed {}: {}", what, why)};
}

}  // namespace

std::string ObjectKeyPrefix() { return std::string(kP2PKeyPrefix) + "objects/"; }
std::string ObjectKey(const std::string& name) { return ObjectKeyPrefix() + name; }
std::string HolderPrefix(const std::string& name) {
  return std::string(kP2PKeyPrefix) + "holders/" + EscapeName(name) + "/";
}
std::string HolderKey(const std::string& name, const std::string& segment) {
  return HolderPrefix(name) + segment;
}

Status ValidateObjectName(const std::string& name) {
  if (name.empty() || name.size() > 1024) {
    return InvalidParams(fmt::format("object name must be 1..1024 bytes, got {}", name.size()));
  }
  if (name.find('\0') != std::string::npos || name.find('\n') != std::string::npos) {
    return InvalidParams("object name must not contain NUL or newline");
  }
  return Status::Ok();
}

std::string EncodeObjectRecord(const ObjectRecord& r) {
  json shards = json::array();
  for (const ShardRecord& s : r.shards) shards.push_back({{"size", s.size}, {"hash", s.hash}});
  json parts = json::array();
  for (const P2PObjectPart& p : r.parts) parts.push_back({{"name", p.name}, {"size", p.size}});
  json j = {{"name", r.name},
            {"size", r.size},
            {"hash_algorithm", r.hash_algorithm},
            {"shards", shards},
            {"parts", parts}};
  return j.dump();
}

Result<ObjectRecord> DecodeObjectRecord(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("object record", "not a JSON object");
  ObjectRecord r;
  try {
    r.name = j.at("name").get<std::string>();
    r.size = j.at("size").get<uint64_t>();
    r.hash_algorithm = j.at("hash_algorithm").get<std::string>();
    uint64_t total = 0;
    for (const json& s : j.at("shards")) {
      ShardRecord shard{s.at("size").get<uint64_t>(), s.at("hash").get<std::string>()};
      if (shard.size == 0) return Malformed("object record", "a shard of size 0");
      total += shard.size;
      r.shards.push_back(std::move(shard));
    }
    if (total != r.size) {
      return Malformed("object record " + r.name,
                       fmt::format("shards add up to {} bytes, size says {}", total, r.size));
    }
    if (j.contains("parts")) {
      uint64_t parts_total = 0;
      for (const json& p : j.at("parts")) {
        P2PObjectPart part{p.at("name").get<std::string>(), p.at("size").get<uint64_t>()};
        parts_total += part.size;
        r.parts.push_back(std::move(part));
      }
      if (!r.parts.empty() && parts_total != r.size) {
        return Malformed(
            "object record " + r.name,
            fmt::format("parts add up to {} bytes, size says {}", parts_total, r.size));
      }
    }
  } catch (const json::exception& e) {
    return Malformed("object record", e.what());
  }
  return r;
}

bool HolderRecord::HoldsAny() const {
  return std::find(shards.begin(), shards.end(), true) != shards.end();
}

namespace {

std::string Bits(const std::vector<bool>& v) {
  std::string bits(v.size(), '0');
  for (size_t i = 0; i < v.size(); ++i) bits[i] = v[i] ? '1' : '0';
  return bits;
}

Result<std::vector<bool>> ParseBits(const std::string& bits, size_t count, const std::string& who,
                                    std::string_view field) {
  if (bits.size() != count) {
    return Malformed("holder record of " + who,
                     fmt::format("{} {} bits for {} shards", bits.size(), field, count));
  }
  std::vector<bool> out;
  for (char c : bits) out.push_back(c == '1');
  return out;
}

}  // namespace

std::string EncodeHolderRecord(const HolderRecord& r) {
  json buffers = json::array();
  for (const Extent& e : r.buffers) buffers.push_back(json::array({e.address, e.length}));
  json j = {
      {"segment", r.segment}, {"buffers", buffers}, {"shards", Bits(r.shards)}, {"seed", r.seed}};
  if (std::find(r.fetching.begin(), r.fetching.end(), true) != r.fetching.end()) {
    j["fetching"] = Bits(r.fetching);
  }
  return j.dump();
}

Result<HolderRecord> DecodeHolderRecord(const std::string& text, size_t shard_count,
                                        uint64_t object_size) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("holder record", "not a JSON object");
  HolderRecord r;
  try {
    r.segment = j.at("segment").get<std::string>();
    r.seed = j.at("seed").get<bool>();
    uint64_t total = 0;
    for (const json& b : j.at("buffers")) {
      if (!b.is_array() || b.size() != 2) return Malformed("holder record", "buffer not a pair");
      Extent e{b[0].get<uint64_t>(), b[1].get<uint64_t>()};
      total += e.length;
      r.buffers.push_back(e);
    }
    if (total != object_size) {
      return Malformed("holder record of " + r.segment,
                       fmt::format("buffers hold {} bytes, the object has {}", total, object_size));
    }
    MC_ASSIGN_OR_RETURN(
        r.shards, ParseBits(j.at("shards").get<std::string>(), shard_count, r.segment, "shard"));
    if (j.contains("fetching")) {
      MC_ASSIGN_OR_RETURN(r.fetching, ParseBits(j.at("fetching").get<std::string>(), shard_count,
                                                r.segment, "fetching"));
    }
  } catch (const json::exception& e) {
    return Malformed("holder record", e.what());
  }
  return r;
}

}  // namespace mooncake::p2p
