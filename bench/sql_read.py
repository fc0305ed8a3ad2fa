"""Benchmark: land every SQL feed of a config through SQLAlchemy's rows and through ADBC, side by side.

    python -m bench.sql_read --config /work/scale/1m/cdp.yaml
    python -m bench.sql_read --config /work/scale/1m/cdp.yaml --postgres postgresql+psycopg://postgres@127.0.0.1/test
        # also copy each SQLite feed's table into PostgreSQL (bench_sql_read_<feed>) and compare there

Per feed and path: rows, CPU seconds of the process (all threads, DuckDB's included) and wall seconds
of `SqlConnector.land` into an in-memory DuckDB, as a full load reads it (watermark tracked, no mark);
then whether the two landed tables and high-water marks are identical. The drivers are imported first.
A copy in PostgreSQL types each column by its SQLite values: only integers bigint, only reals double
precision, anything else text.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import resource
import time

import duckdb
import sqlalchemy as sa

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
    print(f"{feed.name:<30} {count[0] if count else 0:>10,} rows  "
          f"{rows[0].read_by}: {rows[1]:6.2f} s CPU {rows[2]:6.2f} s wall   "
          f"{fast[0].read_by}: {fast[1]:6.2f} s CPU {fast[2]:6.2f} s wall   "
          f"CPU ratio {rows[1] / fast[1]:5.1f}x   identical: {'yes' if same else 'NO'}")
    con.close()


def copy_to_postgres(feed: Feed, url: str) -> Feed:
    """The feed's SQLite table copied into PostgreSQL (replacing an earlier copy), as a feed reading it there."""
    location = feed.location
    assert isinstance(location, SqlLocation) and location.table
    source, target = sa.create_engine(location.url), sa.create_engine(url)
    table = f"bench_sql_read_{feed.name}"
    with source.connect() as read, target.begin() as write:
        names = list(read.execute(sa.text(f"select * from {location.table} limit 0")).keys())
        classes = read.execute(sa.text("select " + ", ".join(
            f"group_concat(distinct typeof({n})) filter (where {n} is not null)" for n in names)
            + f" from {location.table}")).one()
        types = [{"integer": "bigint", "real": "double precision"}.get(c or "", "text") for c in classes]
        write.execute(sa.text(f"drop table if exists {table}"))
        columns = ", ".join(f"{n} {t}" for n, t in zip(names, types, strict=True))
        write.execute(sa.text(f"create table {table} ({columns})"))
        copy = write.connection.dbapi_connection
        assert copy is not None
        with copy.cursor().copy(f"copy {table} from stdin") as out:  # psycopg's COPY
            for row in read.execute(sa.text(f"select * from {location.table}")):
                out.write_row([v if t != "text" or v is None else str(v) for v, t in zip(row, types, strict=True)])
    source.dispose()
    target.dispose()
    return dataclasses.replace(feed, name=f"{feed.name} (postgresql)",
                               location=location.model_copy(update={"url": url, "table": table}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="a cdp.yaml with SQL sources (e.g. `cdp demo`'s)")
    ap.add_argument("--postgres", metavar="URL", help="also copy each SQLite feed into this PostgreSQL, and compare")
    args = ap.parse_args()
    cfg = load_config(args.config)
    for module in ("adbc_driver_sqlite.dbapi", "adbc_driver_postgresql.dbapi"):  # a process imports them once:
        importlib.import_module(module)  # not charged to the first feed read
    for name, src in cfg.sources.items():
        for feed in feeds_of(name, src):
            if isinstance(feed.location, SqlLocation):
                compare(feed)
                if args.postgres and feed.location.url.startswith("sqlite"):
                    compare(copy_to_postgres(feed, args.postgres))


if __name__ == "__main__":
    main()
