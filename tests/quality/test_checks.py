"""The asset checks in the Dagster graph: which exist, and their pass, warn and block outcomes.

The source stages are materialised with only the ingestion assets and their checks (no matching),
so these tests stay fast; tests/quality/test_run.py drives whole runs through `cdp run`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cdp.config import Config
from cdp.definitions import build_definitions
from cdp.resources import WarehouseResource
from cdp.runner import run_pipeline
from ingestion.assets import ingestion_assets
from quality.checks import COUNTRY, CRITICAL, WARNINGS, country_check, stage_check, stages
from tests.quality.silos import SALES_HEADER, people, sales_rows, write_silos
from tests.utils.sources import write_csv

PEOPLE = people(40)


def materialise_sources(cfg: Config) -> dg.ExecuteInProcessResult:
    """raw_S -> staged_S -> staged with the checks of every source stage."""
    checks = [stage_check(cfg, stage) for stage in stages(cfg) if stage.source]
    countries = [country_check(cfg, source) for source in cfg.sources]
    return dg.materialize([*ingestion_assets(cfg), *checks, *countries], raise_on_error=False,
                          resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def test_definitions_carry_checks_per_source_stage_and_identity(tmp_path: Path) -> None:
    graph = build_definitions(write_silos(tmp_path, PEOPLE)).resolve_asset_graph()
    specs = {f"{key.asset_key.to_user_string()}:{key.name}": graph.get_check_spec(key)
             for key in graph.asset_check_keys}
    per_source = {f"{stage}_{source}:{CRITICAL}" for stage in ("raw", "staged") for source in ("crm", "sales")}
    identity = {f"{asset}:{CRITICAL}" for asset in ("clusters", "customers", "golden")}
    warnings = {f"{asset}:{WARNINGS}" for asset in ("staged_crm", "staged_sales", "clusters", "golden")}
    countries = {f"staged_{source}:{COUNTRY}" for source in ("crm", "sales")}
    assert set(specs) == per_source | identity | warnings | countries | {"match_pairs:model_plausible"}
    assert specs["match_pairs:model_plausible"].blocking
    assert all(spec.blocking for key, spec in specs.items() if key.endswith(CRITICAL))
    assert not any(spec.blocking for key, spec in specs.items() if key.endswith((WARNINGS, COUNTRY)))


def test_importing_the_checks_leaves_great_expectations_unloaded() -> None:
    code = "import sys, quality.checks; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_great_expectations_is_imported_without_pyspark_which_imports_normally_after() -> None:
    pytest.importorskip("pyspark")
    code = """import sys
from quality.checks import _spark_hidden
with _spark_hidden():
    from quality import gates
from great_expectations.compatibility import pyspark as compat
assert type(compat.pyspark).__name__ == "NotImported" and "pyspark" not in sys.modules
import pyspark.sql
"""
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_clean_sources_pass(tmp_path: Path) -> None:
    result = materialise_sources(write_silos(tmp_path, PEOPLE))
    assert result.success
    checks = evaluations(result)
    assert set(checks) == {f"raw_{s}:{CRITICAL}" for s in ("crm", "sales")} | {
        f"staged_{s}:{c}" for s in ("crm", "sales") for c in (CRITICAL, WARNINGS, COUNTRY)}
    assert all(e.passed for e in checks.values())
    assert "expectations evaluated on raw_sales" in (checks[f"raw_sales:{CRITICAL}"].description or "")
    assert str(checks[f"raw_sales:{CRITICAL}"].metadata["data_docs"].value).endswith("report.html")


@pytest.mark.parametrize("examples", [False, True])
def test_junk_emails_warn_and_the_run_goes_on(tmp_path: Path, examples: bool) -> None:
    """The warning counts the junk; it shows it, as sent, only when `quality.pii_examples` asks for it."""
    cfg = write_silos(tmp_path, PEOPLE)
    cfg = cfg.model_copy(update={"quality": cfg.quality.model_copy(update={"pii_examples": examples})})
    rows = sales_rows(PEOPLE)
    for row in rows[: len(rows) * 2 // 3]:
        row[2] = "nobody-at-example"
    write_csv(tmp_path / "sales.csv", SALES_HEADER, rows)
    result = materialise_sources(cfg)
    assert result.success
    warning = evaluations(result)[f"staged_sales:{WARNINGS}"]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.description is not None
    assert warning.description.startswith("expect_column_values_to_be_in_set failed for source sales, "
                                          f"table staged_sales, column email_status: {len(rows) * 2 // 3} of "
                                          f"{len(rows)} values unexpected")
    assert ("'nobody-at-example'" in warning.description) == examples
    assert "mostly=0.5" in warning.description
    assert evaluations(result)[f"staged_sales:{CRITICAL}"].passed
    assert result.asset_materializations_for_node("staged")


def test_a_source_of_another_country_mapped_without_country_warns(tmp_path: Path) -> None:
    """Australian tax ids (8 digits) and states read as American: the check names source, attribute, share, US."""
    cfg = write_silos(tmp_path, PEOPLE)
    rows = [[f"A{i:03d}", p["first"], p["last"], f"{40000000 + 7919 * i}", "NSW" if i % 2 else "Vic"]
            for i, p in enumerate(PEOPLE[:20])]
    rows[0][3] = "219-09-9998"  # one value that is a valid SSN: 95% fail, not all
    write_csv(tmp_path / "au.csv", ["id", "first", "last", "tfn", "state"], rows)
    au = {"connector": "csv", "path": str(tmp_path / "au.csv"), "key": "id",
          "fields": {"first_name": "first", "last_name": "last", "tax_id": "tfn", "state": "state"}}
    cfg = cfg.model_copy(update={"sources": cfg.sources | {"au": cfg.sources["crm"].model_validate(au)}})
    result = materialise_sources(cfg)
    assert result.success  # a warning: the run goes on
    checks = evaluations(result)
    warning = checks[f"staged_au:{COUNTRY}"]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.description == (
        "source au: 100% of state values (20 of 20) failed the rules for US (no `country:` set; set `country:` "
        "on the source if it is not US); source au: 95% of tax_id values (19 of 20) failed the rules for US "
        "(no `country:` set; set `country:` on the source if it is not US)")
    assert checks[f"staged_crm:{COUNTRY}"].passed and checks[f"staged_sales:{COUNTRY}"].passed


def test_missing_names_block_everything_downstream(tmp_path: Path) -> None:
    cfg = write_silos(tmp_path, PEOPLE)
    rows = sales_rows(PEOPLE)
    for row in rows[::3]:
        row[1] = ""
    write_csv(tmp_path / "sales.csv", SALES_HEADER, rows)
    result = materialise_sources(cfg)
    assert not result.success
    block = evaluations(result)[f"staged_sales:{CRITICAL}"]
    assert not block.passed and block.severity == dg.AssetCheckSeverity.ERROR
    assert "expect_column_values_to_not_be_null failed for source sales, table staged_sales, column name" in (
        block.description or "")
    assert "failed_expectations" in block.metadata
    assert not result.asset_materializations_for_node("staged")  # downstream of the blocking check


def test_renamed_key_column_stops_the_dagster_run_naming_source_and_column(tmp_path: Path) -> None:
    cfg = write_silos(tmp_path, PEOPLE)
    write_csv(tmp_path / "sales.csv", ["id", *SALES_HEADER[1:]], sales_rows(PEOPLE))
    outcome = run_pipeline(cfg)
    assert not outcome.success and "published" not in outcome.materialized
    assert any(line.startswith("raw_sales: cdp.config.ConfigError: sources.sales.key") and "contact_id" in line
               for line in outcome.errors), outcome.errors
