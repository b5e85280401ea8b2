#include "python/buffer_view.h"

#include <string>

namespace py = pybind11;

namespace mooncake::python {

BufferView::BufferView(py::handle object, bool writable) {
  const int flags = PyBUF_ANY_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(object.ptr(), &view_, flags) != 0) throw py::error_already_set();
}

BufferView::~BufferView() { PyBuffer_Release(&view_); }

Result<uintptr_t> AddressOf(py::handle object, uint64_t size, bool writable, BufferViews& views) {
  if (PyLong_Check(object.ptr()) && !PyBool_Check(object.ptr())) {
    const unsigned long long address = PyLong_AsUnsignedLongLong(object.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      throw py::type_error("buffer_ptr must be a non-negative int address or a buffer object");
    }
    return static_cast<uintptr_t>(address);
  }
  if (!PyObject_CheckBuffer(object.ptr()) || PyBool_Check(object.ptr())) {
    throw py::type_error(std::string("buffer_ptr must be an int address or a buffer object, not ") +
                         Py_TYPE(object.ptr())->tp_name);
  }
  const BufferView& view = views.emplace_back(object, writable);
  if (size > view.size()) {
    return InvalidParams("size " + std::to_string(size) + " exceeds the buffer's " +
                         std::to_string(view.size()) + " bytes");
  }
  return reinterpret_cast<uintptr_t>(view.data());
}

}  // namespace mooncake::python
