"""End to end: a full `cdp run`, 1% new rows, a plain (incremental) `cdp run`, then `cdp run --full` on the same data.

    python -m bench.rerun --people 441000 --work /tmp/rerun     # ~1M records; keeps (and reuses) the demo silos
    python -m bench.rerun --config path/cdp.yaml                 # an existing project (its sources are appended to)

Each run is a `cdp` process of its own, timed from outside (wall time and the child's CPU and peak RSS). The
new rows are copies of existing ones under new keys (bench.ingest.append_rows), so most join a known customer.
The customers of the incremental run and of the full run over the same data are compared record by record:
a record agrees when the records sharing its customer are the same set in both.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from bench.accuracy import agreement
from bench.ingest import append_rows
from cdp.config import Config, load_config
from cdp.runner import dagster_home
from cdp.schema import RECORD_CUSTOMER

CDP = str(Path(sys.executable).parent / "cdp")
"""The console script of the running environment."""


def cdp(*args: str) -> tuple[float, float, float]:
    """Run `cdp ARGS` to completion; (wall seconds, CPU seconds, peak RSS in GB of the largest child so far)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([CDP, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"cdp {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 2**20


def step_seconds(cfg: Config) -> dict[str, float]:
    """Seconds per step of the project's latest Dagster run (what `cdp dagster` shows for it)."""
    with dg.DagsterInstance.from_config(str(dagster_home(cfg))) as instance:
        (latest,) = instance.get_runs(limit=1)
        return {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(latest.run_id)}


def customers(warehouse: Path, out: Path) -> None:
    """The run's record -> customer crosswalk, kept as Parquet for the comparison."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"copy (select record_id, customer_id from {RECORD_CUSTOMER}) to '{out}' (format parquet)")


def same_customers(left: Path, right: Path) -> tuple[float, int]:
    """(share of records whose fellow records are the same in both crosswalks, records compared)."""
    with duckdb.connect() as con:
        for name, path in (("left_customers", left), ("right_customers", right)):
            con.execute(f"create view {name} as select record_id, customer_id as cluster_id from '{path}'")
        records = con.sql("select count(*) from left_customers").fetchall()[0][0]
        return agreement(con, "left_customers", "right_customers"), records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="an existing cdp.yaml (default: the demo silos in --work)")
    ap.add_argument("--people", type=int, default=441_000, help="demo size (people); 441,000 is ~1M records")
    ap.add_argument("--work", default="/tmp/cdp-rerun", help="folder for the demo silos and the crosswalks")
    ap.add_argument("--share", type=float, default=1.0, help="percent of new rows per feed")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    config = Path(args.config) if args.config else work / "demo" / "cdp.yaml"
    if not config.exists():
        subprocess.run([CDP, "demo", "--out", str(config.parent), "--people", str(args.people)], check=True)
    cfg = load_config(config)
    rows = [("first run (full)", *cdp("run", "--config", str(config)))]
    append_rows(cfg, args.share / 100)
    rows.append(("incremental run", *cdp("run", "--config", str(config))))
    incremental = step_seconds(cfg)
    customers(cfg.warehouse_path, work / "incremental.parquet")
    rows.append(("cdp run --full, same data", *cdp("run", "--full", "--config", str(config))))
    full = step_seconds(cfg)
    customers(cfg.warehouse_path, work / "full.parquet")
    share, records = same_customers(work / "incremental.parquet", work / "full.parquet")
    print("| run | wall s | CPU s | peak RSS GB (so far) |\n| --- | ---: | ---: | ---: |")
    for label, wall, cpu, rss in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {rss:.2f} |")
    print(f"incremental / full: {rows[1][1] / rows[2][1]:.1%} of the wall time, {rows[1][2] / rows[2][2]:.1%} of CPU")
    print(f"records whose customer agrees: {share:.4%} of {records:,}")
    print("\n| step | incremental s | full s |\n| --- | ---: | ---: |")
    for step in sorted(full, key=lambda k: -full[k]):
        print(f"| {step} | {incremental.get(step, 0.0):.1f} | {full[step]:.1f} |")


if __name__ == "__main__":
    main()
