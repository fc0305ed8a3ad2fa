"""What `cdp run` prints, from the metadata of a real (ingestion-only) Dagster run."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from cdp.resources import WarehouseResource
from cdp.runner import collect_outcome
from cdp.summary import print_outcome
from ingestion.assets import ingestion_assets
from tests.utils.sources import two_sources


def test_summary_counts_every_feed_of_each_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = two_sources(tmp_path)
    result = dg.materialize(ingestion_assets(cfg), instance=dg.DagsterInstance.ephemeral(),
                            resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})

    assert print_outcome(cfg, collect_outcome(result, 1.0)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "source finance: 2 rows loaded, 0 quarantined; invoices: 4 rows loaded, 1 quarantined",
        "source sales: 5 rows loaded, 2 quarantined; tickets: 4 rows loaded, 2 quarantined",
        "cdp run: ok in 1.0s, 5 assets materialised, 0 warning(s)",
    ]


def test_a_run_stopped_early_prints_what_it_loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = two_sources(tmp_path)
    (tmp_path / "finance.db").unlink()  # finance cannot be read: its step fails, sales still loads
    raw = [a for a in ingestion_assets(cfg) if a.key.to_user_string().startswith("raw_")]
    result = dg.materialize(raw, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                            resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})

    assert print_outcome(cfg, collect_outcome(result, 2.0)) == 1
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        "source sales: 5 rows loaded, 2 quarantined; tickets: 4 rows loaded, 2 quarantined"]
    assert "step failed: raw_finance" in printed.err and "FAILED after 2.0s" in printed.err


def test_an_incremental_run_says_what_changed_and_what_was_not_read(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cfg = two_sources(tmp_path)
    resources = {"warehouse": WarehouseResource(path=str(cfg.warehouse_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        dg.materialize(ingestion_assets(cfg), instance=instance, resources=resources)
        capsys.readouterr()
        with (tmp_path / "tickets.jsonl").open("a") as tickets:  # one line appended: only it is read
            tickets.write('{"ticket": "t7", "requester": "c2", "opened": "2024-03-05"}\n')
        result = dg.materialize(ingestion_assets(cfg), instance=instance, resources=resources)

    assert print_outcome(cfg, collect_outcome(result, 1.0)) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "source finance: 2 rows loaded, 0 quarantined (0 new, 0 changed, 0 deleted); "
        "invoices: 4 rows loaded, 1 quarantined (0 new, 0 changed, 0 deleted)",
        "source sales: unchanged, not read; tickets: 1 rows loaded, 0 quarantined (appended to the files: 1 new)",
    ]
