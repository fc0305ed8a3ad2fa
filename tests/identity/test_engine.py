"""Splink's own DuckDB spills into the project's state folder, never into the working folder."""

from __future__ import annotations

from pathlib import Path

from cdp.config import Config, DuckDBSettings, SourceConfig
from identity.engine import DuckDBEngine, Engine

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
