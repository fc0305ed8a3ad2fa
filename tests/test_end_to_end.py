"""The whole product as a user drives it: demo silos -> cdp run -> exports, on the embedded default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from cdp.cli import main
from cdp.config import load_config
from ingestion.standardise import names
from serving import tables as serving_tables
from tests.utils.demo import read_csv, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("e2e") / "demo", people=400, seed=3)


def test_crosswalk_covers_every_demo_record(demo: Path) -> None:
    out = demo / "crosswalk.csv"
    assert main(["export", "crosswalk", "--config", str(demo / "cdp.yaml"), "--out", str(out)]) == 0
    crosswalk = read_csv(out)
    truth = read_csv(demo / "truth.csv")
    assert {(r["source"], r["source_id"]) for r in crosswalk} == {(r["source"], r["source_id"]) for r in truth}
    assert {r["source"] for r in crosswalk} == {"finance", "sales", "service"}
    # identity resolution did merge records: fewer customers than records
    assert len({r["customer_id"] for r in crosswalk}) < len(crosswalk)


def test_rerun_keeps_every_customer_id(demo: Path) -> None:
    cfg = demo / "cdp.yaml"
    before = demo / "before.csv"
    after = demo / "after.csv"
    assert main(["export", "crosswalk", "--config", str(cfg), "--out", str(before)]) == 0
    assert main(["run", "--config", str(cfg)]) == 0
    assert main(["export", "crosswalk", "--config", str(cfg), "--out", str(after)]) == 0
    assert read_csv(before) and sorted(map(str, read_csv(before))) == sorted(map(str, read_csv(after)))


def test_quarantine_export_of_a_clean_demo(demo: Path) -> None:
    out = demo / "quarantine.csv"
    assert main(["export", "quarantine", "--config", str(demo / "cdp.yaml"), "--out", str(out)]) == 0
    with out.open() as f:
        assert f.readline().startswith("source,source_id,reason")


def test_bad_mapping_fails_before_work_naming_source_and_column(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = demo / "bad.yaml"
    bad.write_text((demo / "cdp.yaml").read_text().replace("key:", "key: no_such_column_", 1))
    warehouse = load_config(demo / "cdp.yaml").warehouse_path
    stamp = warehouse.stat().st_mtime_ns
    assert main(["run", "--config", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "no_such_column_" in err and "sources." in err
    assert warehouse.stat().st_mtime_ns == stamp  # nothing ran


# --- POST /resolve over the demo --------------------------------------------------------------------

RESOLVE_KEYS = "e2e-reader:reader,e2e-pii:reader:pii,e2e-admin:admin"


@pytest.fixture(scope="module")
def api(demo: Path) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_API_KEYS", RESOLVE_KEYS)
        with TestClient(create_app(load_config(demo / "cdp.yaml"))) as client:
            yield client


def _staged(demo: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(load_config(demo / "cdp.yaml").warehouse_path), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _body(record: dict[str, Any]) -> dict[str, str]:
    """A staged record sent back as a source would: its standardised values (suffix on the surname)."""
    body = {a: record[a] for a in ("first_name", "middle_name", "email", "phone", "street", "city", "state",
                                   "postcode", "country", "tax_id")}
    body["last_name"] = " ".join(p for p in (record["last_name"], record["name_suffix"]) if p)
    body["birth_date"] = record["birth_date"] and record["birth_date"].isoformat()
    return {k: v for k, v in body.items() if v}


def _resolve(api: TestClient, body: dict[str, str], key: str = "e2e-pii", limit: int = 5) -> dict[str, Any]:
    r = api.post("/resolve", json=body, params={"limit": limit}, headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_resolve_finds_the_customer_of_a_demo_record_and_of_its_variants(demo: Path, api: TestClient) -> None:
    records = _staged(demo, "select s.*, c.customer_id from staged s join record_customer c using (record_id) "
                            "where s.birth_date is not null and s.first_name is not null and s.last_name is not null "
                            "order by hash(record_id) limit 40")
    nicknames = {name: nick for nick, name in names.nicknames().items()}
    right = typo_right = 0
    for record in records:
        body = _body(record)
        right += _resolve(api, body)["matches"][0]["customer_id"] == record["customer_id"]
        last = body["last_name"]
        variant = body | {"first_name": nicknames.get(body["first_name"], body["first_name"]).title(),
                          "last_name": last[0] + last[2] + last[1] + last[3:] if len(last) > 3 else last}
        matches = _resolve(api, variant)["matches"]
        typo_right += bool(matches) and matches[0]["customer_id"] == record["customer_id"]
    assert right == len(records)
    assert typo_right >= 0.9 * len(records)


def test_resolve_probability_equals_the_batch_one(demo: Path, api: TestClient) -> None:
    """A staged record sent back scores another customer as the batch scored its best pair with that customer's
    records (the pairs the batch did not keep scored below all it kept)."""
    pairs = _staged(demo, """
        with either_way as (select record_id_l as x, record_id_r as y, match_probability from match_pairs
                      union all select record_id_r, record_id_l, match_probability from match_pairs)
        select b.x as record_id_l, rc.customer_id, max(b.match_probability) as match_probability
        from either_way b join record_customer rc on rc.record_id = b.y join record_customer xc on xc.record_id = b.x
        where rc.customer_id <> xc.customer_id
        group by all order by match_probability desc, record_id_l limit 15""")
    assert pairs
    for pair in pairs:
        (record,) = _staged(demo, f"select * from staged where record_id = '{pair['record_id_l']}'")
        found = {m["customer_id"]: m for m in _resolve(api, _body(record), limit=50)["matches"]}
        assert found[pair["customer_id"]]["match_probability"] == pytest.approx(pair["match_probability"], abs=1e-6)


def test_resolve_writes_nothing_and_masks_for_readers_without_pii(demo: Path, api: TestClient) -> None:
    cfg = load_config(demo / "cdp.yaml")
    engine = sa.create_engine(cfg.serving)

    def counts() -> dict[str, int]:
        with engine.connect() as con:
            return {t.name: con.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in serving_tables.metadata.sorted_tables}

    before, stamp = counts(), cfg.warehouse_path.stat().st_mtime_ns
    (record,) = _staged(demo, "select * from staged where email is not null and phone is not null "
                              "and birth_date is not null order by record_id limit 1")
    plain = _resolve(api, _body(record), key="e2e-reader")
    full = _resolve(api, _body(record))
    assert plain["matches"] == full["matches"]
    assert full["record"]["email"] == record["email"] and plain["record"]["email"] != record["email"]
    assert plain["record"]["birth_date"].endswith("-**-**") and "*" in plain["record"]["phone"]
    assert counts() == before and cfg.warehouse_path.stat().st_mtime_ns == stamp
    engine.dispose()


@pytest.mark.parametrize(("body", "status", "named"), [
    ({"email": "a@b.example", "nickname": "Bob"}, 422, "nickname"),
    ({"email": "a@b.example", "birth_date": "03/04/1980"}, 422, "birth_date"),
    ({"email": "a@b.example", "birth_date": "1980-02-30"}, 422, "birth_date"),
    ({}, 422, "attribute"),
])
def test_resolve_refuses_what_it_cannot_read(api: TestClient, body: dict[str, str], status: int, named: str) -> None:
    r = api.post("/resolve", json=body, headers={"X-API-Key": "e2e-reader"})
    assert r.status_code == status and named in r.text


def test_resolve_needs_a_key_and_is_documented(api: TestClient) -> None:
    assert api.post("/resolve", json={"email": "a@b.example"}).status_code == 401
    assert api.post("/resolve", json={"email": "a@b.example"}, headers={"X-API-Key": "nope"}).status_code == 401
    doc = api.get("/openapi.json").json()
    assert {"200", "401", "422", "503"} <= set(doc["paths"]["/resolve"]["post"]["responses"])


def test_resolve_leaves_out_a_customer_erased_since_the_publish(demo: Path, api: TestClient) -> None:
    """Last in this module: it erases a customer of the demo."""
    (record,) = _staged(demo, "select s.*, c.customer_id from staged s join record_customer c using (record_id) "
                              "where s.email is not null and s.birth_date is not null order by record_id limit 1")
    assert _resolve(api, _body(record))["matches"][0]["customer_id"] == record["customer_id"]
    erased = api.delete(f"/customers/{record['customer_id']}", headers={"X-API-Key": "e2e-admin"})
    assert erased.status_code == 200, erased.text
    assert record["customer_id"] not in {m["customer_id"] for m in _resolve(api, _body(record), limit=50)["matches"]}
