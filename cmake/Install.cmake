# What `cmake --install` puts in place, and the CMake package a user's project finds:
#   find_package(Sagaflow 0.1 REQUIRED)
#   target_link_libraries(my-worker PRIVATE Sagaflow::worker)
#
# The four public targets each carry their own dependencies:
#   Sagaflow::workflow  workflow definitions and the vocabulary (include/sagaflow/core, workflow)
#   Sagaflow::worker    the worker SDK (include/sagaflow/worker): libpq, ZeroMQ, OpenSSL
#   Sagaflow::client    the typed HTTP client (include/sagaflow/client): Boost.Beast, OpenSSL
#   Sagaflow::daemon    RunDaemon (include/sagaflow/daemon.hpp): a sagad with your workflows
#   Sagaflow::testing   the test kit (include/sagaflow/testing): failure points, in-process
# The libraries they are made of are installed and exported beside them (Sagaflow::part_*),
# because a static library's users link its parts too; their headers are not installed.
#
# The same code as one shared library, libsagaflow.so.0.1 (its SONAME: in 0.x a minor
# version may break the ABI): Sagaflow::shared, pkg-config sagaflow. It holds every public
# target but the test kit; it links its own dependencies, so its users need only its
# headers' (nlohmann_json).
include(CMakePackageConfigHelpers)

set(SAGAFLOW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Sagaflow)

set(sagaflow_public_targets sagaflow_core sagaflow_worker sagaflow_client sagaflow_daemon sagaflow_testing)
set(sagaflow_part_targets sagaflow_log sagaflow_os sagaflow_pg sagaflow_transport sagaflow_security
    sagaflow_http sagaflow_http_server sagaflow_engine sagaflow_runtime sagaflow_store_pg
    sagaflow_metrics sagaflow_web sagaflow_daemon_pure)
set_target_properties(sagaflow_core PROPERTIES EXPORT_NAME workflow)
set_target_properties(sagaflow_worker PROPERTIES EXPORT_NAME worker)
set_target_properties(sagaflow_client PROPERTIES EXPORT_NAME client)
set_target_properties(sagaflow_daemon PROPERTIES EXPORT_NAME daemon)
set_target_properties(sagaflow_testing PROPERTIES EXPORT_NAME testing)
foreach(t IN LISTS sagaflow_part_targets)
    string(REGEX REPLACE "^sagaflow_" "part_" name ${t})
    set_target_properties(${t} PROPERTIES EXPORT_NAME ${name})
endforeach()
# Build-tree aliases with the installed names, so that the same CMake works for a project
# that adds Sagaflow with add_subdirectory or FetchContent.
add_library(Sagaflow::workflow ALIAS sagaflow_core)
add_library(Sagaflow::worker ALIAS sagaflow_worker)
add_library(Sagaflow::client ALIAS sagaflow_client)
add_library(Sagaflow::daemon ALIAS sagaflow_daemon)
add_library(Sagaflow::testing ALIAS sagaflow_testing)

set(sagaflow_shared_parts sagaflow_core sagaflow_worker sagaflow_client sagaflow_daemon ${sagaflow_part_targets})
add_library(sagaflow_shared SHARED ${PROJECT_SOURCE_DIR}/cmake/shared_library.cpp)
# Each archive whole, once; then the same targets again as plain archives (nothing left to
# take from them), which brings their own dependencies (libpq, libzmq, ...) to the link.
set(sagaflow_shared_archives "")
foreach(t IN LISTS sagaflow_shared_parts)
    list(APPEND sagaflow_shared_archives "$<TARGET_FILE:${t}>")
endforeach()
target_link_libraries(sagaflow_shared
    PUBLIC nlohmann_json::nlohmann_json
    PRIVATE -Wl,--whole-archive ${sagaflow_shared_archives} -Wl,--no-whole-archive ${sagaflow_shared_parts})
target_include_directories(sagaflow_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(sagaflow_shared PROPERTIES OUTPUT_NAME sagaflow EXPORT_NAME shared
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
    INTERFACE_COMPILE_FEATURES cxx_std_20)
# With --no-undefined a missing symbol fails the link here, not in a user's program.
target_link_options(sagaflow_shared PRIVATE -Wl,--no-undefined)
add_library(Sagaflow::shared ALIAS sagaflow_shared)

install(TARGETS ${sagaflow_public_targets} ${sagaflow_part_targets}
    EXPORT SagaflowTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The shared library in its runtime package; its unversioned link, for linking, in dev.
install(TARGETS sagaflow_shared
    EXPORT SagaflowTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS sagad sagactl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sagaflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    COMPONENT dev FILES_MATCHING PATTERN "*.hpp")

install(EXPORT SagaflowTargets NAMESPACE Sagaflow:: DESTINATION ${SAGAFLOW_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SagaflowConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/SagaflowConfig.cmake INSTALL_DESTINATION ${SAGAFLOW_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/SagaflowConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/SagaflowConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/SagaflowConfigVersion.cmake
    DESTINATION ${SAGAFLOW_CMAKE_DIR} COMPONENT dev)

# pkg-config, one file per public target. Static archives: Libs lists the target's parts
# in link order and Libs.private nothing, so `pkg-config --libs` is all a Makefile needs.
function(sagaflow_pkg_config name description requires parts)
    set(libs "")
    foreach(p IN LISTS parts)
        string(APPEND libs " -l${p}")
    endforeach()
    # Relocatable: the prefix is found from where the file lies.
    file(RELATIVE_PATH up /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/${name}.pc.in
"prefix=\${pcfiledir}/${up}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: ${name}
Description: ${description}
Version: ${PROJECT_VERSION}
Requires: ${requires}
Cflags: -I\${includedir} -std=c++20
Libs: -L\${libdir}${libs} ${ARGN}
")
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pkgconfig/${name}.pc.in
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig RENAME ${name}.pc COMPONENT dev)
endfunction()
sagaflow_pkg_config(sagaflow-workflow "Sagaflow workflow definitions" "nlohmann_json" "sagaflow_core")
sagaflow_pkg_config(sagaflow-worker "Sagaflow worker SDK" "nlohmann_json, libpq, libzmq, libcrypto, spdlog"
    "sagaflow_worker;sagaflow_security;sagaflow_transport;sagaflow_pg;sagaflow_os;sagaflow_log;sagaflow_core" -pthread)
sagaflow_pkg_config(sagaflow-client "Sagaflow HTTP API client" "nlohmann_json, libssl, libcrypto"
    "sagaflow_client;sagaflow_http;sagaflow_core" -pthread)
sagaflow_pkg_config(sagaflow "Sagaflow, shared: workflows, worker SDK, client, daemon" "nlohmann_json" "sagaflow")

# The sagad package's files: its systemd units, a default config, and the worker template.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/sagad.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/sagaflow-worker@.service
    DESTINATION lib/systemd/system COMPONENT daemon)
# The default config goes under share/ (the install stays relocatable); the package's
# postinst copies it to /etc/sagaflow/sagad.json when there is none, and never over one.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/sagad.json
    DESTINATION ${CMAKE_INSTALL_DATADIR}/sagaflow COMPONENT daemon)
include(cmake/Package.cmake)
