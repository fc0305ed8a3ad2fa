"""Publish: the warehouse's golden side in the serving store (SQLite and the real PostgreSQL), redirects,
masking, the `published` asset and the crosswalk export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from api.mask import Mask
from api.reader import ServingReader
from cdp.config import DEFAULT_PII, Config, ConfigError
from cdp.resources import ServingResource, WarehouseResource
from cdp.warehouse import open_warehouse
from serving.assets import build_defs, published_asset
from serving.publish import PublishStats, customer_slices, export_source_records, publish
from tests.utils.publishing import copy_ingested, ingest, resolve

BOB, MARGARET, PEGGY, JOSE = "C000000001", "C000000002", "C000000003", "C000000004"
"""Customer ids of tests.utils.publishing.PEOPLE (issued in cluster order)."""


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two small sources ingested and resolved into PEOPLE (one run)."""
    folder = tmp_path_factory.mktemp("resolved")
    resolve(ingest(folder, "sqlite:///unused.db"))
    return folder


@pytest.fixture
def cfg(resolved: Path, tmp_path: Path, store_url: str) -> Config:
    """A copy of `resolved` of its own, publishing into `store_url` (no test here ingests again)."""
    return copy_ingested(resolved, tmp_path, store_url)


def run_publish(cfg: Config, run_id: str = "run-1") -> PublishStats:
    with open_warehouse(cfg.warehouse_path) as con:
        return publish(con, cfg.serving, run_id)


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


@contextmanager
def reading(url: str) -> Iterator[ServingReader]:
    reader = ServingReader(url)
    try:
        yield reader
    finally:
        reader.close()


def doc(url: str, customer_id: str, masked: bool = False) -> dict[str, Any]:
    """The profile document as the API serves it (`masked`: to a reader without pii, the default `api.pii`)."""
    with reading(url) as reader:
        text = reader.profile(customer_id, Mask.of(DEFAULT_PII) if masked else None)
    assert text is not None
    return json.loads(text)


def test_publish_fills_every_table_and_logs_the_version(cfg: Config) -> None:
    stats = run_publish(cfg)
    assert stats.version == 1
    assert stats.rows == {"profiles": 4, "search_keys": 8, "source_records": 5, "redirects": 0, "timeline": 2,
                          "review_candidates": 0, "customer_links": 0, "match_records": 5}  # given clusters
    assert rows(cfg.serving, "select version, run_id, customers, records from publish_log") == [(1, "run-1", 4, 5)]
    assert run_publish(cfg, "run-2").version == 2
    assert rows(cfg.serving, "select count(*) from profiles") == [(4,)]


def test_profile_document_carries_golden_values_lineage_sources_and_traits(cfg: Config) -> None:
    run_publish(cfg)
    bob = doc(cfg.serving, BOB)
    assert bob["customer_id"] == BOB
    assert bob["attributes"] == {
        "first_name": "ROBERT", "middle_name": "A", "last_name": "SMITH", "email": "bobsmith@gmail.com",
        "phone": "+12125550100", "street": "123 N MAIN ST UNIT 4", "city": None, "state": None, "postcode": None,
        "country": "US", "birth_date": "1980-03-04", "tax_id": "219099998"}
    assert bob["lineage"]["email"] == {"source": "sales", "source_id": "c1", "rule": "only"}
    assert bob["lineage"]["first_name"] == {"source": "finance", "source_id": "1", "rule": "trust"}
    assert "city" not in bob["lineage"]  # no record gave a city
    # display: the source's own spelling where it is the same value in mixed case, else title case
    assert bob["display"] == {
        "first_name": "Robert", "middle_name": "A", "last_name": "Smith", "email": "bobsmith@gmail.com",
        "phone": "+1 212-555-0100", "street": "123 N Main St Unit 4", "city": None, "state": None, "postcode": None,
        "country": "US", "birth_date": "1980-03-04", "tax_id": "219099998"}
    assert [(r["source"], r["source_id"]) for r in bob["sources"]] == [("finance", "1"), ("sales", "c1")]
    assert bob["sources"][0]["values"] == {"full_name": "SMITH, ROBERT A", "phone": "212-555-0100",
                                           "street": "123 North Main Street Apt 4", "country": "USA",
                                           "tax_id": "219-09-9998"}
    assert bob["traits"] | {"lifetime_value": None} == {
        "lifetime_value": None, "order_count": 0, "invoice_count": 2, "ticket_count": 1,
        "first_seen": "2024-01-02T10:00:00Z", "last_seen": "2024-03-01T09:00:00Z", "tickets_90d": 1,
        "complaints_90d": 0, "recency_tier": "high", "frequency_tier": "high", "monetary_tier": "high",
        "loyalty": "long_valuable", "churn_risk": False}
    assert bob["traits"]["lifetime_value"] == pytest.approx(1222.5)  # 1,234.50 and (12.00)


