#===- cmake/AddMoec.cmake - Helpers for moec libraries ----------------------===#
#
# add_moec_library(name [SDK] SOURCES...
#                  [DEPENDS tablegen-targets...]
#                  [MLIR_LIBS upstream MLIR libraries...]
#                  [LINK_LIBS moec libraries...]
#                  [LINK_COMPONENTS llvm-components...])
#
# A thin wrapper over add_mlir_library that links upstream MLIR only through
# mlir_target_link_libraries (one libMLIR.so), never through LINK_LIBS, which
# would pull Debian's static libMLIR*.a archives into every library.
#
# Every library is installed to lib/. An SDK library is also exported
# (moec::name in moecConfig.cmake) for targets built out of tree: it may
# depend only on other SDK libraries and on LLVM/MLIR.
#
#===-------------------------------------------------------------------------===#
include_guard(GLOBAL)

function(add_moec_library name)
  cmake_parse_arguments(ARG "SDK" ""
    "DEPENDS;MLIR_LIBS;LINK_LIBS;LINK_COMPONENTS" ${ARGN})
  add_mlir_library(${name}
    ${ARG_UNPARSED_ARGUMENTS}
    EXCLUDE_FROM_LIBMLIR
    DISABLE_INSTALL
    DEPENDS ${ARG_DEPENDS}
    LINK_COMPONENTS ${ARG_LINK_COMPONENTS}
    LINK_LIBS PUBLIC ${ARG_LINK_LIBS})
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
  set_property(TARGET ${name} APPEND PROPERTY INSTALL_RPATH
    "${LLVM_LIBRARY_DIR}")
  if(ARG_SDK)
    moec_export_library(${name})
  else()
    install(TARGETS ${name} LIBRARY DESTINATION lib)
  endif()
endfunction()

# Installs and exports a library of the SDK, with the installed include
# directories: include/ for moec/..., include/moec/src for the headers that
# live beside their sources (dialects/moe/IR/..., runtime/formats/...).
function(moec_export_library name)
  target_include_directories(${name} INTERFACE
    $<INSTALL_INTERFACE:include>
    $<INSTALL_INTERFACE:include/moec/src>)
  install(TARGETS ${name} EXPORT moecTargets
    LIBRARY DESTINATION lib
    ARCHIVE DESTINATION lib)
endfunction()
