#pragma once

// Python memory as the bindings take it: buffer-protocol objects (bytes, bytearray,
// memoryview, numpy arrays, ...) viewed in place, without a copy, and upstream's raw integer
// addresses. Everything here needs the GIL.

#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>

#include "mooncake/common/status.h"

namespace mooncake::python {

// A C- or Fortran-contiguous view of a buffer-protocol object: the object's own memory.
// Destroy it with the GIL held (after the gil_scoped_release of a call has ended).
class BufferView {
 public:
  // Raises TypeError / BufferError (as memoryview() would) when `object` is not a contiguous
  // buffer or, with `writable`, is read-only.
  BufferView(pybind11::handle object, bool writable);
  ~BufferView();
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;

  uint8_t* data() const { return static_cast<uint8_t*>(view_.buf); }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

// Views taken for one call; kept until its results are built. A deque: views never move.
using BufferViews = std::deque<BufferView>;

// An address argument (`buffer_ptr`): an int is the address itself (upstream's convention);
// a buffer-protocol object stands for its memory (viewed into `views`), and then `size` must
// fit in it (kInvalidParams otherwise). Raises TypeError for anything else, negative ints and
// bools included.
Result<uintptr_t> AddressOf(pybind11::handle object, uint64_t size, bool writable,
                            BufferViews& views);

}  // namespace mooncake::python