def test_traits_are_columns_for_the_segment_filters(cfg: Config) -> None:
    run_publish(cfg)
    got = rows(cfg.serving, "select monetary_tier, loyalty, churn_risk, lifetime_value, last_seen "
                            "from profiles where customer_id = :c", c=BOB)
    assert got == [("high", "long_valuable", False, pytest.approx(1222.5), "2024-03-01T09:00:00")]


def test_masked_document_hides_the_pii_attributes_only(cfg: Config) -> None:
    run_publish(cfg)
    plain, masked = doc(cfg.serving, BOB), doc(cfg.serving, BOB, masked=True)
    assert (masked["attributes"]["email"], masked["attributes"]["phone"], masked["attributes"]["tax_id"]) == (
        "b***@gmail.com", "+1******0100", "*****9998")
    assert masked["display"]["phone"] == "+1*********0100"
    assert masked["sources"][0]["values"]["tax_id"] == "*******9998"
    assert plain["attributes"]["birth_date"] and masked["attributes"]["birth_date"].endswith("-**-**")
    assert plain["attributes"]["street"] and "***" in masked["attributes"]["street"]
    for attr in DEFAULT_PII:
        for part in (plain["attributes"], masked["attributes"], plain["display"], masked["display"],
                     *(r["values"] for r in plain["sources"]), *(r["values"] for r in masked["sources"])):
            part.pop(attr, None)
    assert masked == plain
    assert doc(cfg.serving, JOSE, masked=True)["attributes"]["phone"] == "+4*******0958"


def test_search_keys_come_from_every_record_standardised(cfg: Config) -> None:
    run_publish(cfg)
    keys = rows(cfg.serving, "select kind, value from search_keys where customer_id = :c order by 1, 2", c=BOB)
    # sales:c1 is 'Bob Smith' with a googlemail address: its name key folds BOB to ROBERT
    assert keys == [("email", "bobsmith@gmail.com"), ("name", "SMITH/ROBERT"), ("phone", "+12125550100")]
    both = rows(cfg.serving, "select customer_id from search_keys where kind = 'name' and value = 'OBRIEN/MARGARET' "
                             "order by 1")
    assert both == [(MARGARET,), (PEGGY,)]  # Peggy O'Brien Jr. folds to MARGARET too


def test_source_records_and_timelines_carry_the_customer(cfg: Config) -> None:
    run_publish(cfg)
    assert rows(cfg.serving, "select source, source_id, customer_id from source_records order by 1, 2") == [
        ("finance", "1", BOB), ("finance", "2", MARGARET), ("sales", "c1", BOB), ("sales", "c2", PEGGY),
        ("sales", "c4", JOSE)]
    # t3 belongs to record sales:c9, which was never published: no customer, not served
    assert rows(cfg.serving, "select customer_id, position from timeline order by 1") == [(BOB, 0), (MARGARET, 0)]
    with reading(cfg.serving) as reader:
        bob, margaret = reader.timeline(BOB, 10).items, reader.timeline(MARGARET, 10).items
    assert [(e["at"], e["source"], e["name"], e["interaction_id"], e["amount"], e["attributes"]) for e in bob] == [
        ("2024-03-01T09:00:00", "sales", "tickets", "t1", None, {"topic": "billing"}),
        ("2024-01-02T10:00:00", "finance", "invoices", "i1", 1234.5, {"paid": "yes"}),
        (None, "finance", "invoices", "i2", -12.0, {"paid": "no"})]  # its time was unreadable: last
    assert [(e["interaction_id"], e["amount"]) for e in margaret] == [("i3", None)]


