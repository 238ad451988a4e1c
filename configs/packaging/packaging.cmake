# The Debian package: what `cmake --install` puts where, and CPack's settings
# (`cpack -G DEB` in a build directory gives taskschedulizer_<version>_amd64.deb; README,
# "Debian package"). It packages whatever the project installs, so an install() rule
# elsewhere (cli/ installs tsctl and its bash completion) lands in the same package.
include(GNUInstallDirs)

set(TS_PACKAGE_VERSION 0.1.0)
set(ts_pkg_dir ${PROJECT_SOURCE_DIR}/configs/packaging)
set(ts_pkg_out ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${ts_pkg_out})

# The service and ts-exec-helper side by side in /usr/libexec/taskschedulizer: the runner
# looks for the helper beside the file /proc/self/exe names, and that is the symlink's
# target, so /usr/bin/taskschedulizer can be a link and the helper stays off PATH.
set(ts_libexec ${CMAKE_INSTALL_LIBEXECDIR}/taskschedulizer)
install(TARGETS taskschedulizer ts-exec-helper RUNTIME DESTINATION ${ts_libexec})
file(RELATIVE_PATH ts_bin_to_libexec /${CMAKE_INSTALL_BINDIR} /${ts_libexec}/taskschedulizer)
file(CREATE_LINK ${ts_bin_to_libexec} ${ts_pkg_out}/taskschedulizer SYMBOLIC)
install(FILES ${ts_pkg_out}/taskschedulizer DESTINATION ${CMAKE_INSTALL_BINDIR})

# /etc/taskschedulizer/taskschedulizer.ini (a conffile): configs/taskschedulizer.ini with the
# package's paths, made from it so that the two never disagree on anything else.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/configs/taskschedulizer.ini ${ts_pkg_dir}/changelog.in
  ${ts_pkg_dir}/taskschedulizer.1 ${ts_pkg_dir}/tsctl.1)
file(READ ${PROJECT_SOURCE_DIR}/configs/taskschedulizer.ini ts_ini)
foreach(pair
    "--config-file=configs/taskschedulizer.ini|--config-file=/etc/taskschedulizer/taskschedulizer.ini"
    "db=\"sqlite:data/taskschedulizer.db\"|db=\"sqlite:/var/lib/taskschedulizer/taskschedulizer.db\""
    "(scripts/deps creates it|(the package creates it")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${ts_ini}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "packaging: configs/taskschedulizer.ini no longer has '${from}'")
  endif()
  string(REPLACE "${from}" "${to}" ts_ini "${ts_ini}")
endforeach()
file(WRITE ${ts_pkg_out}/taskschedulizer.ini
  "; Installed by the taskschedulizer package and read by taskschedulizer.service. A conffile:\n"
  "; your edits are kept across upgrades (dpkg asks when the packaged file changed too).\n;\n"
  "${ts_ini}")
install(FILES ${ts_pkg_out}/taskschedulizer.ini DESTINATION /etc/taskschedulizer)

# The unit, where Debian 12's systemd and debhelper keep packaged units.
install(FILES ${PROJECT_SOURCE_DIR}/configs/taskschedulizer.service DESTINATION /lib/systemd/system)

# What Debian wants of every package: the copyright file, the changelog and a manual page
# (gzip -9n: no name or time stamp, so the package is reproducible), and the lintian
# overrides, each with its reason.
set(ts_doc ${CMAKE_INSTALL_DATADIR}/doc/taskschedulizer)
configure_file(${ts_pkg_dir}/changelog.in ${ts_pkg_out}/changelog @ONLY)
execute_process(COMMAND gzip -9nc ${ts_pkg_out}/changelog OUTPUT_FILE ${ts_pkg_out}/changelog.gz
  RESULT_VARIABLE ts_gzip)
if(NOT ts_gzip EQUAL 0)
  message(FATAL_ERROR "packaging: gzip of the changelog failed")
endif()
install(FILES ${ts_pkg_dir}/copyright ${ts_pkg_out}/changelog.gz DESTINATION ${ts_doc})
foreach(page taskschedulizer tsctl)
  configure_file(${ts_pkg_dir}/${page}.1 ${ts_pkg_out}/${page}.1 @ONLY)
  execute_process(COMMAND gzip -9nc ${ts_pkg_out}/${page}.1
    OUTPUT_FILE ${ts_pkg_out}/${page}.1.gz RESULT_VARIABLE ts_gzip)
  if(NOT ts_gzip EQUAL 0)
    message(FATAL_ERROR "packaging: gzip of the manual page ${page}.1 failed")
  endif()
  install(FILES ${ts_pkg_out}/${page}.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()
install(FILES ${ts_pkg_dir}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
  RENAME taskschedulizer)

# --- CPack ---------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME taskschedulizer)
set(CPACK_PACKAGE_VERSION ${TS_PACKAGE_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "Seed 86a0c11c maintainers <maintainers@users.noreply.r-seed-86a0c11c.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "scheduler that runs shell commands at given times")
# The extended description: CPack indents it and turns the empty line into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "TaskSchedulizer is a service with an HTTP API that runs shell commands once
at a time or on a cron or interval schedule, as an unprivileged user. A task
is acknowledged once it is durably stored (SQLite or MariaDB) and runs at most
once per occurrence; its outcome and output are kept across restarts.

This package installs the service, its systemd unit (listening on
127.0.0.1:8081 by default) and the system user it runs as.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # taskschedulizer_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Libraries by dpkg-shlibdeps from the binaries themselves; what no ELF file shows by hand:
# adduser (postinst), procps (the unit's ExecReload runs /bin/kill) and tzdata (time zones are
# read from /usr/share/zoneinfo).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps, tzdata")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${ts_pkg_dir}/conffiles ${ts_pkg_dir}/postinst ${ts_pkg_dir}/prerm ${ts_pkg_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# The build's -g1 stays in the build tree; the package gets stripped binaries.
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
