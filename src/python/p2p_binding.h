#pragma once

// mooncake.p2p: P2PStore (register / get_replica / unregister / delete_replica / list) over
// buffer-protocol objects, zero-copy.

#include <pybind11/pybind11.h>

namespace mooncake::python {

void BindP2P(pybind11::module_& module);

}  // namespace mooncake::python
