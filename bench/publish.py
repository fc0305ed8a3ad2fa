"""Publishing at scale: the warehouse's golden side copied into the serving store, SQLite and PostgreSQL.

    python -m bench.publish [--households 465000] [--postgres URL]     # ~1M customers, ~2.2M records
    python -m bench.publish --work DIR --memory-limit 300MB --postgres ''   # DIR/warehouse.duckdb: any warehouse

The warehouse is bench/profiles.py's (true people as clusters, ids, golden, traits, ~3 interactions
per record); the publish is timed into a fresh store of each kind. Then --dirty of the customers get a
new email and are listed dirty, as an incremental identity run leaves them: the partial publish of just
their rows (serving.incremental) is timed, and beside it a full publish of the same warehouse, which
replaces the published version (shadow tables, one swap). --compare also times a second full publish
before the change, one table at a time without read-ahead too. Beside the
wall time: the CPU-seconds the whole machine was busy (the database server included) and those of this
process (DuckDB, Arrow, the loader), and this process's peak resident memory during the publish. --memory-limit
sets DuckDB's memory_limit on the warehouse, as cdp.yaml's `duckdb:` does; --digest prints a hash of every table's
rows after the first publish, in the order the store returns them (SQLite: as written), to compare two versions
of the publishing code.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb
import sqlalchemy as sa

import serving.store as store
from bench.profiles import stage
from cdp.config import IdentityConfig
from cdp.schema import DIRTY_CUSTOMERS, GOLDEN, ensure_tables
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from identity.traits import build_traits
from serving.publish import publish

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "cdp_bench_publish"
T = TypeVar("T")


def postgres_url(base: str) -> str:
    """`base` with a fresh schema first on its search path."""
    engine = sa.create_engine(base)
    with engine.begin() as con:
        con.execute(sa.text(f"drop schema if exists {SCHEMA} cascade"))
        con.execute(sa.text(f"create schema {SCHEMA}"))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{SCHEMA}"


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Publish as before the parallel loads: one table at a time, no read-ahead (for --compare)."""
    parallel, ahead = store.PostgresStore.parallel_loads, store.ServingStore.read_ahead
    store.PostgresStore.parallel_loads, store.ServingStore.read_ahead = 1, False
    try:
        yield
    finally:
        store.PostgresStore.parallel_loads, store.ServingStore.read_ahead = parallel, ahead


def machine_cpu() -> float:
    """CPU-seconds the machine's cores have been busy since boot (Linux /proc/stat: all but idle and iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def peak_gb() -> float:
    """This process's peak resident memory since the last reset_peak() (Linux: VmHWM), in GB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024 / 1e9


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current resident size


def measured(label: str, step: Callable[[], T]) -> T:
    """Run `step` and print a table row: wall seconds, the machine's busy CPU-s and this process's, this process's
    peak memory."""
    reset_peak()
    machine, own, start = machine_cpu(), sum(os.times()[:2]), time.perf_counter()
    result = step()
    wall = time.perf_counter() - start
    print(f"| {label} | {wall:.1f} | {machine_cpu() - machine:.1f} | {sum(os.times()[:2]) - own:.1f} | "
          f"{peak_gb():.2f} |", flush=True)
    return result


def digests(url: str, names: Iterable[str]) -> dict[str, str]:
    """Per table, a hash of its rows as the store returns them without an order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            out = {}
            for name in names:
                digest = hashlib.sha256()
                for row in con.execute(sa.text(f"select * from {name}")):
                    digest.update(repr(tuple(row)).encode())
                out[name] = digest.hexdigest()[:16]
            return out
    finally:
        engine.dispose()


def change(con: duckdb.DuckDBPyConnection, share: float, salt: str) -> int:
    """A new email for about `share` of the customers (picked by a hash salted with `salt`), listed dirty;
    returns how many."""
    ensure_tables(con, DIRTY_CUSTOMERS)
    picked = f"hash(customer_id || '{salt}') % 10000 < {round(share * 10000)}"
    con.execute(f"update {GOLDEN} set email = 'new.{salt}.' || customer_id || '@example.com' where {picked}")
    con.execute(f"insert or ignore into {DIRTY_CUSTOMERS} select customer_id from {GOLDEN} where {picked}")
    return int(con.execute(f"select count(*) from {DIRTY_CUSTOMERS}").fetchall()[0][0])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=465_000,
                    help="households to generate (~2.2 customers and ~4.8 records each)")
    ap.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' to skip)")
    ap.add_argument("--compare", action="store_true",
                    help="also publish one table at a time without read-ahead, alternating with the normal way")
    ap.add_argument("--dirty", type=float, default=0.01, help="share of customers changed for the partial publish")
    ap.add_argument("--work", help="folder for the warehouse and the SQLite store (default: a temp dir); "
                    "a warehouse already there is reused")
    ap.add_argument("--digest", action="store_true", help="print a hash of each table's rows after the first publish")
    ap.add_argument("--memory-limit", help="DuckDB's memory_limit on the warehouse, e.g. 300MB (default: DuckDB's)")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-publish-"))
    work.mkdir(parents=True, exist_ok=True)
    stores = {"SQLite file": f"sqlite:///{work / 'serving.db'}"}
    if args.postgres:
        stores["PostgreSQL (COPY)"] = postgres_url(args.postgres)
    warehouse = work / "warehouse.duckdb"
    reuse = warehouse.exists()
    options = {"memory_limit": args.memory_limit} if args.memory_limit else {}
    with duckdb.connect(str(warehouse), config=options) as con:
        if reuse:
            print(f"reusing {warehouse} (delete it to generate a new one)")
        else:
            stage(con, args.households)
            assign_customer_ids(con, "r1")
            build_golden(con, IdentityConfig())
            build_traits(con)
        counts = con.execute("select (select count(*) from golden), (select count(*) from interactions)").fetchall()[0]
        print(f"customers {counts[0]:,}, interactions {counts[1]:,}\n")
        print("| store, run | seconds | CPU-s, machine | CPU-s, this process | peak GB, this process |\n"
              "| --- | ---: | ---: | ---: | ---: |")
        for label, url in stores.items():
            for run in ("first", "replacing") if args.compare else ("first",):
                once = functools.partial(publish, con, url, run, full=True)  # whatever the warehouse lists dirty
                stats = measured(f"{label}, {run}", once)
                if args.digest and run == "first":
                    print(f"| digests: {digests(url, stats.rows)} |")
                if args.compare:
                    with one_at_a_time():
                        measured(f"{label}, {run}, one table at a time", once)
            dirty = change(con, args.dirty, label.split()[0])
            partial = measured(f"{label}, partial ({dirty:,} customers dirty)",
                               functools.partial(publish, con, url, "partial"))
            assert partial.mode == "partial", partial.full_because
            measured(f"{label}, full, same warehouse", functools.partial(publish, con, url, "full", full=True))
        print(f"\nrows per table: {stats.rows}")


if __name__ == "__main__":
    main()
