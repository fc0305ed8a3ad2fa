"""POST /customers/merge and /customers/{id}/split: stewards' must-links and cannot-links, recorded and audited."""

from __future__ import annotations

from typing import Any

import duckdb
from fastapi.testclient import TestClient

from identity.review import CANDIDATE_ID
from serving.decisions import decisions
from serving.edits import candidate_id
from tests.api.conftest import JOHN, MARY, MERGED, ROBERT, as_role
from tests.utils.serving import ServingBuilder, record


def merge(client: TestClient, customer_ids: list[str], note: str | None = None, role: str = "steward") -> Any:
    return client.post("/customers/merge", json={"customer_ids": customer_ids, "note": note}, headers=as_role(role))


def split(client: TestClient, customer_id: str, records: list[tuple[str, str]], note: str | None = None,
          role: str = "steward") -> Any:
    body = {"records": [{"source": s, "source_id": i} for s, i in records], "note": note}
    return client.post(f"/customers/{customer_id}/split", json=body, headers=as_role(role))


def recorded(url: str) -> list[tuple[str, str, str]]:
    """The decisions in the store, oldest first, as the next run imports them."""
    return [(d["record_id_l"], d["record_id_r"], d["decision"]) for d in decisions(url).to_pylist()]


def trail(client: TestClient, customer_id: str) -> list[dict[str, Any]]:
    response = client.get("/audit", params={"customer_id": customer_id}, headers=as_role("steward"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def link(left: str, right: str, decision: str) -> dict[str, Any]:
    (ls, li), (rs, ri) = left.split("/"), right.split("/")
    return {"left": {"source": ls, "source_id": li}, "right": {"source": rs, "source_id": ri}, "decision": decision}


def test_stewards_and_admins_merge_and_split_readers_do_not(client: TestClient, world: ServingBuilder) -> None:
    assert client.post("/customers/merge", json={"customer_ids": [MARY, ROBERT]}).status_code == 401
    for role in ("reader", "reader_pii"):
        assert merge(client, [MARY, ROBERT], role=role).status_code == 403
        assert split(client, JOHN, [("sales", "S1")], role=role).status_code == 403
    assert recorded(world.url) == []
    assert merge(client, [MARY, ROBERT], role="admin").status_code == 201
    assert split(client, JOHN, [("sales", "S1")], role="admin").status_code == 201


def test_a_merge_is_a_must_link_between_the_customers_audited_and_served_as_before_until_a_run(
        client: TestClient, world: ServingBuilder) -> None:
    response = merge(client, [MARY, ROBERT], "same woman, married name")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["action"] == "merge" and body["customer_ids"] == [MARY, ROBERT] and body["applies"] == "next run"
    assert body["decisions"] == [link("finance/F2", "sales/S3", "match")]  # a record of each, ordered as pairs are
    assert body["who"].startswith("steward:") and body["note"] == "same woman, married name"
    assert recorded(world.url) == [("finance:F2", "sales:S3", "match")]
    [entry] = trail(client, ROBERT)
    assert entry["audit_id"] == body["audit_ids"][0] and entry["action"] == "merge"
    assert (entry["customer_id"], entry["other_customer_id"]) == (MARY, ROBERT)
    assert entry["note"] == "same woman, married name" and entry["who"] == body["who"]
    assert entry["detail"] == "must-link finance:F2 = sales:S3"
    assert trail(client, MARY) == [entry]
    served = client.get("/sources/sales/S3", headers=as_role("reader")).json()["customer_id"]
    assert served == MARY  # served as before until the next run


def test_a_merge_of_three_links_the_first_to_each_other(client: TestClient, world: ServingBuilder) -> None:
    body = merge(client, [JOHN, MARY, ROBERT]).json()
    assert body["decisions"] == [link("finance/F1", "sales/S3", "match"), link("finance/F1", "finance/F2", "match")]
    assert [(e["customer_id"], e["other_customer_id"]) for e in trail(client, JOHN)] == [(JOHN, ROBERT), (JOHN, MARY)]


def test_a_merge_needs_two_distinct_live_customers(client: TestClient, world: ServingBuilder) -> None:
    assert merge(client, [MARY]).status_code == 422
    assert merge(client, [MARY, MARY]).status_code == 422
    assert client.post("/customers/merge", json={"note": "x"}, headers=as_role("steward")).status_code == 422
    unknown = merge(client, [MARY, "C999999999"])
    assert unknown.status_code == 404 and "C999999999" in unknown.json()["detail"]
    merged = merge(client, [MERGED, MARY])
    assert merged.status_code == 409 and MERGED in merged.json()["detail"] and JOHN in merged.json()["detail"]
    assert recorded(world.url) == [] and trail(client, MARY) == []  # a refused merge writes nothing


def test_a_split_keeps_the_chosen_records_apart_from_the_rest_and_together(client: TestClient,
                                                                           world: ServingBuilder) -> None:
    world.customer("C000000099", [record("crm", "A", first_name="ANN"), record("crm", "B", first_name="ANN"),
                                  record("shop", "C", first_name="ANNE"), record("shop", "D", first_name="ANNE")])
    world.write()
    response = split(client, "C000000099", [("shop", "D"), ("shop", "C")], "two Annes, not one")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["action"] == "split" and body["customer_ids"] == ["C000000099"]
    assert body["decisions"] == [link("crm/A", "shop/D", "no_match"), link("crm/B", "shop/D", "no_match"),
                                 link("crm/A", "shop/C", "no_match"), link("crm/B", "shop/C", "no_match"),
                                 link("shop/C", "shop/D", "match")]
    assert len(recorded(world.url)) == 5
    [entry] = trail(client, "C000000099")
    assert entry["action"] == "split" and entry["audit_id"] == body["audit_ids"][0]
    assert entry["detail"] == "split out shop/D, shop/C" and entry["note"] == "two Annes, not one"
    assert entry["other_customer_id"] is None


def test_a_split_takes_only_some_of_the_customers_own_records(client: TestClient, world: ServingBuilder) -> None:
    stranger = split(client, JOHN, [("sales", "S1"), ("sales", "S3")])
    assert stranger.status_code == 422 and "sales/S3" in stranger.json()["detail"]
    everything = split(client, JOHN, [("sales", "S1"), ("finance", "F1")])
    assert everything.status_code == 422 and "all of" in everything.json()["detail"]
    assert split(client, JOHN, []).status_code == 422
    assert split(client, JOHN, [("sales", "S1"), ("sales", "S1")]).status_code == 422
    assert split(client, "C999999999", [("sales", "S1")]).status_code == 404
    assert split(client, MERGED, [("sales", "S1")]).status_code == 409
    assert recorded(world.url) == [] and trail(client, JOHN) == []


def test_a_decided_pair_has_the_candidate_id_the_warehouse_gives_it() -> None:
    con = duckdb.connect()
    sql = f"select {CANDIDATE_ID} from (select 'crm:1' as record_id_l, 'shop:x' as record_id_r)"
    assert con.execute(sql).fetchall()[0][0] == candidate_id("crm:1", "shop:x")
