# Debian packages with CPack (scripts/package):
#   libsagaflow0.1  the shared library libsagaflow.so.0.1 (what a worker linked to it needs)
#   sagaflow-dev  headers, static libraries, the .so link, CMake config and pkg-config files
#   sagad         sagad and sagactl, the systemd units sagad.service and
#                 sagaflow-worker@.service, /etc/sagaflow/sagad.json, the sagaflow user
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sagaflow)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Sagaflow")
set(CPACK_PACKAGE_CONTACT "Sagaflow developers <dev@sagaflow.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev daemon)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(sagaflow_deb_version ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})

# The runtime package of the shared library, named after its SONAME as Debian names them.
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libsagaflow${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_LIB_DESCRIPTION "Sagaflow saga orchestrator, shared library
 libsagaflow.so.0.1: workflows, the worker SDK, the HTTP client and RunDaemon, for
 programs linked to it (Sagaflow::shared, pkg-config sagaflow).")
# What it loads (libpq5, libzmq5, ...), from dpkg-shlibdeps; and a shlibs file for the
# packages built against it.
set(CPACK_DEBIAN_LIB_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME sagaflow-dev)
set(CPACK_COMPONENT_DEV_DESCRIPTION "Sagaflow SDK: workflows, workers, the HTTP client and RunDaemon
 Headers, static libraries, the shared library's link, CMake package
 (find_package(Sagaflow)) and pkg-config files of the Sagaflow saga orchestrator.")
# A static library's users link what it is built on: the -dev packages of its dependencies.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${CPACK_DEBIAN_LIB_PACKAGE_NAME} (= ${sagaflow_deb_version}), libboost-dev (>= 1.74), nlohmann-json3-dev, libpq-dev, libzmq3-dev, libspdlog-dev, libssl-dev, libsystemd-dev, pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE amd64)

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME sagad)
set(CPACK_DEBIAN_DAEMON_PACKAGE_SECTION net)
set(CPACK_COMPONENT_DAEMON_DESCRIPTION "Sagaflow saga orchestrator daemon and its command-line tool
 sagad runs sagas (state in PostgreSQL, steps over ZeroMQ to workers); sagactl inspects
 and steers them. With systemd units for sagad and for worker services.")
set(CPACK_DEBIAN_DAEMON_PACKAGE_SHLIBDEPS ON)
# Without a dsn, sagad runs an embedded PostgreSQL from these binaries (initdb, postgres).
set(CPACK_DEBIAN_DAEMON_PACKAGE_RECOMMENDS "postgresql-15")
set(CPACK_DEBIAN_DAEMON_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
