# Debian packages (cpack -G DEB, or ./osago packages): one per component.
#   osago-aggregator        the host: binary, operators' page, /etc/osago config, systemd unit, the empty plugin directory
#   osago-core-app          the web application's back end: binary, the quote page, config, systemd unit
#   osago-plugin-sdk        headers, the CMake package (find_package(OsagoPluginApi)), osago-plugin-check
#   osago-plugin-worker     the sandboxed process that runs a plugin (needed by the aggregator and the kit)
#   osago-plugin-<name>     one per bundled insurer plugin: its .so and manifest in the plugin directory
# Packages are built for the prefix /usr; the configuration under /etc/osago
# and the units under /lib/systemd/system are absolute on purpose.
include(GNUInstallDirs)

set(OSAGO_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging/debian)

# --- osago-aggregator ---
install(TARGETS osago-aggregator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT aggregator)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/host/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/osago-aggregator/admin-web
        COMPONENT aggregator)
install(DIRECTORY DESTINATION ${OSAGO_PLUGIN_INSTALL_DIR} COMPONENT aggregator)

# --- osago-plugin-worker: shared by the aggregator and the conformance kit ---
install(TARGETS osago-plugin-worker RUNTIME DESTINATION lib/osago-aggregator COMPONENT plugin-worker)
set(CPACK_DEBIAN_PLUGIN-WORKER_PACKAGE_NAME osago-plugin-worker)
set(CPACK_DEBIAN_PLUGIN-WORKER_PACKAGE_SECTION net)
set(CPACK_COMPONENT_PLUGIN-WORKER_DESCRIPTION
    "Sandboxed worker process of osago-aggregator insurer plugins\nRuns one company's plugin outside the aggregator, with a memory and descriptor\nlimit, an empty environment and a seccomp filter (docs/architecture.md).")

# --- osago-core-app ---
install(TARGETS core-app RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT core-app)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core-app/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/osago-core-app/web
        COMPONENT core-app)

# --- the SDK also carries the conformance kit ---
install(TARGETS osago-plugin-check RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT plugin-sdk)
install(FILES ${PROJECT_SOURCE_DIR}/docs/plugin-guide.md ${PROJECT_SOURCE_DIR}/docs/plugin-abi.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/osago-plugin-sdk COMPONENT plugin-sdk)

# Configuration, secrets template, unit, operators' docs and maintainer scripts of one service.
function(osago_package_service component service)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
                ${PROJECT_SOURCE_DIR}/docs/api.md
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${service} COMPONENT ${component})
  install(FILES ${OSAGO_PACKAGING_DIR}/config/${service}.yaml ${OSAGO_PACKAGING_DIR}/config/${service}.env
          DESTINATION /etc/osago COMPONENT ${component})
  install(FILES ${OSAGO_PACKAGING_DIR}/systemd/${service}.service DESTINATION /lib/systemd/system COMPONENT ${component})
  set(control ${CMAKE_BINARY_DIR}/packaging/control/${service})
  file(WRITE ${control}/conffiles "/etc/osago/${service}.yaml\n/etc/osago/${service}.env\n")
  foreach(script postinst prerm postrm)
    set(SERVICE ${service})
    configure_file(${OSAGO_PACKAGING_DIR}/maintainer/${script}.in ${control}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  string(TOUPPER ${component} c)
  set(CPACK_DEBIAN_${c}_PACKAGE_NAME ${service} PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_CONTROL_EXTRA
      "${control}/conffiles;${control}/postinst;${control}/prerm;${control}/postrm" PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_DEPENDS "adduser" PARENT_SCOPE)
  set(CPACK_DEBIAN_${c}_PACKAGE_SECTION net PARENT_SCOPE)
endfunction()

osago_package_service(aggregator osago-aggregator)
set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_DEPENDS "adduser, osago-plugin-worker (= ${PROJECT_VERSION})")
osago_package_service(core-app osago-core-app)
set(CPACK_COMPONENT_AGGREGATOR_DESCRIPTION
    "OSAGO quote aggregator: live prices from every connected insurer\nFans a driver's request out to every insurer plugin and stores the offers;\ninsurer plugins are installed as separate osago-plugin-* packages.")
set(CPACK_COMPONENT_CORE-APP_DESCRIPTION
    "Back end of the OSAGO quote web application\nServes the quote page and streams offers to browsers (SSE and WebSocket) from Kafka.")

set(CPACK_DEBIAN_PLUGIN-SDK_PACKAGE_NAME osago-plugin-sdk)
set(CPACK_DEBIAN_PLUGIN-SDK_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PLUGIN-SDK_PACKAGE_DEPENDS "nlohmann-json3-dev (>= 3.9), osago-plugin-worker (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_PLUGIN-SDK_PACKAGE_RECOMMENDS "cmake (>= 3.25), g++")
set(CPACK_COMPONENT_PLUGIN-SDK_DESCRIPTION
    "SDK for osago-aggregator insurer plugins\nThe C ABI header, the header-only C++ SDK, a fake host for unit tests,\nthe CMake package OsagoPluginApi with osago_add_plugin(), and the conformance kit osago-plugin-check.")

set(components aggregator core-app plugin-sdk plugin-worker)
get_property(bundled_plugins GLOBAL PROPERTY OSAGO_BUNDLED_PLUGINS)
foreach(plugin IN LISTS bundled_plugins)
  string(TOUPPER "plugin-${plugin}" c)
  string(REPLACE "_" "-" package "osago-plugin-${plugin}")
  set(CPACK_DEBIAN_${c}_PACKAGE_NAME ${package})
  set(CPACK_DEBIAN_${c}_PACKAGE_SECTION net)
  # The plugin directory belongs to the aggregator; the ABI is checked at load time.
  set(CPACK_DEBIAN_${c}_PACKAGE_DEPENDS "osago-aggregator (>= ${PROJECT_VERSION})")
  set(CPACK_COMPONENT_${c}_DESCRIPTION
      "osago-aggregator insurer plugin ${plugin}\nInstalls the plugin and its manifest into /usr/${OSAGO_PLUGIN_INSTALL_DIR};\nrunning aggregators pick it up at their next rescan, switched off until an operator switches it on.")
  list(APPEND components plugin-${plugin})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL ${components})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "osago-aggregator")
set(CPACK_PACKAGE_CONTACT "osago-aggregator maintainers <maintainers@osago-aggregator.invalid>")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
include(CPack)
