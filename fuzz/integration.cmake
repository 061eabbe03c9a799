# Included by the top-level CMakeLists.txt: builds the libFuzzer targets of fuzz/ (a separate
# CMake project compiled with clang++) as part of the main build, through ExternalProject, when
# clang++ with libFuzzer (Debian: clang, libclang-rt-14-dev) is found. The tests are registered
# by fuzz/tests.cmake (from tests/CMakeLists.txt).
#   PKD_BUILD_FUZZERS      ON when the toolchain was found (can be forced OFF).
#   PKD_FUZZ_CXX_COMPILER  the clang++ to use.
find_program(PKD_FUZZ_CXX_COMPILER NAMES clang++ clang++-16 clang++-15 clang++-14
             DOC "clang++ for the libFuzzer targets (fuzz/)")
set(_pkd_fuzz_ok OFF)
if(PKD_FUZZ_CXX_COMPILER)
  # Probe once per compiler: does it link a fuzzer with ASan and UBSan?
  if(NOT DEFINED PKD_FUZZ_PROBED_FOR OR NOT PKD_FUZZ_PROBED_FOR STREQUAL PKD_FUZZ_CXX_COMPILER)
    set(_probe_dir "${CMAKE_BINARY_DIR}/fuzz-probe")
    file(MAKE_DIRECTORY "${_probe_dir}")
    file(WRITE "${_probe_dir}/probe.cpp"
         "#include <cstdint>\n#include <cstddef>\nextern \"C\" int LLVMFuzzerTestOneInput("
         "const std::uint8_t*, std::size_t) { return 0; }\n")
    execute_process(
      COMMAND "${PKD_FUZZ_CXX_COMPILER}" -fsanitize=fuzzer,address,undefined probe.cpp -o probe
      WORKING_DIRECTORY "${_probe_dir}" RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_VARIABLE _err)
    if(_rc EQUAL 0)
      set(PKD_FUZZ_TOOLCHAIN_OK ON CACHE INTERNAL "")
    else()
      set(PKD_FUZZ_TOOLCHAIN_OK OFF CACHE INTERNAL "")
      set(PKD_FUZZ_PROBE_ERROR "${_err}" CACHE INTERNAL "")
    endif()
    set(PKD_FUZZ_PROBED_FOR "${PKD_FUZZ_CXX_COMPILER}" CACHE INTERNAL "")
  endif()
  set(_pkd_fuzz_ok ${PKD_FUZZ_TOOLCHAIN_OK})
endif()

option(PKD_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/ (needs clang++ and libFuzzer)"
       ${_pkd_fuzz_ok})
if(PKD_BUILD_FUZZERS AND NOT _pkd_fuzz_ok)
  message(FATAL_ERROR "PKD_BUILD_FUZZERS=ON but '${PKD_FUZZ_CXX_COMPILER}' cannot link a libFuzzer "
                      "target (apt-get install clang libclang-rt-14-dev): ${PKD_FUZZ_PROBE_ERROR}")
endif()
if(NOT PKD_BUILD_FUZZERS)
  if(NOT _pkd_fuzz_ok)
    message(STATUS "pkd: fuzzers not built: no clang++ with libFuzzer "
                   "(Debian: apt-get install clang libclang-rt-14-dev)")
  else()
    message(STATUS "pkd: fuzzers not built (PKD_BUILD_FUZZERS=OFF)")
  endif()
  return()
endif()

get_filename_component(_pkd_fuzz_bin_dir "${PKD_FUZZ_CXX_COMPILER}" DIRECTORY)
get_filename_component(_pkd_fuzz_cxx_name "${PKD_FUZZ_CXX_COMPILER}" NAME)
string(REPLACE "clang++" "clang" _pkd_fuzz_c_name "${_pkd_fuzz_cxx_name}")
set(PKD_FUZZ_BINARY_DIR "${PROJECT_BINARY_DIR}/fuzz")
message(STATUS "pkd: fuzzers (fuzz/) built with ${PKD_FUZZ_CXX_COMPILER} in ${PKD_FUZZ_BINARY_DIR}")
include(ExternalProject)
ExternalProject_Add(pkd_fuzzers
  SOURCE_DIR "${PROJECT_SOURCE_DIR}/fuzz"
  BINARY_DIR "${PKD_FUZZ_BINARY_DIR}"
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${PKD_FUZZ_CXX_COMPILER}
             -DCMAKE_C_COMPILER=${_pkd_fuzz_bin_dir}/${_pkd_fuzz_c_name}
             -DCMAKE_BUILD_TYPE=RelWithDebInfo
             -DTorch_DIR=${Torch_DIR}
  BUILD_ALWAYS ON      # its own make decides what is out of date (pkd sources it compiles)
  INSTALL_COMMAND ""
  EXCLUDE_FROM_ALL OFF)
