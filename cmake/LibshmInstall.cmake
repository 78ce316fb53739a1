# SPDX-License-Identifier: MIT
include(CMakePackageConfigHelpers)
set(LIBSHM_INSTALL_TARGETS libshm libshm_static)
if(TARGET libshm_heap)
  list(APPEND LIBSHM_INSTALL_TARGETS libshm_heap)
endif()
install(TARGETS ${LIBSHM_INSTALL_TARGETS} EXPORT libshmTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS shmd RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/libshm)
install(DIRECTORY libshm/include/libshm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshm/generated/libshm/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/libshm)
install(EXPORT libshmTargets NAMESPACE libshm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm)
configure_package_config_file(cmake/libshmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/libshmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/libshmConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshmConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/libshmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm)
configure_file(cmake/libshm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/libshm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET libshm_preload)
  install(TARGETS libshm_preload LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(TARGETS shmrun shmstat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
