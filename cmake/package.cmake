# package.cmake: the Debian packages, built by CPack (`cpack -G DEB` in the
# build folder): weft (the runtime component: binary, man page, SDKs,
# examples, guides) and weft-dev (libweft.a, headers, weft.pc). The runtime
# package's Depends come from dpkg-shlibdeps, i.e. from the libraries the
# binary really links, so they hold on the Debian release it is built on.
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "weft")
set(WEFT_DEB_MAINTAINER "weft maintainers <weft@localhost>" CACHE STRING
    "The Maintainer field of the .debs (name <address>)")
set(CPACK_PACKAGE_CONTACT "${WEFT_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "workflow orchestrator in one native binary")
set(CPACK_PACKAGE_DESCRIPTION
  "weft runs pipelines (jobs) described as DAGs of ops in YAML, by hand, on cron schedules or from sensors, with a web UI, embedded SQLite or PostgreSQL, RabbitMQ workers, S3 artifacts and container steps.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME weft)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
# What a cluster adds: state, queues, container steps (none is needed on one machine).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "postgresql, rabbitmq-server, podman | docker.io")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME weft-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# libweft.a links these: a program built against it needs their headers
# and .pc files (weft.pc's Requires.private) and their libraries.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "weft (= ${PROJECT_VERSION}), pkgconf | pkg-config, libjansson-dev, libyaml-dev, libsqlite3-dev, libpq-dev, libmicrohttpd-dev, libcurl4-openssl-dev | libcurl-dev, libxml2-dev, libssl-dev, librabbitmq-dev, libsodium-dev, libarchive-dev")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "libweft.a, weft.h and weft.pc: build programs that embed weft with C function ops of their own (weft_main).")
include(CPack)
