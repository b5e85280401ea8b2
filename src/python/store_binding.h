#pragma once

// mooncake.store: MooncakeDistributedStore, ReplicateConfig, SoftPinAction, BufferHandle.

#include <pybind11/pybind11.h>

namespace mooncake::python {

// Adds the store's classes to `module` and registers an atexit hook closing every store.
void BindStore(pybind11::module_& module);

}  // namespace mooncake::python
