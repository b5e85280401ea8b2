#include "transfer/segment_descriptor_codec.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/address_range.h"

namespace mooncake::transfer {
namespace {

// UCX blobs travel as lower-case hex. Bounds are far above what UCX packs (a worker address
// with several RDMA devices is a few hundred bytes; an rkey tens) and keep a hostile
// descriptor from making us allocate much.
constexpr size_t kMaxUcxAddressHex = 64 * 1024;
constexpr size_t kMaxUcxRkeyHex = 8 * 1024;

// Reads the optional hex string `field` of `object` into `out` (empty when absent).
Status ReadHexBlob(const nlohmann::json& object, const char* field, size_t max_length,
                   std::string* out) {
  auto it = object.find(field);
  if (it == object.end()) return Status::Ok();
  bool valid = it->is_string() && it->get_ref<const std::string&>().size() % 2 == 0 &&
               it->get_ref<const std::string&>().size() <= max_length;
  if (valid) {
    for (char c : it->get_ref<const std::string&>()) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) valid = false;
    }
  }
  if (!valid) {
    return InvalidParams(
        fmt::format("malformed segment descriptor: {} must be a lower-case hex "
                    "string of at most {} characters",
                    field, max_length));
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

}  // namespace

int SegmentDescriptor::FindBuffer(uint64_t address, uint64_t length) const {
  // A linear scan: a decoded descriptor's buffers are neither sorted nor checked for overlap.
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (AddressRange{buffers[i].address, buffers[i].length}.Contains(address, length)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int SegmentDescriptor::FindFileSegment(const std::string& name) const {
  for (size_t i = 0; i < buffers.size(); ++i) {
    const std::string& location = buffers[i].location;
    if (location.size() == name.size() + 5 && location.compare(0, 5, "file:") == 0 &&
        location.compare(5, std::string::npos, name) == 0) {
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
    nlohmann::json buffer = {{"addr", b.address}, {"length", b.length}, {"location", b.location}};
    if (!b.ucx_rkey.empty()) buffer["ucx_rkey"] = b.ucx_rkey;
    j["buffers"].push_back(std::move(buffer));
  }
  if (!d.shm_endpoint.empty()) j["shm_endpoint"] = d.shm_endpoint;
  if (!d.ucx_address.empty()) {
    j["ucx_address"] = d.ucx_address;
    j["ucx_rdma"] = d.ucx_rdma;
  }
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
                           b.value("location", std::string("cpu")), ""});
      MC_RETURN_IF_ERROR(ReadHexBlob(b, "ucx_rkey", kMaxUcxRkeyHex, &d.buffers.back().ucx_rkey));
    }
    MC_RETURN_IF_ERROR(ReadHexBlob(j, "ucx_address", kMaxUcxAddressHex, &d.ucx_address));
    d.ucx_rdma = j.value("ucx_rdma", false);
    d.shm_endpoint = j.value("shm_endpoint", std::string());
    // An abstract Unix socket name: '@' then at most 99 bytes (sun_path's limit).
    if (!d.shm_endpoint.empty() && (d.shm_endpoint[0] != '@' || d.shm_endpoint.size() > 100)) {
      return InvalidParams(
          "malformed segment descriptor: shm_endpoint must be '@' and at most "
          "99 more characters");
    }
    return d;
  } catch (const nlohmann::json::exception& e) {
    return InvalidParams(std::string("malformed segment descriptor: ") + e.what());
  }
}

}  // namespace mooncake::transfer
