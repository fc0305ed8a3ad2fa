"""Rate limits per API key: a token bucket per key, 429 with Retry-After, a stricter one for searches."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.limits import Limiter, retry_after
from api.main import create_app
from cdp.config import ApiConfig, RateLimit
from tests.api.conftest import JOHN, as_role, config
from tests.utils.serving import ServingBuilder


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    limiter = Limiter(RateLimit(per_minute=60, burst=3), clock=clock)
    assert [limiter.wait("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait("a") == pytest.approx(1.0)  # one token a second
    assert limiter.wait("b") == 0  # another key has its own bucket
    clock.now += 0.5
    assert limiter.wait("a") == pytest.approx(0.5)  # a refused request takes nothing
    clock.now += 0.5
    assert limiter.wait("a") == 0 and limiter.wait("a") > 0
    clock.now += 3600
    assert [limiter.wait("a") for _ in range(4)][:3] == [0, 0, 0]  # refilled up to the burst, not beyond
    assert retry_after(0.2) == "1" and retry_after(2.01) == "3"


def test_a_key_past_its_limit_is_429_with_retry_after(world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    with TestClient(create_app(config(world.url, rate_limit={"per_minute": 6, "burst": 2}))) as client:
        statuses = [client.get(f"/customers/{JOHN}", headers=as_role("reader")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.get(f"/customers/{JOHN}", headers=as_role("reader"))
        assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
        assert "6 requests a minute" in refused.json()["detail"]
        assert client.get(f"/customers/{JOHN}", headers=as_role("admin")).status_code == 200  # per key
        assert client.get(f"/customers/{JOHN}").status_code == 401  # no key: no bucket to spend
        assert client.get("/health").status_code == 200


def test_searches_have_a_stricter_limit_of_their_own(world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    cfg = config(world.url, search_rate_limit={"per_minute": 60, "burst": 2})
    with TestClient(create_app(cfg)) as client:
        searches = [client.get("/customers", params={"name": "Smith"}, headers=as_role("reader_pii")).status_code
                    for _ in range(3)]
        assert searches == [200, 200, 429]
        assert client.get(f"/customers/{JOHN}", headers=as_role("reader_pii")).status_code == 200
        assert client.get("/customers", headers=as_role("steward")).status_code == 200


def test_the_defaults_never_bother_normal_use_and_null_turns_a_limit_off(
        world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = ApiConfig()
    assert defaults.rate_limit and defaults.rate_limit.burst >= 1000 and defaults.rate_limit.per_minute >= 60_000
    assert defaults.search_rate_limit and defaults.search_rate_limit.burst >= 100
    assert defaults.search_rate_limit.per_minute < defaults.rate_limit.per_minute
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    cfg = config(world.url, rate_limit=None, search_rate_limit={"per_minute": 1, "burst": 1})
    with TestClient(create_app(cfg)) as client:
        assert {client.get(f"/customers/{JOHN}", headers=as_role("reader")).status_code for _ in range(200)} == {200}
