"""Merge and split as a steward does them on the demo: recorded through the API, applied by the next `cdp run`."""

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
from tests.utils.demo import run_demo

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


def test_a_merge_and_a_split_hold_after_the_next_run(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    monkeypatch.setenv("CDP_API_KEYS", KEYS)
    demo = tmp_path / "demo"
    run_demo(demo, people=300, seed=7)
    held = customers(crosswalk(demo))
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

    assert main(["run", "--config", str(demo / "cdp.yaml")]) == 0
    after = crosswalk(demo)
    assert after[held[singles[0]][0]] == after[held[singles[1]][0]] in singles  # one customer, under an old id
    assert [r for r, c in after.items() if c == after[chosen]] == [chosen]  # a customer of its own
    rest = {after[r] for r in held[multi][1:]}
    assert rest == {multi}  # the others stay together, under their id
    with TestClient(create_app(load_config(demo / "cdp.yaml"))) as client:
        trail = client.get("/audit", headers=STEWARD).json()["items"]
        assert [e["action"] for e in trail] == ["split", "merge"]
