"""The whole product as a user drives it: demo silos -> cdp run -> exports, on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.cli import main
from cdp.config import load_config
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
