"""The ctypes declarations held to include/tessera.h: every function the
header declares is declared here with the same argument and return types,
and every struct has the size, field names and field offsets a C compiler
gives it (a small C program prints ``sizeof`` and ``offsetof``)."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from ctypes import POINTER, c_bool, c_char, c_char_p, c_int64, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from pathlib import Path

import pytest

from tessera import _ffi

HEADER = Path(__file__).resolve().parents[3] / "include" / "tessera.h"

# The header's structs and the Python classes that mirror them.
STRUCTS = {
    "tessera_feature_info": _ffi.FeatureInfo,
    "tessera_usage": _ffi.UsageInfo,
    "tessera_lease_info": _ffi.LeaseInfo,
    "tessera_dates": _ffi.Dates,
    "tessera_upload": _ffi.Upload,
    "tessera_auto_sync_options": _ffi.AutoSyncOptions,
}
CALLBACKS = {
    "tessera_log_callback": _ffi.LogCallback,
    "tessera_status_callback": _ffi.StatusCallback,
    "tessera_sign_in_show": _ffi.SignInShow,
    "tessera_cancel_callback": _ffi.CancelCallback,
}
SCALARS = {
    "bool": c_bool,
    "uint8_t": c_uint8,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "int64_t": c_int64,
    "size_t": c_size_t,
    "void": c_void_p,  # only behind a pointer
}


def header_text() -> str:
    text = HEADER.read_text()
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def enum_typedefs(text: str) -> set[str]:
    return set(re.findall(r"typedef uint32_t (tessera_\w+);", text))


def ctype_of(c_type: str, enums: set[str]):
    """The ctypes type the C type `c_type` is passed as."""
    t = " ".join(c_type.replace("const ", "").split())
    stars = t.count("*")
    base = t.replace("*", "").strip()
    if base.startswith("struct "):
        name = base[len("struct ") :]
        if name in STRUCTS:
            inner = STRUCTS[name]
        else:  # an opaque object: a plain pointer
            inner = None
            stars -= 1
            result = c_void_p
            for _ in range(stars):
                result = POINTER(result)
            return result
        result = inner
        for _ in range(stars):
            result = POINTER(result)
        return result
    if base in enums:
        result = c_uint32
    elif base in CALLBACKS:
        result = CALLBACKS[base]
    elif base == "char":
        # A string in is `const char *`; a buffer out is `char *`.
        if stars == 1:
            return c_char_p if "const" in c_type else POINTER(c_char)
        result = c_char
    elif base in SCALARS:
        result = SCALARS[base]
        if base == "void":
            stars -= 1
    else:
        raise AssertionError(f"a C type the test does not know: {c_type!r}")
    for _ in range(stars):
        result = POINTER(result)
    return result


def header_functions() -> dict[str, tuple[list, object]]:
    text = header_text()
    enums = enum_typedefs(text)
    found = {}
    for m in re.finditer(r"^([A-Za-z_][\w \*]*?)\s*\b(tessera_\w+)\(([^)]*)\);", text, flags=re.M):
        ret, name, params = m.group(1), m.group(2), " ".join(m.group(3).split())
        args = []
        if params and params != "void":
            for p in params.split(","):
                p = p.strip()
                # The parameter's name is the last word.
                c_type = re.sub(r"\b\w+$", "", p).strip()
                args.append(ctype_of(c_type, enums))
        restype = None if ret.strip() == "void" else ctype_of(ret.strip(), enums)
        found[name] = (args, restype)
    return found


def test_the_header_parser_reads_every_function():
    found = header_functions()
    assert len(found) == len(set(re.findall(r"\b(tessera_\w+)\(", header_text())))
    assert len(found) > 70
    assert found["tessera_keygen_import"] == (
        [c_void_p, POINTER(c_uint8), c_size_t, c_char_p, c_char_p],
        c_uint32,
    )


def test_every_function_is_declared_as_the_header_declares_it():
    header = header_functions()
    declared = _ffi._SIGNATURES
    assert sorted(set(header) - set(declared)) == [], "declared in the header, not in _ffi.py"
    assert sorted(set(declared) - set(header)) == [], "declared in _ffi.py, not in the header"
    wrong = {}
    for name, (args, restype) in header.items():
        py_args, py_restype = declared[name]
        if list(py_args) != args or py_restype is not restype and py_restype != restype:
            wrong[name] = {"header": (args, restype), "_ffi.py": (list(py_args), py_restype)}
    assert wrong == {}


def test_a_wrong_declaration_is_caught():
    # The comparison above must be able to fail: a size_t where the header
    # has uint32_t, and a char buffer where it has a string.
    enums = enum_typedefs(header_text())
    assert ctype_of("uint32_t", enums) is not c_size_t
    assert ctype_of("char *", enums) is not c_char_p
    assert ctype_of("const char *", enums) is c_char_p
    assert ctype_of("struct tessera_usage *", enums) is POINTER(_ffi.UsageInfo)
    assert ctype_of("struct tessera_config **", enums) is POINTER(c_void_p)


def header_struct_fields(text: str) -> dict[str, list[str]]:
    out = {}
    for m in re.finditer(r"typedef struct (tessera_\w+) \{(.*?)\} \1;", text, flags=re.S):
        fields = re.findall(r"(\w+);", m.group(2))
        out[m.group(1)] = fields
    return out


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory) -> dict[str, int]:
    """`sizeof` and `offsetof` of every struct field, as the C compiler
    lays them out."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "the ABI test needs a C compiler (cc): scripts/setup.sh installs gcc"
    fields = header_struct_fields(header_text())
    assert set(fields) == set(STRUCTS), "a struct of the header has no Python class here"
    lines = ['#include <stddef.h>', '#include <stdio.h>', f'#include "{HEADER}"', "int main(void) {"]
    for struct, names in fields.items():
        lines.append(f'  printf("{struct} %zu\\n", sizeof({struct}));')
        for f in names:
            lines.append(f'  printf("{struct}.{f} %zu\\n", offsetof({struct}, {f}));')
    lines += ["  return 0;", "}"]
    work = tmp_path_factory.mktemp("abi")
    (work / "layout.c").write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-o", str(work / "layout"), str(work / "layout.c")], check=True)
    out = subprocess.run([str(work / "layout")], check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def test_every_struct_has_the_c_size_fields_and_offsets(c_layout):
    fields = header_struct_fields(header_text())
    for struct, cls in STRUCTS.items():
        assert [f for f, *_ in cls._fields_] == fields[struct], struct
        assert ctypes.sizeof(cls) == c_layout[struct], struct
        for f in fields[struct]:
            assert getattr(cls, f).offset == c_layout[f"{struct}.{f}"], f"{struct}.{f}"
