"""How often /resolve's top answer is right for records it has not seen, and what its index costs.

    python -m bench.resolve_holdout --config /tmp/demo20k/cdp.yaml [--held-out 500]

Reads the published records as the API does (api.matcher.published_records), takes `--held-out`
random ones out and builds the resolver's index of the rest (its keys and term frequencies without
them), timing the read and the build and the process's peak memory. Then resolves each held-out
record's values and checks the top answer against the demo's truth.csv: right when its record is
the same person's, or, for a person with no other record left, when there is no answer at
probability >= 0.5. An approximation of holding the records out of the sources: the model and the
other records' customers were still made with them. Prints the share right and the p50/p99 of the
resolving time in-process (no HTTP), wall clock and the thread's CPU time (which outside load
on the machine does not inflate).
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from api.matcher import published_records
from api.reader import ServingReader
from cdp.config import load_config
from identity.model import ModelStore
from identity.resolve import Resolver


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="cdp.yaml of a published `cdp demo`")
    ap.add_argument("--held-out", type=int, default=500)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    with (Path(args.config).parent / "truth.csv").open() as f:
        person = {f"{r['source']}:{r['source_id']}": r["person_id"] for r in csv.DictReader(f)}
    model = ModelStore(cfg.state_dir / "models").load()
    before = _peak_mb()
    start = time.perf_counter()
    records = published_records(ServingReader(cfg.serving).engine, None)
    read = time.perf_counter() - start
    held_at = random.Random(5).sample(range(records.num_rows), args.held_out)
    kept = np.ones(records.num_rows, bool)
    kept[held_at] = False
    start = time.perf_counter()
    resolver = Resolver(records.filter(pa.array(kept)), model)
    built = time.perf_counter() - start
    held = records.take(pa.array(held_at)).to_pylist()
    remaining = {person[r] for r in resolver.records.column("record_id").to_pylist()}
    right, times, cpu = 0, [], []
    for record in held:
        start, start_cpu = time.perf_counter(), time.thread_time()
        found = resolver.resolve(record)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        if person[record["record_id"]] in remaining:
            right += bool(found) and person[found[0][1]] == person[record["record_id"]]
        else:
            right += not found or found[0][2].match_probability < 0.5
    times.sort()
    cpu.sort()
    print(f"{records.num_rows:,} published records read in {read:.1f} s ({records.nbytes / 2**20:,.0f} MB as Arrow), "
          f"index of the kept ones built in {built:.1f} s ({resolver.hashes.size:,} keys, "
          f"{(resolver.hashes.nbytes + resolver.positions.nbytes) / 2**20:,.0f} MB); "
          f"peak memory {_peak_mb():,.0f} MB (before reading: {before:,.0f} MB)")
    print(f"{args.held_out} held out: top answer right for {right / len(held):.1%}; resolving p50 "
          f"{statistics.median(times) * 1000:.2f} ms, p99 {times[int(0.99 * len(times))] * 1000:.2f} ms "
          f"(CPU p50 {statistics.median(cpu) * 1000:.2f} ms, p99 {cpu[int(0.99 * len(cpu))] * 1000:.2f} ms; "
          "in-process, the published values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
