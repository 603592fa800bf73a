#===- cmake/AddMoec.cmake - Helpers for moec libraries ----------------------===#
#
# add_moec_library(name SOURCES...
#                  [DEPENDS tablegen-targets...]
#                  [MLIR_LIBS upstream MLIR libraries...]
#                  [LINK_LIBS moec libraries...]
#                  [LINK_COMPONENTS llvm-components...])
#
# A thin wrapper over add_mlir_library that links upstream MLIR only through
# mlir_target_link_libraries (one libMLIR.so), never through LINK_LIBS, which
# would pull Debian's static libMLIR*.a archives into every library.
#
#===-------------------------------------------------------------------------===#
include_guard(GLOBAL)

function(add_moec_library name)
  cmake_parse_arguments(ARG "" ""
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
endfunction()
