"""DELETE /customers/{id} and GET /customers/{id}/export over the hand-built store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.datakey import ENV_DATA_KEY, record_hash
from serving import tables
from tests.api.conftest import CANDIDATES, FILLERS, JOHN, MARY, MERGED, ROBERT, TIMELINE, as_role, config
from tests.utils.serving import ServingBuilder

KEY = "test-data-key, 32 characters or more"  # as long as an encrypting key must be (cdp.sealing)


@pytest.fixture
def admin_client(world: ServingBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API over the world, its state folder (no warehouse) in tmp_path, with a data key from the environment."""
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    monkeypatch.setenv(ENV_DATA_KEY, KEY)
    cfg = config(world.url).model_copy(update={"root": tmp_path})
    with TestClient(create_app(cfg), follow_redirects=False) as c:
        yield c


def rows(url: str, table: sa.Table) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return [r._asdict() for r in con.execute(sa.select(table))]
    finally:
        engine.dispose()


def test_only_admins_erase(admin_client: TestClient) -> None:
    assert admin_client.delete(f"/customers/{JOHN}").status_code == 401
    for role in ("reader", "reader_pii", "steward"):
        assert admin_client.delete(f"/customers/{JOHN}", headers=as_role(role)).status_code == 403
    assert admin_client.get(f"/customers/{JOHN}", headers=as_role("reader")).status_code == 200
    assert admin_client.delete("/customers/C999999999", headers=as_role("admin")).status_code == 404


