"""Benchmark: ingest + standardise ~1M demo records; wall time per step and peak RSS.

    python -m bench.ingest                         # demo silos for --people (default 400000, about 1M records)
    python -m bench.ingest --silos 333000          # bench/silos.py: 333000 messy records per source
    python -m bench.ingest --config path/cdp.yaml  # an existing config
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cdp.config import Config, load_config
from cdp.warehouse import open_warehouse
from ingestion import check_columns
from ingestion.load import load_source
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


def run(cfg: Config) -> None:
    """Check, load and stage every source, then build the unions, on a fresh warehouse."""
    cfg.warehouse_path.unlink(missing_ok=True)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    timed("check_columns", lambda: check_columns(cfg))
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        for name, src in cfg.sources.items():
            loads = timed(f"load {name}", partial(load_source, con, name, src))
            timed(f"stage {name}", partial(stage_source, con, name, src))
            for stats in loads:
                print(f"  {stats.source}: {stats.rows_in} in, {stats.rows_quarantined} quarantined")
        counts = timed("staged + interactions", lambda: build_unions(con, cfg))
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"records staged: {counts['staged']:,}   interactions: {counts['interactions']:,}")
    print(f"ingest + standardise: {seconds:.1f} s wall, {cpu:.1f} s CPU (all threads), peak RSS {peak:.2f} GB")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="an existing cdp.yaml (default: generate the demo silos)")
    ap.add_argument("--people", type=int, default=400_000, help="demo size (people)")
    ap.add_argument("--silos", type=int, help="instead of the demo: bench/silos.py with this many records per source")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    args = ap.parse_args()
    if args.config:
        run(load_config(args.config))
        return
    folder = Path(tempfile.mkdtemp(prefix="cdp-bench-"))
    try:
        run(silos_config(folder, args.silos) if args.silos else demo_config(folder, args.people))
    finally:
        if not args.keep:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
