"""backup() and restore() over each kind of serving store: SQLite whole, PostgreSQL the tables a publish does not
rebuild. (tests/test_runs.py takes a backup from the command line while `cdp serve` answers.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cdp.backup import BackupError, backup, read_manifest, restore
from cdp.config import Config
from cdp.datakey import KEY_FILE, data_key
from cdp.warehouse import open_warehouse
from serving import tables
from serving.publish import publish
from tests.utils.publishing import ingest, resolve


def decide(url: str, candidate: str) -> None:
    """A steward's decision, as the API records it (its id from the table's own sequence)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(tables.review_decisions.insert().values(
            candidate_id=candidate, record_id_l="finance:1", record_id_r="sales:c1", decision="match", who="tester",
            note=None, at=dt.datetime(2026, 1, 2, 3, 4, 5)))
    engine.dispose()


def decisions(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    d = tables.review_decisions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(d.decision_id, d.candidate_id).order_by(d.decision_id)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def profiles(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(tables.profiles)).scalar_one()
    engine.dispose()
    return int(count)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Config:
    """Two small sources resolved and published to the store, a steward's decision and a model file."""
    (tmp_path / "project").mkdir()
    cfg = ingest(tmp_path / "project", store_url)
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, cfg.serving, "run-1")
    decide(cfg.serving, "cand-1")
    models = cfg.state_dir / "models"
    models.mkdir()
    (models / "model-1.json").write_text("{}")
    (models / "current").write_text("model-1.json")
    return cfg


def test_restore_brings_back_warehouse_models_and_decisions(project: Config, tmp_path: Path) -> None:
    cfg, folder = project, tmp_path / "backup"
    customers, before = profiles(cfg.serving), decisions(cfg.serving)
    key = data_key(cfg.state_dir)  # generated into the state folder: the suppression list needs it back
    manifest = backup(cfg, folder)
    assert read_manifest(folder) == manifest and manifest.serving_version == 1
    if manifest.serving_kind == "sqlite":
        assert (folder / "serving.db").is_file() and "profiles" in manifest.serving_tables
    else:
        assert manifest.serving_tables == ["audit", "changes", "review_decisions", "suppressions", "webhook_attempts"]
        assert manifest.not_included[0].startswith(f"the published tables of the {manifest.serving_kind} store "
                                                   "(profiles, search_keys, source_records, redirects, timeline, "
                                                   "review_candidates, customer_links, match_records): "
                                                   "`cdp run` rebuilds them")
        assert any("not included: the published tables" in line for line in manifest.lines())

    decide(cfg.serving, "cand-2")  # after the backup: gone once restored
    cfg.warehouse_path.unlink()
    (cfg.state_dir / "models" / "current").unlink()
    (cfg.state_dir / KEY_FILE).unlink()
    restore(cfg, folder)

    assert decisions(cfg.serving) == before
    decide(cfg.serving, "cand-3")  # the id sequence is past the restored ids
    assert [c for _, c in decisions(cfg.serving)] == ["cand-1", "cand-3"]
    assert profiles(cfg.serving) == customers
    assert (cfg.state_dir / "models" / "current").read_text() == "model-1.json"
    assert data_key(cfg.state_dir) == key
    with open_warehouse(cfg.warehouse_path, read_only=True) as con:
        assert con.execute("select count(*) from record_customer").fetchall()[0][0] == 5


def test_a_backup_needs_an_empty_folder_and_a_restore_a_backup(project: Config, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("")
    with pytest.raises(BackupError, match="is not empty"):
        backup(project, tmp_path / "full")
    with pytest.raises(BackupError, match="holds no cdp backup"):
        restore(project, tmp_path / "full")
