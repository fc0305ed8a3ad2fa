"""The API over a hand-built serving store, once on SQLite and once on the real PostgreSQL; and `cdp serve`
as a user starts it, over the same store on SQLite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.config import ApiConfig, Config, SourceConfig
from tests.utils.serving import ServingBuilder, record

KEYS = {"reader": "k-reader", "reader_pii": "k-reader-pii", "steward": "k-steward", "admin": "k-admin"}
SPECS = ["k-reader:reader", "k-reader-pii:reader:pii", "k-steward:steward", "k-admin:admin"]
JOHN, ROBERT, MARY, MERGED = "C000000001", "C000000002", "C000000003", "C000000004"
FILLERS = [f"C0000000{n:02d}" for n in range(5, 13)]
CANDIDATES = ["cand-smith-1", "cand-smith-2", "cand-brown"]
"""Open review candidates (probabilities 0.72, 0.55, 0.88); DECIDED was decided by an earlier run."""
DECIDED = "cand-doe"
TIMELINE = ["T1", "O2", "O1", "I1", "T0", "I2"]
"""John's interaction ids, newest first (O1 and O2 share a time; I2's time is unreadable)."""
BUSY = FILLERS[0]
BUSY_EVENTS = {f"E{n:03d}": f"2024-02-01T{n // 120:02d}:{n // 2 % 60:02d}:00" for n in range(250)}
"""A customer with more events than a timeline chunk holds: id -> time, two events per minute."""


def config(url: str, keys: list[str] = SPECS, **api: Any) -> Config:
    """A config whose only job here is to name the serving store and the keys (and other `api` settings)."""
    source = SourceConfig.model_validate(
        {"connector": "csv", "path": "unused.csv", "key": "id", "fields": {"email": "email"}})
    return Config(sources={"crm": source}, serving=url, api=ApiConfig.model_validate({"keys": keys, **api}))


def world_builder(url: str) -> ServingBuilder:
    """Three people, a merged-away id, eight others, interactions across three silos, and a review queue:
    collected, not yet written to `url`."""
    b = ServingBuilder(url)
    b.customer(JOHN, [
        record("finance", "F1", first_name="JOHN", last_name="SMITH", email="john.smith@work.com",
               phone="+12125550147", tax_id="123456789", birth_date="1980-04-01", street="7323 E CHESTNUT ST",
               city="NEW YORK", state="NY"),
        record("sales", "S1", first_name="JOHNNY", first_name_root="JOHN", last_name="SMITH",
               email="johnsmith@gmail.com", phone="+14155552671")],
        lifetime_value=850.5, order_count=2, invoice_count=2, ticket_count=2, recency_tier="high",
        frequency_tier="mid", monetary_tier="high", loyalty="long_valuable", churn_risk=False)
    b.customer(ROBERT, [
        record("finance", "F2", first_name="ROBERT", last_name="BROWN", email="rbrown@example.com"),
        record("service", "V7", first_name="BOB", first_name_root="ROBERT", last_name="BROWN",
               phone="+13128675309")],
        lifetime_value=20.0, ticket_count=4, complaints_90d=3, churn_risk=True)
    b.customer(MARY, [record("sales", "S3", first_name="MARY", last_name="SMITH", email="mary.smith@example.com")],
               lifetime_value=300.0, monetary_tier="mid", loyalty="short_valuable")
    b.redirect(MERGED, JOHN)
    b.link(JOHN, "finance:F1", "sales:S1", 0.97, first_name=2.5, last_name=6.1, phone=-1.5)
    for n, cid in enumerate(FILLERS):
        b.customer(cid, [record("sales", f"S{100 + n}", first_name="ANNA", last_name=f"DOE{n}")])
    b.interaction(JOHN, "2024-03-01T10:00:00", "finance", "invoices", "I1", 500.0, paid=True)
    b.interaction(JOHN, "2024-05-01T09:00:00", "sales", "orders", "O1", 250.5)
    b.interaction(JOHN, "2024-05-01T09:00:00", "sales", "orders", "O2", 100.0)
    b.interaction(JOHN, "2024-06-15T12:00:00", "service", "tickets", "T1", category="complaint")
    b.interaction(JOHN, None, "finance", "invoices", "I2", 0.0)
    b.interaction(JOHN, "2023-12-31T23:59:59", "service", "tickets", "T0", category="question")
    b.interaction(ROBERT, "2024-07-01T08:00:00", "service", "tickets", "T9", category="complaint",
                  phone="(312) 867-5309")  # a feed column named like a PII attribute
    for interaction_id, at in BUSY_EVENTS.items():
        b.interaction(BUSY, at, "sales", "orders", interaction_id, 1.0)
    smith = record("sales", "S3", first_name="MARY", last_name="SMITH", email="mary.smith@example.com")
    b.candidate(CANDIDATES[0], record("finance", "F1", first_name="JOHN", last_name="SMITH"), smith, 0.72,
                last_name=6.1, first_name=-4.2)
    b.candidate(CANDIDATES[1], record("sales", "S1", first_name="JOHNNY", last_name="SMITH"), smith, 0.55,
                last_name=6.1, first_name=-4.2, email=-2.0)
    b.candidate(CANDIDATES[2], record("finance", "F2", first_name="ROBERT", last_name="BROWN"),
                record("service", "V7", first_name="BOB", last_name="BROWN"), 0.88, first_name=3.0, last_name=5.5)
    b.candidate(DECIDED, record("sales", "S100", first_name="ANNA", last_name="DOE0"),
                record("sales", "S101", first_name="ANNA", last_name="DOE1"), 0.6, status="decided")
    return b


def build_world(url: str) -> ServingBuilder:
    """world_builder's store, written to `url`."""
    b = world_builder(url)
    b.write()
    return b


