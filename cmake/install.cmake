# install.cmake: what `cmake --install` puts where, in two components:
#   runtime  bin/weft, the man page (from the help texts), the op SDKs,
#            the examples, example deployment files and the guides (the
#            weft package)
#   dev      libweft.a, weft.h, weft_op.h and weft.pc, to build programs that
#            embed weft with C ops of their own (the weft-dev package)
include(GNUInstallDirs)

# weft.1 from `weft --help` and every `weft CMD --help`, by help2man (Debian's
# tool). Without help2man the build goes on and installs no man page.
find_program(WEFT_HELP2MAN help2man)
if(WEFT_HELP2MAN)
  set(WEFT_MAN ${CMAKE_BINARY_DIR}/weft.1)
  add_custom_command(OUTPUT ${WEFT_MAN}
    COMMAND sh ${CMAKE_SOURCE_DIR}/cmake/manpage.sh $<TARGET_FILE:weft> ${WEFT_MAN} ${WEFT_HELP2MAN}
    DEPENDS weft ${CMAKE_SOURCE_DIR}/cmake/manpage.sh
    COMMENT "Writing the man page weft.1 from the help texts" VERBATIM)
  add_custom_target(weft_man ALL DEPENDS ${WEFT_MAN})
  install(FILES ${WEFT_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
else()
  message(WARNING "help2man not found (apt-get install help2man): no man page")
endif()

install(TARGETS weft RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# sdk/python: weft_op.py and the weft package (`from weft import op, job`),
# found by weft validate next to the binary when no instance set WEFT_SDK.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weft/sdk
        COMPONENT runtime PATTERN "__pycache__" EXCLUDE)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weft/examples
        COMPONENT runtime PATTERN "__pycache__" EXCLUDE)
# Example deployment files (compose, Kubernetes, systemd units, Prometheus
# rules) to copy and adapt; the image's build script needs a checkout.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weft/deploy
        COMPONENT runtime PATTERN "image" EXCLUDE)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime
        FILES_MATCHING PATTERN "*.md")

install(TARGETS weftlib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/include/weft.h ${CMAKE_SOURCE_DIR}/sdk/c/weft_op.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
# weft.pc is written at install time, so that `cmake --install --prefix DIR`
# (and CPack's /usr) is the prefix it names, not the configured one.
# A sanitizer build's libweft needs the sanitizers' runtimes in the program.
set(WEFT_PC_SANITIZE "")
if(WEFT_SANITIZE)
  set(WEFT_PC_SANITIZE "-fsanitize=address,undefined")
endif()
set(WEFT_PC_REQUIRES "jansson yaml-0.1 sqlite3 libpq libmicrohttpd libcurl libxml-2.0 libcrypto librabbitmq libsodium libarchive")
install(CODE "
  set(PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PC_VERSION \"${PROJECT_VERSION}\")
  set(PC_REQUIRES \"${WEFT_PC_REQUIRES}\")
  set(PC_SANITIZE \"${WEFT_PC_SANITIZE}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/weft.pc.in\" \"${CMAKE_BINARY_DIR}/pc/weft.pc\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES \"${CMAKE_BINARY_DIR}/pc/weft.pc\")
" COMPONENT dev)
