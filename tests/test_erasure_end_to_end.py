"""Erasure as an admin does it on the demo: the customer leaves the API and every warehouse table, and stays
out after a re-run of the unchanged sources; when a run holds the warehouse, the next run takes it out."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.cli import main
from cdp.config import Config, load_config
from cdp.datakey import ENV_DATA_KEY, KEY_FILE
from cdp.warehouse import open_warehouse
from tests.utils.demo import crosswalk, read_csv, run_demo

KEYS = "e2e-admin:admin,e2e-pii:reader:pii,e2e-steward:steward"
ADMIN, PII, STEWARD = ({"X-API-Key": k} for k in ("e2e-admin", "e2e-pii", "e2e-steward"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV_DATA_KEY, raising=False)  # the generated key of the state folder
        mp.setenv("CDP_API_KEYS", KEYS)
        yield run_demo(tmp_path_factory.mktemp("erasure") / "demo", people=300, seed=11)


def person(client: TestClient, rows: list[dict[str, str]], customer_id: str) -> dict[str, Any]:
    """The customer's records and the email only it holds (to look for in the warehouse)."""
    profile = client.get(f"/customers/{customer_id}", headers=PII).json()
    email = profile["attributes"]["email"]
    owners = {p["customer_id"] for p in client.get("/customers", params={"email": email}, headers=PII).json()["items"]}
    return {"customer_id": customer_id, "email": email if email and owners == {customer_id} else None,
            "records": [(r["source"], r["source_id"]) for r in rows if r["customer_id"] == customer_id]}


def left_in_warehouse(cfg: Config, who: dict[str, Any]) -> list[str]:
    """Every warehouse table and column still holding the customer id, a record of theirs, or their email.

    Quarantined rows of their records may remain, as 'erased' and without values: they show the list works.
    """
    found = []
    record_ids = [f"{s}:{i}" for s, i in who["records"]]
    with open_warehouse(cfg.warehouse_path, read_only=True) as con:
        columns = con.execute("select table_name, column_name from duckdb_columns() where schema_name = 'main' "
                              "and not internal and data_type in ('VARCHAR', 'JSON')").fetchall()
        for table, column in columns:
            hits = con.execute(f'select count(*) from "{table}" where "{column}" in (select unnest(?)) '
                               f'or (? is not null and lower("{column}"::VARCHAR) like \'%\' || ? || \'%\')',
                               [[who["customer_id"], *record_ids], who["email"], who["email"]]).fetchall()[0][0]
            if hits:
                found.append(f"{table}.{column}")
        for source, source_id in who["records"]:
            for table, column in ((f"raw_{source}", "_key"), (f"staged_{source}", "source_id"),
                                  (f"interactions_{source}", "source_id")):
                if con.execute(f'select count(*) from "{table}" where "{column}" = ?', [source_id]).fetchall()[0][0]:
                    found.append(f"{table}: {source_id}")
            for (feed,) in con.execute("select table_name from duckdb_tables() where table_name like ?",
                                       [f"raw_{source}__%"]).fetchall():  # its interactions, by record key
                feed_columns = [c for t, c in columns if t == feed and not c.startswith("_")]
                where = " or ".join(f'trim("{c}") = ?' for c in feed_columns)
                if con.execute(f'select count(*) from "{feed}" where {where}',
                               [source_id] * len(feed_columns)).fetchall()[0][0]:
                    found.append(f"{feed}: {source_id}")
            kept = con.execute("select count(*) from quarantine where source = ? and source_id = ? "
                               "and (reason <> 'erased' or raw is not null)", [source, source_id]).fetchall()[0][0]
            if kept:
                found.append(f"quarantine: {source}:{source_id}")
    return found


def gone_from_api(client: TestClient, who: dict[str, Any]) -> None:
    assert client.get(f"/customers/{who['customer_id']}", headers=PII).status_code in (404, 410)
    for source, source_id in who["records"]:
        assert client.get(f"/sources/{source}/{source_id}", headers=PII).status_code == 404
    if who["email"]:
        assert client.get("/customers", params={"email": who["email"]}, headers=PII).json()["items"] == []


def test_an_erased_customer_stays_gone_after_a_rerun(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    monkeypatch.setenv("CDP_API_KEYS", KEYS)
    cfg = load_config(demo / "cdp.yaml")
    rows = crosswalk(demo)
    with TestClient(create_app(cfg)) as client:
        who = person(client, rows, rows[-1]["customer_id"])
        assert who["records"] and left_in_warehouse(cfg, who)  # the scan finds them while they are there
        export = client.get(f"/customers/{who['customer_id']}/export", headers=ADMIN).json()
        assert {(r["source"], r["source_id"]) for r in export["records_as_sent"]} == set(who["records"])
        assert all(len(r["row"]) > 3 for r in export["records_as_sent"])  # every column, as sent
        answer = client.delete(f"/customers/{who['customer_id']}", headers=ADMIN)
        assert answer.status_code == 200 and answer.json()["warehouse"] == "erased"
        gone_from_api(client, who)
        assert left_in_warehouse(cfg, who) == []
    assert stat.S_IMODE((cfg.state_dir / KEY_FILE).stat().st_mode) == 0o600

    assert main(["run", "--config", str(demo / "cdp.yaml")]) == 0  # the unchanged sources, again
    with TestClient(create_app(cfg)) as client:
        gone_from_api(client, who)
        audit = client.get("/audit", params={"customer_id": who["customer_id"]}, headers=STEWARD).json()["items"]
        assert [a["action"] for a in audit] == ["erasure"]  # kept across the publish
    assert left_in_warehouse(cfg, who) == []
    assert not {(r["source"], r["source_id"]) for r in crosswalk(demo)} & set(who["records"])
    out = demo / "quarantine.csv"
    assert main(["export", "quarantine", "--config", str(demo / "cdp.yaml"), "--out", str(out)]) == 0
    erased = [r for r in read_csv(out) if r["reason"] == "erased"]
    assert {(r["source"], r["source_id"]) for r in erased} >= set(who["records"])
    assert all(r["raw"] == "" for r in erased)  # without their values


def test_while_a_run_holds_the_warehouse_the_next_run_takes_the_customer_out(demo: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    monkeypatch.setenv("CDP_API_KEYS", KEYS)
    cfg = load_config(demo / "cdp.yaml")
    rows = crosswalk(demo)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(120)", str(cfg.warehouse_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with TestClient(create_app(cfg)) as client:
            who = person(client, rows, rows[0]["customer_id"])
            answer = client.delete(f"/customers/{who['customer_id']}", headers=ADMIN)
            assert answer.status_code == 200 and answer.json()["warehouse"] == "pending"
            gone_from_api(client, who)  # served: gone at once
    finally:
        holder.kill()
        holder.wait()
    assert left_in_warehouse(cfg, who)  # the warehouse still has them, until the next run
    assert main(["run", "--config", str(demo / "cdp.yaml")]) == 0
    assert left_in_warehouse(cfg, who) == []
    with TestClient(create_app(cfg)) as client:
        gone_from_api(client, who)
