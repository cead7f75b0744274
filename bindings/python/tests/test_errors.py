from datetime import datetime

import pytest

import tessera
from tessera import errors


def test_one_class_per_code_with_code_name_and_message():
    seen = set()
    for code, name, cls_name, _ in errors._TABLE:
        cls = getattr(errors, cls_name)
        assert issubclass(cls, tessera.TesseraError)
        assert cls.code == code and cls.name == name
        assert errors.error_class(code) is cls
        assert cls not in seen
        seen.add(cls)
    assert errors.error_class(4242) is errors.OtherError


def test_the_table_is_the_headers_enum_number_for_number():
    """The header's tessera_result is rendered from the core's one table;
    this table must list exactly its codes, under the same names."""
    import re
    from conftest import ROOT

    header = (ROOT / "include" / "tessera.h").read_text()
    enum = header[header.index("enum tessera_result") : header.index("typedef uint32_t tessera_result;")]
    in_header = {int(n): c for c, n in re.findall(r"^\s+(TESSERA_\w+) = (\d+),", enum, re.M)}
    ours = {code: "TESSERA_ERR_" + name.upper() for code, name, _, _ in errors._TABLE}
    assert in_header.pop(0) == "TESSERA_OK"
    assert ours == in_header


def test_the_c_library_names_every_code_as_the_table_does():
    for code, name, _, _ in errors._TABLE:
        assert tessera._ffi.lib.tessera_result_name(code).decode() == name


def test_bad_arguments_raise_their_class_with_the_sdk_message():
    with pytest.raises(errors.InvalidArgumentError) as e:
        tessera.Config("")
    assert e.value.code == 1 and e.value.name == "invalid_argument"
    assert "product" in e.value.message
    with tessera.Config("acme") as c:
        with pytest.raises(errors.InvalidKeyError):
            c.add_public_key("not a key")
        with pytest.raises(errors.InvalidUtf8Error):
            # Python strings always encode; raw bytes reach the C check.
            errors.check(tessera._ffi.lib.tessera_config_add_public_key(c._ptr, b"\xff"))
    with pytest.raises(ValueError, match="aware"):
        tessera.Config("acme", fixed_time=datetime(2030, 1, 1))


def test_library_version_and_abi():
    assert tessera.version()
    assert tessera._ffi.lib.tessera_abi_version() >= tessera._ffi.ABI_VERSION
    # The package's version, as Python packages have it, is the library's.
    assert tessera.__version__ == tessera.version() == "0.1.0"
    # The handle is named for what it is; the old name still works.
    assert tessera.License is tessera.LicenseHandle


def test_pkcs11_is_unsupported_in_the_default_build():
    with pytest.raises(errors.UnsupportedError, match="pkcs11"):
        tessera.Config("acme", pkcs11_token=("/usr/lib/softhsm/libsofthsm2.so", "t", "k", "1"))


def test_a_nul_character_is_refused_not_cut(tmp_path):
    """Issue 34, finding 17: ``Config("acme-cad\\0evil")`` used to get
    ``acme-cad``'s state and fingerprint; device ids and license keys too."""
    for make in (
        lambda: tessera.Config("acme-cad\0evil"),
        lambda: tessera.Config("acme-cad", custom_device_id="pc\0other"),
        lambda: tessera.Config("acme-cad", store_dir=str(tmp_path) + "\0x"),
    ):
        with pytest.raises(errors.InvalidArgumentError) as refused:
            make()
        assert "evil" not in str(refused.value) and "other" not in str(refused.value)