@pytest.fixture(scope="session")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build_world's SQLite file, written once per worker (writing it is most of a test's time, in fsyncs)."""
    path = tmp_path_factory.mktemp("world") / "serving.db"
    build_world(f"sqlite:///{path}")
    return path


@pytest.fixture
def world(store_url: str, request: pytest.FixtureRequest) -> ServingBuilder:
    """build_world's store at `store_url`; on SQLite a copy of one written file, so every test starts from
    the same bytes and may change its own copy."""
    if not store_url.startswith("sqlite:///"):
        return build_world(store_url)
    shutil.copyfile(request.getfixturevalue("sqlite_world"), store_url.removeprefix("sqlite:///"))
    return world_builder(store_url)


@pytest.fixture
def client(world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    with TestClient(create_app(config(world.url)), follow_redirects=False) as c:
        yield c


def as_role(role: str) -> dict[str, Any]:
    """Headers of a request made with the test key of `role`."""
    return {"X-API-Key": KEYS[role]}


@dataclass(frozen=True)
class Served:
    """A `cdp serve` subprocess: the URL it answers at and the file its output goes to."""

    base: str
    output: Path

    def printed(self) -> str:
        return self.output.read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`cdp serve` on a free localhost port over build_world's published SQLite store, with the test keys."""
    folder = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{folder / 'serving.db'}"
    build_world(url)
    (folder / "crm.csv").write_text("id,email\n")  # a config needs a source; serving never reads it
    cfg = folder / "cdp.yaml"
    cfg.write_text(yaml.safe_dump({"serving": url, "sources": {"crm": {
        "connector": "csv", "path": "crm.csv", "key": "id", "fields": {"email": "email"}}}}))
    port, output = free_port(), folder / "serve.out"
    env = {**os.environ, "CDP_API_KEYS": ",".join(SPECS)}
    with output.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cdp.cli", "serve", "--config", str(cfg), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, proc, output)
        yield Served(base, output)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for(base: str, proc: subprocess.Popen[bytes], output: Path, seconds: float = 60) -> None:
    """Until the server answers /health; fails with its output when it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"cdp serve exited {proc.returncode}:\n{output.read_text()}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"cdp serve did not answer within {seconds} s:\n{output.read_text()}")
