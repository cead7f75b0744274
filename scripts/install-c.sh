#!/usr/bin/env bash
# Installs the C library for C and C++ projects:
#   scripts/install-c.sh PREFIX [debug|release]
# PREFIX/include/{tessera.h,tessera.hpp}, PREFIX/lib/libtessera.{so,a},
# PREFIX/lib/pkgconfig/tessera.pc and PREFIX/lib/cmake/Tessera/ for
# find_package(Tessera). Builds the library with cargo first (release by
# default; the test command installs its debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:?usage: scripts/install-c.sh PREFIX [debug|release]}
profile=${2:-release}
case "$profile" in
    release) cargo build --quiet --release -p tessera-capi ;;
    debug) cargo build --quiet -p tessera-capi ;;
    *) echo "profile must be debug or release" >&2; exit 2 ;;
esac
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
version=$(cargo pkgid -p tessera | sed 's/.*[@#]//')
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/Tessera"
install -m 0644 include/tessera.h bindings/cpp/tessera.hpp "$prefix/include/"
install -m 0755 "target/$profile/libtessera.so" "$prefix/lib/"
install -m 0644 "target/$profile/libtessera.a" "$prefix/lib/"
sed "s|@PREFIX@|$prefix|; s|@VERSION@|$version|" packaging/tessera.pc.in > "$prefix/lib/pkgconfig/tessera.pc"
install -m 0644 packaging/TesseraConfig.cmake "$prefix/lib/cmake/Tessera/"
sed "s|@VERSION@|$version|; s|@MAJOR@|$major|; s|@MINOR@|$minor|" packaging/TesseraConfigVersion.cmake.in \
    > "$prefix/lib/cmake/Tessera/TesseraConfigVersion.cmake"
echo "installed tessera $version ($profile) into $prefix"
