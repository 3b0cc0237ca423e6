# tests/fuzz/fuzz.cmake — included from the top-level CMakeLists.txt:
#   include(tests/fuzz/fuzz.cmake)
# Adds the ctest entry fuzz/short: tests/fuzz/run.sh 10, which builds the
# libFuzzer harnesses with clang in a separate project (tests/fuzz/
# CMakeLists.txt) under <build>/fuzz, replays every committed seed (the
# regress-* files once crashed) and fuzzes each harness for 10 s. The main
# build (gcc) is untouched; without clang the test says so and passes.
add_test(NAME fuzz/short COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh 10)
set_tests_properties(fuzz/short PROPERTIES
  TIMEOUT 900
  ENVIRONMENT "FUZZ_BUILD=${CMAKE_BINARY_DIR}/fuzz;MOONGATE_HOME=${CMAKE_SOURCE_DIR}")
