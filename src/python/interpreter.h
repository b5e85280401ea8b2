#pragma once

// Whether the interpreter is up and not finalizing: only then may a destructor (which Python
// runs with the GIL held) release the GIL around slow native teardown.

#include <Python.h>

namespace mooncake::python {

inline bool InterpreterRunning() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

}  // namespace mooncake::python
