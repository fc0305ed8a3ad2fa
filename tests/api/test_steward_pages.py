"""The steward pages over build_world's store, through the test client: sign-in and its cookie, CSRF, the
ranked queue and its filters, a candidate, a customer, merge and split refusals. The browser flows are in
test_steward_browser.py."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.steward import pages
from tests.api.conftest import CANDIDATES, FILLERS, JOHN, KEYS, MARY, MERGED, ROBERT, build_world, config
from tests.utils.publishing import postgres_schema

SMITH_1, SMITH_2, BROWN = CANDIDATES


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the pages' own SQL (the queue's customers, the id history) runs on both stores in
    `any_store`; the rest is the API's, which its own tests run on both."""
    return f"sqlite:///{tmp_path / 'serving.db'}"


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One client over one store for the tests that change nothing in it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('steward') / 'serving.db'}"
    build_world(url)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CDP_API_KEYS", raising=False)
        with TestClient(create_app(config(url)), follow_redirects=False) as c:
            yield c


@pytest.fixture
def site(unchanged: TestClient) -> TestClient:
    """The shared client, signed out."""
    unchanged.cookies.clear()
    return unchanged


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A test client over build_world's store on each kind of store."""
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    sqlite = contextlib.nullcontext(f"sqlite:///{tmp_path / 'serving.db'}")
    with postgres_schema() if request.param == "postgresql" else sqlite as url:
        build_world(url)
        with TestClient(create_app(config(url)), follow_redirects=False) as c:
            yield c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, role: str = "steward") -> TestClient:
    form = client.get("/steward/login")
    answer = client.post("/steward/login", data={"csrf": csrf(form.text), "api_key": KEYS[role]})
    assert answer.status_code == 303, answer.text
    return client


def queue_ids(html: str) -> list[str]:
    return re.findall(r'href="/steward/candidates/([\w-]+)\?', html)


