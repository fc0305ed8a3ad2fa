"""Webhooks delivered to a real HTTP receiver on localhost: signed, in order, the feed's events one for one,
every event once after de-duplication when the receiver is down then up, resumed after a stop."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any
from unittest.mock import patch

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from cdp.cli import main
from cdp.config import Config, SourceConfig, WebhookConfig
from cdp.resources import ServingResource
from cdp.schema import CHANGE_TYPES
from serving.assets import webhooks_asset
from serving.changes import read_changes
from serving.webhooks import SIGNATURE_HEADER, deliver, status
from tests.utils.changes import first, second
from tests.utils.receiver import free_port, receiver, verify

SECRET = "s3cret-for-tests"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store after two publishes: ten events in its feed."""
    path = tmp_path_factory.mktemp("published") / "serving.db"
    first(f"sqlite:///{path}").publish()
    second(f"sqlite:///{path}").publish()
    return path


@pytest.fixture
def url(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of the published store of its own, and the webhook secret in the environment."""
    monkeypatch.setenv("FEED_SECRET", SECRET)
    shutil.copy(published, tmp_path / "serving.db")
    return f"sqlite:///{tmp_path / 'serving.db'}"


def hook(port: int, events: list[str] = list(CHANGE_TYPES), **options: Any) -> WebhookConfig:  # noqa: B006
    return WebhookConfig(url=f"http://127.0.0.1:{port}/hook", events=events, secret_env="FEED_SECRET", **options)


def feed(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return read_changes(conn, 0, (), 1000)
    finally:
        engine.dispose()


def test_events_arrive_signed_in_order_and_agree_with_the_feed(url: str) -> None:
    port = free_port()
    with receiver(port) as got:
        [done] = deliver(url, [hook(port, pii=True)])
    assert got.events() == feed(url)  # event for event, the same documents
    assert (done.delivered, done.pending, done.failing, done.last_error) == (10, 0, 0, None)
    for headers, body in got.requests:
        assert verify(SECRET, headers[SIGNATURE_HEADER], body)
        assert not verify("another secret", headers[SIGNATURE_HEADER], body)  # a wrong signature shows
        assert not verify(SECRET, headers[SIGNATURE_HEADER], body.replace(b"C0", b"C9"))  # so does a changed body


def test_an_endpoint_gets_only_its_types_and_no_values_without_pii(url: str) -> None:
    port = free_port()
    with receiver(port) as got:
        deliver(url, [hook(port, ["customer.updated", "segment.entered:churn_risk", "customer.merged"])])
    assert [e["type"] for e in got.events()] == ["customer.merged", "customer.updated", "segment.entered:churn_risk"]
    assert "attributes" not in got.events()[1] and got.events()[1]["changed"] == ["email"]


def test_a_receiver_down_then_up_gets_every_event_once_after_de_duplication(url: str) -> None:
    port = free_port()
    start = time.monotonic()
    [down] = deliver(url, [hook(port)], budget=0.3, backoff=0.05)  # nothing listens on the port
    assert time.monotonic() - start < 2  # the pass gave up within its budget, without raising
    assert (down.delivered, down.pending) == (0, 10) and down.failing >= 1
    assert "Connection refused" in (down.last_error or "") or "URLError" in (down.last_error or "")
    # Up again, but every first request fails after the receiver took it: the event comes again.
    with receiver(port, answer=lambda event, seen: 500 if seen % 2 == 0 else 200) as got:
        [up] = deliver(url, [hook(port)], backoff=0.01)
    ids = [e["event_id"] for e in got.events()]
    assert len(ids) == 20 and list(dict.fromkeys(ids)) == [e["event_id"] for e in feed(url)]
    assert (up.delivered, up.pending, up.failing) == (10, 0, 0)


def test_delivery_resumes_after_the_last_delivered_event(url: str) -> None:
    port = free_port()
    with receiver(port, answer=lambda event, seen: 200 if seen < 3 else 503) as got:
        [stopped] = deliver(url, [hook(port)], budget=0.3, backoff=0.05)
    assert (stopped.delivered, stopped.pending, stopped.last_error) == (3, 7, "HTTP 503 Service Unavailable")
    with receiver(port) as again:
        deliver(url, [hook(port)])
    ids = [e["event_id"] for e in feed(url)]
    assert [e["event_id"] for e in got.events()][:3] + [e["event_id"] for e in again.events()] == ids
    assert [s.delivered for s in status(url, [hook(port)])] == [10]


def test_a_slow_receiver_does_not_hold_up_another_endpoint(url: str) -> None:
    slow, quick = free_port(), free_port()
    start = time.monotonic()
    with receiver(slow, delay=0.5) as lagging, receiver(quick) as got:
        results = deliver(url, [hook(slow, timeout=0.1), hook(quick)], budget=0.4, backoff=0.05)
    assert time.monotonic() - start < 2.5
    assert len(got.requests) == 10 and lagging.requests
    assert [r.delivered for r in results] == [0, 10] and "timed out" in (results[0].last_error or "")


def test_without_its_secret_nothing_is_sent(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEED_SECRET")
    port = free_port()
    with receiver(port) as got:
        [result] = deliver(url, [hook(port)], budget=0.1, backoff=0.05)
    assert got.requests == [] and "FEED_SECRET" in (result.last_error or "")


def test_cdp_webhooks_deliver_and_status(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    (tmp_path / "crm.csv").write_text("id,email\n")
    config = tmp_path / "cdp.yaml"
    config.write_text(yaml.safe_dump({"serving": url, "sources": {"crm": {
        "connector": "csv", "path": "crm.csv", "key": "id", "fields": {"email": "email"}}},
        "webhooks": [{"url": f"http://127.0.0.1:{port}/hook", "events": ["customer.merged"],
                      "secret_env": "FEED_SECRET"}]}))
    assert main(["webhooks", "deliver", "--config", str(config), "--budget", "0.2"]) == 1  # nobody listens yet
    assert "pending 1  failing" in capsys.readouterr().out
    with receiver(port) as got:
        assert main(["webhooks", "deliver", "--config", str(config)]) == 0
    assert [e["type"] for e in got.events()] == ["customer.merged"]
    capsys.readouterr()
    assert main(["webhooks", "status", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"http://127.0.0.1:{port}/hook  delivered 1  pending 0  failing 0\n"


def test_the_dagster_asset_warns_of_a_dead_receiver_without_failing(url: str) -> None:
    port = free_port()
    cfg = Config(sources={"crm": SourceConfig.model_validate({"connector": "csv", "path": "unused.csv", "key": "id",
                                                              "fields": {"email": "email"}})},
                 serving=url, webhooks=[hook(port, ["customer.merged"], timeout=0.2)])
    with patch("serving.assets.WEBHOOK_BUDGET", 0.3):
        result = dg.materialize([webhooks_asset(cfg)], resources={"serving": ServingResource(url=url)})
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and "127.0.0.1" in check.description
    [materialized] = result.get_asset_materialization_events()
    assert materialized.materialization.metadata["pending"].value == 1
