"""Encryption at rest: with $CDP_DATA_KEY, a publish of the two small sources leaves no personal value in the
serving store's bytes (SQLite file and WAL; every text column of the real PostgreSQL), and the API, given the
same key, answers profiles, timelines, searches by email and phone and the review queue in plain; without the
key, or with another, it says so (503), and the CLI's startup line too."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from api.matcher import published_records
from api.reader import ServingReader
from api.startup import published
from cdp.config import Config, ConfigError
from cdp.datakey import ENV_DATA_KEY
from cdp.resources import ServingResource, WarehouseResource
from cdp.schema import REVIEW_CANDIDATES, STAGED, ensure_tables
from cdp.sealing import PREFIX, SealedStore, Sealer
from cdp.warehouse import open_warehouse
from serving.assets import published_asset
from serving.publish import publish
from serving.seal import Sealing
from serving.store import SqliteStore
from serving.tables import name_key
from tests.api.conftest import JOHN, SPECS, as_role, build_world
from tests.utils.publishing import ingest, postgres_schema, resolve

KEY = "a test data key of 32+ characters, not a secret"
PII = ("email", "phone", "tax_id", "birth_date", "street")
BOB = "C000000001"
"""finance:1 (SMITH, ROBERT A, 123 North Main Street Apt 4) and sales:c1 (Bob Smith, bob.smith@...)."""
CANDIDATE = "cand-1"


def warehouse(folder: Path, url: str) -> Config:
    """The two sources ingested and resolved, with one review candidate between Bob's two records."""
    cfg = ingest(folder, url)
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        ensure_tables(con, REVIEW_CANDIDATES)
        con.execute(f"insert into {REVIEW_CANDIDATES} values (?, 'finance:1', 'sales:c1', 0.7, '[]', 'open')",
                    [CANDIDATE])
    return cfg


def run_publish(cfg: Config, sealer: Sealer | None) -> None:
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, cfg.serving, "run-1", sealing=Sealing.of(sealer, PII))