def test_a_page_without_a_session_goes_to_the_sign_in_form(site: TestClient) -> None:
    answer = site.get("/steward/customers/C000000001?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/steward/login?next=%2Fsteward%2Fcustomers%2FC000000001%3Fx%3D1"
    form = site.get(answer.headers["location"])
    assert 'name="api_key"' in form.text and 'value="/steward/customers/C000000001?x=1"' in form.text


def test_sign_in_sets_a_signed_http_only_strict_cookie_without_the_key(site: TestClient) -> None:
    form = site.get("/steward/login?next=/steward/customers/C000000002")
    answer = site.post("/steward/login", data={"csrf": csrf(form.text), "api_key": KEYS["steward"],
                                                 "next": "/steward/customers/C000000002"})
    assert answer.status_code == 303 and answer.headers["location"] == "/steward/customers/C000000002"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert KEYS["steward"] not in cookie
    assert site.get("/steward").status_code == 200
    # a cookie changed by hand is no session
    value = site.cookies.get("cdp_steward")
    site.cookies.set("cdp_steward", value[:-1] + ("0" if value[-1] != "0" else "1"), path="/steward")
    assert site.get("/steward").status_code == 303


def test_sign_in_goes_nowhere_but_the_pages(site: TestClient) -> None:
    form = site.get("/steward/login")
    answer = site.post("/steward/login", data={"csrf": csrf(form.text), "api_key": KEYS["admin"],
                                                 "next": "https://evil.example/steward"})
    assert answer.headers["location"] == "/steward"


@pytest.mark.parametrize(("role", "code", "says"), [("reader", 403, "reader"), (None, 401, "Unknown API key")])
def test_a_reader_or_unknown_key_is_refused(site: TestClient, role: str | None, code: int, says: str) -> None:
    form = site.get("/steward/login")
    answer = site.post("/steward/login", data={"csrf": csrf(form.text), "api_key": KEYS[role] if role else "nope"})
    assert answer.status_code == code and says in answer.text
    assert site.get("/steward").status_code == 303


def test_every_form_needs_the_sessions_csrf_token(site: TestClient) -> None:
    form = site.get("/steward/login")
    assert site.post("/steward/login", data={"api_key": KEYS["steward"]}).status_code == 403
    assert site.post("/steward/login", data={"csrf": csrf(form.text) + "0", "api_key": KEYS["steward"]}
                       ).status_code == 403
    sign_in(site)
    token = csrf(site.get("/steward").text)
    assert site.post(f"/steward/candidates/{BROWN}/decision", data={"decision": "no_match"}).status_code == 403
    assert site.post(f"/steward/customers/{MARY}/merge", data={"other": JOHN, "csrf": "x"}).status_code == 403
    assert site.get("/audit", headers={"X-API-Key": KEYS["steward"]}).json()["items"] == []
    assert site.post("/steward/logout", data={"csrf": token}).status_code == 303
    assert site.get("/steward").status_code == 303  # signed out


def test_the_queue_ranks_by_what_a_decision_would_change_and_filters(any_store: TestClient,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = sign_in(any_store)
    page = client.get("/steward").text
    # the Smiths' candidates would join John (2 records) and Mary (1); Brown's would split Robert (2)
    assert queue_ids(page) == [SMITH_1, SMITH_2, BROWN]
    assert "joins" in page and "3 records at stake" in page and "splits" in page
    assert queue_ids(client.get("/steward?source=service").text) == [BROWN]
    assert queue_ids(client.get("/steward?low=0.6&high=0.9").text) == [SMITH_1, BROWN]
    assert "Nothing to review" in client.get("/steward?low=0.95").text
    monkeypatch.setattr(pages, "SHOWN", 2)
    top = client.get("/steward").text
    assert queue_ids(top) == [SMITH_1, SMITH_2] and "3 open, the first\n  2 shown" in top


def test_a_candidate_shows_both_records_and_each_comparisons_weight(site: TestClient) -> None:
    sign_in(site)
    page = site.get(f"/steward/candidates/{BROWN}").text
    assert "finance/F2" in page and "service/V7" in page and "0.880" in page
    assert re.search(r'<tr class="differ"><th scope="row">first_name</th>\s*<td>ROBERT</td><td>BOB</td>', page)
    assert '<tr class=""><th scope="row">last_name</th>' in page
    assert page.count("<svg") == 2 and "+5.50" in page and "+3.00" in page
    assert ">Match</button>" in page and ">Not a match</button>" in page
    assert site.get("/steward/candidates/nope").status_code == 404


def test_deciding_records_it_and_opens_the_next_candidate(client: TestClient) -> None:
    sign_in(client)
    token = csrf(client.get(f"/steward/candidates/{SMITH_1}").text)
    answer = client.post(f"/steward/candidates/{SMITH_1}/decision?source=sales",
                         data={"csrf": token, "decision": "no_match", "note": "two people"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/steward/candidates/{SMITH_2}?source=sales"
    entry = client.get("/audit", headers={"X-API-Key": KEYS["steward"]}).json()["items"][0]
    assert (entry["action"], entry["detail"], entry["note"], entry["candidate_id"]) == (
        "decision", "no_match", "two people", SMITH_1)
    bad = client.post(f"/steward/candidates/{SMITH_2}/decision", data={"csrf": token, "decision": "maybe"})
    assert bad.status_code == 422 and "match" in bad.text


def test_a_customer_page_shows_lineage_records_links_and_id_history(any_store: TestClient) -> None:
    client = sign_in(any_store)
    page = client.get(f"/steward/customers/{JOHN}").text
    assert "finance/F1" in page and "sales/S1" in page and "trust" in page
    assert f"<code>{MERGED}</code>" in page  # merged into John
    assert "finance/F1 — sales/S1:\n    probability 0.970" in page  # the link that holds John together
    assert "+6.10" in page and "-1.50" in page
    assert "probability 0.720" in page  # a review candidate on John's records
    moved = client.get(f"/steward/customers/{MERGED}")
    assert moved.status_code == 303 and moved.headers["location"] == f"/steward/customers/{JOHN}"
    assert client.get("/steward/customers/C999").status_code == 404


def test_merge_and_split_are_recorded_pending_or_refused_with_the_reason(client: TestClient) -> None:
    sign_in(client)
    token = csrf(client.get(f"/steward/customers/{ROBERT}").text)
    done = client.post(f"/steward/customers/{MARY}/merge", data={"csrf": token, "other": FILLERS[1], "note": "same"})
    assert done.headers["location"] == f"/steward/customers/{MARY}?done=merge"
    page = client.get(done.headers["location"]).text
    assert "Merge recorded" in page and "Pending: applies at the next run" in page
    refused = client.post(f"/steward/customers/{MARY}/merge", data={"csrf": token, "other": MERGED})
    assert refused.status_code == 409 and JOHN in refused.text
    assert client.post(f"/steward/customers/{MARY}/merge", data={"csrf": token, "other": MARY}).status_code == 422
    every = client.post(f"/steward/customers/{ROBERT}/split",
                        data={"csrf": token, "record": ["finance:F2", "service:V7"]})
    assert every.status_code == 422 and "nothing would be left behind" in every.text
    assert client.post(f"/steward/customers/{ROBERT}/split", data={"csrf": token}).status_code == 422
    split = client.post(f"/steward/customers/{ROBERT}/split", data={"csrf": token, "record": "service:V7"})
    assert split.headers["location"] == f"/steward/customers/{ROBERT}?done=split"
    assert "split out service/V7" in client.get(split.headers["location"]).text
