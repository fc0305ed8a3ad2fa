"""Where Splink's training and scoring run: DuckDB in the process (the default), or Spark (`engine: spark`).

Only the identity step's Splink work moves: records go to the engine as Arrow, and what comes back
(scored pairs, clusters) is read through DuckDB, where the rest of the pipeline stays. The model's
SQL is written in DuckDB's dialect (identity.settings) and kept so in the model files; an engine
translates it for its own SQL when it builds a linker.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
import pyarrow as pa
import sqlglot
from splink import DuckDBAPI, Linker
from splink.internals.comparison_level import ComparisonLevel
from splink.internals.database_api import DatabaseAPI
from splink.internals.splink_dataframe import SplinkDataFrame

from cdp.config import Config, SparkConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RECORDS = "cdp_records"


SPLINK_IS_EXACT_MATCH = ComparisonLevel._is_exact_match.fget  # type: ignore[attr-defined]
"""Splink's own answer, before `_remember_exact_levels`."""


def _remember_exact_levels() -> None:
    """Make Splink remember which comparison levels are exact matches, per SQL condition.

    Each EM session asks that of every level, parsing and normalising its SQL with sqlglot afresh: 2 CPU s
    per session for the model's long gated conditions, six sessions a training, whatever the data's size.
    The answer depends on the condition and the dialect only.
    """
    answers: dict[tuple[str, str], bool] = {}

    def is_exact_match(level: ComparisonLevel) -> bool:
        key = (level.sql_condition, level.sqlglot_dialect)
        if key not in answers:
            answers[key] = SPLINK_IS_EXACT_MATCH(level)
        return answers[key]

    ComparisonLevel._is_exact_match = property(is_exact_match)  # type: ignore[method-assign,assignment]


_remember_exact_levels()


