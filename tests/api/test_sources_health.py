"""GET /sources/{source}/{source_id} and /health."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import JOHN, ROBERT, as_role
from tests.utils.serving import ServingBuilder, masked


def test_a_source_record_answers_its_customer(client: TestClient, world: ServingBuilder) -> None:
    for source, source_id, customer_id in (("finance", "F1", JOHN), ("sales", "S1", JOHN), ("service", "V7", ROBERT)):
        response = client.get(f"/sources/{source}/{source_id}", headers=as_role("admin"))
        assert response.status_code == 200
        assert response.json() == world.docs[customer_id]
    assert client.get("/sources/sales/S1", headers=as_role("reader")).json() == masked(world.docs[JOHN])


def test_an_unknown_source_record_is_404(client: TestClient) -> None:
    assert client.get("/sources/sales/F1", headers=as_role("reader")).status_code == 404
    assert client.get("/sources/nowhere/S1", headers=as_role("reader")).status_code == 404


def test_health_needs_no_key_and_names_the_version(client: TestClient, world: ServingBuilder) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": 1, "published_at": "2025-01-02T03:04:05Z",
                               "customers": len(world.docs), "records": 13}
