"""Where `cdp run` records its runs: the project's own Dagster instance unless DAGSTER_HOME says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.pool import NullPool

from cdp.config import Config, SourceConfig
from cdp.runner import dagster_home, prepare_instance, unsynced_history


def config(folder: Path) -> Config:
    source = SourceConfig.model_validate({"connector": "csv", "path": "unused.csv", "key": "id",
                                          "fields": {"email": "email"}})
    return Config(warehouse=str(folder / ".cdp" / "warehouse.duckdb"), sources={"shop": source})


def test_runs_land_in_the_state_folder_with_telemetry_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    cfg = config(tmp_path)
    home = prepare_instance(cfg)
    assert home == dagster_home(cfg) == tmp_path / ".cdp" / "dagster"
    assert yaml.safe_load((home / "dagster.yaml").read_text()) == {"telemetry": {"enabled": False}}
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    assert prepare_instance(cfg) == home and "enabled: true" in (home / "dagster.yaml").read_text()


def test_dagster_home_wins_and_is_left_as_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    cfg = config(tmp_path)
    assert prepare_instance(cfg) == tmp_path / "home"
    assert (tmp_path / "home").is_dir() and not (tmp_path / "home" / "dagster.yaml").exists()


def test_only_the_run_history_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    unsynced_history(tmp_path / "home")

    def synchronous(path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
        with engine.connect() as connection:
            level = connection.exec_driver_sql("pragma synchronous").scalar_one()
        engine.dispose()
        return int(level)

    assert synchronous(tmp_path / "home" / "history" / "runs" / "index.db") == 0  # off
    assert synchronous(tmp_path / "homely" / "serving.db") == 2  # full, SQLite's default
    assert synchronous(tmp_path / "serving.db") == 2
