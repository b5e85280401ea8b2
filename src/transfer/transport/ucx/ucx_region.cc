#include "transfer/transport/ucx/ucx_region.h"

#include <fmt/format.h>

#include "transfer/transport/ucx/ucx_hex.h"

namespace mooncake::transfer::ucx {

Result<std::shared_ptr<UcxRegion>> UcxRegion::Map(ucp_context_h context, uint64_t address,
                                                  uint64_t length) {
  ucp_mem_map_params_t params{};
  params.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
  params.address = reinterpret_cast<void*>(address);
  params.length = length;
  ucp_mem_h memh = nullptr;
  ucs_status_t status = ucp_mem_map(context, &params, &memh);
  if (status != UCS_OK) {
    return InternalError(fmt::format("ucp_mem_map of 0x{:x}+{} failed: {}", address, length,
                                     ucs_status_string(status)));
  }
  std::shared_ptr<UcxRegion> region(new UcxRegion(context, address, length, memh));
  void* packed = nullptr;
  size_t packed_size = 0;
  status = ucp_rkey_pack(context, memh, &packed, &packed_size);
  if (status != UCS_OK) {
    return InternalError(fmt::format("ucp_rkey_pack of 0x{:x}+{} failed: {}", address, length,
                                     ucs_status_string(status)));
  }
  region->rkey_ = HexEncode(packed, packed_size);
  ucp_rkey_buffer_release(packed);
  return region;
}

UcxRegion::~UcxRegion() { ucp_mem_unmap(context_, memh_); }

}  // namespace mooncake::transfer::ucx
