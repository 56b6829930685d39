# Debian packages with CPack (scripts/package):
#   sagaflow-dev  headers, static libraries, CMake config and pkg-config files
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
set(CPACK_COMPONENTS_ALL dev daemon)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME sagaflow-dev)
set(CPACK_COMPONENT_DEV_DESCRIPTION "Sagaflow SDK: workflows, workers, the HTTP client and RunDaemon
 Headers, static libraries, the shared libsagaflow, CMake package (find_package(Sagaflow))
 and pkg-config files of the Sagaflow saga orchestrator.")
# What libsagaflow.so loads (libpq5, libzmq5, ...), from dpkg-shlibdeps.
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS ON)
# A static library's users link what it is built on: the -dev packages of its dependencies.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libboost-dev (>= 1.74), nlohmann-json3-dev, libpq-dev, libzmq3-dev, libspdlog-dev, libssl-dev, libsystemd-dev, pkg-config")
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
