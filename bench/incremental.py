"""Incremental identity against a full run, on the synthetic households of bench/households.py.

    python -m bench.incremental [--households 210000] [--work DIR]     # ~1M records

Resolves 99% of the records in full once (kept in --work/base.duckdb with the model, so a second
run with the same --work starts from there), then adds the last 1% (a random sample, so most join
people already known) and resolves them twice from that same state: a plain incremental run, and a
full one (`full=True`, as `cdp run --full`). Prints the seconds of each identity stage (match,
clusters, customer ids, golden, traits) and the share of records whose cluster and customer id agree.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench.profiles import stage
from cdp.config import IdentityConfig
from identity.cluster import cluster_changed
from identity.golden import golden_changed
from identity.ids import assign_changed
from identity.matching import match
from identity.model import ModelStore
from identity.traits import traits_changed

CFG = IdentityConfig()
HELD_OUT = 1.0
"""Percent of the records added after the first run."""


def resolve(con: duckdb.DuckDBPyConnection, store: ModelStore, full: bool, run: str) -> dict[str, float]:
    """The identity stages as the assets run them; seconds per stage."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        seconds[name] = time.perf_counter() - start
        start = time.perf_counter()

    stats = match(con, CFG, store, full=full)
    lap(f"match ({stats.mode})")
    cluster_changed(con, stats.threshold, CFG.max_cluster_size)
    lap("clusters")
    assign_changed(con, run)
    lap("customer ids")
    golden_changed(con, CFG)
    lap("golden")
    traits_changed(con)
    lap("traits")
    return seconds


def base(work: Path, households: int, store: ModelStore) -> Path:
    """The warehouse resolved in full on 99% of the records (built once per --work); `held_out` has the rest."""
    path = work / "base.duckdb"
    if path.exists():
        return path
    building = work / "base.building.duckdb"
    with duckdb.connect(str(building)) as con:
        stage(con, households)
        con.execute("drop table clusters")
        con.execute(f"create table held_out as select * from staged using sample {HELD_OUT}% (bernoulli, 7)")
        con.execute("delete from staged where record_id in (select record_id from held_out)")
        records = con.execute("select count(*) from staged").fetchall()[0][0]
        seconds = resolve(con, store, full=True, run="base")
        print(f"first run on {records:,} records: {sum(seconds.values()):.1f} s (model trained)", flush=True)
    building.rename(path)
    return path


def run_on_all(work: Path, start: Path, store: ModelStore, full: bool) -> tuple[Path, dict[str, float]]:
    """A copy of the base warehouse with the held-out records staged, resolved; (its path, seconds per stage)."""
    path = work / ("full.duckdb" if full else "incremental.duckdb")
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # a killed run's log would replay onto the copy
    shutil.copy(start, path)
    with duckdb.connect(str(path)) as con:
        con.execute("insert into staged select * from held_out")
        return path, resolve(con, store, full=full, run="next")


def agreement(incremental: Path, full: Path) -> tuple[int, float, float]:
    """(records, share whose cluster agrees, share whose customer id agrees) between the two runs."""
    with duckdb.connect(str(incremental), read_only=True) as con:
        con.execute(f"attach '{full}' as f (read_only)")
        rows = con.execute("""select count(*), avg((i.cluster_id = f.cluster_id)::INT),
                                     avg((ic.customer_id = fc.customer_id)::INT)
            from clusters i join f.clusters f using (record_id)
            join record_customer ic using (record_id) join f.record_customer fc using (record_id)""").fetchall()[0]
    return int(rows[0]), float(rows[1]), float(rows[2])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=210_000, help="households to generate (~4.8 records each)")
    ap.add_argument("--work", help="folder for the warehouses and model, reused between runs (default: a temp dir)")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-incremental-"))
    work.mkdir(parents=True, exist_ok=True)
    store = ModelStore(work / "models")
    start = base(work, args.households, store)
    inc_path, inc = run_on_all(work, start, store, full=False)
    print(f"incremental: {sum(inc.values()):.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in inc.items())})", flush=True)
    full_path, full = run_on_all(work, start, store, full=True)
    records, clusters, ids = agreement(inc_path, full_path)
    print("| stage | incremental s | full s |\n| --- | ---: | ---: |")
    for (name, a), b in zip(inc.items(), full.values(), strict=True):
        print(f"| {name.split(' (')[0]} | {a:.1f} | {b:.1f} |")
    print(f"| identity | {sum(inc.values()):.1f} | {sum(full.values()):.1f} |")
    print(f"{records:,} records; incremental/full time {sum(inc.values()) / sum(full.values()):.1%}; "
          f"same cluster {clusters:.4%}, same customer id {ids:.4%} ({list(inc)[0]})")


if __name__ == "__main__":
    main()
