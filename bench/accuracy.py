"""Pairwise accuracy of identity resolution against ground truth, ours beside a plain Splink model.

    python -m bench.accuracy --datasets demo20k,febrl3,febrl4[,demo1m] [--work DIR]

Each dataset is written as ordinary sources with a cdp.yaml, staged by the ingestion assets,
matched and clustered by the identity functions the pipeline runs (model trained afresh), then
scored: pairwise precision, recall and F1 over all pairs of records put in one customer, and
the largest customer. The baseline scores the same `staged` table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from bench.baseline import baseline_clusters
from bench.datasets import DATASETS
from cdp.config import Config, load_config
from cdp.resources import WarehouseResource
from cdp.warehouse import open_warehouse
from identity.cluster import cluster_records
from identity.matching import match
from identity.model import ModelStore
from ingestion.assets import ingestion_assets


@dataclass
class Score:
    dataset: str
    system: str
    records: int
    precision: float
    recall: float
    f1: float
    largest: int
    seconds: float

    def row(self) -> str:
        return (f"| {self.dataset} | {self.system} | {self.records:,} | {self.precision:.4f} | {self.recall:.4f} "
                f"| **{self.f1:.4f}** | {self.largest} | {self.seconds:.0f} |")


HEADER = ("| dataset | system | records | precision | recall | F1 | largest customer | seconds |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")


def stage(cfg: Config) -> None:
    """Materialise `staged` and everything upstream of it with the ingestion assets."""
    result = dg.materialize(
        ingestion_assets(cfg), resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))},
        selection=dg.AssetSelection.assets("staged").upstream(), instance=dg.DagsterInstance.ephemeral(),
    )
    if not result.success:
        raise RuntimeError(f"staging failed for {cfg.root}")


def pairwise(con: duckdb.DuckDBPyConnection, clusters: str) -> tuple[float, float, float, int]:
    """(precision, recall, F1, largest cluster) of `clusters(record_id, cluster_id)` against `truth`."""
    tp, predicted, actual, largest = con.execute(f"""
        with j as (select c.cluster_id, t.person_id from {clusters} c join truth t using (record_id))
        select (select sum(n * (n - 1) / 2) from (select count(*) n from j group by cluster_id, person_id)),
               (select sum(n * (n - 1) / 2) from (select count(*) n from j group by cluster_id)),
               (select sum(n * (n - 1) / 2) from (select count(*) n from j group by person_id)),
               (select max(n) from (select count(*) n from j group by cluster_id))""").fetchall()[0]
    precision, recall = tp / max(predicted, 1), tp / max(actual, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1, largest


AGREEMENT_SQL = """
with a as (select record_id, list(record_id) over (partition by cluster_id order by record_id
                  rows between unbounded preceding and unbounded following) as members from {left}),
     b as (select record_id, list(record_id) over (partition by cluster_id order by record_id
                  rows between unbounded preceding and unbounded following) as members from {right})
select avg((a.members = b.members)::int) from a join b using (record_id)
"""


def agreement(con: duckdb.DuckDBPyConnection, left: str, right: str) -> float:
    """Share of records whose cluster in `left` holds exactly the records of their cluster in `right`."""
    return float(con.execute(AGREEMENT_SQL.format(left=left, right=right)).fetchall()[0][0])


def load_truth(con: duckdb.DuckDBPyConnection, truth_csv: Path) -> int:
    con.execute(f"""create or replace table truth as
        select source || ':' || source_id as record_id, person_id::varchar as person_id
        from read_csv('{truth_csv}', all_varchar = true)""")
    return con.execute("select count(*) from staged").fetchall()[0][0]


def run_dataset(name: str, work: Path, baseline: bool = True, sweep: tuple[float, ...] = ()) -> list[Score]:
    """Write, stage, resolve and score one dataset; also the baseline unless told not to, and cdp's
    clusters at each threshold of `sweep` (the same scored pairs, clustered again)."""
    cfg = load_config(DATASETS[name](work / name))
    stage(cfg)
    scores = []
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        records = load_truth(con, cfg.root / "truth.csv")
        start = time.perf_counter()
        match(con, cfg.identity, ModelStore(cfg.state_dir / "models"), retrain=True)
        cluster_records(con, cfg.identity.threshold, cfg.identity.max_cluster_size)
        scores.append(Score(name, "cdp", records, *pairwise(con, "clusters"), time.perf_counter() - start))
        for threshold in sweep:
            cluster_records(con, threshold, cfg.identity.max_cluster_size)
            scores.append(Score(name, f"cdp at {threshold}", records, *pairwise(con, "clusters"), 0.0))
        if baseline:
            scores.append(score_baseline(con, name, records, cfg.identity.threshold))
    return scores


def score_baseline(con: duckdb.DuckDBPyConnection, name: str, records: int, threshold: float) -> Score:
    """The plain model on the same staged records; a training failure scores zero (and says so)."""
    start = time.perf_counter()
    try:
        con.register("baseline_clusters", baseline_clusters(con, threshold))
    except ValueError as exc:
        print(f"plain Splink failed on {name}: {exc}", flush=True)
        return Score(name, "plain Splink (failed)", records, 0.0, 0.0, 0.0, 0, time.perf_counter() - start)
    return Score(name, "plain Splink", records, *pairwise(con, "baseline_clusters"), time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="demo20k,febrl3,febrl4", help=f"comma list of {', '.join(DATASETS)}")
    ap.add_argument("--work", help="folder for the generated sources and warehouses (default: a temp dir)")
    ap.add_argument("--no-baseline", action="store_true", help="score only cdp")
    ap.add_argument("--sweep", default="", help="comma list of other thresholds to cluster cdp's pairs at")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-accuracy-"))
    print(HEADER, flush=True)
    for name in args.datasets.split(","):
        sweep = tuple(float(t) for t in args.sweep.split(",") if t)
        for score in run_dataset(name.strip(), work, baseline=not args.no_baseline, sweep=sweep):
            print(score.row(), flush=True)


if __name__ == "__main__":
    main()
