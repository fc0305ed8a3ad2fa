"""`engine: spark`: the identity step on Splink's Spark backend (local mode) finds DuckDB's customers on FEBRL3.

Skips without pyspark or Java (`pip install 'cdp[spark]'`, Debian's default-jre-headless); under CI
(CDP_REQUIRE_SERVICES=1) it fails instead. One Spark session serves the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bench.accuracy import stage
from bench.datasets import febrl3
from bench.spark import agreement, resolve
from cdp.config import Config, SparkConfig, load_config
from cdp.warehouse import open_warehouse
from identity import settings
from identity.engine import DuckDBEngine, SparkEngine
from tests.utils.services import require_spark

# Two cores, few partitions: FEBRL3's 5,000 records fit in one, and each shuffle partition costs a task.
LOCAL = SparkConfig(master="local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"})


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    require_spark()
    engine = SparkEngine(LOCAL)
    yield engine
    engine.session.stop()


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, duckdb.DuckDBPyConnection]]:
    cfg = load_config(febrl3(tmp_path_factory.mktemp("febrl3")))
    stage(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        yield cfg, con


def test_spark_finds_duckdbs_customers_on_febrl3(spark: SparkEngine,
                                                 staged: tuple[Config, duckdb.DuckDBPyConnection]) -> None:
    cfg, con = staged
    resolve(con, cfg, DuckDBEngine(), "duckdb")
    resolve(con, cfg, spark, "spark")
    assert agreement(con, "clusters_duckdb", "clusters_spark") >= 0.999
    # the model trained on Spark is kept in DuckDB's SQL, as the DuckDB one is
    store = Path(cfg.state_dir) / "models-spark"
    model = json.loads((store / (store / "current").read_text()).read_text())
    assert model["sql_dialect"] == "duckdb"
    assert model["blocking_rules_to_generate_predictions"] == settings.PREDICTION_RULES
    assert [lv["sql_condition"] for lv in model["comparisons"][0]["comparison_levels"]] == \
           [lv["sql_condition"] for lv in settings.first_name()["comparison_levels"]]


def test_spark_sql_of_the_model(spark: SparkEngine) -> None:
    """DuckDB's functions the model uses become the jar's, and regexp_replace loses DuckDB's 'g' flag."""
    assert spark.sql("jaro_winkler_similarity(first_name_l, first_name_r) >= 0.92") == \
           "jaro_winkler(first_name_l, first_name_r) >= 0.92"
    assert "'g'" not in spark.sql(settings.EMAIL_TYPO)
    got = spark.session.sql(f"select {spark.sql(settings.EMAIL_TYPO)} as typo from values "
                            "('ann.lee12@x.com', 'anne.lee12@x.com', 'ann.lee12', 'anne.lee12'), "
                            "('ann.lee12@x.com', 'ann.lee13@x.com', 'ann.lee12', 'ann.lee13') "
                            "as t(email_l, email_r, email_user_l, email_user_r)").collect()
    assert [row.typo for row in got] == [True, False]
