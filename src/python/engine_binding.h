#pragma once

// mooncake.engine: TransferEngine.

#include <pybind11/pybind11.h>

namespace mooncake::python {

void BindEngine(pybind11::module_& module);

}  // namespace mooncake::python
