"""GET /customers/{id} and GET /customers: profiles, masking, redirects, search, segments, pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.models import Traits
from cdp.schema import TRAITS
from tests.api.conftest import FILLERS, JOHN, MARY, MERGED, ROBERT, as_role
from tests.utils.serving import ServingBuilder, masked


def ids(body: dict[str, Any]) -> list[str]:
    return [p["customer_id"] for p in body["items"]]


def search(client: TestClient, role: str = "admin", **params: Any) -> dict[str, Any]:
    response = client.get("/customers", params=params, headers=as_role(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_profile_is_the_published_document(client: TestClient, world: ServingBuilder) -> None:
    response = client.get(f"/customers/{JOHN}", headers=as_role("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == world.docs[JOHN]
    assert body["attributes"]["email"] == "john.smith@work.com"
    assert body["lineage"]["email"] == {"source": "finance", "source_id": "F1", "rule": "trust"}
    assert [(r["source"], r["source_id"]) for r in body["sources"]] == [("finance", "F1"), ("sales", "S1")]
    assert body["traits"]["monetary_tier"] == "high" and body["traits"]["lifetime_value"] == 850.5


@pytest.mark.parametrize(("role", "sees_pii"), [("reader", False), ("reader_pii", True), ("steward", True),
                                                 ("admin", True)])
def test_readers_without_pii_see_masked_values(client: TestClient, world: ServingBuilder, role: str,
                                               sees_pii: bool) -> None:
    body = client.get(f"/customers/{JOHN}", headers=as_role(role)).json()
    assert body == (world.docs[JOHN] if sees_pii else masked(world.docs[JOHN]))
    attributes = body["attributes"]
    if not sees_pii:
        assert attributes["email"] == "j***@work.com"
        assert attributes["phone"] == "+1******0147"
        assert attributes["tax_id"] == "*****6789"
        assert attributes["birth_date"] == "1980-**-**" and attributes["street"] == "*** E C*** ST"
        assert attributes["last_name"] == "SMITH" and attributes["city"] == "NEW YORK"
        assert body["sources"][0]["values"]["birth_date"] == "1980-**-**"
    listed = search(client, role, name="John Smith")["items"]
    assert listed == [body]


def test_a_merged_away_id_moves_permanently_to_the_survivor(client: TestClient, world: ServingBuilder) -> None:
    response = client.get(f"/customers/{MERGED}", headers=as_role("reader"))
    assert response.status_code == 301
    assert response.headers["location"].endswith(f"/customers/{JOHN}")
    followed = client.get(f"/customers/{MERGED}", headers=as_role("admin"), follow_redirects=True)
    assert followed.status_code == 200 and followed.json() == world.docs[JOHN]


def test_an_unknown_id_is_404(client: TestClient) -> None:
    response = client.get("/customers/C999999999", headers=as_role("reader"))
    assert response.status_code == 404
    assert "C999999999" in response.json()["detail"]


@pytest.mark.parametrize(("params", "expected"), [
    ({"email": " John.Smith+x@GMail.com "}, [JOHN]),          # gmail dots and +tag folded, trimmed, lower-cased
    ({"email": "JOHN.SMITH@WORK.COM"}, [JOHN]),
    ({"email": "Mailto:Mary.Smith@Example.com"}, [MARY]),
    ({"phone": "(212) 555-0147"}, [JOHN]),
    ({"phone": "415.555.2671"}, [JOHN]),                       # a number of John's other record
    ({"phone": "+1 312 867 5309"}, [ROBERT]),
    ({"name": "John Smith"}, [JOHN]),
    ({"name": "smith, johnny"}, [JOHN]),                       # "LAST, First", nickname folded
    ({"name": "Bob Brown"}, [ROBERT]),                         # BOB -> ROBERT
    ({"name": "Dr. Robert Brown Jr."}, [ROBERT]),
    ({"name": "Smith"}, [JOHN, MARY]),                         # one word: the surname
    ({"name": "Mary Smith"}, [MARY]),
    ({"name": "Smith", "email": "mary.smith@example.com"}, [MARY]),
    ({"name": "John Smith", "phone": "312-867-5309"}, []),
    ({"email": "nobody@example.com"}, []),
])
def test_search_normalises_values_as_ingestion_does(client: TestClient, params: dict[str, str],
                                                    expected: list[str]) -> None:
    body = search(client, **params)
    assert ids(body) == expected
    assert body["next_cursor"] is None


@pytest.mark.parametrize("params", [{"email": "not-an-email"}, {"phone": "555-0100"}, {"name": "  "}])
def test_values_ingestion_would_set_aside_are_422(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/customers", params=params, headers=as_role("reader_pii"))
    assert response.status_code == 422
    assert next(iter(params)) in response.json()["detail"]


@pytest.mark.parametrize(("segments", "expected"), [
    (["churn_risk"], [ROBERT]),
    (["monetary:high"], [JOHN]),
    (["monetary:mid"], [MARY]),
    (["long_valuable"], [JOHN]),
    (["short_valuable"], [MARY]),
    (["recency:high", "frequency:mid"], [JOHN]),
    (["monetary:high", "churn_risk"], []),
    (["monetary:low"], [ROBERT, *FILLERS]),
])
def test_segments_filter_by_traits(client: TestClient, segments: list[str], expected: list[str]) -> None:
    assert ids(search(client, segment=segments)) == expected


def test_segments_combine_with_search(client: TestClient) -> None:
    assert ids(search(client, name="Smith", segment="monetary:mid")) == [MARY]
    assert ids(search(client, name="Smith", segment="churn_risk")) == []


def test_an_unknown_segment_is_422_naming_the_known_ones(client: TestClient) -> None:
    response = client.get("/customers", params={"segment": "vip"}, headers=as_role("reader"))
    assert response.status_code == 422
    assert "vip" in response.json()["detail"] and "monetary:high" in response.json()["detail"]


def test_listing_pages_through_every_customer_once(client: TestClient, world: ServingBuilder) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        body = search(client, "reader", limit=5, **({"cursor": cursor} if cursor else {}))
        seen += ids(body)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(world.docs) and pages == 3
    assert len(search(client, limit=11)["items"]) == 11 and search(client, limit=11)["next_cursor"] is None


def test_pages_of_a_search(client: TestClient) -> None:
    first = search(client, name="Smith", limit=1)
    assert ids(first) == [JOHN] and first["next_cursor"]
    second = search(client, name="Smith", limit=1, cursor=first["next_cursor"])
    assert ids(second) == [MARY] and second["next_cursor"] is None


@pytest.mark.parametrize(("params", "status"), [({"cursor": "garbage"}, 400), ({"limit": 0}, 422),
                                                ({"limit": 1001}, 422)])
def test_bad_paging_is_400_or_422(client: TestClient, params: dict[str, Any], status: int) -> None:
    assert client.get("/customers", params=params, headers=as_role("reader")).status_code == status


def test_the_documented_traits_are_the_registry_traits_in_order() -> None:
    assert tuple(Traits.model_fields) == TRAITS
