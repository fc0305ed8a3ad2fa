"""/review: the stewards' queue and decisions; decisions kept across a publish and honoured by the next run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.config import Config, IdentityConfig
from cdp.resources import ServingResource, WarehouseResource
from cdp.warehouse import open_warehouse
from identity.assets import build_defs
from identity.cluster import cluster_records
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from identity.review import import_decisions, queue_split_links, refresh_candidates
from identity.traits import build_traits
from serving.assets import build_defs as serving_defs
from serving.assets import steward_decisions
from serving.decisions import decisions
from serving.publish import publish
from serving.tables import metadata, review_decisions
from tests.api.conftest import CANDIDATES, DECIDED, as_role, config
from tests.identity.test_cluster import write_pairs
from tests.utils.publishing import ingest


def queue(client: TestClient, role: str = "steward", **params: Any) -> dict[str, Any]:
    response = client.get("/review/candidates", params=params, headers=as_role(role))
    assert response.status_code == 200, response.text
    return response.json()


def decide(client: TestClient, candidate_id: str, decision: str, note: str | None = None,
           role: str = "steward") -> Any:
    return client.post(f"/review/candidates/{candidate_id}/decision", json={"decision": decision, "note": note},
                       headers=as_role(role))


def test_stewards_and_admins_see_the_queue_readers_do_not(client: TestClient) -> None:
    assert client.get("/review/candidates").status_code == 401
    for role in ("reader", "reader_pii"):
        assert client.get("/review/candidates", headers=as_role(role)).status_code == 403
        assert decide(client, CANDIDATES[0], "match", role=role).status_code == 403
    assert len(queue(client, "admin")["items"]) == 3


def test_a_candidate_carries_both_records_its_probability_and_the_evidence(client: TestClient) -> None:
    brown = queue(client)["items"][0]
    assert brown["candidate_id"] == CANDIDATES[2] and brown["status"] == "open" and brown["decision"] is None
    assert brown["match_probability"] == 0.88
    assert brown["left"]["source"] == "finance" and brown["left"]["source_id"] == "F2"
    assert brown["left"]["first_name"] == "ROBERT" and brown["right"]["first_name"] == "BOB"
    assert brown["explanation"] == [{"comparison": "first_name", "level": "exact match", "weight": 3.0},
                                    {"comparison": "last_name", "level": "exact match", "weight": 5.5}]
    smith = queue(client)["items"][2]
    assert smith["right"]["email"] == "mary.smith@example.com"  # stewards see personal values


def test_the_queue_pages_most_likely_first(client: TestClient) -> None:
    seen, cursor = [], None
    while True:
        page = queue(client, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [c["candidate_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [CANDIDATES[2], CANDIDATES[0], CANDIDATES[1]]
    assert [c["candidate_id"] for c in queue(client, status="decided")["items"]] == [DECIDED]
    assert len(queue(client, status="all")["items"]) == 4
    assert client.get("/review/candidates", params={"cursor": "junk"}, headers=as_role("steward")).status_code == 400
    assert client.get("/review/candidates", params={"status": "maybe"}, headers=as_role("steward")).status_code == 422


def test_a_decision_is_recorded_with_who_and_when_and_the_latest_counts(client: TestClient) -> None:
    response = decide(client, CANDIDATES[0], "no_match", "different birth years on file")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["candidate_id"] == CANDIDATES[0] and body["decision"] == "no_match"
    assert body["who"].startswith("steward:") and "k-steward" not in body["who"]
    assert body["note"] == "different birth years on file" and body["at"]
    assert [c["candidate_id"] for c in queue(client)["items"]] == [CANDIDATES[2], CANDIDATES[1]]
    assert decide(client, CANDIDATES[0], "match", role="admin").status_code == 201
    decided = {c["candidate_id"]: c for c in queue(client, status="decided")["items"]}
    assert decided.keys() == {CANDIDATES[0], DECIDED}
    assert decided[CANDIDATES[0]]["status"] == "decided"
    assert decided[CANDIDATES[0]]["decision"]["decision"] == "match"
    assert decided[CANDIDATES[0]]["decision"]["who"].startswith("admin:")


def test_a_decision_needs_a_known_candidate_and_a_valid_body(client: TestClient) -> None:
    assert decide(client, "no-such-candidate", "match").status_code == 404
    assert decide(client, CANDIDATES[0], "maybe").status_code == 422
    too_long = client.post(f"/review/candidates/{CANDIDATES[0]}/decision", headers=as_role("steward"),
                           json={"decision": "match", "note": "x" * 2001})
    assert too_long.status_code == 422
    assert len(queue(client)["items"]) == 3


# --- end to end: a real warehouse, published twice, decisions imported by the steward_decisions asset ------

PAIRS = [("finance:1", "sales:c1", 0.97), ("finance:2", "sales:c2", 0.7), ("sales:c2", "sales:c4", 0.6)]
"""Bob Smith's two records linked; two uncertain pairs for the stewards (Margaret / Peggy O'Brien, Peggy / José)."""


def identity_run(cfg: Config, run_id: str) -> None:
    """Matching's queue (hand-scored pairs), clustering with the imported decisions, ids, golden, traits, publish."""
    with open_warehouse(cfg.warehouse_path) as con:
        write_pairs(con, PAIRS)
        refresh_candidates(con, IdentityConfig().review_band)
    resources = {"warehouse": WarehouseResource(path=str(cfg.warehouse_path)),
                 "serving": ServingResource(url=cfg.serving)}
    assert dg.materialize([steward_decisions], resources=resources).success
    with open_warehouse(cfg.warehouse_path) as con:
        cluster_records(con, 0.9, 30)
        queue_split_links(con, 0.9)
        assign_customer_ids(con, run_id)
        build_golden(con, IdentityConfig())
        build_traits(con)
        publish(con, cfg.serving, run_id)


