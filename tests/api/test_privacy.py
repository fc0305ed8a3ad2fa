"""PII classes (`api.pii`): masked for keys without `pii` wherever they appear, and not searchable by them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.mask import mask_birth_date, mask_street
from cdp.config import DEFAULT_PII
from tests.api.conftest import JOHN, ROBERT, as_role, config
from tests.utils.serving import ServingBuilder


def pii_values(world: ServingBuilder) -> set[str]:
    """Every value of a PII attribute in the world: golden, display and as each source sent it."""
    values = set()
    for doc in world.docs.values():
        for part in (doc["attributes"], doc["display"], *(r["values"] for r in doc["sources"])):
            values |= {str(v) for a, v in part.items() if a in DEFAULT_PII and v is not None}
    return values


def every_answer(client: TestClient, role: str) -> list[str]:
    """The bodies of every reader endpoint over every customer: profiles, listing, sources, timelines."""
    listing = client.get("/customers", params={"limit": 1000}, headers=as_role(role))
    assert listing.status_code == 200
    texts = [listing.text]
    for profile in listing.json()["items"]:
        customer_id = profile["customer_id"]
        texts.append(client.get(f"/customers/{customer_id}", headers=as_role(role)).text)
        texts.append(client.get(f"/customers/{customer_id}/timeline", headers=as_role(role)).text)
        texts += [client.get(f"/sources/{r['source']}/{r['source_id']}", headers=as_role(role)).text
                  for r in profile["sources"]]
    texts.append(client.get("/customers", params={"name": "Smith"}, headers=as_role(role)).text)
    return texts


def test_no_pii_value_reaches_a_reader_without_pii(client: TestClient, world: ServingBuilder) -> None:
    secrets = pii_values(world)
    assert {"1980-04-01", "7323 E CHESTNUT ST", "+12125550147", "123456789", "john.smith@work.com"} <= secrets
    answers = "\n".join(every_answer(client, "reader"))
    assert [s for s in secrets if s in answers] == []
    with_pii = "\n".join(every_answer(client, "reader_pii"))
    assert [s for s in secrets if s not in with_pii] == []


def test_timeline_attributes_named_like_pii_are_masked(client: TestClient) -> None:
    def ticket(role: str) -> dict[str, Any]:
        body = client.get(f"/customers/{ROBERT}/timeline", headers=as_role(role)).json()
        return next(e for e in body["items"] if e["interaction_id"] == "T9")["attributes"]

    assert ticket("reader") == {"category": "complaint", "phone": "(3********5309"}
    assert ticket("reader_pii") == ticket("steward") == {"category": "complaint", "phone": "(312) 867-5309"}


@pytest.mark.parametrize("params", [{"email": "john.smith@work.com"}, {"phone": "(212) 555-0147"},
                                    {"email": "not-an-email"}, {"name": "Smith", "phone": "+12125550147"}])
def test_a_reader_without_pii_may_not_search_by_pii(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/customers", params=params, headers=as_role("reader"))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "pii" in detail and ("email" in params) == ("email" in detail)
    assert not any(value in detail for value in params.values())  # the guess is never echoed
    for role in ("reader_pii", "steward", "admin"):
        assert client.get("/customers", params=params, headers=as_role(role)).status_code in (200, 422)


def test_found_by_email_with_pii_and_by_name_without(client: TestClient) -> None:
    found = client.get("/customers", params={"email": "john.smith@work.com"}, headers=as_role("reader_pii")).json()
    assert [p["customer_id"] for p in found["items"]] == [JOHN]
    by_name = client.get("/customers", params={"name": "John Smith"}, headers=as_role("reader")).json()
    assert [p["customer_id"] for p in by_name["items"]] == [JOHN]
    assert by_name["items"][0]["attributes"]["email"] == "j***@work.com"


def test_api_pii_chooses_what_is_masked_and_searchable(world: ServingBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    with TestClient(create_app(config(world.url, pii=["last_name", "tax_id"]))) as client:
        body = client.get(f"/customers/{JOHN}", headers=as_role("reader")).json()
        assert body["attributes"]["last_name"] == "S***" and body["display"]["last_name"] == "S***"
        assert body["attributes"]["tax_id"] == "*****6789"
        assert body["attributes"]["email"] == "john.smith@work.com" and body["attributes"]["birth_date"] == "1980-04-01"
        assert client.get("/customers", params={"name": "Smith"}, headers=as_role("reader")).status_code == 403
        assert client.get("/customers", params={"email": "john.smith@work.com"},
                          headers=as_role("reader")).status_code == 200
        assert client.get("/customers", params={"name": "Smith"}, headers=as_role("reader_pii")).status_code == 200


def test_validation_errors_do_not_echo_what_was_sent(client: TestClient) -> None:
    response = client.get("/customers", params={"limit": "john.smith@work.com"}, headers=as_role("reader"))
    assert response.status_code == 422
    assert "john.smith" not in response.text and response.json()["detail"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(("value", "shown"), [
    ("1984-04-01", "1984-**-**"), ("04/01/1984", "**/**/1984"), ("April 1, 1984", "** *, 1984"),
    ("01-04-84", "**-**-**"), ("19840401", "********")])
def test_birth_dates_keep_the_year_only(value: str, shown: str) -> None:
    assert mask_birth_date(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("7323 E Chestnut St", "*** E C*** St"), ("123 N MAIN ST UNIT 4B", "*** N M*** ST UNIT ***"),
    ("12 Lake View Drive", "*** L*** View Drive"), ("221B Baker Street", "*** B*** Street")])
def test_streets_keep_neither_number_nor_name(value: str, shown: str) -> None:
    assert mask_street(value) == shown
