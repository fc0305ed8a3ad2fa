"""The frames the suites validate: a few narrow columns per record, selected in DuckDB.

Only what an expectation reads leaves DuckDB. Strings stay Arrow-backed (no copy into Python
objects; nulls, regexes and uniqueness run in Arrow compute); numbers and dates become NumPy
columns, dates as datetime64[ns] (TIMESTAMP_NS in DuckDB): Great Expectations' pandas engine
compares only those vectorised, and compares Arrow-backed dates one value at a time in Python.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from cdp.config import SourceConfig
from cdp.schema import CLUSTERS, GOLDEN, RECORD_CUSTOMER, STAGED, staged_table
from ingestion.duck import columns_of, ident
from ingestion.load import Feed
from ingestion.state import ROWS, read_state

NAME_FIELDS = ("first_name", "last_name", "full_name")
CHECKED_FIELDS = ("email", "phone", "birth_date")
"""Attributes whose share of usable values the staged suite measures."""
VALID = "valid"


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    """A query's result as a pandas frame: Arrow-backed strings, NumPy numbers and datetimes."""
    return con.sql(sql, params=params or []).to_arrow_table().to_pandas(types_mapper=_arrow_strings)


def _arrow_strings(kind: pa.DataType) -> pd.ArrowDtype | None:
    stringy = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    return pd.ArrowDtype(kind) if stringy else None


def raw_frame(con: duckdb.DuckDBPyConnection, feed: Feed) -> pd.DataFrame:
    """The published rows of a feed: `_key`, and a column for each mapped column the raw table has.

    The raw suite reads the mapped columns' presence, never their values (the staged suite reads
    those), so they leave DuckDB as NULLs: a million rows of ten columns would otherwise cost
    seconds to copy.
    """
    present = set(columns_of(con, feed.table))
    mapped = [c for c in dict.fromkeys(feed.columns.values()) if c in present]
    placeholders = "".join(f", NULL::VARCHAR as {ident(c)}" for c in mapped if c != "_key")
    return frame(con, f"select _key{placeholders} from {ident(feed.table)}")


def published_rows(con: duckdb.DuckDBPyConnection, feed: str) -> int | None:
    """Rows the feed's raw table held after its latest load (ingestion.state), None before the first.

    Not load_log's rows_published: a load past a watermark logs only the rows it read, a skipped one nothing.
    """
    rows = read_state(con, feed).get(ROWS)
    return int(rows) if rows is not None else None


def staged_frame(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig) -> pd.DataFrame:
    """source_id; per mapped email, phone and birth date its status (see `status`); phone and birth date; name."""
    columns = ["source_id"]
    for attr in CHECKED_FIELDS:
        if attr in src.fields:
            columns.append(status(attr))
    columns += [f"{attr}{'::TIMESTAMP_NS as birth_date' if attr == 'birth_date' else ''}"
                for attr in ("phone", "birth_date") if attr in src.fields]
    if any(attr in src.fields for attr in NAME_FIELDS):
        columns.append("nullif(concat_ws(' ', first_name, last_name), '') as name")
    return frame(con, f"select {', '.join(columns)} from {ident(staged_table(source))}")


def status(attr: str) -> str:
    """`<attr>_status`: NULL where the source sent nothing, VALID where the value standardised, else the value
    as sent. Shares are measured over the non-null values without a row condition (which would copy the frame
    per expectation), and the values listed as unexpected are the junk itself."""
    raw = f"nullif(trim({attr}_raw), '')"
    return (f"case when {raw} is null then null when {attr} is not null then '{VALID}' else {attr}_raw end "
            f"as {attr}_status")


def clusters_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per staged record: its cluster (a customer to be), the cluster's size, and 1 when it is matched."""
    return frame(con, f"""
        select cluster_id, size, (size > 1)::TINYINT as matched
        from (select cluster_id, count(*) over (partition by cluster_id) as size from {CLUSTERS})""")


def crosswalk_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per staged record: its record id and the customer id it was given (NULL when it has none)."""
    return frame(con, f"select s.record_id, c.customer_id from {STAGED} s "
                      f"left join {RECORD_CUSTOMER} c using (record_id)")


def golden_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per golden profile: its id, last name, and a way to reach the person (email, else phone, else street)."""
    return frame(con, f"select customer_id, last_name, coalesce(email, phone, street) as contact from {GOLDEN}")
