#!/usr/bin/env bash
# The C and C++ suites, on the debug build the Rust suites already made:
# - include/tessera.h compiles on its own as C99 and C11 (with
#   -Wc++-compat too) and C++17, with -Wall -Wextra -Werror -pedantic;
# - tests/c/ffi_test.c (every export, valid and invalid input, threads) runs
#   plain, under valgrind (no leak, no error) and with ASan+UBSan, after a
#   canary shows each sanitizer is really linked;
# - tests/c/online_test.c (the online calls against the real server and
#   the fault proxy) runs plain, under valgrind and with ASan+UBSan;
# - tests/cpp/wrapper_test.cpp runs plain and with ASan+UBSan;
# - scripts/install-c.sh installs into a temporary prefix, and the examples
#   build from it with pkg-config and with CMake (find_package) and run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

for tool in gcc g++ valgrind pkg-config cmake; do
    command -v "$tool" >/dev/null || { echo "c-tests: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

# The tests freeze the SDK's clock and read fake device trees: the test
# hooks, which only a library built with `testing` has.
cargo build --quiet -p tessera-capi --features testing
cargo build --quiet -p tessera-cli
lib=$root/target/debug
cli=$lib/tessera
# Programs linked against the build record its SONAME, libtessera.so.0,
# which the install provides as a link; in the build directory, so does this.
ln -sf libtessera.so "$lib/libtessera.so.0"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

warn=(-Wall -Wextra -Werror -pedantic)
step() { printf -- '-- %s\n' "$*"; }

step "the header compiles on its own"
printf '#include "tessera.h"\nint main(void) { return tessera_abi_version() == TESSERA_ABI_VERSION ? 0 : 1; }\n' > "$work/alone.c"
cp "$work/alone.c" "$work/alone.cpp"
for std in c99 c11; do
    gcc -std=$std "${warn[@]}" -Wc++-compat -Iinclude -c "$work/alone.c" -o "$work/alone-$std.o"
done
g++ -std=c++17 "${warn[@]}" -Iinclude -c "$work/alone.cpp" -o "$work/alone-cpp.o"
printf '#include "tessera.hpp"\nint main() { return tessera::version().empty(); }\n' > "$work/hpp.cpp"
g++ -std=c++17 "${warn[@]}" -Iinclude -Ibindings/cpp -c "$work/hpp.cpp" -o "$work/hpp.o"

step "fixtures"
tests/c/fixtures.sh "$cli" "$work/fx" 2>/dev/null
fresh() { rm -rf "$work/$1"; cp -r "$work/fx" "$work/$1"; echo "$work/$1"; }

link=(-I"$root/include" -L"$lib" -Wl,-rpath,"$lib" -ltessera -pthread)
san=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all)

step "C test"
gcc -std=c11 "${warn[@]}" tests/c/ffi_test.c -o "$work/ffi_test" "${link[@]}"
"$work/ffi_test" "$(fresh plain)" "$cli"

step "C test under valgrind"
valgrind -q --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    "$work/ffi_test" "$(fresh valgrind)" "$cli"

step "sanitizer canaries"
gcc -std=c11 "${san[@]}" tests/c/sanitizer_canary.c -o "$work/canary"
if "$work/canary" asan 2>"$work/asan.txt"; then echo "ASan did not catch the canary" >&2; exit 1; fi
grep -q "AddressSanitizer: heap-use-after-free" "$work/asan.txt" || { cat "$work/asan.txt" >&2; exit 1; }
if "$work/canary" ubsan >/dev/null 2>"$work/ubsan.txt"; then echo "UBSan did not catch the canary" >&2; exit 1; fi
grep -q "runtime error: signed integer overflow" "$work/ubsan.txt" || { cat "$work/ubsan.txt" >&2; exit 1; }
echo "ASan and UBSan both caught their canary"

