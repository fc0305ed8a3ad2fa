"""Decisions, a merge and a split as a steward makes them on the demo: recorded through the API, applied by the
next `cdp run`, nobody else's customer id moved, and the run reports them in the change feed and to a webhook,
with a customer its new complaints put at churn risk."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.cli import main
from cdp.config import load_config
from cdp.datakey import ENV_DATA_KEY
from tests.utils.demo import crosswalk as published_crosswalk
from tests.utils.demo import read_csv, run_demo
from tests.utils.receiver import free_port, receiver, verify

KEYS = "e2e-steward:steward"
SECRET = "e2e-webhook-secret"
HOOKED = ["segment.entered:churn_risk", "customer.merged"]
STEWARD = {"X-API-Key": "e2e-steward"}


def crosswalk(demo: Path) -> dict[tuple[str, str], str]:
    """(source, source_id) -> customer_id of every published record."""
    return {(r["source"], r["source_id"]): r["customer_id"] for r in published_crosswalk(demo)}


def customers(rows: dict[tuple[str, str], str]) -> dict[str, list[tuple[str, str]]]:
    held = defaultdict(list)
    for record, customer_id in sorted(rows.items()):
        held[customer_id].append(record)
    return held


def decide_from_truth(client: TestClient, demo: Path, before: dict[tuple[str, str], str],
                      touched: set[str]) -> list[tuple[tuple[str, str], tuple[str, str], str]]:
    """Decide, by the demo's truth, the open candidates whose customers nothing else touched; up to 10."""
    truth = {(r["source"], r["source_id"]): r["person_id"] for r in read_csv(demo / "truth.csv")}
    decided = []
    for item in client.get("/review/candidates", params={"limit": 500}, headers=STEWARD).json()["items"]:
        left, right = ((item[s]["source"], item[s]["source_id"]) for s in ("left", "right"))
        if {before[left], before[right]} & touched or len(decided) == 10:
            continue
        decision = "match" if truth[left] == truth[right] else "no_match"
        answer = client.post(f"/review/candidates/{item['candidate_id']}/decision", json={"decision": decision},
                             headers=STEWARD)
        assert answer.status_code == 201, answer.text
        decided.append((left, right, decision))
        touched |= {before[left], before[right]}
    return decided


def complain(demo: Path, requester_id: str) -> None:
    """Three complaint tickets of a service requester, a day after every ticket so far: churn risk."""
    path = demo / "service_tickets.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    times = []
    for row in rows:
        try:
            times.append(dt.datetime.fromisoformat(row["opened_at"]))
        except ValueError:  # the demo plants unreadable times
            continue
    at = (max(times) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows({**rows[0], "ticket_id": f"T-9{n:07d}", "requester_id": requester_id, "opened_at": at,
                          "category": "Complaint", "status": "open"} for n in range(3))


def hook_up(demo: Path, port: int) -> None:
    """A webhook for churn risk and merges in the demo's cdp.yaml."""
    path = demo / "cdp.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["webhooks"] = [{"url": f"http://127.0.0.1:{port}/cdp", "events": HOOKED, "secret_env": "E2E_WEBHOOK_SECRET"}]
    path.write_text(yaml.safe_dump(cfg))


def calm_customer(client: TestClient, held: dict[str, list[tuple[str, str]]], busy: set[str]) -> tuple[str, str]:
    """A customer with a service record, not at churn risk and not merged or split here: (customer, requester)."""
    for customer_id, records in held.items():
        service = [key for source, key in records if source == "service"]
        if customer_id in busy or not service:
            continue
        if not client.get(f"/customers/{customer_id}", headers=STEWARD).json()["traits"]["churn_risk"]:
            return customer_id, service[0]
    raise AssertionError("no calm customer in the demo")


def changes(client: TestClient, types: list[str]) -> list[dict[str, Any]]:
    return client.get("/changes", params={"types": ",".join(types), "limit": 1000}, headers=STEWARD).json()["items"]


def test_decisions_a_merge_and_a_split_hold_after_the_next_run(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    monkeypatch.setenv("CDP_API_KEYS", KEYS)
    monkeypatch.setenv("E2E_WEBHOOK_SECRET", SECRET)
    demo = tmp_path / "demo"
    run_demo(demo, people=300, seed=7)
    before = crosswalk(demo)
    held = customers(before)
    singles = [c for c, records in held.items() if len(records) == 1][:2]
    multi = next(c for c, records in held.items() if len(records) >= 3)
    chosen = held[multi][0]
    with TestClient(create_app(load_config(demo / "cdp.yaml"))) as client:
        merged = client.post("/customers/merge", json={"customer_ids": singles, "note": "same person"},
                             headers=STEWARD)
        assert merged.status_code == 201, merged.text
        body = {"records": [{"source": chosen[0], "source_id": chosen[1]}], "note": "another person"}
        split = client.post(f"/customers/{multi}/split", json=body, headers=STEWARD)
        assert split.status_code == 201, split.text
        touched = {*singles, multi}
        decided = decide_from_truth(client, demo, before, touched)
        assert client.get("/changes", headers=STEWARD).json() == {"items": [], "next_cursor": None}  # the baseline
        calm, requester = calm_customer(client, held, touched)
    assert {d for *_, d in decided} == {"match", "no_match"}
    complain(demo, requester)
    port = free_port()
    hook_up(demo, port)

    with receiver(port) as got:
        assert main(["run", "--config", str(demo / "cdp.yaml")]) == 0
    after = crosswalk(demo)
    assert after[held[singles[0]][0]] == after[held[singles[1]][0]] in singles  # one customer, under an old id
    assert [r for r, c in after.items() if c == after[chosen]] == [chosen]  # a customer of its own
    rest = {after[r] for r in held[multi][1:]}
    assert rest == {multi}  # the others stay together, under their id
    assert [(left, right) for left, right, d in decided if (after[left] == after[right]) != (d == "match")] == []
    untouched = [r for r, c in before.items() if c not in touched]
    assert sum(after[r] == before[r] for r in untouched) >= 0.995 * len(untouched)
    with TestClient(create_app(load_config(demo / "cdp.yaml"))) as client:
        trail = client.get("/audit", headers=STEWARD).json()["items"]
        assert [e["action"] for e in trail] == ["decision"] * len(decided) + ["split", "merge"]
        feed = changes(client, HOOKED)
        merged = [e for e in feed if e["type"] == "customer.merged" and e["customer_id"] in singles]
        assert [{e["customer_id"], *e["merged_ids"]} for e in merged] == [set(singles)]  # names both ids
        assert ("segment.entered:churn_risk", calm) in {(e["type"], e["customer_id"]) for e in feed}
        assert [e["event_id"] for e in changes(client, ["customer.split"]) if e["customer_id"] == multi]
    assert got.events() == feed  # the webhook got what the feed shows, event for event, during the run
    assert all(verify(SECRET, headers["X-CDP-Signature"], body) for headers, body in got.requests)
