# In-tree plugins use the same osago_add_plugin() as out-of-tree ones (the
# installed SDK's helper), built into ${CMAKE_BINARY_DIR}/plugins with the
# project's warnings.
include(${PROJECT_SOURCE_DIR}/plugin-api/cmake/OsagoPluginHelpers.cmake)