def test_a_merge_publishes_a_redirect_to_the_survivor(tmp_path: Path, store_url: str) -> None:
    cfg = ingest(tmp_path, store_url)
    resolve(cfg, [["finance:1"], ["sales:c1"], ["finance:2"], ["sales:c2"], ["sales:c4"]], run_id="r1")
    run_publish(cfg)
    sales_c1 = rows(cfg.serving, "select customer_id from source_records where source_id = 'c1'")[0][0]
    resolve(cfg, run_id="r2")  # finance:1 and sales:c1 are now one person
    run_publish(cfg, "run-2")
    survivor = rows(cfg.serving, "select customer_id from source_records where source_id = 'c1'")[0][0]
    assert survivor != sales_c1
    assert rows(cfg.serving, "select from_id, to_id from redirects") == [(sales_c1, survivor)]
    assert rows(cfg.serving, "select count(*) from profiles where customer_id = :c", c=sales_c1) == [(0,)]
    assert [(r["source"], r["source_id"]) for r in doc(cfg.serving, survivor)["sources"]] == [("finance", "1"),
                                                                                              ("sales", "c1")]


def test_export_crosswalk_reads_the_published_store(cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "out" / "crosswalk.csv"
    with pytest.raises(ConfigError, match="nothing has been published"):
        export_source_records(cfg.serving, out)
    run_publish(cfg)
    assert export_source_records(cfg.serving, out) == 5
    with out.open(newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["source", "source_id", "customer_id"]
    assert lines[1:] == [["finance", "1", BOB], ["finance", "2", MARGARET], ["sales", "c1", BOB],
                         ["sales", "c2", PEGGY], ["sales", "c4", JOSE]]
    # the warehouse moves on (sales:c1 on its own) but nothing is published: the export stays as served
    resolve(cfg, [["finance:1"], ["sales:c1"], ["finance:2"], ["sales:c2"], ["sales:c4"]], run_id="r2")
    assert export_source_records(cfg.serving, out) == 5
    with out.open(newline="") as f:
        assert list(csv.reader(f))[1:4] == lines[1:4]


def test_published_asset_is_in_the_serving_group_and_reports_the_version(cfg: Config) -> None:
    resources = {"warehouse": WarehouseResource(path=str(cfg.warehouse_path)),
                 "serving": ServingResource(url=cfg.serving)}
    graph = dg.Definitions.merge(build_defs(cfg), dg.Definitions(resources=resources)).resolve_asset_graph()
    node = graph.get(dg.AssetKey("published"))
    assert node.group_name == "serving"
    assert {k.to_user_string() for k in node.parent_keys} == {"golden", "traits"}
    result = dg.materialize([published_asset(cfg)], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("published")[0].metadata
    assert metadata["version"].value == 1 and metadata["rows.profiles"].value == 4


def test_a_publish_in_slices_of_customers_writes_the_same_rows(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = ("profiles", "timeline", "customer_links")
    run_publish(cfg)
    whole = {t: rows(cfg.serving, f"select * from {t}") for t in tables}
    monkeypatch.setattr("serving.publish.SLICE_CUSTOMERS", 1)  # one customer per query
    with open_warehouse(cfg.warehouse_path) as con:
        assert len(customer_slices(con)) == len(whole["profiles"]) > 1
    run_publish(cfg, "run-2")
    assert {t: rows(cfg.serving, f"select * from {t}") for t in tables} == whole
    assert whole["profiles"] and whole["timeline"]
