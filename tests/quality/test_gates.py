"""The identity gates on hand-built warehouses: run-over-run stability, crosswalk, golden completeness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cdp.config import Config
from cdp.schema import GOLDEN, RECORD_CUSTOMER, STAGED
from cdp.warehouse import open_warehouse
from quality import gates
from tests.quality.silos import people, write_silos
from tests.utils.warehouse import write_clusters


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return write_silos(tmp_path, people(4))


@pytest.fixture
def con(cfg: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(cfg.warehouse_path) as con:
        yield con


def pairs(n: int) -> list[tuple[str, str]]:
    """n people of two records each."""
    return [(f"crm:{i}", f"sales:{i}") for i in range(n)]


def test_customer_count_and_match_rate_jumping_warn(cfg: Config, con: duckdb.DuckDBPyConnection) -> None:
    write_clusters(con, pairs(50))
    assert not gates.clusters_gate(con, cfg, "r1").findings
    write_clusters(con, [[r] for pair in pairs(50) for r in pair])  # every person split in two
    outcome = gates.clusters_gate(con, cfg, "r2")
    assert not outcome.blocking
    assert {(f.expectation, f.column) for f in outcome.warnings} == {
        ("expect_column_unique_value_count_to_be_between", "cluster_id"),
        ("expect_column_mean_to_be_between", "matched")}
    assert "previous run's 50" in outcome.description()


def test_oversized_customer_blocks_and_is_not_kept_as_the_baseline(
    cfg: Config, con: duckdb.DuckDBPyConnection
) -> None:
    write_clusters(con, pairs(50))
    gates.clusters_gate(con, cfg, "r1")
    write_clusters(con, [[f"crm:{i}" for i in range(60)]])
    blocked = gates.clusters_gate(con, cfg, "r2")
    assert [(f.expectation, f.column) for f in blocked.blocking] == [("expect_column_max_to_be_between", "size")]
    write_clusters(con, pairs(50))
    assert not gates.clusters_gate(con, cfg, "r3").findings  # compared with r1, not with the blocked r2


def test_record_without_customer_id_blocks(cfg: Config, con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create table {STAGED} as select * from (values ('crm:1'), ('crm:2'), ('sales:1')) t(record_id)")
    con.execute(f"create table {RECORD_CUSTOMER} as select * from (values ('crm:1', 'C1'), ('sales:1', 'C1')) "
                "t(record_id, customer_id)")
    outcome = gates.customers_gate(con, cfg, "r1")
    assert [f.line().split(":")[0] for f in outcome.blocking] == [
        "expect_column_values_to_not_be_null failed for table customers, column customer_id"]


def test_incomplete_golden_profiles_warn(cfg: Config, con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"""create table {GOLDEN} as
        select 'C' || i as customer_id, if(i % 2 = 0, 'SMITH', null) as last_name, null::VARCHAR as email,
               null::VARCHAR as phone, if(i % 10 = 0, '1 MAIN ST', null) as street
        from range(20) t(i)""")
    outcome = gates.golden_gate(con, cfg, "r1")
    assert not outcome.blocking
    assert {f.column for f in outcome.warnings} == {"last_name", "contact"}
    assert all("mostly=0.8" in f.expected for f in outcome.warnings)
