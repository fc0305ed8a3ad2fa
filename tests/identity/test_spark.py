"""`engine: spark`: the identity step on Splink's Spark backend (local mode) finds DuckDB's customers on FEBRL3.

Skips without pyspark or Java (`pip install 'cdp[spark]'`, Debian's default-jre-headless); under CI
(CDP_REQUIRE_SERVICES=1) it fails instead. One Spark session serves the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from bench.accuracy import stage
from bench.datasets import febrl3
from bench.spark import agreement, resolve
from cdp.config import Config, SparkConfig, load_config
from cdp.warehouse import open_warehouse
from identity import settings
from identity.engine import DuckDBEngine, SparkEngine
from identity.model import make_linker, saved
from tests.utils.services import require_spark

INPUT_COLUMNS = ("source", "first_name", "first_name_root", "middle_name", "last_name", "name_suffix", "email",
                 "email_user", "phone", "street", "city", "postcode", "tax_id", "dob", "dob_year")

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


def test_spark_scores_duckdbs_customers_on_febrl3(spark: SparkEngine,
                                                  staged: tuple[Config, duckdb.DuckDBPyConnection]) -> None:
    """The same model scores the same customers on both engines: the model's SQL means the same on Spark.

    Training on Spark takes minutes on two cores (hundreds of small Spark jobs); `python -m bench.spark`
    compares the whole step, training included (bench/README.md).
    """
    cfg, con = staged
    resolve(con, cfg, DuckDBEngine(), "duckdb")
    resolve(con, cfg, spark, "spark", model_of="duckdb")
    assert agreement(con, "clusters_duckdb", "clusters_spark") >= 0.999
    pairs = con.execute("select count(*) from match_pairs").fetchall()[0][0]
    assert pairs > 5_000  # FEBRL3's duplicates were scored, not lost on the way back from Spark


def test_a_model_trained_on_spark_keeps_duckdbs_sql(spark: SparkEngine) -> None:
    """What Spark's Splink saves is rewritten back to the SQL the model was built from, so DuckDB can score it."""
    records = pa.table({"unique_id": ["1", "2"], **{c: pa.array([None, None], pa.string()) for c in INPUT_COLUMNS}})
    source = settings.settings()
    model = saved(make_linker(records, source, spark), source)
    assert model["sql_dialect"] == "duckdb"
    assert model["blocking_rules_to_generate_predictions"] == source["blocking_rules_to_generate_predictions"]
    assert [[lv["sql_condition"] for lv in c["comparison_levels"]] for c in model["comparisons"]] == \
           [[lv["sql_condition"] for lv in c["comparison_levels"]] for c in source["comparisons"]]


def test_spark_sql_of_the_model(spark: SparkEngine) -> None:
    """DuckDB's functions the model uses become the jar's, and regexp_replace loses DuckDB's 'g' flag."""
    assert spark.sql("jaro_winkler_similarity(first_name_l, first_name_r) >= 0.92") == \
           "jaro_winkler(first_name_l, first_name_r) >= 0.92"
    assert "'g'" not in spark.sql(settings.EMAIL_TYPO)
    spark.api()  # Splink's API registers the jar's functions on the session (another test may not have run first)
    got = spark.session.sql(f"select {spark.sql(settings.EMAIL_TYPO)} as typo from values "
                            "('ann.lee12@x.com', 'anne.lee12@x.com', 'ann.lee12', 'anne.lee12'), "
                            "('ann.lee12@x.com', 'ann.lee13@x.com', 'ann.lee12', 'ann.lee13') "
                            "as t(email_l, email_r, email_user_l, email_user_r)").collect()
    assert [row.typo for row in got] == [True, False]
