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
# RE2 (libre2-dev) for admin key patterns: linear-time matching. Debian 12 ships a pkg-config
# file and no CMake package.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET GLOBAL re2)
# io_uring for file segments (liburing-dev; Debian 12 ships 2.3).
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET GLOBAL liburing>=2.1)
# UCX (libucx-dev >= 1.13) for the `ucx` (alias `rdma`) Transfer Engine transport. Optional: where
# it is absent, or with -DMC_WITH_UCX=OFF, the transport is compiled out (protocol "ucx" is then
# refused with NOT_SUPPORTED and its tests skip, saying why).
option(MC_WITH_UCX "Build the UCX (RDMA) transport when libucx-dev is found" ON)
set(MC_HAVE_UCX OFF)
if(MC_WITH_UCX)
  pkg_check_modules(UCX IMPORTED_TARGET GLOBAL ucx>=1.13)
  if(UCX_FOUND)
    set(MC_HAVE_UCX ON)
  else()
    message(STATUS "UCX (libucx-dev >= 1.13) not found: the ucx transport is compiled out")
  endif()
endif()

# mc_add_ucx_variants(test [FILTER gtest_filter]): registers the already-added `test` again once
# per UCX transport set the ucx transport is tested over where no RDMA exists:
# <test>_ucx_tcp (UCX_TLS=tcp,self) and <test>_ucx_sm (UCX_TLS=sm,self), each running the
# tests FILTER selects (default: all). Under the sanitizer build UCX must not hook malloc
# (UCX_MEM_MALLOC_HOOKS=no, set for `test` itself too) and UCX's own leaks are suppressed. A
# variant whose tests all skip (a build without UCX) is reported as skipped.
# UCX's own leaks (error paths) are suppressed: src/transfer/transport/ucx/lsan.supp.
set(MC_UCX_SANITIZER_ENV "UCX_MEM_MALLOC_HOOKS=no"
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/src/transfer/transport/ucx/lsan.supp")
function(mc_add_ucx_variants test)
  cmake_parse_arguments(ARG "" "FILTER" "" ${ARGN})
  get_test_property(${test} LABELS labels)
  get_test_property(${test} TIMEOUT timeout)
  set(filter_args)
  if(ARG_FILTER)
    set(filter_args "--gtest_filter=${ARG_FILTER}")
  endif()
  foreach(variant tcp sm)
    add_test(NAME ${test}_ucx_${variant} COMMAND ${test} ${filter_args})
    set(env "MC_BIN_DIR=${CMAKE_BINARY_DIR}/bin" "UCX_TLS=${variant},self")
    if(MC_SANITIZE)
      list(APPEND env ${MC_UCX_SANITIZER_ENV})
    endif()
    set_tests_properties(${test}_ucx_${variant} PROPERTIES LABELS "${labels}" TIMEOUT ${timeout}
                         ENVIRONMENT "${env}")
    if(NOT MC_HAVE_UCX)
      set_tests_properties(${test}_ucx_${variant} PROPERTIES
                           SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\] [^0-9]")
    endif()
  endforeach()
  if(MC_SANITIZE)
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ${MC_UCX_SANITIZER_ENV})
  endif()
endfunction()
