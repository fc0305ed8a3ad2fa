"""Where `cdp run` records its runs: the project's own Dagster instance unless DAGSTER_HOME says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cdp.config import Config, SourceConfig
from cdp.runner import dagster_home, prepare_instance


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
