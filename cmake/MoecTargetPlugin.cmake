#===- MoecTargetPlugin.cmake - Build a moec target as a plugin --------------===#
#
# moec_add_target_plugin(name SOURCES... [LINK_LIBS libs...]
#                        [MLIR_LIBS upstream MLIR libraries...])
#
# A shared library that `moec --load-target-plugin=PATH` loads. It links
# moec's SDK libraries and upstream MLIR through the one libMLIR.so, as moec
# itself does, so that the plugin and the tool share one moe dialect and one
# MLIR registry; it is compiled with LLVM's definitions and RTTI setting.
#
#===-------------------------------------------------------------------------===#
include_guard(GLOBAL)

function(moec_add_target_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK_LIBS;MLIR_LIBS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_compile_features(${name} PRIVATE cxx_std_17)
  target_include_directories(${name} SYSTEM PRIVATE
    ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
  separate_arguments(llvm_definitions NATIVE_COMMAND "${LLVM_DEFINITIONS}")
  target_compile_definitions(${name} PRIVATE ${llvm_definitions})
  if(NOT LLVM_ENABLE_RTTI)
    target_compile_options(${name} PRIVATE -fno-rtti)
  endif()
  # MLIR's dylib, never its static archives: a second copy of MLIR in the
  # plugin would have its own dialect and type registries.
  target_link_libraries(${name} PRIVATE
    moec::MoecTarget moec::MoecMoeToSCF moec::MoecMoeTransforms
    moec::MoecMoeDialect moec::MoecSupport MLIR ${ARG_LINK_LIBS})
  # Everything the plugin needs from moec must be there at load time.
  target_link_options(${name} PRIVATE -Wl,-z,defs)
  set_target_properties(${name} PROPERTIES PREFIX "lib"
    BUILD_RPATH "${MOEC_LIBRARY_DIR}" INSTALL_RPATH "${MOEC_LIBRARY_DIR}")
endfunction()
