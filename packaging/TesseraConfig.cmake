# find_package(Tessera) for C and C++ projects. Defines:
#   Tessera::tessera         the shared library, with include/tessera.h and tessera.hpp
#   Tessera::tessera_static  the static library and the system libraries it needs
# Installed by scripts/install-c.sh into PREFIX/lib/cmake/Tessera/.
get_filename_component(_tessera_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET Tessera::tessera)
  add_library(Tessera::tessera SHARED IMPORTED)
  set_target_properties(Tessera::tessera PROPERTIES
    IMPORTED_LOCATION "${_tessera_prefix}/lib/libtessera.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_tessera_prefix}/include")
endif()

if(NOT TARGET Tessera::tessera_static)
  find_package(Threads REQUIRED)
  add_library(Tessera::tessera_static STATIC IMPORTED)
  set_target_properties(Tessera::tessera_static PROPERTIES
    IMPORTED_LOCATION "${_tessera_prefix}/lib/libtessera.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_tessera_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m;rt;util")
endif()

set(Tessera_INCLUDE_DIR "${_tessera_prefix}/include")
unset(_tessera_prefix)
