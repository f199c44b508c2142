# qsweep_sources(file ...): add sources of a room to the library.
function(qsweep_sources)
  target_sources(qsweep_lib PRIVATE ${ARGN})
endfunction()

# qsweep_tests(NAME name SOURCES a_test.cc ... [LABELS l ...]): one gtest
# binary per room, each test registered with ctest. Tests find the shared test
# data through QSWEEP_DATA (default: ../shared/data beside the checkout) and the
# repository's own fixtures under tests/data.
function(qsweep_tests)
  if(NOT QSWEEP_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME" "SOURCES;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/test_main.cc)
  target_link_libraries(${T_NAME} PRIVATE qsweep_lib GTest::gtest GTest::gmock)
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${T_NAME} PRIVATE
    QSWEEP_SOURCE_DIR="${CMAKE_SOURCE_DIR}" QSWEEP_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set(props ENVIRONMENT "OMP_NUM_THREADS=2")
  if(T_LABELS)
    list(APPEND props LABELS "${T_LABELS}")
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
