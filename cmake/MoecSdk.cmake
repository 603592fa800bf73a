#===- cmake/MoecSdk.cmake - What `cmake --install` puts in the prefix -------===#
#
# PREFIX/bin           moec, moec-opt, moec-import
# PREFIX/lib           the shared libraries, libMoecBinaryRuntime.a
# PREFIX/include/moec  the core API (include/moec/); src/ holds the headers
#                      that live beside their sources and their generated
#                      .inc files (the moe and decoder dialects, the moe
#                      passes, the formats)
# PREFIX/lib/cmake/moec  moecConfig.cmake: imported targets moec::<library>
#                      and moec_add_target_plugin (docs/target-plugins.md)
#
#===-------------------------------------------------------------------------===#
include(CMakePackageConfigHelpers)

# Installed tools find moec's libraries beside them and libMLIR.so where
# Debian puts it.
foreach(tool moec moec-opt moec-import)
  set_property(TARGET ${tool} APPEND PROPERTY INSTALL_RPATH
    "${LLVM_LIBRARY_DIR}")
endforeach()
install(TARGETS moec moec-opt moec-import RUNTIME DESTINATION bin)

install(DIRECTORY ${MOEC_SOURCE_DIR}/include/moec DESTINATION include)
set(MOEC_SDK_SOURCE_HEADERS
  dialects/decoder/IR
  dialects/moe/IR
  dialects/moe/Transforms
  runtime/formats
)
foreach(dir ${MOEC_SDK_SOURCE_HEADERS})
  install(DIRECTORY ${MOEC_SOURCE_DIR}/${dir}/
    DESTINATION include/moec/src/${dir} FILES_MATCHING PATTERN "*.h")
  install(DIRECTORY ${MOEC_BINARY_DIR}/${dir}/
    DESTINATION include/moec/src/${dir} FILES_MATCHING PATTERN "*.h.inc"
    PATTERN "CMakeFiles" EXCLUDE)
endforeach()

# The plugin API version, read from the header that defines it.
file(STRINGS ${MOEC_SOURCE_DIR}/include/moec/Target/TargetRegistry.h
  api_line REGEX "kTargetApiVersion = [0-9]+;")
string(REGEX REPLACE ".*= ([0-9]+);.*" "\\1" MOEC_TARGET_API_VERSION
  "${api_line}")

set(config_dir lib/cmake/moec)
install(EXPORT moecTargets NAMESPACE moec:: DESTINATION ${config_dir})
configure_package_config_file(${MOEC_SOURCE_DIR}/cmake/moecConfig.cmake.in
  ${MOEC_BINARY_DIR}/lib/cmake/moec/moecConfig.cmake
  INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(
  ${MOEC_BINARY_DIR}/lib/cmake/moec/moecConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${MOEC_BINARY_DIR}/lib/cmake/moec/moecConfig.cmake
  ${MOEC_BINARY_DIR}/lib/cmake/moec/moecConfigVersion.cmake
  ${MOEC_SOURCE_DIR}/cmake/MoecTargetPlugin.cmake
  DESTINATION ${config_dir})
