"""/audit: decisions and erasures, newest first, filtered and paged; decisions recorded before it are in it too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from serving.migrate import alembic_config, upgrade
from serving.tables import audit
from tests.api.conftest import CANDIDATES, JOHN, MARY, ROBERT, as_role


def trail(client: TestClient, role: str = "steward", **params: Any) -> dict[str, Any]:
    response = client.get("/audit", params=params, headers=as_role(role))
    assert response.status_code == 200, response.text
    return response.json()


def decide(client: TestClient, candidate_id: str, decision: str, note: str | None = None,
           role: str = "steward") -> None:
    response = client.post(f"/review/candidates/{candidate_id}/decision", json={"decision": decision, "note": note},
                           headers=as_role(role))
    assert response.status_code == 201, response.text


def test_a_decision_is_audited_with_who_when_what_and_both_customers(client: TestClient) -> None:
    assert trail(client) == {"items": [], "next_cursor": None}
    decide(client, CANDIDATES[0], "no_match", "different middle names")
    [entry] = trail(client)["items"]
    assert entry["action"] == "decision" and entry["detail"] == "no_match"
    assert entry["candidate_id"] == CANDIDATES[0] and entry["note"] == "different middle names"
    assert (entry["customer_id"], entry["other_customer_id"]) == (JOHN, MARY)
    assert entry["who"].startswith("steward:") and "k-steward" not in str(entry)
    at = dt.datetime.fromisoformat(entry["at"])
    assert entry["at"].endswith("Z") and abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5)


def test_only_stewards_and_admins_read_the_audit(client: TestClient) -> None:
    assert client.get("/audit").status_code == 401
    for role in ("reader", "reader_pii"):
        assert client.get("/audit", headers=as_role(role)).status_code == 403
    assert trail(client, "admin")["items"] == []


def test_the_audit_filters_by_customer_who_and_time_newest_first(client: TestClient) -> None:
    decide(client, CANDIDATES[0], "match")
    decide(client, CANDIDATES[2], "no_match", role="admin")
    decide(client, CANDIDATES[1], "no_match")
    everything = trail(client)["items"]
    assert [e["candidate_id"] for e in everything] == [CANDIDATES[1], CANDIDATES[2], CANDIDATES[0]]
    assert [e["candidate_id"] for e in trail(client, customer_id=MARY)["items"]] == [CANDIDATES[1], CANDIDATES[0]]
    assert [e["candidate_id"] for e in trail(client, customer_id=ROBERT)["items"]] == [CANDIDATES[2]]
    admin = everything[1]["who"]
    assert [e["candidate_id"] for e in trail(client, who=admin)["items"]] == [CANDIDATES[2]]
    assert trail(client, since="2999-01-01T00:00:00Z")["items"] == []
    assert len(trail(client, since=everything[-1]["at"])["items"]) == 3
    assert len(trail(client, since="2000-01-01T01:00:00+01:00")["items"]) == 3


def test_the_audit_pages_by_cursor(client: TestClient) -> None:
    for candidate in CANDIDATES:
        decide(client, candidate, "match")
    seen, cursor = [], None
    while True:
        page = trail(client, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [e["audit_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and seen == sorted(seen, reverse=True)
    # not base64 JSON; ["a"]; [a 31-digit integer]; [true]
    for bad in ("junk", "WyJhIl0", "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDBd", "W3RydWVd"):
        assert client.get("/audit", params={"cursor": bad}, headers=as_role("steward")).status_code == 400
    assert client.get("/audit", params={"since": "yesterday"}, headers=as_role("steward")).status_code == 422


def test_decisions_recorded_before_the_audit_existed_enter_it(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as con:
            command.upgrade(alembic_config(con), "0003")
            con.execute(sa.text("insert into source_records values ('sales', 'S1', 'C1'), ('sales', 'S2', 'C2')"))
            con.execute(sa.text("insert into review_decisions (candidate_id, record_id_l, record_id_r, decision, who, "
                                "note, at) values ('c', 'sales:S1', 'sales:S2', 'match', 'steward:ab', 'same', "
                                "'2026-11-01 10:00:00')"))
        with engine.begin() as con:
            upgrade(con)
        with engine.connect() as con:
            rows = [r._asdict() for r in con.execute(sa.select(audit))]
    finally:
        engine.dispose()
    assert rows == [{"audit_id": 1, "at": dt.datetime(2026, 11, 1, 10), "who": "steward:ab", "action": "decision",
                     "customer_id": "C1", "other_customer_id": "C2", "candidate_id": "c", "detail": "match",
                     "note": "same"}]
