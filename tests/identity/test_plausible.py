"""A degenerate model is named and kept out of use: by training, and by the blocking check on match_pairs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from cdp.cli import main
from cdp.config import Config, SourceConfig, load_config
from cdp.resources import WarehouseResource
from cdp.warehouse import open_warehouse
from identity import model as model_module
from identity.assets import model_check
from identity.model import ImplausibleModel, ModelStore, model_for
from identity.plausible import problems, weights
from identity.settings import settings


def trained(prior: float = 1e-4, dob: tuple[float, ...] = (0.9, 0.05, 0.01, 0.03, 0.01)) -> dict[str, Any]:
    """The settings with a prior, m = 0.9 / 0.1... on the first two levels of each comparison, and `dob` as the
    birth date's m values (exact, one digit, day/month swap, same year, different)."""
    model = copy.deepcopy(settings()) | {"probability_two_random_records_match": prior}
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        values = dob if comparison["output_column_name"] == "birth_date" else (0.9, *[0.1 / (len(levels) - 1)] * (
            len(levels) - 1))
        for lv, m in zip(levels, values, strict=True):
            lv.setdefault("m_probability", m)
            lv.setdefault("u_probability", 0.01)
    return model


def test_a_plausible_model_has_no_problems() -> None:
    assert problems(trained(), records=10_000) == []


def test_a_near_level_likelier_than_exact_is_named() -> None:
    found = problems(trained(dob=(0.02, 0.88, 0.01, 0.01, 0.08)), records=10_000)
    assert found == ["birth_date: m of 'one digit or transposition' (0.88) exceeds m of 'exact' (0.02): a near "
                     "agreement cannot be likelier among matches than an exact one"]


def test_a_prior_of_less_than_one_matching_pair_is_named() -> None:
    (found,) = problems(trained(prior=1e-9), records=10_000)
    assert found.startswith("probability_two_random_records_match = 1e-09: fewer than 1 matching pair expected")


def test_weights_list_every_level_with_its_match_weight() -> None:
    rows = weights(trained())
    exact = next(r for r in rows if r[:2] == ("birth_date", "exact"))
    assert exact[2:] == (0.9, 0.01, pytest.approx(6.49, abs=0.01))


def test_training_that_goes_degenerate_is_rejected_and_the_previous_model_stays(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store = ModelStore(tmp_path / "models")
    good = store.save(trained())
    monkeypatch.setattr(model_module, "train", lambda records, engine: trained(dob=(0.02, 0.88, 0.01, 0.01, 0.08)))
    with pytest.raises(ImplausibleModel, match="birth_date: m of 'one digit or transposition'"):
        model_for(store, pa.table({"unique_id": [str(i) for i in range(10_000)]}), retrain=True)
    assert store.current() == good
    (rejected,) = (tmp_path / "models").glob("rejected-*.json")
    assert json.loads(rejected.read_text())["problems"][0].startswith("birth_date")


def test_the_blocking_check_fails_on_an_implausible_model_in_use(tmp_path: Path) -> None:
    cfg = Config(warehouse=str(tmp_path / "warehouse.duckdb"), sources={"shop": SourceConfig.model_validate(
        {"connector": "csv", "path": "unused.csv", "key": "id", "fields": {"email": "email"}})})
    with duckdb.connect(str(cfg.warehouse_path)) as con:
        con.execute("create table staged as select range::VARCHAR as record_id from range(10000)")
    store = ModelStore(cfg.state_dir / "models")
    warehouse = WarehouseResource(path=str(cfg.warehouse_path))
    store.save(trained())
    assert model_check(cfg)(warehouse=warehouse).passed
    store.save(trained(prior=1e-12))  # a model saved by an earlier version, never checked
    result = model_check(cfg)(warehouse=warehouse)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "probability_two_random_records_match = 1e-12" in result.description


def test_cdp_model_prints_the_weights_and_exits_1_on_an_implausible_model(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "shop.csv").write_text("id,email\n1,a@x.com\n")
    (tmp_path / "cdp.yaml").write_text("sources:\n  shop:\n    connector: csv\n    path: shop.csv\n    key: id\n"
                                       "    fields: {email: email}\n")
    config = str(tmp_path / "cdp.yaml")
    assert main(["model", "--config", config]) == 1
    assert "no match model" in capsys.readouterr().err
    cfg = load_config(config)
    with open_warehouse(cfg.warehouse_path) as con:
        con.execute("create table staged as select range::VARCHAR as record_id from range(10000)")
    store = ModelStore(cfg.state_dir / "models")
    store.save(trained())
    assert main(["model", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "| birth_date | exact | 0.9 | 0.01 | +6.49 |" in out and "plausible:" in out
    store.save(trained(dob=(0.02, 0.88, 0.01, 0.01, 0.08)))
    assert main(["model", "--config", config]) == 1
    assert "implausible: birth_date: m of 'one digit or transposition' (0.88)" in capsys.readouterr().out
