"""Decisions, a merge and a split as a steward makes them on the demo: recorded through the API, applied by the
next `cdp run`, and nobody else's customer id moved."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.cli import main
from cdp.config import load_config
from cdp.datakey import ENV_DATA_KEY
from tests.utils.demo import crosswalk as published_crosswalk
from tests.utils.demo import read_csv, run_demo

KEYS = "e2e-steward:steward"
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


def test_decisions_a_merge_and_a_split_hold_after_the_next_run(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    monkeypatch.setenv("CDP_API_KEYS", KEYS)
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
    assert {d for *_, d in decided} == {"match", "no_match"}

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
