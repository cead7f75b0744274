"""Products on a relay's network (docs/RELAY.md): a product changes only
its server address. Sixty clients, twenty each in Python, C
(tests/c/relay_seat.c) and Rust (relay/examples/seat.rs), ask the relay
that tests/online/harness.py started for its ten seats at once: exactly
ten hold one, every other is refused for lack of a seat; a seat given
back goes to the next client that asks."""

import os
import subprocess
import threading

import pytest

import tessera
from tessera import errors

ENV = os.environ
if "TESSERA_TEST_RELAY" not in ENV:
    if ENV.get("TESSERA_REQUIRE_ONLINE") == "1":
        raise RuntimeError("TESSERA_REQUIRE_ONLINE is set but the harness did not start a relay")
    pytest.skip("no relay (run through tests/online/harness.py)", allow_module_level=True)

SECRET = b"test-only vendor secret, not a real one"


def seat_programs():
    programs = {k: ENV.get(v) for k, v in (("c", "TESSERA_RELAY_SEAT_C"), ("rust", "TESSERA_RELAY_SEAT_RUST"))}
    missing = [k for k, p in programs.items() if not p or not os.path.exists(p)]
    if missing:
        if ENV.get("TESSERA_REQUIRE_ONLINE") == "1":
            raise RuntimeError(f"the {missing} seat clients were not built (scripts/python-tests.sh builds them)")
        pytest.skip(f"no {missing} seat clients")
    return programs


def python_client(tmp_path, name):
    with open(ENV["TESSERA_TEST_VENDOR_PUB"]) as f:
        key = f.read()
    config = tessera.Config(
        ENV["TESSERA_TEST_PRODUCT"], public_keys=[key], store_dir=tmp_path / name,
        secret=SECRET, custom_device_id=name,
    )
    # Only the server address changes: the relay's.
    server = tessera.Server(ENV["TESSERA_TEST_RELAY"], bytes.fromhex(ENV["TESSERA_TEST_PRODUCT_KEY_HEX"]))
    conn = tessera.Connection(config, server)
    conn.activate(ENV["TESSERA_TEST_POOL_KEY"])
    return config, conn, tessera.LicenseHandle(config)


def test_sixty_clients_in_three_languages_share_the_relays_ten_seats(tmp_path):
    programs = seat_programs()
    seats = int(ENV["TESSERA_TEST_POOL_SEATS"])
    processes = []
    for lang in ("c", "rust"):
        for i in range(20):
            name = f"{lang}-{i:02}"
            processes.append(subprocess.Popen(
                [programs[lang], ENV["TESSERA_TEST_RELAY"], str(tmp_path / name), name],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            ))
    pythons = [python_client(tmp_path, f"py-{i:02}") for i in range(20)]
    answers = [None] * 20

    def take(i):
        _, conn, handle = pythons[i]
        try:
            conn.register(handle)
            assert handle.check() == tessera.Status.VALID
            answers[i] = "seat"
        except errors.ServerRefusedError as e:
            answers[i] = "refused no_seat_available" if "no_seat_available" in str(e) else f"refused {e}"

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    said = [p.stdout.readline().strip() for p in processes]
    for t in threads:
        t.join()
    everyone = said + answers
    assert len(everyone) == 60
    assert everyone.count("seat") == seats, everyone
    assert everyone.count("refused no_seat_available") == 60 - seats, everyone
    status = subprocess.run(
        [ENV["TESSERA_TEST_RELAY_BIN"], "--dir", ENV["TESSERA_TEST_RELAY_HOME"], "status", "--json"],
        check=True, capture_output=True, text=True,
    )
    assert '"in_use": 10' in status.stdout

    # Every holder gives its seat back; a Python client that was refused
    # then gets one.
    for p, s in zip(processes, said):
        out, _ = p.communicate("\n", timeout=60)
        assert p.returncode == 0
        assert ("released" in out) == (s == "seat")
    for i, (_, conn, handle) in enumerate(pythons):
        if answers[i] == "seat":
            conn.release()
    waiting = next(i for i, a in enumerate(answers) if a != "seat")
    _, conn, handle = pythons[waiting]
    conn.register(handle)
    assert handle.check() == tessera.Status.VALID
    # Features come from the relay's lease: the pool's one feature.
    assert handle.feature("render").enabled
    conn.release()
    for config, conn, handle in pythons:
        handle.close()
        conn.close()
        config.close()
