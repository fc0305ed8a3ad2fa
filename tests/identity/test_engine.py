"""Splink's own DuckDB spills into the project's state folder, never into the working folder; what the engine
remembers for Splink is what Splink would have worked out."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from cdp.config import Config, DuckDBSettings, SourceConfig
from identity import settings as model_settings
from identity.engine import SPLINK_IS_EXACT_MATCH, DuckDBEngine, Engine

INPUT_COLUMNS = ("unique_id", "source", "first_name", "first_name_root", "middle_name", "last_name", "name_suffix",
                 "email", "email_user", "phone", "street", "city", "postcode", "tax_id", "dob", "dob_year")
SOURCE = SourceConfig.model_validate({"connector": "csv", "path": "x.csv", "key": "id", "fields": {"full_name": "n"}})


def spill_of(engine: Engine) -> str:
    con = engine.api().duckdb_con  # type: ignore[attr-defined]
    try:
        return str(con.execute("select current_setting('temp_directory')").fetchall()[0][0])
    finally:
        con.close()


def test_splink_spills_into_the_state_folder_by_default(tmp_path: Path) -> None:
    cfg = Config(warehouse=str(tmp_path / ".cdp" / "warehouse.duckdb"), sources={"s": SOURCE})
    engine = Engine.of(cfg)
    assert isinstance(engine, DuckDBEngine)
    assert spill_of(engine) == str(tmp_path / ".cdp" / "splink.tmp")


def test_splink_spills_inside_the_configured_temp_directory_with_the_memory_limit(tmp_path: Path) -> None:
    cfg = Config(warehouse=str(tmp_path / "w.duckdb"), sources={"s": SOURCE},
                 duckdb=DuckDBSettings(memory_limit="1GB", temp_directory=str(tmp_path / "spill")))
    engine = Engine.of(cfg)
    assert spill_of(engine) == str(tmp_path / "spill" / "splink.tmp")
    con = engine.api().duckdb_con  # type: ignore[attr-defined]
    limit = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    con.close()
    assert limit.replace(" ", "") in ("1GB", "953.6MiB")  # DuckDB reports the limit in its own units


def test_remembered_exact_levels_are_splinks_own_answers() -> None:
    records = pa.table({c: pa.array(["a", "b"]) for c in INPUT_COLUMNS})
    answers = []
    for gated in (True, False):
        linker = DuckDBEngine().linker(records, model_settings.settings(gated=gated))
        for comparison in linker._settings_obj.comparisons:
            for level in comparison.comparison_levels:
                answers.append(level._is_exact_match)
                assert level._is_exact_match == SPLINK_IS_EXACT_MATCH(level), level.sql_condition
    assert True in answers and False in answers
