# One helper per target kind. Warnings and sanitizers are set here, per target, never as
# global flags.

option(MC_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)

find_program(MC_CCACHE ccache)
if(MC_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${MC_CCACHE})
endif()

function(_mc_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(MC_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# Libraries are also linked into the Python extension (a shared object), so their code is
# position-independent; -fno-semantic-interposition keeps -fPIC from blocking inlining.
function(_mc_position_independent target)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_compile_options(${target} PRIVATE -fno-semantic-interposition)
endfunction()

# Include directories: include/ (the public API) is PUBLIC; src/, where every internal header is
# included from by full path ("master/client/master_client.h"), is PRIVATE to each target. Which
# internal headers a target may include is not left to the include path: scripts/check_deps.py
# (ctest architecture_check) fails when a target includes a header of a library it does not
# depend on.
function(_mc_internal_includes target)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
endfunction()

# mc_add_library(name SOURCES ... DEPS ...)
function(mc_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  _mc_internal_includes(${name})
  _mc_position_independent(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  _mc_target_defaults(${name})
  if(MC_SANITIZE)
    target_link_options(${name} INTERFACE -fsanitize=address,undefined)
  endif()
endfunction()

# mc_add_executable(name SOURCES ... DEPS ...): a binary in build/bin/.
function(mc_add_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  _mc_internal_includes(${name})
  _mc_target_defaults(${name})
endfunction()

# mc_add_test(name SOURCES ... DEPS ... LABELS unit|integration|fault [TIMEOUT s])
# Unit tests carry the label "unit" and are the ones run again under ASan+UBSan.
function(mc_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  _mc_internal_includes(${name})
  _mc_target_defaults(${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "MC_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endfunction()

# mc_add_bench(name SOURCES ... DEPS ...): Google Benchmark micro-benchmark, never run by ctest.
function(mc_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
  _mc_internal_includes(${name})
  _mc_target_defaults(${name})
endfunction()
