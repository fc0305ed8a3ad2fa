"""GET /sources/{source}/{source_id}, /health and /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import JOHN, ROBERT, as_role, config
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
    assert response.json() == {"status": "ok", "version": 1, "published_at": "2025-01-02T03:04:05",
                               "customers": len(world.docs), "records": 13}


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/customers/{customer_id}", "/customers", "/customers/{customer_id}/timeline",
            "/sources/{source}/{source_id}", "/health"} <= set(spec["paths"])
    listing = spec["paths"]["/customers"]["get"]
    segment = next(p for p in listing["parameters"] if p["name"] == "segment")
    assert "churn_risk" in segment["description"] and "monetary:high" in segment["description"]
    assert spec["paths"]["/customers/{customer_id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Profile"}


def test_before_any_publish_health_is_empty_and_reads_are_503(tmp_path: Path) -> None:
    with TestClient(create_app(config(f"sqlite:///{tmp_path / 'serving.db'}"))) as client:
        assert client.get("/health").json()["status"] == "empty"
        response = client.get(f"/customers/{JOHN}", headers=as_role("reader"))
        assert response.status_code == 503 and "serving store unavailable" in response.json()["detail"]
