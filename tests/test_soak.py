"""The fault soak's CI variant (benchmarks/soak.py, smaller): 600 mixed items through each
provider against the emulator (own process) with 10% 429, 5% 503, 2% resets and 1% slow
answers past the client timeout, then kill -9 and resume for Vertex AI.

Nothing may be lost or embedded twice (counted from the emulator's ledger of successful,
delivered responses), requests stay under 3× the minimum, and the resumed process sends
no item that was in the cache when the first one was killed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("av")
pytest.importorskip("PIL")

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def _load_soak():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("omniembed_bench_soak", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = _load_soak()

ITEMS = 600
#: The full soak's timeouts and fault shares, with a shorter 429 retry hint (each 429
#: pauses every send for it).
FAULTS = {**soak.FAULTS, "retry_delay_s": 0.005}


@pytest.mark.timeout(240)
def test_soak_faults_and_kill_resume(tmp_path: Path) -> None:
    report = soak.run_soak(
        ITEMS,
        soak.PROVIDERS,
        tmp_path,
        crash_providers=["vertex"],
        faults=FAULTS,
        kill_at=0.3,
        compare=False,
    )
    print(soak.format_report(report))
    assert report.failures(max_request_ratio=3.0) == []
    for provider in soak.PROVIDERS:
        res = report.faulty[provider]
        assert res.lost == 0, provider
        assert res.twice == 0, provider
        assert res.embed_requests < 3 * res.minimum, provider
        # The faults really happened (the emulator's ledger saw failed attempts).
        if provider != "gemini":  # 6-7 requests: too few to be sure to draw a fault
            assert res.embed_requests > res.minimum, provider
    crash = report.crash["vertex"]
    assert crash.committed_at_kill > 0
    assert crash.committed_at_kill < len({i for i in range(ITEMS)})
    assert crash.repeated == 0
    assert crash.served_from_cache >= crash.committed_at_kill
    assert crash.resume_lost == 0 and crash.missing == 0
    assert crash.resume_requests < 3 * (ITEMS - crash.committed_at_kill)


def test_throttle_spacing_stays_bounded_under_a_steady_share_of_429s() -> None:
    """Found by the soak: 429s that keep coming whatever the pace (10% of requests, 1 s
    hint) used to grow the learned spacing ×1.5 per 429 without bound (60 requests took
    173 s; 10,000 would never finish). The spacing now stops at twice the longest hint."""
    from omniembed.runtime.throttle import Throttle

    throttle = Throttle(8)
    for n in range(200):
        throttle._resume_at = throttle._next_start = 0.0  # no real waiting in this test
        throttle.enter()
        if n % 10 == 9:
            throttle._last_cut = float("-inf")  # each 429 its own episode, as when paced
            throttle.leave(throttled=True, retry_after=1.0)
        else:
            throttle.leave()
    assert 0 < throttle._interval <= 2.0


def test_throttle_learns_the_quota_interval_from_spacing_plus_hint() -> None:
    """Quota discovery: a token bucket's hint is the time to its next token, shorter than
    the quota's interval when the bucket had partly refilled. A request sent ``s`` after the
    previous one and told to wait ``h`` shows tokens come at most every ``s + h``. Pacing by
    the hint alone kept every other request refused (28 429s for 25 items under load)."""
    from omniembed.runtime.throttle import Throttle

    def refused(throttle: Throttle, hint: float) -> None:
        throttle._last_cut = float("-inf")  # each 429 its own episode, as when paced
        throttle._resume_at = throttle._next_start = 0.0
        throttle.enter()
        throttle.leave(throttled=True, retry_after=hint)

    throttle = Throttle(8)
    refused(throttle, 0.057)  # not yet paced: the hint seeds the spacing
    assert throttle._interval == pytest.approx(0.057)
    refused(throttle, 0.043)  # paced at 57 ms, refused, next token in 43 ms: 100 ms apart
    assert throttle._interval == pytest.approx(0.100)
    refused(throttle, 0.05)  # still refused: the spacing stops at twice the longest hint
    assert throttle._interval == pytest.approx(0.114)
