# Included by tests/CMakeLists.txt when PKD_BUILD_FUZZERS: two CTest tests per fuzz/fuzz_<name>.cpp
#   fuzz.<name>.replay  every kept regression input and every seed, run once (seconds)
#   fuzz.<name>         PKD_FUZZ_TEST_SECONDS (30) of fuzzing from a copy of the seeds
# Work files (corpus copies, crash inputs, logs) go to <build>/fuzz-work/<name>/.
set(PKD_FUZZ_TEST_SECONDS 30 CACHE STRING "Seconds each fuzz.<name> test fuzzes")
file(GLOB _pkd_fuzz_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/fuzz/fuzz_*.cpp")
foreach(_src ${_pkd_fuzz_sources})
  get_filename_component(_name "${_src}" NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" _name "${_name}")
  set(_run bash "${PROJECT_SOURCE_DIR}/fuzz/run_fuzz_test.sh" "${PKD_FUZZ_BINARY_DIR}/fuzz_${_name}"
      ${_name} "${PROJECT_SOURCE_DIR}")
  add_test(NAME fuzz.${_name}.replay
           COMMAND ${_run} "${PROJECT_BINARY_DIR}/fuzz-work/${_name}-replay" 0)
  add_test(NAME fuzz.${_name}
           COMMAND ${_run} "${PROJECT_BINARY_DIR}/fuzz-work/${_name}" ${PKD_FUZZ_TEST_SECONDS})
  set_tests_properties(fuzz.${_name}.replay PROPERTIES PROCESSORS 1 TIMEOUT 120
                       SKIP_RETURN_CODE 77 LABELS fuzz)
  math(EXPR _timeout "${PKD_FUZZ_TEST_SECONDS} + 120")
  set_tests_properties(fuzz.${_name} PROPERTIES PROCESSORS 1 TIMEOUT ${_timeout}
                       SKIP_RETURN_CODE 77 LABELS fuzz)
endforeach()
