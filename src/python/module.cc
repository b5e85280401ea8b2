// The extension behind the Python package `mooncake`: mooncake._mooncake, whose submodules
// `store` and `engine` the package's store.py and engine.py re-export.

#include <pybind11/pybind11.h>

#include <cstdlib>

#include "common/logging.h"
#include "python/engine_binding.h"
#include "python/p2p_binding.h"
#include "python/store_binding.h"

PYBIND11_MODULE(_mooncake, m) {
  m.doc() = "Mooncake Store and Transfer Engine bindings (use mooncake.store / mooncake.engine)";
  // The module is an application edge: it picks the log level (warn unless MC_LOG_LEVEL says
  // trace|debug|info|warn|error|off).
  mooncake::LogLevel level = mooncake::LogLevel::kWarn;
  if (const char* env = std::getenv("MC_LOG_LEVEL"); env != nullptr) {
    mooncake::ParseLogLevel(env, &level);
  }
  mooncake::SetLogLevel(level);
  m.def(
      "set_log_level",
      [](const std::string& name) {
        mooncake::LogLevel parsed;
        if (!mooncake::ParseLogLevel(name, &parsed)) {
          throw pybind11::value_error("log level must be trace|debug|info|warn|error|off");
        }
        mooncake::SetLogLevel(parsed);
      },
      pybind11::arg("level"), "Sets the log level of the native library (stderr).");

  auto store = m.def_submodule("store", "MooncakeDistributedStore and its configuration");
  mooncake::python::BindStore(store);
  auto engine = m.def_submodule("engine", "TransferEngine");
  mooncake::python::BindEngine(engine);
  auto p2p = m.def_submodule("p2p", "P2PStore");
  mooncake::python::BindP2P(p2p);
}
