#pragma once

// A registered buffer as UCX sees it: mapped with ucp_mem_map (so that puts and gets from it
// skip UCX's registration cache, and verbs NICs may access it), plus the packed rkey that lets
// peers address it. Unmapped when the last reference goes: operations in flight hold one, so
// unregistering a buffer never pulls a memory handle from under UCX.
//
// Thread safety: immutable after Map; destroy only where the context may be used (the
// transport's progress thread, or its destructor before ucp_cleanup).

#include <ucp/api/ucp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/address_range.h"
#include "mooncake/common/status.h"

namespace mooncake::transfer::ucx {

class UcxRegion {
 public:
  // Maps [address, address + length) of memory the caller owns; kInternalError naming the
  // range and UCX's reason when UCX refuses.
  static Result<std::shared_ptr<UcxRegion>> Map(ucp_context_h context, uint64_t address,
                                                uint64_t length);
  UcxRegion(const UcxRegion&) = delete;
  UcxRegion& operator=(const UcxRegion&) = delete;
  ~UcxRegion();

  uint64_t address() const { return address_; }
  uint64_t length() const { return length_; }
  ucp_mem_h memh() const { return memh_; }
  // Packed rkey, lower-case hex.
  const std::string& rkey() const { return rkey_; }
  AddressRange range() const { return {address_, length_}; }

 private:
  UcxRegion(ucp_context_h context, uint64_t address, uint64_t length, ucp_mem_h memh)
      : context_(context), address_(address), length_(length), memh_(memh) {}

  ucp_context_h context_;
  uint64_t address_;
  uint64_t length_;
  ucp_mem_h memh_;
  std::string rkey_;
};

}  // namespace mooncake::transfer::ucx
