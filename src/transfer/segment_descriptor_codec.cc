#include "transfer/segment_descriptor_codec.h"

#include <nlohmann/json.hpp>

namespace mooncake {

int SegmentDescriptor::FindBuffer(uint64_t address, uint64_t length) const {
  for (size_t i = 0; i < buffers.size(); ++i) {
    const BufferDescriptor& b = buffers[i];
    // Written to avoid overflow: address + length may wrap for hostile input.
    if (address >= b.address && length <= b.length && address - b.address <= b.length - length) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string EncodeSegmentDescriptor(const SegmentDescriptor& d) {
  nlohmann::json j;
  j["name"] = d.name;
  j["protocol_version"] = d.protocol_version;
  j["incarnation"] = d.incarnation;
  j["host_id"] = d.host_id;
  j["endpoints"] = nlohmann::json::array();
  for (const auto& e : d.endpoints) j["endpoints"].push_back({{"host", e.host}, {"port", e.port}});
  j["buffers"] = nlohmann::json::array();
  for (const auto& b : d.buffers) {
    j["buffers"].push_back({{"addr", b.address}, {"length", b.length}, {"location", b.location}});
  }
  if (!d.shm_endpoint.empty()) j["shm_endpoint"] = d.shm_endpoint;
  // Names and locations come from users: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<SegmentDescriptor> DecodeSegmentDescriptor(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidParams("segment descriptor is not a JSON object");
  }
  // nlohmann throws on type mismatches; keep exceptions inside this function.
  try {
    SegmentDescriptor d;
    d.name = j.at("name").get<std::string>();
    // nlohmann converts out-of-range numbers silently (70000 → uint16 4464): read wide, check.
    auto bounded = [](const nlohmann::json& v, const char* field, uint64_t max) -> uint64_t {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
        throw nlohmann::json::type_error::create(
            302, std::string(field) + " must be an unsigned integer <= " + std::to_string(max),
            nullptr);
      }
      return v.get<uint64_t>();
    };
    d.protocol_version =
        static_cast<uint32_t>(bounded(j.at("protocol_version"), "protocol_version", UINT32_MAX));
    d.incarnation = j.at("incarnation").get<uint64_t>();
    d.host_id = j.value("host_id", std::string());
    if (!j.at("endpoints").is_array() || !j.at("buffers").is_array()) {
      return InvalidParams("malformed segment descriptor: endpoints and buffers must be arrays");
    }
    for (const auto& e : j.at("endpoints")) {
      d.endpoints.push_back({e.at("host").get<std::string>(),
                             static_cast<uint16_t>(bounded(e.at("port"), "port", 65535))});
    }
    for (const auto& b : j.at("buffers")) {
      d.buffers.push_back({b.at("addr").get<uint64_t>(), b.at("length").get<uint64_t>(),
                           b.value("location", std::string("cpu"))});
    }
    d.shm_endpoint = j.value("shm_endpoint", std::string());
    // An abstract Unix socket name: '@' then at most 99 bytes (sun_path's limit).
    if (!d.shm_endpoint.empty() && (d.shm_endpoint[0] != '@' || d.shm_endpoint.size() > 100)) {
      return InvalidParams("malformed segment descriptor: shm_endpoint must be '@' and at most "
                           "99 more characters");
    }
    return d;
  } catch (const nlohmann::json::exception& e) {
    return InvalidParams(std::string("malformed segment descriptor: ") + e.what());
  }
}

}  // namespace mooncake
