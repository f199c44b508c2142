# Rooms: one static library per folder of src/ (docs/ARCHITECTURE.md, "Source
# layout"). A room's CMakeLists.txt names the room and the rooms it may
# include, then adds its sources and tests:
#
#   qsweep_room(io ROOMS eval metrics core PRIVATE hdf5::hdf5)
#   qsweep_sources(h5_file.cc run_file.cc ...)
#   qsweep_tests(NAME io_tests SOURCES run_file_test.cc ... LINK hdf5::hdf5)
#
# qsweep_room(NAME [TARGET target | RULES_ONLY] [ROOMS room ...] [PUBLIC dep ...]
#             [PRIVATE dep ...] [EXCEPT "file -> include" ...])
#   Makes the library qsweep_NAME (or takes TARGET, an executable or a library
#   made elsewhere) for the files under the current folder; a folder below
#   that is a room of its own is not part of it. ROOMS are the rooms its files
#   may include, each linked PUBLIC once every room is declared
#   (qsweep_finish_rooms()); PUBLIC and PRIVATE are third-party targets.
#   RULES_ONLY declares the rules of a room that this build does not compile
#   (backend/cuda and kernels without CUDA), so that they are checked anyway,
#   and links nothing to it. EXCEPT names an include that breaks the rule, to
#   be removed (the check fails once it is gone, so that the exception goes
#   too). tools/check_layering.py holds every include of the tree to these
#   lists in every build.
function(qsweep_room NAME)
  cmake_parse_arguments(R "RULES_ONLY" "TARGET" "ROOMS;PUBLIC;PRIVATE;EXCEPT" ${ARGN})
  if(R_RULES_ONLY)
    set(target "")
  elseif(R_TARGET)
    set(target ${R_TARGET})
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      set(scope PRIVATE)
    else()
      set(scope PUBLIC)
    endif()
  else()
    set(target qsweep_${NAME})
    add_library(${target} STATIC)
    target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR}/src)
    set(scope PUBLIC)
  endif()
  if(target)
    add_dependencies(${target} qsweep_layering)
    target_link_libraries(${target} ${scope} ${R_PUBLIC} PRIVATE ${R_PRIVATE})
  endif()
  file(RELATIVE_PATH dir ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set_property(GLOBAL APPEND PROPERTY QSWEEP_ROOM_NAMES ${NAME})
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_TARGET "${target}")
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_SCOPE "${scope}")
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_DIR ${dir})
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_ROOMS ${R_ROOMS})
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_PUBLIC ${R_PUBLIC})
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_PRIVATE ${R_PRIVATE})
  set_property(GLOBAL PROPERTY QSWEEP_ROOM_${NAME}_EXCEPTIONS ${R_EXCEPT})
  set(QSWEEP_ROOM ${NAME} PARENT_SCOPE)
endfunction()

# qsweep_sources(file ...): add sources to the room of this folder.
function(qsweep_sources)
  get_property(target GLOBAL PROPERTY QSWEEP_ROOM_${QSWEEP_ROOM}_TARGET)
  target_sources(${target} PRIVATE ${ARGN})
endfunction()

# qsweep_tests(NAME name SOURCES a_test.cc ... [ROOMS room ...] [LINK target ...] [LABELS l ...]):
# one gtest binary of the room of this folder, each test registered with ctest.
# ROOMS: rooms above this one that the tests also use (an end-to-end check,
# say); LINK: third-party targets they include themselves. Tests find the
# shared test data through QSWEEP_DATA (default: ../shared/data beside the
# checkout) and the repository's own fixtures under tests/data.
function(qsweep_tests)
  cmake_parse_arguments(T "" "NAME" "SOURCES;ROOMS;LINK;LABELS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY QSWEEP_ROOM_${QSWEEP_ROOM}_TEST_ROOMS ${T_ROOMS})
  set_property(GLOBAL APPEND PROPERTY QSWEEP_ROOM_${QSWEEP_ROOM}_TEST_LINKS ${T_LINK})
  if(NOT QSWEEP_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/test_main.cc)
  get_property(target GLOBAL PROPERTY QSWEEP_ROOM_${QSWEEP_ROOM}_TARGET)
  list(TRANSFORM T_ROOMS PREPEND qsweep_)
  target_link_libraries(${T_NAME} PRIVATE ${target} ${T_ROOMS} ${T_LINK} GTest::gtest GTest::gmock)
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${T_NAME} PRIVATE
    QSWEEP_SOURCE_DIR="${CMAKE_SOURCE_DIR}" QSWEEP_BINARY_DIR="${CMAKE_BINARY_DIR}")
  set(props ENVIRONMENT "OMP_NUM_THREADS=2")
  if(T_LABELS)
    list(APPEND props LABELS "${T_LABELS}")
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()

