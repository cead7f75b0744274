import subprocess
import sys
import threading

import pytest

import tessera
from tessera import errors

from conftest import T2030, days, read


@pytest.fixture
def lic(fixtures, make_config):
    config = make_config(T2030 + days(1))
    tessera.activate(config, read(fixtures, "consumption.lic"))
    with tessera.LicenseHandle(config) as handle:
        yield handle


def test_consume_up_to_the_limit(lic):
    u = lic.consume(2)
    assert (u.used, u.limit, u.remaining) == (2, 5, 3)
    assert u.resets_at == T2030 + days(31)
    with pytest.raises(errors.ConsumptionLimitError) as e:
        lic.consume(4)
    assert "license" in e.value.message
    assert lic.usage().used == 2
    assert lic.consume(3).remaining == 0
    with pytest.raises(errors.InvalidArgumentError):
        lic.consume(0)
    with pytest.raises(errors.InvalidArgumentError):
        lic.consume(1, feature="")
    with pytest.raises(errors.FeatureUnavailableError):
        lic.consume(1, feature="no-such-feature")


def test_unlimited_feature_counter(lic):
    u = lic.consume(7, feature="ocr")
    assert u.used == 7 and u.limit is None and u.remaining is None and u.resets_at is None
    assert lic.usage("ocr").used == 7


def test_threads_share_one_handle(lic):
    def work():
        for _ in range(25):
            assert lic.check().usable
            lic.consume(1, feature="ocr")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lic.usage("ocr").used == 200


# Another process holds the store's lock until its standard input closes
# (or 60 s pass, so that a broken binding fails instead of hanging).
HOLDER = """
import fcntl, select, sys
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
select.select([sys.stdin], [], [], 60)
"""


def test_a_blocked_call_does_not_hold_the_gil(lic, state):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state / "state.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    done = threading.Event()
    result = []

    def consume():
        result.append(lic.consume(1, feature="ocr"))
        done.set()

    worker = threading.Thread(target=consume)
    worker.start()
    # The worker now waits for the lock inside the C call. This thread
    # keeps running Python meanwhile; had the call kept the GIL, this loop
    # would only run after the holder gave up, with the worker done.
    spins = sum(1 for _ in range(300_000))
    assert spins == 300_000
    assert not done.is_set(), "the C call held the GIL while it was blocked"
    holder.stdin.close()
    holder.wait()
    worker.join()
    assert result[0].used == 1
