# Every third-party dependency comes from a Debian package (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(CURL REQUIRED)
# Control RPC: protobuf + gRPC (Debian's libgrpc++-dev ships a CMake config).
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_program(MC_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
# HTTP (metrics/status servers, test and bench clients). Debian ships cpp-httplib as a compiled
# library whose header must see the same CPPHTTPLIB_* defines it was built with, so it comes
# through pkg-config rather than as a bare header.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CPP_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib>=0.11)
