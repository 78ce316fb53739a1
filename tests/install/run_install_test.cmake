# SPDX-License-Identifier: MIT
# cmake -P script: install into WORK_DIR/prefix, build the consumer both ways, run it.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${prefix}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
foreach(f include/libshm/libshm.h include/libshm/libshm.hpp include/libshm/policy.h
          include/libshm/heap.h include/libshm/segment.hpp
          libexec/libshm/shmd bin/shmrun bin/shmstat)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(GLOB pc ${prefix}/lib*/pkgconfig/libshm.pc)
if(NOT pc)
  message(FATAL_ERROR "libshm.pc not installed")
endif()

set(CONSUMER_SRC ${CONSUMER})
configure_file(${CONSUMER}/consumer_project.cmake.in ${WORK_DIR}/src/CMakeLists.txt @ONLY)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/src -B ${WORK_DIR}/build
                        -DCMAKE_PREFIX_PATH=${prefix} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "find_package(libshm) consumer did not configure")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "find_package(libshm) consumer did not build")
endif()
# The installed library must find the installed helper on its own.
get_filename_component(libdir ${pc} DIRECTORY)
get_filename_component(libdir ${libdir} DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} LIBSHM_LIMIT=4M
                        ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc)
  message(FATAL_ERROR "consumer failed (${rc}): ${out}")
endif()
message(STATUS "find_package consumer: ${out}")

# pkg-config (the README's test command installs it; without it the test fails).
find_program(PKG_CONFIG pkg-config)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()
get_filename_component(pcdir ${pc} DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pcdir} ${PKG_CONFIG} --define-prefix
                        --cflags --libs libshm OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config libshm failed")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
execute_process(COMMAND cc ${CONSUMER}/consumer.c ${flags} -o ${WORK_DIR}/consumer_pc
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "pkg-config consumer did not build")
endif()