def personal_values(cfg: Config) -> set[str]:
    """Every personal value staged, standardised and as sent, long enough not to occur by chance."""
    columns = [f"{a}{suffix}::VARCHAR" for a in PII for suffix in ("", "_raw")]
    with open_warehouse(cfg.warehouse_path, read_only=True) as con:
        rows = con.sql(f"select {', '.join(columns)} from {STAGED}").fetchall()
    return {v for row in rows for v in row if v is not None and len(v) >= 5}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sealed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    """A store published with KEY set, on each engine."""
    folder = tmp_path_factory.mktemp(f"sealed-{request.param}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV_DATA_KEY, KEY)
        if request.param == "sqlite":
            cfg = warehouse(folder, f"sqlite:///{folder / 'serving.db'}")
            run_publish(cfg, Sealer.from_env())
            yield cfg
        else:
            with postgres_schema() as url:
                cfg = warehouse(folder, url)
                run_publish(cfg, Sealer.from_env())
                yield cfg


def store_text(url: str) -> str:
    """What an intruder reads: the SQLite file and its WAL as bytes, or every text column of every table."""
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            path = Path(str(engine.url.database))
            files = [path, path.with_name(path.name + "-wal")]
            return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
        found = []
        with engine.connect() as con:
            for name in sa.inspect(con).get_table_names():
                columns = [c["name"] for c in sa.inspect(con).get_columns(name) if isinstance(c["type"], sa.Text)]
                for column in columns:
                    found += con.execute(sa.text(f'select "{column}" from {name}')).scalars().all()
        return "\n".join(str(v) for v in found)
    finally:
        engine.dispose()


def test_no_personal_value_is_stored_plain(sealed: Config) -> None:
    values = personal_values(sealed)
    assert {"bobsmith@gmail.com", "Bob.Smith+news@GoogleMail.com", "+12125550100", "219099998", "219-09-9998",
            "1980-03-04", "03/04/1980", "123 N MAIN ST UNIT 4", "123 North Main Street Apt 4"} <= values
    text = store_text(sealed.serving)
    assert PREFIX in text
    assert sorted(v for v in values if v in text) == []


def test_re_publish_with_a_key_over_a_plain_store_leaves_no_old_value(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages freed with the plain version's tables are zeroed, not left in the SQLite file: also where SQLite is
    built without SECURE_DELETE (Debian's has it on; other builds leave freed pages as they were)."""
    monkeypatch.setattr(SqliteStore, "pragmas", (*SqliteStore.pragmas, "secure_delete=off"))
    cfg = warehouse(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    run_publish(cfg, None)
    # More plain pages than the encrypted version's indexes take back from the free list.
    with sqlite3.connect(tmp_path / "serving.db") as con:
        con.executemany("insert into profiles (customer_id, attributes, lineage, sources) values (?, ?, '{}', '[]')",
                        [(f"X{n:04d}", json.dumps({"email": "plain.left@example.com", "pad": "." * 1000}))
                         for n in range(1000)])
    plain = store_text(cfg.serving)  # what the check sees without a key: the values as they are
    assert "plain.left@example.com" in plain and "bobsmith@gmail.com" in plain and "123 N MAIN ST UNIT 4" in plain
    run_publish(cfg, Sealer.of(KEY.encode()))
    text = store_text(cfg.serving)
    assert "plain.left@example.com" not in text
    assert sorted(v for v in personal_values(cfg) if v in text) == []


def client(cfg: Config, key: str | None, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    if key is None:
        monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    else:
        monkeypatch.setenv(ENV_DATA_KEY, key)
    app_cfg = cfg.model_copy(update={"api": cfg.api.model_copy(update={"keys": SPECS})})
    return TestClient(create_app(app_cfg), follow_redirects=False)


def get(c: TestClient, path: str, role: str = "steward", **params: Any) -> Any:
    response = c.get(path, headers=as_role(role), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_answers_in_plain_with_the_key(sealed: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    with client(sealed, KEY, monkeypatch) as c:
        bob = get(c, f"/customers/{BOB}")
        assert bob["attributes"]["email"] == "bobsmith@gmail.com"
        assert bob["attributes"]["tax_id"] == "219099998"
        assert bob["display"]["street"] and bob["lineage"]["phone"]["source"]
        assert {r["source_id"]: r["values"].get("birth_date") for r in bob["sources"]} == {"1": None,
                                                                                        "c1": "03/04/1980"}
        masked = get(c, f"/customers/{BOB}", role="reader")["attributes"]
        assert masked["email"] == "b***@gmail.com" and masked["first_name"] == bob["attributes"]["first_name"]
        for params in ({"email": " Bob.Smith+x@GoogleMail.com"}, {"phone": "(212) 555-0100"}, {"name": "Bob Smith"},
                       {"name": "Smith"}):
            found = get(c, "/customers", role="reader_pii", **params)["items"]
            assert [p["customer_id"] for p in found] == [BOB], params
        assert get(c, "/customers", role="reader_pii", email="nobody@example.com")["items"] == []
        assert get(c, f"/customers/{BOB}/timeline")["items"]
        (candidate,) = get(c, "/review/candidates")["items"]
        assert candidate["left"]["tax_id"] == "219099998" and candidate["right"]["email"] == bob["attributes"]["email"]
        export = get(c, f"/customers/{BOB}/export", role="admin")
        assert export["profile"]["attributes"] == bob["attributes"] and export["review_candidates"]


@pytest.mark.parametrize("key", [None, "another key, as long as a key must be"])
def test_without_the_key_the_api_says_so(sealed: Config, key: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    with client(sealed, key, monkeypatch) as c:
        for path, params in ((f"/customers/{BOB}", {}), ("/customers", {"email": "bobsmith@gmail.com"}),
                             ("/review/candidates", {}), (f"/customers/{BOB}/timeline", {})):
            response = c.get(path, headers=as_role("steward"), params=params)
            assert response.status_code == 503, (path, response.text)
            assert ENV_DATA_KEY in response.json()["detail"], path
    line = published(sealed.serving)
    assert "error:" in line and ENV_DATA_KEY in line


def test_startup_names_the_key(sealed: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_KEY, KEY)
    assert f"personal values encrypted (data key {Sealer.of(KEY.encode()).key_id})" in published(sealed.serving)


def test_resolve_indexes_match_records_opened_with_the_key(sealed: Config) -> None:
    """POST /resolve's index reads match_records opened, value by value; without the key it says so."""
    engine = sa.create_engine(sealed.serving)
    try:
        records = published_records(engine, Sealer.of(KEY.encode()), chunk=2).to_pylist()
        with pytest.raises(SealedStore):
            published_records(engine, None)
    finally:
        engine.dispose()
    assert not [v for r in records for v in r.values() if v is not None and v.startswith(PREFIX)]
    bob = next(r for r in records if r["record_id"] == "sales:c1")
    assert bob["customer_id"] == BOB and bob["email"] == "bobsmith@gmail.com" and bob["dob"] == "19800304"


def test_a_sealed_value_does_not_open_in_another_row() -> None:
    sealer = Sealer.of(KEY.encode())
    sealed = sealer.seal(json.dumps({"email": "a@b.example"}), "profiles.attributes\x1fC1")
    assert sealer.open(sealed, "profiles.attributes\x1fC1") == '{"email": "a@b.example"}'
    assert sealed != sealer.seal(json.dumps({"email": "a@b.example"}), "profiles.attributes\x1fC1")  # fresh nonce
    with pytest.raises(RuntimeError, match="does not decrypt"):
        sealer.open(sealed, "profiles.attributes\x1fC2")


def test_names_in_api_pii_are_hashed_too(tmp_path: Path) -> None:
    """With a name attribute personal, name keys are hashed, and surnames get keys of their own."""
    cfg = warehouse(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    sealer = Sealer.of(KEY.encode())
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, cfg.serving, "run-1", sealing=Sealing.of(sealer, (*PII, "last_name")))
    assert "SMITH/ROBERT" not in store_text(cfg.serving)
    reader = ServingReader(cfg.serving, sealer=sealer)
    try:
        for keys in ([("name", name_key("SMITH", "ROBERT"))], [("last_name", "SMITH")],
                     [("email", "bobsmith@gmail.com")]):
            assert [json.loads(doc)["customer_id"] for doc in reader.search(keys, [], None, 10).items] == [BOB], keys
        assert reader.search([("last_name", "SMIT")], [], None, 10).items == []
    finally:
        reader.close()


def test_the_published_asset_encrypts_with_the_environments_key(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`cdp run`'s publish: $CDP_DATA_KEY turns encryption on, api.pii says which search keys are hashed."""
    cfg = warehouse(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    monkeypatch.setenv(ENV_DATA_KEY, KEY)
    resources = {"warehouse": WarehouseResource(path=str(cfg.warehouse_path)),
                 "serving": ServingResource(url=cfg.serving)}
    assert dg.materialize([published_asset(cfg)], resources=resources).success
    engine = sa.create_engine(cfg.serving)
    with engine.connect() as con:
        logged = con.execute(sa.text("select key_id, hashed_search from publish_log")).one()
        attributes = con.execute(sa.text("select attributes from profiles")).scalars().all()
    engine.dispose()
    assert tuple(logged) == (Sealer.of(KEY.encode()).key_id, "email,phone")
    assert attributes and all(text.startswith(PREFIX) for text in attributes)


def test_a_short_key_does_not_encrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_KEY, "short")
    with pytest.raises(ConfigError, match="CDP_DATA_KEY has 5 characters"):
        Sealer.from_env()


def test_a_store_from_before_encryption_reads_as_plain(tmp_path: Path) -> None:
    """The API never migrates: until the next publish does, a store without publish_log's key columns serves."""
    url = f"sqlite:///{tmp_path / 'serving.db'}"
    build_world(url)
    with sqlite3.connect(tmp_path / "serving.db") as con:
        con.execute("alter table publish_log drop column key_id")
        con.execute("alter table publish_log drop column hashed_search")
    con.close()
    reader = ServingReader(url, sealer=Sealer.of(KEY.encode()))
    try:
        assert reader.version() is not None and reader.version().key_id is None  # type: ignore[union-attr]
        found = reader.search([("email", "johnsmith@gmail.com")], [], None, 10).items
        assert [json.loads(doc)["customer_id"] for doc in found] == [JOHN]
    finally:
        reader.close()
