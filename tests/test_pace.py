"""Per-host politeness and backoff."""

import random
import threading

from huisheng.adapters.base import Pace
from huisheng.clock import Clock, FakeClock
from huisheng.polling.pace import HostPacer, backoff_delay


def test_spacing_between_request_starts_is_kept():
    clock = FakeClock()
    pacer = HostPacer(clock)
    pace = Pace(min_interval=3.0)
    starts = []
    for _ in range(4):
        with pacer.gate("m.weibo.cn", pace):
            starts.append(clock.monotonic())
    assert [b - a for a, b in zip(starts, starts[1:])] == [3.0, 3.0, 3.0]


def test_hosts_are_paced_independently():
    clock = FakeClock()
    pacer = HostPacer(clock)
    pace = Pace(min_interval=5.0)
    with pacer.gate("a.example", pace):
        pass
    t0 = clock.monotonic()
    with pacer.gate("b.example", pace):
        assert clock.monotonic() == t0


def test_pause_delays_the_whole_host():
    clock = FakeClock()
    pacer = HostPacer(clock)
    pace = Pace(min_interval=1.0)
    with pacer.gate("h", pace):
        pass
    pacer.pause("h", 600, pace)
    before = clock.monotonic()
    with pacer.gate("h", pace):
        assert clock.monotonic() - before >= 600


def test_concurrency_cap_is_shared_by_threads():
    pacer = HostPacer(Clock())
    pace = Pace(min_interval=0.0, concurrency=2)
    active = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def worker():
        nonlocal active, peak
        with pacer.gate("h", pace):
            with lock:
                active += 1
                peak = max(peak, active)
            release.wait(0.05)
            with lock:
                active -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert pacer.requests("h") == 6


def test_real_time_spacing_with_threads():
    clock = Clock()
    pacer = HostPacer(clock)
    pace = Pace(min_interval=0.02, concurrency=4)
    starts = []
    lock = threading.Lock()

    def worker():
        with pacer.gate("h", pace):
            with lock:
                starts.append(clock.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    # Eight starts spaced by the pace take seven intervals.  (Each start is read
    # just after its gate opens, so on a loaded machine one gap can look short
    # while its neighbour looks long: the span is what the pacer guarantees.)
    assert starts[-1] - starts[0] >= 7 * 0.02 - 0.015


def test_backoff_grows_exponentially_to_the_cap():
    rng = random.Random(1)
    delays = [backoff_delay(n, base=60, cap=3600, jitter=0.0, rng=rng) for n in range(1, 9)]
    assert delays[:4] == [60, 120, 240, 480]
    assert delays[-1] == 3600


def test_backoff_jitter_stays_within_bounds_and_spreads():
    rng = random.Random(2)
    values = {backoff_delay(3, base=60, cap=3600, jitter=0.2, rng=rng) for _ in range(50)}
    assert all(192 <= v <= 288 for v in values)
    assert len(values) > 10


def test_backoff_honours_retry_after():
    assert backoff_delay(1, base=60, cap=3600, jitter=0.0, retry_after=900) == 900