step "C test with ASan+UBSan"
gcc -std=c11 "${warn[@]}" "${san[@]}" tests/c/ffi_test.c -o "$work/ffi_asan" "${link[@]}"
"$work/ffi_asan" "$(fresh asan)" "$cli" | tee "$work/asan-run.txt"
grep -q "built with AddressSanitizer" "$work/asan-run.txt"

step "C online test against the real server on loopback, through the fault proxy"
# tests/online/harness.py starts tessera-server and the fault proxy
# (server/examples/fault_proxy.rs) and hands their addresses over.
cargo build --quiet -p tessera-server --bin tessera-server --example fault_proxy --example idp -p tessera-relay --bin tessera-relay
online=(python3 tests/online/harness.py "$lib")
gcc -std=c11 "${warn[@]}" -D_POSIX_C_SOURCE=200809L tests/c/online_test.c -o "$work/online_test" "${link[@]}"
"${online[@]}" "$work/online-plain" run "$work/online_test"
"${online[@]}" "$work/online-valgrind" run valgrind -q --error-exitcode=99 --suppressions=tests/c/valgrind.supp \
    --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    "$work/online_test"
gcc -std=c11 "${warn[@]}" "${san[@]}" -D_POSIX_C_SOURCE=200809L tests/c/online_test.c -o "$work/online_asan" "${link[@]}"
"${online[@]}" "$work/online-asan" run "$work/online_asan"

step "C against a relay (tests/c/relay_seat.c: activate, a seat, give it back), under valgrind"
gcc -std=c11 "${warn[@]}" tests/c/relay_seat.c -o "$work/relay_seat" "${link[@]}"
"${online[@]}" "$work/relay" run sh -c 'echo | valgrind -q --error-exitcode=99 --suppressions=tests/c/valgrind.supp \
    --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
    "$0" "$TESSERA_TEST_RELAY" "$1" c-valgrind > "$1.out" && grep -qx released "$1.out" && grep -qx seat "$1.out"' \
    "$work/relay_seat" "$work/relay-state"

step "C++ against a relay (tests/cpp/relay_seat.cpp), plain and ASan+UBSan"
g++ -std=c++17 "${warn[@]}" -Ibindings/cpp tests/cpp/relay_seat.cpp -o "$work/relay_seat_cpp" "${link[@]}"
"${online[@]}" "$work/relay-cpp" run "$work/relay_seat_cpp" "$work/relay-cpp-state"
g++ -std=c++17 "${warn[@]}" "${san[@]}" -Ibindings/cpp tests/cpp/relay_seat.cpp -o "$work/relay_seat_cpp_asan" "${link[@]}"
"${online[@]}" "$work/relay-cpp-asan" run "$work/relay_seat_cpp_asan" "$work/relay-cpp-asan-state"

step "C++ wrapper test"
g++ -std=c++17 "${warn[@]}" -Ibindings/cpp tests/cpp/wrapper_test.cpp -o "$work/cpp_test" "${link[@]}"
"$work/cpp_test" "$(fresh cpp)"
g++ -std=c++17 "${warn[@]}" "${san[@]}" -Ibindings/cpp tests/cpp/wrapper_test.cpp -o "$work/cpp_asan" "${link[@]}"
"$work/cpp_asan" "$(fresh cpp-asan)"

step "C++ online test (plain and ASan+UBSan)"
g++ -std=c++17 "${warn[@]}" -Ibindings/cpp -Itests/c tests/cpp/online_test.cpp -o "$work/cpp_online" "${link[@]}"
"${online[@]}" "$work/cpp-online" run "$work/cpp_online"
g++ -std=c++17 "${warn[@]}" "${san[@]}" -Ibindings/cpp -Itests/c tests/cpp/online_test.cpp -o "$work/cpp_online_asan" "${link[@]}"
"${online[@]}" "$work/cpp-online-asan" run "$work/cpp_online_asan"

