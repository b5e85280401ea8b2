#include "transfer/transport/ucx/ucx_peer.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/address_range.h"
#include "transfer/transport/ucx/ucx_hex.h"

namespace mooncake::transfer::ucx {

Result<std::shared_ptr<UcxPeer>> UcxPeer::Open(ucp_worker_h worker, const SegmentDescriptor& target,
                                               ErrorMode first_mode, ErrorHandler on_error,
                                               void* error_context) {
  if (target.ucx_address.empty()) {
    return NotSupported(fmt::format("segment {} serves no UCX", target.name));
  }
  auto address = HexDecode(target.ucx_address);
  if (!address) {
    return TransferFail(fmt::format("segment {}: malformed UCX worker address", target.name));
  }
  std::shared_ptr<UcxPeer> peer(new UcxPeer(target.name, target.incarnation));
  peer->on_error_ = on_error;
  peer->error_context_ = error_context;

  auto handler = [](void* arg, ucp_ep_h, ucs_status_t status) {
    auto* self = static_cast<UcxPeer*>(arg);
    if (self->on_error_ != nullptr) self->on_error_(self->error_context_, self, status);
  };
  ucs_status_t status = UCS_ERR_UNREACHABLE;
  for (ErrorMode mode : {first_mode, ErrorMode::kNone}) {
    ucp_ep_params_t params{};
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.address = reinterpret_cast<const ucp_address_t*>(address->data());
    params.err_mode =
        mode == ErrorMode::kPeer ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
    if (mode == ErrorMode::kPeer) {
      params.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
      params.err_handler.cb = handler;
      params.err_handler.arg = peer.get();
    }
    status = ucp_ep_create(worker, &params, &peer->ep_);
    if (status == UCS_OK) {
      peer->mode_ = mode;
      break;
    }
    // Only "no transport can report this peer's failures" is worth the second try.
    if (mode == ErrorMode::kNone || status != UCS_ERR_UNREACHABLE) break;
  }
  if (status != UCS_OK) {
    return TransferFail(
        fmt::format("UCX cannot reach segment {}: {} (do UCX_TLS on both sides "
                    "share a transport?)",
                    target.name, ucs_status_string(status)));
  }

  Status keys = peer->AddKeys(target);
  if (!keys.ok()) {
    peer->DestroyKeys();
    void* request =
        peer->Close(peer->mode() == ErrorMode::kPeer ? CloseMode::kForce : CloseMode::kFlush);
    // A failed open has sent nothing: the close finishes by itself; never waited for.
    if (request != nullptr) ucp_request_free(request);
    return keys;
  }
  return peer;
}

Status UcxPeer::AddKeys(const SegmentDescriptor& target) {
  bool added = false;
  for (const BufferDescriptor& buffer : target.buffers) {
    if (buffer.ucx_rkey.empty() || HasKey(buffer)) continue;
    auto packed = HexDecode(buffer.ucx_rkey);
    ucp_rkey_h rkey = nullptr;
    ucs_status_t status =
        packed ? ucp_ep_rkey_unpack(ep_, packed->data(), &rkey) : UCS_ERR_INVALID_PARAM;
    if (status != UCS_OK) {
      return TransferFail(
          fmt::format("segment {}: the UCX key of buffer 0x{:x}+{} does not "
                      "unpack: {}",
                      target.name, buffer.address, buffer.length, ucs_status_string(status)));
    }
    keys_.push_back({buffer.address, buffer.length, rkey});
    added = true;
  }
  if (added) {
    std::sort(keys_.begin(), keys_.end(),
              [](const Key& a, const Key& b) { return a.address < b.address; });
  }
  return Status::Ok();
}

bool UcxPeer::HasKey(const BufferDescriptor& buffer) const {
  for (const Key& key : keys_) {
    if (key.address == buffer.address && key.length == buffer.length) return true;
  }
  return false;
}

ucp_rkey_h UcxPeer::KeyFor(uint64_t address, uint64_t length) const {
  auto it = FindContaining(keys_, address, length, [](const Key& k) {
    return AddressRange{k.address, k.length};
  });
  return it == keys_.end() ? nullptr : it->rkey;
}

void* UcxPeer::Close(CloseMode mode) {
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  params.flags = mode == CloseMode::kForce ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  ucs_status_ptr_t request = ucp_ep_close_nbx(ep_, &params);
  ep_ = nullptr;
  return UCS_PTR_IS_PTR(request) ? request : nullptr;
}

void UcxPeer::DestroyKeys() {
  for (Key& key : keys_) ucp_rkey_destroy(key.rkey);
  keys_.clear();
}

}  // namespace mooncake::transfer::ucx
