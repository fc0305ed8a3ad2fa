"""Benchmark: ingest + standardise ~1M demo records; wall time per step and peak RSS.

    python -m bench.ingest                         # demo silos for --people (default 400000, about 1M records)
    python -m bench.ingest --silos 333000          # bench/silos.py: 333000 messy records per source
    python -m bench.ingest --config path/cdp.yaml  # an existing config
    python -m bench.ingest --config path/cdp.yaml --incremental 1 --gates
        # then append 1% new rows to every feed (files and SQLite tables, in place) and ingest incrementally;
        # --gates times the raw and staged quality gates after each ingestion
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from cdp.config import Config, CsvLocation, JsonlLocation, SqlLocation, load_config
from cdp.warehouse import open_warehouse
from ingestion import check_columns
from ingestion.load import Feed, feeds_of, load_source
from ingestion.stage import build_unions, stage_source


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    print(f"{label:<28} {time.perf_counter() - start:7.2f} s")
    return out


def demo_config(folder: Path, people: int) -> Config:
    from cdp.demo import write_demo

    return load_config(timed(f"write_demo(people={people})", lambda: write_demo(folder, people=people)))


def silos_config(folder: Path, records: int) -> Config:
    from bench.silos import write_silos

    return load_config(timed(f"write_silos({records})", lambda: write_silos(folder, records)))


def run(cfg: Config, full: bool = True, gates: bool = False) -> float:
    """Check, load and stage every source, then build the unions (`full`: on a fresh warehouse); the wall time."""
    if full:
        cfg.warehouse_path.unlink(missing_ok=True)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    timed("check_columns", lambda: check_columns(cfg))
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        for name, src in cfg.sources.items():
            loads = timed(f"load {name}", partial(load_source, con, name, src, None, full))
            timed(f"stage {name}", partial(stage_source, con, name, src, full))
            for stats in loads:
                print(f"  {stats.source}: {stats.mode}, {stats.rows_in} in, {stats.rows_quarantined} quarantined, "
                      f"{stats.rows_new} new, {stats.rows_changed} changed, {stats.rows_vanished} deleted")
        counts = timed("staged + interactions", lambda: build_unions(con, cfg))
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"records staged: {counts['staged']:,}   interactions: {counts['interactions']:,}")
    print(f"{'full' if full else 'incremental'} ingest + standardise: {seconds:.1f} s wall, {cpu:.1f} s CPU "
          f"(all threads), peak RSS {peak:.2f} GB")
    if gates:
        time_gates(cfg)
    return seconds


def time_gates(cfg: Config) -> None:
    """The raw and staged quality gates of every source, as the asset checks run them after ingestion."""
    from quality import gates

    run_id = uuid.uuid4().hex
    with open_warehouse(cfg.warehouse_path) as con:
        for name in cfg.sources:
            timed(f"raw gate {name}", partial(gates.raw_gate, con, cfg, run_id, name))
            timed(f"staged gate {name}", partial(gates.staged_gate, con, cfg, run_id, name))


def append_rows(cfg: Config, share: float) -> None:
    """Append `share` of each feed's rows again under new keys (a SQL feed's watermark column set to now)."""
    tag = uuid.uuid4().hex[:6]
    for name, src in cfg.sources.items():
        for feed in feeds_of(name, src):
            added = timed(f"append to {feed.name}", partial(_append, feed, share, tag))
            print(f"  {added:,} rows")


def _append(feed: Feed, share: float, tag: str) -> int:
    loc = feed.location
    if isinstance(loc, SqlLocation):
        return _append_sql(feed, loc, share, tag)
    if isinstance(loc, JsonlLocation):
        with open(loc.path) as lines:
            wanted = int(sum(1 for _ in lines) * share)
        objects: list[dict[str, Any]] = []
        with open(loc.path) as lines:
            for row in map(_object, lines):
                if len(objects) == wanted:
                    break
                if row and feed.key in row:
                    objects.append(row | {feed.key: f"{row[feed.key]}-{tag}"})
        with open(loc.path, "a") as out:
            out.writelines(json.dumps(r) + "\n" for r in objects)
        return len(objects)
    assert isinstance(loc, CsvLocation)
    with duckdb.connect() as con:
        rel = con.sql("select * from read_csv(?, all_varchar=true, header=true, delim=?, ignore_errors=true)",
                      params=[loc.path, loc.delimiter])
        columns, rows = rel.columns, rel.fetchall()
    at = columns.index(feed.key)
    new = [[*r[:at], f"{r[at]}-{tag}", *r[at + 1:]] for r in rows[:int(len(rows) * share)]]
    with open(loc.path, "a", newline="", encoding=loc.encoding) as out:
        csv.writer(out, delimiter=loc.delimiter, lineterminator="\n").writerows(new)
    return len(new)


def _object(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None


def _append_sql(feed: Feed, loc: SqlLocation, share: float, tag: str) -> int:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    engine = sa.create_engine(loc.url)
    with engine.begin() as con:
        total = con.execute(sa.text(f"select count(*) from {loc.table}")).scalar() or 0
        con.execute(sa.text(f"create temp table cdp_new as select * from {loc.table} limit {int(total * share)}"))
        numbered = con.execute(sa.text(f"select min({feed.key}), max({feed.key}) from {loc.table}")).one()
        if all(isinstance(n, int) for n in numbered):  # new numbers past the last: an id can be the watermark
            con.execute(sa.text(f"update cdp_new set {feed.key} = {feed.key} + {numbered[1] - numbered[0] + 1}"))
        else:
            con.execute(sa.text(f"update cdp_new set {feed.key} = {feed.key} || '-{tag}'"))
        if feed.watermark and feed.watermark != feed.key:
            con.execute(sa.text(f"update cdp_new set {feed.watermark} = '{now}'"))
        added = con.execute(sa.text(f"insert into {loc.table} select * from cdp_new")).rowcount
        con.execute(sa.text("drop table cdp_new"))
    engine.dispose()
    return added


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="an existing cdp.yaml (default: generate the demo silos)")
    ap.add_argument("--people", type=int, default=400_000, help="demo size (people)")
    ap.add_argument("--silos", type=int, help="instead of the demo: bench/silos.py with this many records per source")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    ap.add_argument("--incremental", type=float, metavar="PCT",
                    help="after the full ingestion, append PCT%% new rows to every feed and ingest incrementally")
    ap.add_argument("--gates", action="store_true", help="time the raw and staged quality gates after each ingestion")
    args = ap.parse_args()
    if args.config:
        cfg = load_config(args.config)
        full = run(cfg, gates=args.gates)
        if args.incremental:
            append_rows(cfg, args.incremental / 100)
            incremental = run(cfg, full=False, gates=args.gates)
            print(f"incremental / full: {incremental:.1f} s / {full:.1f} s = {incremental / full:.0%}")
        return
    folder = Path(tempfile.mkdtemp(prefix="cdp-bench-"))
    try:
        run(silos_config(folder, args.silos) if args.silos else demo_config(folder, args.people))
    finally:
        if not args.keep:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
