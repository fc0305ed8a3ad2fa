"""Benchmark: land every SQL feed of a config through SQLAlchemy's rows and through ADBC, side by side.

    python -m bench.sql_read --config /work/scale/1m/cdp.yaml

Per feed and path: rows, CPU seconds of the process (all threads, DuckDB's included) and wall seconds
of `SqlConnector.land` into an in-memory DuckDB, as a full load reads it (watermark tracked, no mark);
then whether the two landed tables and high-water marks are identical. The drivers are imported first.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import time

import duckdb

from cdp.config import SqlLocation, load_config
from ingestion.connectors import SqlConnector, connector_for
from ingestion.load import Feed, feeds_of


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def land(con: duckdb.DuckDBPyConnection, feed: Feed, adbc: bool, table: str) -> tuple[SqlConnector, float, float]:
    """Land the feed by one path; the connector, CPU and wall seconds."""
    connector = connector_for(feed.location)
    assert isinstance(connector, SqlConnector)
    connector.adbc = adbc
    if feed.watermark:
        connector.past(feed.watermark, None)
    cpu, wall = cpu_seconds(), time.perf_counter()
    connector.land(con, table)
    return connector, cpu_seconds() - cpu, time.perf_counter() - wall


def compare(feed: Feed) -> None:
    con = duckdb.connect()
    rows, fast = land(con, feed, False, "by_rows"), land(con, feed, True, "by_adbc")
    count = con.execute("select count(*) from by_rows").fetchone()
    differ = con.execute("select count(*) from ((select * from by_rows except all select * from by_adbc) union all "
                         "(select * from by_adbc except all select * from by_rows))").fetchone()
    same = differ == (0,) and rows[0].high_water == fast[0].high_water
    print(f"{feed.name:<24} {count[0] if count else 0:>10,} rows  "
          f"{rows[0].read_by}: {rows[1]:6.2f} s CPU {rows[2]:6.2f} s wall   "
          f"{fast[0].read_by}: {fast[1]:6.2f} s CPU {fast[2]:6.2f} s wall   "
          f"CPU ratio {rows[1] / fast[1]:5.1f}x   identical: {'yes' if same else 'NO'}")
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="a cdp.yaml with SQL sources (e.g. `cdp demo`'s)")
    args = ap.parse_args()
    cfg = load_config(args.config)
    for module in ("adbc_driver_sqlite.dbapi", "adbc_driver_postgresql.dbapi"):  # a process imports them once:
        importlib.import_module(module)  # not charged to the first feed read
    for name, src in cfg.sources.items():
        for feed in feeds_of(name, src):
            if isinstance(feed.location, SqlLocation):
                compare(feed)


if __name__ == "__main__":
    main()