step "install, then build the examples with pkg-config and CMake"
scripts/install-c.sh "$work/prefix" debug
# What is installed is a product's library: the test hooks answer unsupported.
printf '#include "tessera.h"\n#include <stdio.h>\nint main(void) {\n    tessera_config *c = NULL;\n    if (tessera_config_new("acme", &c) != TESSERA_OK) return 2;\n    int fixed = tessera_config_set_fixed_time(c, 1893456000);\n    int root = tessera_config_set_system_root(c, "/");\n    tessera_config_free(&c);\n    printf("fixed time: %%s, system root: %%s\\n", tessera_result_name(fixed), tessera_result_name(root));\n    return fixed == TESSERA_ERR_UNSUPPORTED && root == TESSERA_ERR_UNSUPPORTED ? 0 : 1;\n}\n' > "$work/hooks.c"
gcc -std=c99 "${warn[@]}" "$work/hooks.c" -o "$work/hooks" -I"$work/prefix/include" -L"$work/prefix/lib" -Wl,-rpath,"$work/prefix/lib" -ltessera
"$work/hooks"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
printf '{"license_type":"time-limited","start_date":"%s","validity_period":"%s","product_details":{"short_code":"acme-cad"},"product_features":[{"code":"pdf-export"}]}' \
    "$now" "$until" | "$cli" issue --key "$work/fx/vendor.key" --spec - --out "$work/now.lic" 2>/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
gcc -std=c99 "${warn[@]}" examples/c/quickstart.c -o "$work/quickstart-pc" \
    $(pkg-config --cflags --libs tessera) -Wl,-rpath,"$work/prefix/lib"
"$work/quickstart-pc" "$work/fx/vendor.pub" "$work/now.lic" "$work/state-pc"
for ex in c cpp; do
    cmake -S "examples/$ex" -B "$work/build-$ex" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build "$work/build-$ex" >/dev/null
done

step "the installed library has a SONAME, programs record it, and the prefix moves"
readelf -d "$work/prefix/lib/libtessera.so.0.1.0" | grep -q 'SONAME.*\[libtessera\.so\.0\]'
readelf -d "$work/build-c/quickstart" | grep 'NEEDED.*libtessera' | tee "$work/needed.txt"
grep -q '\[libtessera\.so\.0\]' "$work/needed.txt"
# find_package(Tessera 0): any 0.x will do.
mkdir -p "$work/find0"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(t C)\nfind_package(Tessera 0 REQUIRED)\n' > "$work/find0/CMakeLists.txt"
cmake -S "$work/find0" -B "$work/find0/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
# The .pc file is relocatable: the prefix copied elsewhere builds and runs.
cp -a "$work/prefix" "$work/moved"
# shellcheck disable=SC2046
gcc -std=c99 "${warn[@]}" examples/c/quickstart.c -o "$work/quickstart-moved" \
    $(PKG_CONFIG_PATH="$work/moved/lib/pkgconfig" pkg-config --cflags --libs tessera) -Wl,-rpath,"$work/moved/lib"
PKG_CONFIG_PATH="$work/moved/lib/pkgconfig" pkg-config --variable=libdir tessera | grep -q "^$work/moved/lib"
"$work/quickstart-moved" "$work/fx/vendor.pub" "$work/now.lic" "$work/state-moved" >/dev/null
# A fully static link needs no libgcc_s.
! PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --static --libs tessera | grep -q gcc_s
"$work/build-c/quickstart" "$work/fx/vendor.pub" "$work/now.lic" "$work/state-cmake-c"
"$work/build-c/quickstart_static" "$work/fx/vendor.pub" "$work/now.lic" "$work/state-cmake-static"
"$work/build-cpp/quickstart" "$work/fx/vendor.pub" "$work/now.lic" "$work/state-cmake-cpp"

step "the online examples (C and C++, built with CMake from the install) against the server"
# The harness stops the server and starts it again where the examples ask.
for ex in c cpp; do
    "${online[@]}" "$work/online-example-$ex" example "$work/build-$ex/online" \
        {url} {product} {product_key} {license_key} {vendor_pub} {state}
done
echo "c-tests: all passed"
