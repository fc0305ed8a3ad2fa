"""How often /resolve's top answer is right for records it has not seen: an in-process approximation.

    python -m bench.resolve_holdout --config /tmp/demo20k/cdp.yaml [--held-out 500]

Takes `--held-out` random published records out of the resolver's index (the index and the term
frequencies are built without them), resolves each one's staged values and checks the top answer
against the demo's truth.csv: right when its record is the same person's, or, for a person with no
other record left, when there is no answer at probability >= 0.5. An approximation of holding the
records out of the sources: the model and the other records' customers were still made with them.
Prints the share right and the p50/p99 of the resolving time in-process (no HTTP).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

import duckdb

from api.reader import ServingReader
from cdp.config import load_config
from identity.model import ModelStore, read_input
from identity.resolve import Resolver
from serving.tables import MATCH_COLUMNS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="cdp.yaml of a published `cdp demo`")
    ap.add_argument("--held-out", type=int, default=500)
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    with (Path(args.config).parent / "truth.csv").open() as f:
        person = {f"{r['source']}:{r['source_id']}": r["person_id"] for r in csv.DictReader(f)}
    with duckdb.connect(str(cfg.warehouse_path), read_only=True) as con:
        rows = read_input(con).to_pylist()
    records = [{"record_id": r["unique_id"], **{c: r[c] for c in MATCH_COLUMNS}} for r in rows]
    reader = ServingReader(cfg.serving)
    with reader.engine.connect() as conn:
        customer: dict[str, str] = dict(conn.exec_driver_sql("select record_id, customer_id from match_records").all())
    rng = random.Random(5)
    held = rng.sample([r for r in records if r["record_id"] in customer], args.held_out)
    held_ids = {r["record_id"] for r in held}
    kept = [r for r in records if r["record_id"] not in held_ids and r["record_id"] in customer]
    resolver = Resolver(kept, [customer[r["record_id"]] for r in kept], ModelStore(cfg.state_dir / "models").load())
    remaining = {person[r["record_id"]] for r in kept}
    right, times = 0, []
    for record in held:
        start = time.perf_counter()
        found = resolver.resolve(record)
        times.append(time.perf_counter() - start)
        if person[record["record_id"]] in remaining:
            right += bool(found) and person[found[0][1]] == person[record["record_id"]]
        else:
            right += not found or found[0][2].match_probability < 0.5
    times.sort()
    print(f"{args.held_out} held out of {len(records):,} records: top answer right for {right / len(held):.1%}; "
          f"resolving p50 {statistics.median(times) * 1000:.2f} ms, p99 {times[int(0.99 * len(times))] * 1000:.2f} ms "
          "(in-process, standardised values)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
