# find_package(Tessera) for C and C++ projects. Defines:
#   Tessera::tessera         the shared library, with include/tessera.h and tessera.hpp
#   Tessera::tessera_static  the static library and the system libraries it needs
# Installed by scripts/install-c.sh into PREFIX/lib/cmake/Tessera/.
get_filename_component(_tessera_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

# Each platform's file names: tessera.dll with an import library (MinGW's
# libtessera.dll.a, or tessera.lib for MSVC-style linkers), libtessera.dylib
# (install name @rpath/libtessera.dylib), libtessera.so.
if(WIN32)
  set(_tessera_shared "${_tessera_prefix}/bin/tessera.dll")
  if(MSVC)
    set(_tessera_implib "${_tessera_prefix}/lib/tessera.lib")
  else()
    set(_tessera_implib "${_tessera_prefix}/lib/libtessera.dll.a")
  endif()
  # What Rust's standard library and the SDK's OS calls import.
  set(_tessera_static_libs "ws2_32;userenv;bcrypt;ntdll;advapi32;kernel32;iphlpapi;dbghelp")
elseif(APPLE)
  set(_tessera_shared "${_tessera_prefix}/lib/libtessera.dylib")
  set(_tessera_static_libs "-framework IOKit;-framework CoreFoundation;${CMAKE_DL_LIBS};m")
else()
  # The versioned file; programs record its SONAME, libtessera.so.<major>.
  file(GLOB _tessera_shared "${_tessera_prefix}/lib/libtessera.so.*.*.*")
  get_filename_component(_tessera_soname "${_tessera_shared}" NAME)
  string(REGEX REPLACE "^(libtessera\\.so\\.[0-9]+).*" "\\1" _tessera_soname "${_tessera_soname}")
endif()

if(NOT TARGET Tessera::tessera)
  add_library(Tessera::tessera SHARED IMPORTED)
  set_target_properties(Tessera::tessera PROPERTIES
    IMPORTED_LOCATION "${_tessera_shared}"
    INTERFACE_INCLUDE_DIRECTORIES "${_tessera_prefix}/include")
  if(WIN32)
    set_target_properties(Tessera::tessera PROPERTIES IMPORTED_IMPLIB "${_tessera_implib}")
  elseif(DEFINED _tessera_soname)
    set_target_properties(Tessera::tessera PROPERTIES IMPORTED_SONAME "${_tessera_soname}")
  endif()
endif()

if(NOT TARGET Tessera::tessera_static)
  find_package(Threads REQUIRED)
  if(NOT DEFINED _tessera_static_libs)
    set(_tessera_static_libs "${CMAKE_DL_LIBS};m;rt;util")
  endif()
  add_library(Tessera::tessera_static STATIC IMPORTED)
  set_target_properties(Tessera::tessera_static PROPERTIES
    IMPORTED_LOCATION "${_tessera_prefix}/lib/libtessera.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_tessera_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${_tessera_static_libs}")
endif()

set(Tessera_INCLUDE_DIR "${_tessera_prefix}/include")
unset(_tessera_prefix)
unset(_tessera_shared)
unset(_tessera_implib)
unset(_tessera_static_libs)
unset(_tessera_soname)
