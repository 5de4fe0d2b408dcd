# OSAGO_SANITIZE: build everything (services, plugins, workers, tests) with
# sanitizers. CMakePresets.json names the two builds the project checks:
#   asan  -DOSAGO_SANITIZE=address,undefined   (unit and integration tests)
#   tsan  -DOSAGO_SANITIZE=thread              (unit tests)
# They build at -O1 with line tables and with assertions on (half the compile
# time of -O2 -g; stacks still name file and line). Any report fails the test that caused it: UBSan does not recover, ASan's and
# TSan's default is to end the process with an error.
set(OSAGO_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread (empty: none)")
if(OSAGO_SANITIZE)
  if(NOT OSAGO_SANITIZE MATCHES "^(address,undefined|address|undefined|thread)$")
    message(FATAL_ERROR "OSAGO_SANITIZE must be address,undefined, address, undefined or thread, not '${OSAGO_SANITIZE}'")
  endif()
  add_compile_options(-fsanitize=${OSAGO_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${OSAGO_SANITIZE})
  if(OSAGO_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
  # The plugin worker limits its own memory and system calls; a sanitizer's
  # shadow memory and its reporting need more (see plugin_worker.cpp).
  add_compile_definitions(OSAGO_SANITIZED=1)
endif()

# OSAGO_FUZZ (the fuzz preset, clang only): every object is instrumented for
# libFuzzer and the targets of tests/fuzz link its driver; see docs/security.md.
option(OSAGO_FUZZ "Build the libFuzzer targets (clang; with OSAGO_SANITIZE=address,undefined)" OFF)
if(OSAGO_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "OSAGO_FUZZ needs clang (the fuzz preset uses clang-14), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
