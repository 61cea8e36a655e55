# libFuzzer targets: tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/ (committed,
# including every crasher found, as regression inputs). ctest runs each for GP_FUZZ_SECONDS
# (default 20) on a scratch copy of the corpus; `make fuzz` runs them longer.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "GP_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
endif()
set(GP_FUZZ_SECONDS 20 CACHE STRING "seconds each fuzzer runs under ctest")
target_compile_options(gpuproof PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
add_custom_target(fuzzers)
file(GLOB GP_FUZZ_SRC CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${GP_FUZZ_SRC})
  get_filename_component(name ${src} NAME_WE)
  string(REPLACE "fuzz_" "" short ${name})
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE gpuproof)
  add_dependencies(fuzzers ${name})
  add_test(NAME fuzz/${short}
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh $<TARGET_FILE:${name}>
            ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${short} ${GP_FUZZ_SECONDS})
  set_tests_properties(fuzz/${short} PROPERTIES TIMEOUT 900 WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
endforeach()