# The layering check (tools/check_layering.py) over the rules the rooms
# declared: target qsweep_layering, which every room's library waits for, so
# that an include pointing up or sideways fails the build before anything
# compiles; rerun whenever a source, a rule or the script changes.
add_custom_target(qsweep_layering ALL DEPENDS ${CMAKE_BINARY_DIR}/layering.ok)

function(_qsweep_json_list out)
  set(items "")
  foreach(x IN LISTS ARGN)
    list(APPEND items "\"${x}\"")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "[${joined}]" PARENT_SCOPE)
endfunction()

# Called once, after every room is declared: links each room to its ROOMS
# and sets up the layering check over their rules.
function(qsweep_finish_rooms)
  get_property(names GLOBAL PROPERTY QSWEEP_ROOM_NAMES)
  foreach(name IN LISTS names)
    get_property(target GLOBAL PROPERTY QSWEEP_ROOM_${name}_TARGET)
    get_property(scope GLOBAL PROPERTY QSWEEP_ROOM_${name}_SCOPE)
    get_property(deps GLOBAL PROPERTY QSWEEP_ROOM_${name}_ROOMS)
    foreach(dep IN LISTS deps)
      get_property(dep_target GLOBAL PROPERTY QSWEEP_ROOM_${dep}_TARGET)
      if(target AND dep_target)
        target_link_libraries(${target} ${scope} ${dep_target})
      endif()
    endforeach()
  endforeach()
  set(rooms "")
  foreach(name IN LISTS names)
    set(fields "")
    foreach(key TARGET DIR)
      get_property(v GLOBAL PROPERTY QSWEEP_ROOM_${name}_${key})
      string(TOLOWER ${key} k)
      list(APPEND fields "\"${k}\": \"${v}\"")
    endforeach()
    foreach(key ROOMS PUBLIC PRIVATE TEST_ROOMS TEST_LINKS EXCEPTIONS)
      get_property(v GLOBAL PROPERTY QSWEEP_ROOM_${name}_${key})
      _qsweep_json_list(j ${v})
      string(TOLOWER ${key} k)
      list(APPEND fields "\"${k}\": ${j}")
    endforeach()
    list(JOIN fields ",\n      " body)
    list(APPEND rooms "    \"${name}\": {\n      ${body}\n    }")
  endforeach()
  list(JOIN rooms ",\n" rooms_json)
  set(rules ${CMAKE_BINARY_DIR}/layering_rules.json)
  file(CONFIGURE OUTPUT ${rules} CONTENT
       "{\n  \"source_dir\": \"${CMAKE_SOURCE_DIR}\",\n  \"rooms\": {\n${rooms_json}\n  }\n}\n")
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS
       ${CMAKE_SOURCE_DIR}/src/*.h ${CMAKE_SOURCE_DIR}/src/*.cc
       ${CMAKE_SOURCE_DIR}/kernels/*.cu ${CMAKE_SOURCE_DIR}/kernels/*.cuh)
  set(script ${CMAKE_SOURCE_DIR}/tools/check_layering.py)
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/layering.ok
    COMMAND Python3::Interpreter ${script} --rules ${rules}
    COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/layering.ok
    DEPENDS ${script} ${rules} ${sources}
    COMMENT "Checking that every include between rooms points down"
    VERBATIM)
  if(QSWEEP_TESTS)
    add_test(NAME Layering.EveryIncludePointsDown COMMAND Python3::Interpreter ${script} --rules ${rules})
    # The check itself: an include of io/ from metrics/, and HDF5 in metrics/, must fail it.
    add_test(NAME Layering.AnUpwardIncludeIsRefused COMMAND Python3::Interpreter ${script} --rules ${rules}
             --inject src/metrics/flips.cc:io/run_file.h)
    add_test(NAME Layering.HdfOutsideIoIsRefused COMMAND Python3::Interpreter ${script} --rules ${rules}
             --inject src/metrics/flips.cc:<hdf5.h>)
    set_tests_properties(Layering.AnUpwardIncludeIsRefused PROPERTIES
      PASS_REGULAR_EXPRESSION "flips.cc:[0-9]+: #include \"io/run_file.h\": points up")
    set_tests_properties(Layering.HdfOutsideIoIsRefused PROPERTIES
      PASS_REGULAR_EXPRESSION "flips.cc:[0-9]+: #include <hdf5.h>: metrics does not link HDF5")
  endif()
endfunction()

# Sets the named tests' time limit to `seconds`, ten times that under the
# sanitizers (QSWEEP_SANITIZE), where everything runs several times slower.
function(qsweep_test_timeout seconds)
  if(QSWEEP_SANITIZE)
    math(EXPR seconds "${seconds} * 10")
  endif()
  set_tests_properties(${ARGN} PROPERTIES TIMEOUT ${seconds})
  # A script's own waits (for a queue to drain, a journal to appear) read
  # the limit, so they stretch with it instead of failing first.
  set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT "QSWEEP_TEST_TIME_LIMIT=${seconds}")
endfunction()