class Engine(ABC):
    """One backend for Splink: a fresh Splink database API per linker, and a way back to DuckDB."""

    kinds: ClassVar[dict[str, type[Engine]]] = {}
    kind: ClassVar[str] = ""
    helpers: ClassVar[int] = 1
    """Linkers that may work at once, each on its own engine (`helper`); Spark's share one session."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Engine.kinds[cls.kind] = cls

    @classmethod
    def of(cls, cfg: Config) -> Engine:
        """The engine cdp.yaml's `engine:` names."""
        return cls.kinds[cfg.engine].from_config(cfg)

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: Config) -> Engine: ...

    @abstractmethod
    def api(self) -> DatabaseAPI[Any]:
        """A Splink database API of its own, so one linker's work tables never meet another's."""

    @abstractmethod
    def on_duckdb(self, frames: Mapping[str, SplinkDataFrame]) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection where each of `frames` (from one linker) reads as a table of the given name."""

    def settings(self, model: dict[str, Any]) -> dict[str, Any]:
        """The model's settings in this engine's SQL (the model keeps DuckDB's)."""
        return model

    def helper(self, k: int) -> Engine:
        """The engine of the `k`th of `helpers` linkers working at once (model training's u sampling)."""
        return self

    def linker(self, records: pa.Table, model: dict[str, Any]) -> Linker:
        """A Linker over `records` with `model`'s settings."""
        # A name of its own: Spark's temporary views outlive a linker, and the session is shared.
        frame = self.api().register(records, table_name=f"{RECORDS}_{uuid.uuid4().hex[:8]}")
        # Splink warns per untrained level ("not observed in dataset"): noise in a `cdp run`, so errors only.
        return Linker(frame, self.settings(model), log_level=logging.ERROR)


class DuckDBEngine(Engine):
    """Splink on an in-memory DuckDB of its own, with the warehouse's memory settings (`duckdb:` in cdp.yaml)."""

    kind = "duckdb"
    helpers = 2
    spill: ClassVar[str] = "splink.tmp"
    """Splink's spill folder: in the state folder, or inside `duckdb.temp_directory` when set."""

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    @classmethod
    def from_config(cls, cfg: Config) -> DuckDBEngine:
        # An in-memory DuckDB spills into `.tmp` of the working folder unless told (47 GB of it at 10M records);
        # a folder of its own, as two databases sharing one could take each other's files.
        options = cfg.warehouse_options
        folder = Path(options["temp_directory"]) if "temp_directory" in options else cfg.state_dir
        spill = folder / cls.spill
        return cls(options | {"temp_directory": str(spill)})

    def api(self) -> DuckDBAPI:
        return DuckDBAPI(connection=duckdb.connect(config=self.options))

    def helper(self, k: int) -> DuckDBEngine:
        # A spill folder of its own inside this one (DuckDB's default is `.tmp`), created only should it spill.
        folder = Path(self.options.get("temp_directory", ".tmp")) / f"helper-{k}"
        return DuckDBEngine(self.options | {"temp_directory": str(folder)})

    def on_duckdb(self, frames: Mapping[str, SplinkDataFrame]) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection = next(iter(frames.values())).db_api.duckdb_con
        for name, frame in frames.items():
            con.execute(f"create or replace temp view {name} as select * from {frame.physical_name}")
        return con


class SparkEngine(Engine):
    """Splink on Spark (`spark:` in cdp.yaml): local mode by default, or any cluster's master URL.

    The session carries Splink's similarity jar (jaro_winkler, damerau_levenshtein) on its classpath.
    """

    kind = "spark"
    functions: ClassVar[dict[str, str]] = {"JAROWINKLER_SIMILARITY": "jaro_winkler"}
    """DuckDB functions the model uses (as sqlglot writes them for Spark) -> the jar's UDF of the same result."""
    defaults: ClassVar[dict[str, str]] = {"spark.sql.shuffle.partitions": "16", "spark.ui.showConsoleProgress": "false",
                                          "spark.driver.memory": "4g"}
    """Session settings unless `spark.conf` says otherwise: Spark's 200 shuffle partitions suit only big clusters,
    and its 1g driver heap ran out on the plans of training on FEBRL3 (the model's conditions are long)."""

    def __init__(self, spark: SparkConfig) -> None:
        self.config = spark

    @classmethod
    def from_config(cls, cfg: Config) -> SparkEngine:
        return cls(cfg.spark)

    @property
    def session(self) -> SparkSession:
        return spark_session(self.config.master, tuple(sorted((self.defaults | self.config.conf).items())))

    def api(self) -> DatabaseAPI[Any]:
        from splink.backends.spark import SparkAPI

        # persist: Splink's default (parquet) needs a checkpoint folder every executor can reach.
        return SparkAPI(spark_session=self.session, break_lineage_method="persist")

    def on_duckdb(self, frames: Mapping[str, SplinkDataFrame]) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        for name, frame in frames.items():
            con.register(name, self.session.table(frame.physical_name).toArrow())
        return con

    def settings(self, model: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(model)
        for comparison in out["comparisons"]:
            for level in comparison["comparison_levels"]:
                if level["sql_condition"].strip().upper() != "ELSE":
                    level["sql_condition"] = self.sql(level["sql_condition"])
        out["blocking_rules_to_generate_predictions"] = [
            self.sql(rule) for rule in out.get("blocking_rules_to_generate_predictions", [])]
        return out

    def sql(self, condition: str) -> str:
        """A DuckDB SQL condition written for Spark (regexp_replace's 'g' flag, strftime, the jar's UDFs)."""
        spark = sqlglot.transpile(condition, read="duckdb", write="spark")[0]
        return re.sub(r"\b(" + "|".join(self.functions) + r")\(", lambda m: self.functions[m[1]] + "(", spark)


@cache
def spark_session(master: str, conf: tuple[tuple[str, str], ...]) -> SparkSession:
    """One Spark session per process and settings, with Splink's similarity jar on its classpath."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    settings = dict(conf)
    jars = [settings.pop("spark.jars", ""), similarity_jar_location()]
    builder = SparkSession.builder.master(master).appName("cdp identity")
    builder = builder.config("spark.jars", ",".join(filter(None, jars)))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


DUCKDB = DuckDBEngine()
"""The default engine: Splink on an in-memory DuckDB with DuckDB's own memory settings."""
