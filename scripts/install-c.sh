#!/usr/bin/env bash
# Installs the C library for C and C++ projects:
#   scripts/install-c.sh PREFIX [debug|release|dist] [TARGET]
# PREFIX/include/{tessera.h,tessera.hpp}, PREFIX/lib/libtessera.{so,a}
# (for TARGET x86_64-pc-windows-gnu: PREFIX/bin/tessera.dll and
# PREFIX/lib/{libtessera.dll.a,tessera.lib,libtessera.a}),
# PREFIX/lib/pkgconfig/tessera.pc and PREFIX/lib/cmake/Tessera/ for
# find_package(Tessera). Builds the library with cargo first (release by
# default; the test command installs its debug build), unless
# TESSERA_INSTALL_PREBUILT=1 says it is built already (scripts/dist.sh
# builds the Linux library with cargo-zigbuild for glibc 2.17).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:?usage: scripts/install-c.sh PREFIX [debug|release]}
profile=${2:-release}
target=${3:-}
flags=()
[ -n "$target" ] && flags=(--target "$target")
case "$profile" in
    release | dist) build=(cargo build --quiet --profile "$profile" -p tessera-capi "${flags[@]}") ;;
    debug) build=(cargo build --quiet -p tessera-capi "${flags[@]}") ;;
    *) echo "profile must be debug, release or dist" >&2; exit 2 ;;
esac
[ "${TESSERA_INSTALL_PREBUILT:-0}" = 1 ] || "${build[@]}"
out=target/${target:+$target/}$profile
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
version=$(cargo pkgid -p tessera | sed 's/.*[@#]//')
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/Tessera"
install -m 0644 include/tessera.h bindings/cpp/tessera.hpp "$prefix/include/"
case "$target" in
    *windows*)
        install -d "$prefix/bin"
        install -m 0755 "$out/tessera.dll" "$prefix/bin/"
        install -m 0644 "$out/libtessera.dll.a" "$out/libtessera.a" "$prefix/lib/"
        # The MSVC-style import library, made from the DLL's export table.
        def=$(mktemp)
        {
            echo "LIBRARY tessera.dll"
            echo "EXPORTS"
            x86_64-w64-mingw32-objdump -p "$out/tessera.dll" \
                | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | grep -oE 'tessera_[A-Za-z0-9_]+'
        } > "$def"
        x86_64-w64-mingw32-dlltool -d "$def" -D tessera.dll -l "$prefix/lib/tessera.lib"
        rm -f "$def"
        ;;
    *)
        # The versioned file, its SONAME link and the development link.
        install -m 0755 "$out/libtessera.so" "$prefix/lib/libtessera.so.$version"
        ln -sf "libtessera.so.$version" "$prefix/lib/libtessera.so.$major"
        ln -sf "libtessera.so.$major" "$prefix/lib/libtessera.so"
        install -m 0644 "$out/libtessera.a" "$prefix/lib/"
        ;;
esac
sed "s|@VERSION@|$version|" packaging/tessera.pc.in > "$prefix/lib/pkgconfig/tessera.pc"
install -m 0644 packaging/TesseraConfig.cmake "$prefix/lib/cmake/Tessera/"
sed "s|@VERSION@|$version|; s|@MAJOR@|$major|; s|@MINOR@|$minor|" packaging/TesseraConfigVersion.cmake.in \
    > "$prefix/lib/cmake/Tessera/TesseraConfigVersion.cmake"
echo "installed tessera $version ($profile) into $prefix"