def test_decisions_survive_a_republish_and_the_next_run_honours_them(tmp_path: Path, store_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    cfg = ingest(tmp_path, store_url)
    identity_run(cfg, "r1")
    with TestClient(create_app(config(store_url))) as client:
        open_pairs = {(c["left"]["source_id"], c["right"]["source_id"]): c["candidate_id"]
                      for c in queue(client)["items"]}
        assert open_pairs.keys() == {("2", "c2"), ("c2", "c4")}
        assert decide(client, open_pairs[("2", "c2")], "match", "same woman, Peggy is Margaret").status_code == 201
        assert decide(client, open_pairs[("c2", "c4")], "no_match").status_code == 201
        customer = {r: client.get(f"/sources/{r}", headers=as_role("reader")).json()["customer_id"]
                    for r in ("finance/2", "sales/c2", "sales/c4")}
        assert len(set(customer.values())) == 3  # not merged yet: the run has not seen the decisions

        with open_warehouse(cfg.warehouse_path) as con:  # a republish before any run: the decisions stay
            publish(con, store_url, "republish")
        assert decisions(store_url).num_rows == 2
        assert queue(client)["items"] == []
        assert len(queue(client, status="decided")["items"]) == 2

        identity_run(cfg, "r2")  # the next run imports the decisions: a must-link and a cannot-link
        customer = {r: client.get(f"/sources/{r}", headers=as_role("reader")).json()["customer_id"]
                    for r in ("finance/2", "sales/c2", "sales/c4")}
        assert customer["finance/2"] == customer["sales/c2"] != customer["sales/c4"]
        decided = queue(client, status="decided")["items"]
        assert {c["status"] for c in decided} == {"decided"} and len(decided) == 2
        assert queue(client)["items"] == []
    with open_warehouse(cfg.warehouse_path) as con:
        assert con.execute("select count(*), count(distinct who) from steward_decisions").fetchall() == [(2, 1)]
        assert con.execute("select distinct status from review_candidates").fetchall() == [("decided",)]
        assert import_decisions(con, decisions(store_url)) == 0  # importing again adds nothing


def test_import_names_a_decision_it_cannot_honour(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serving.db'}"
    assert decisions(url).num_rows == 0  # nothing published yet: nothing to import, and no file made
    assert not (tmp_path / "serving.db").exists()
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as con:
        con.execute(review_decisions.insert(), {"candidate_id": "x", "record_id_l": "s:a", "record_id_r": "s:b",
                                                "decision": "maybe", "who": "steward:abc",
                                                "at": dt.datetime(2026, 1, 1)})
    engine.dispose()
    with open_warehouse(tmp_path / "w.duckdb") as con, pytest.raises(ValueError, match="steward:abc on s:a / s:b"):
        import_decisions(con, decisions(url))


def test_steward_decisions_run_between_matching_and_clustering(tmp_path: Path) -> None:
    cfg = config(f"sqlite:///{tmp_path / 'serving.db'}")
    resources = dg.Definitions(resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
                                          "serving": ServingResource(url=cfg.serving)})
    graph = dg.Definitions.merge(build_defs(cfg), serving_defs(cfg), resources).resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("steward_decisions")).parent_keys} == {"match_pairs"}
    assert dg.AssetKey("steward_decisions") in graph.get(dg.AssetKey("clusters")).parent_keys