def test_an_erased_customer_leaves_every_published_table_at_once(admin_client: TestClient, world: ServingBuilder,
                                                                 tmp_path: Path) -> None:
    reader = as_role("reader_pii")
    answer = admin_client.delete(f"/customers/{JOHN}", params={"note": "request 42"}, headers=as_role("admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == JOHN and body["records"] == 2 and body["warehouse"] == "erased"
    assert not (tmp_path / ".cdp").exists()  # no warehouse was ever made: none is created
    assert admin_client.get(f"/customers/{JOHN}", headers=reader).status_code == 404
    assert admin_client.get(f"/customers/{MERGED}", headers=reader).status_code == 404  # its redirect went too
    assert admin_client.get(f"/customers/{JOHN}/timeline", headers=reader).status_code == 404
    for record in ("finance/F1", "sales/S1"):
        assert admin_client.get(f"/sources/{record}", headers=reader).status_code == 404
    for query in ({"email": "john.smith@work.com"}, {"phone": "+14155552671"}, {"name": "John Smith"}):
        assert admin_client.get("/customers", params=query, headers=reader).json()["items"] == []
    assert admin_client.delete(f"/customers/{JOHN}", headers=as_role("admin")).status_code == 404
    # everyone else is served as before; the candidates pairing John's records left the queue
    assert admin_client.get(f"/customers/{MARY}", headers=reader).status_code == 200
    queue = admin_client.get("/review/candidates", params={"status": "all"}, headers=as_role("steward")).json()
    assert CANDIDATES[0] not in {c["candidate_id"] for c in queue["items"]}
    assert {c["candidate_id"] for c in queue["items"]} == {CANDIDATES[2], "cand-doe"}
    left = {t.name: rows(world.url, t) for t in tables.PUBLISHED}
    assert JOHN not in str(left) and "F1" not in str(left) and "john" not in str(left).lower()


def test_the_suppression_list_holds_keyed_hashes_and_the_audit_that_it_happened(admin_client: TestClient,
                                                                               world: ServingBuilder) -> None:
    admin_client.delete(f"/customers/{JOHN}", params={"note": "request 42"}, headers=as_role("admin"))
    listed = rows(world.url, tables.suppressions)
    assert {r["record_hash"] for r in listed} == {record_hash(KEY.encode(), "finance", "F1"),
                                                  record_hash(KEY.encode(), "sales", "S1")}
    assert "F1" not in str(listed) and KEY not in str(listed)
    entries = admin_client.get("/audit", headers=as_role("steward")).json()["items"]
    assert len(entries) == 1
    erasure = entries[0]
    assert erasure["action"] == "erasure" and erasure["customer_id"] == JOHN and erasure["note"] == "request 42"
    assert erasure["who"].startswith("admin:") and "k-admin" not in str(erasure)
    assert erasure["detail"] is None and erasure["at"].endswith("Z")


def test_a_merged_away_id_points_at_the_survivor_instead(admin_client: TestClient) -> None:
    answer = admin_client.delete(f"/customers/{MERGED}", headers=as_role("admin"))
    assert answer.status_code == 308 and answer.headers["location"] == f"/customers/{JOHN}"
    assert admin_client.get(f"/customers/{JOHN}", headers=as_role("reader")).status_code == 200  # nothing erased


def test_an_export_holds_everything_about_the_person(admin_client: TestClient, world: ServingBuilder) -> None:
    steward = as_role("steward")
    admin_client.post(f"/review/candidates/{CANDIDATES[0]}/decision", json={"decision": "no_match"}, headers=steward)
    for role in ("reader", "steward"):
        assert admin_client.get(f"/customers/{JOHN}/export", headers=as_role(role)).status_code == 403
    answer = admin_client.get(f"/customers/{JOHN}/export", headers=as_role("admin"))
    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["customer_id"] == JOHN and export["exported_at"].endswith("Z")
    assert export["profile"] == world.docs[JOHN]  # unmasked, with every record's values as sent
    assert export["records_as_sent"] == []  # no warehouse behind this store
    assert [e["interaction_id"] for e in export["timeline"]] == TIMELINE
    assert [(x["left"], x["right"]) for x in export["links"]] == [
        ({"source": "finance", "source_id": "F1"}, {"source": "sales", "source_id": "S1"})]
    assert {c["candidate_id"] for c in export["review_candidates"]} == set(CANDIDATES[:2])
    assert [(d["candidate_id"], d["decision"]) for d in export["decisions"]] == [(CANDIDATES[0], "no_match")]
    assert [(a["action"], a["customer_id"], a["other_customer_id"]) for a in export["audit"]] == [
        ("decision", JOHN, MARY)]
    assert admin_client.get(f"/customers/{MERGED}/export", headers=as_role("admin")).headers["location"] == (
        f"/customers/{JOHN}/export")
    assert admin_client.get("/customers/C999999999/export", headers=as_role("admin")).status_code == 404


def test_an_erasure_keeps_its_audit_and_the_decisions_on_other_people(admin_client: TestClient,
                                                                      world: ServingBuilder) -> None:
    steward = as_role("steward")
    admin_client.post(f"/review/candidates/{CANDIDATES[0]}/decision", json={"decision": "match"}, headers=steward)
    admin_client.post(f"/review/candidates/{CANDIDATES[2]}/decision", json={"decision": "match"}, headers=steward)
    admin_client.delete(f"/customers/{JOHN}", headers=as_role("admin"))
    decided = rows(world.url, tables.review_decisions)
    assert [d["candidate_id"] for d in decided] == [CANDIDATES[2]]  # the decision on John's record went with it
    actions = [(a["action"], a["customer_id"]) for a in
               admin_client.get("/audit", headers=steward).json()["items"]]
    assert actions == [("erasure", JOHN), ("decision", ROBERT), ("decision", JOHN)]  # append-only: all kept
    assert FILLERS[0] in {c["customer_id"] for c in rows(world.url, tables.profiles)}


def test_an_erasure_under_another_data_key_is_refused(admin_client: TestClient, world: ServingBuilder,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    admin_client.delete(f"/customers/{ROBERT}", headers=as_role("admin"))
    monkeypatch.setenv(ENV_DATA_KEY, "another key")
    answer = admin_client.delete(f"/customers/{JOHN}", headers=as_role("admin"))
    assert answer.status_code == 409 and "CDP_DATA_KEY" in answer.json()["detail"]
    assert admin_client.get(f"/customers/{JOHN}", headers=as_role("reader")).status_code == 200
    assert len(rows(world.url, tables.suppressions)) == 2
