# Test registration, by directory, so that adding a test needs no edit here:
#   tests/unit/test_<module>.c   cmocka unit test of lib/<module>.c, linked with the core library
#   tests/e2e/test_*.sh          end-to-end, bash, drives the real binaries
#   tests/e2e/test_*.py          end-to-end, Debian's python3 (stdlib + python3-cryptography)
#   tests/<suite>/test_*.{sh,py} any other suite directory listed in GP_TEST_SUITES
# Every test sees the environment below; a test that must not run here exits 77 (skipped).

set(GP_TEST_ENV
  GP_SOURCE_DIR=${PROJECT_SOURCE_DIR}
  GP_BUILD_DIR=${PROJECT_BINARY_DIR}
  GP_VECTORS=${PROJECT_SOURCE_DIR}/tests/vectors/pytest-gpu-proof-v1
  GP_SERVER_BIN=${PROJECT_BINARY_DIR}/gpuproof-server
  GP_CLI_BIN=${PROJECT_BINARY_DIR}/gpuproof-cli
  GP_SANITIZE=$<IF:$<BOOL:${GP_SANITIZE}>,1,0>
  PYTHON=/usr/bin/python3
  PYTHONDONTWRITEBYTECODE=1
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp)

file(GLOB GP_UNIT_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${GP_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE gpuproof PkgConfig::CMOCKA)
  add_test(NAME unit/${name} COMMAND ${name})
  set_tests_properties(unit/${name} PROPERTIES ENVIRONMENT "${GP_TEST_ENV}" SKIP_RETURN_CODE 77
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR} TIMEOUT 300)
endforeach()

set(GP_TEST_SUITES e2e reliability browser security)
foreach(suite ${GP_TEST_SUITES})
  file(GLOB GP_SUITE_SH CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${suite}/test_*.sh)
  file(GLOB GP_SUITE_PY CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${suite}/test_*.py)
  foreach(script ${GP_SUITE_SH} ${GP_SUITE_PY})
    get_filename_component(name ${script} NAME_WE)
    get_filename_component(ext ${script} EXT)
    if(ext STREQUAL ".sh")
      add_test(NAME ${suite}/${name} COMMAND bash ${script})
    else()
      add_test(NAME ${suite}/${name} COMMAND /usr/bin/python3 ${script})
    endif()
    set_tests_properties(${suite}/${name} PROPERTIES ENVIRONMENT "${GP_TEST_ENV}"
      SKIP_RETURN_CODE 77 WORKING_DIRECTORY ${PROJECT_BINARY_DIR} TIMEOUT 600)
  endforeach()
endforeach()
