"""Figures of each run kept in `quality_history` (identity figures, rows per feed), to compare runs with."""

from __future__ import annotations

import datetime as dt

import duckdb

from cdp.schema import CLUSTERS, QUALITY_HISTORY, ensure_tables


def previous(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, float]:
    """Each metric's latest value kept by a run other than `run_id` (empty on the first run)."""
    ensure_tables(con, QUALITY_HISTORY)
    rows = con.execute(f'select metric, arg_max(value, "at") from {QUALITY_HISTORY} where run_id <> ? group by metric',
                       [run_id]).fetchall()
    return dict(rows)


def identity_figures(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Records, customers, and the share of records matched to at least one other record."""
    records, customers, matched = con.execute(f"""
        select count(*), count(distinct cluster_id), count(*) filter (where size > 1)
        from (select cluster_id, count(*) over (partition by cluster_id) as size from {CLUSTERS})""").fetchall()[0]
    return {"records": records, "customers": customers, "match_rate": matched / records if records else 0.0}


def record(con: duckdb.DuckDBPyConnection, run_id: str, figures: dict[str, float]) -> None:
    """Keep this run's figures (replacing the same metrics kept earlier for the same run)."""
    ensure_tables(con, QUALITY_HISTORY)
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(f"delete from {QUALITY_HISTORY} where run_id = ? and list_contains(?, metric)",
                [run_id, list(figures)])
    con.executemany(f"insert into {QUALITY_HISTORY} values (?, ?, ?, ?)",
                    [[run_id, at, metric, float(value)] for metric, value in figures.items()])
