"""The identity step on DuckDB and on Spark (local mode), same records, same run: time and agreement.

    python -m bench.spark [--dataset febrl3] [--master local[2]] [--train] [--work DIR]

Stages the dataset once (bench.accuracy.stage), then trains a model, scores and clusters on DuckDB;
then scores and clusters on Spark with that model, or with `--train` trains Spark's own first (the
whole identity step on Spark). Agreement is the share of records whose customer holds the same
records under both engines; F1 is pairwise against the dataset's truth.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from bench.accuracy import agreement, load_truth, pairwise, stage
from bench.datasets import DATASETS
from cdp.config import Config, SparkConfig, load_config
from cdp.warehouse import open_warehouse
from identity.cluster import cluster_records
from identity.engine import DuckDBEngine, Engine, SparkEngine
from identity.matching import match
from identity.model import ModelStore


def resolve(con: duckdb.DuckDBPyConnection, cfg: Config, engine: Engine, name: str,
            model_of: str | None = None) -> float:
    """Train, score and cluster on `engine` into the table `clusters_<name>`; the seconds it took. With
    `model_of`, score with the model that run trained instead of training one."""
    start = time.perf_counter()
    store = ModelStore(cfg.state_dir / f"models-{model_of or name}")
    match(con, cfg.identity, store, retrain=model_of is None, engine=engine)
    cluster_records(con, cfg.identity.threshold, cfg.identity.max_cluster_size)
    seconds = time.perf_counter() - start
    con.execute(f"create or replace table clusters_{name} as select record_id, cluster_id from clusters")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="febrl3", choices=sorted(DATASETS))
    parser.add_argument("--master", default="local[*]", help="Spark master URL")
    parser.add_argument("--work", type=Path, help="folder for the data (default: a temporary one)")
    parser.add_argument("--train", action="store_true", help="train on Spark too, not only score")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cdp-spark-"))
    cfg = load_config(DATASETS[args.dataset](work / args.dataset))
    stage(cfg)
    spark = SparkEngine(SparkConfig(master=args.master))
    engines: dict[str, Engine] = {"duckdb": DuckDBEngine(cfg.warehouse_options), "spark": spark}
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        records = load_truth(con, cfg.root / "truth.csv")
        spark.session  # noqa: B018  started here: the JVM's start-up is not the identity step's time
        print("| dataset | engine | records | seconds | F1 | same customers as DuckDB |\n"
              "| --- | --- | ---: | ---: | ---: | ---: |")
        for name, engine in engines.items():
            seconds = resolve(con, cfg, engine, name, None if args.train or name == "duckdb" else "duckdb")
            f1 = pairwise(con, f"clusters_{name}")[2]
            same = agreement(con, "clusters_duckdb", f"clusters_{name}")
            what = "in process" if name == "duckdb" else f"{args.master}, {'trains' if args.train else 'scores'}"
            print(f"| {args.dataset} | {name} ({what}) | {records:,} "
                  f"| {seconds:.0f} | {f1:.4f} | {same:.2%} |", flush=True)


if __name__ == "__main__":
    main()
