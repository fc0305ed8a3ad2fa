"""Dates and timestamps: the source's `formats:` hint first, then the common forms, then dateutil.

Day-first or month-first for slashed dates follows the source's country (month first in the US).
Two-digit years are read by DuckDB's %y; a birth date that lands in the future moves back a
century. Birth dates must fall between 1900-01-02 and today (1900-01-01 and 1901-01-01 are
placeholders); timestamps in 1900 .. next year. What SQL cannot read goes to dateutil, once per
distinct value, and only when the value names a day, a month and a year.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
from dateutil import parser as dateutil

from ingestion.duck import ident
from ingestion.standardise.macros import evaluate, register, sql_list

ISO = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
MONTH_FIRST = ["%m/%d/%y", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"]
DAY_FIRST = ["%d/%m/%y", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"]
WORDS = ["%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d-%b-%Y", "%d-%b-%y"]
MONTH_FIRST_COUNTRIES = ("US", "PH", "FM", "MH", "PW")
PLACEHOLDERS = "DATE '1900-01-01', DATE '1901-01-01'"

register(
    "create or replace temp macro cdp_birth_date_checked(d) as "
    f"case when d between DATE '1900-01-02' and current_date and d not in ({PLACEHOLDERS}) then d end",
    # a two-digit year (no run of four digits in the text) read into the future was meant a century earlier
    "create or replace temp macro cdp_birth_date(d, raw) as cdp_birth_date_checked(case when d > current_date "
    "and not regexp_matches(raw, '[0-9]{4}') then (d - interval 100 year)::DATE else d end)",
    "create or replace temp macro cdp_birth_date_issue(d) as case when d is null then 'unreadable date' "
    f"when d in ({PLACEHOLDERS}) then 'placeholder date' else 'date out of range (' || d || ')' end",
    "create or replace temp macro cdp_timestamp_checked(t) as "
    "case when year(t) between 1900 and year(current_date) + 1 then t end",
)


def formats_for(hint: str | None, country: str) -> list[str]:
    """strptime formats in the order tried: the hint, ISO, then slashed forms by country, then words."""
    slashed = MONTH_FIRST + DAY_FIRST if country in MONTH_FIRST_COUNTRIES else DAY_FIRST + MONTH_FIRST
    return ([hint] if hint else []) + ISO + slashed + WORDS


def read_sql(column: str, formats: list[str]) -> str:
    """SQL reading text `column` as a TIMESTAMP (converted to UTC when it carries an offset), else NULL."""
    text = f"trim({column})"
    return (f"case when regexp_matches({text}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
            f"then timezone('UTC', try_cast({text} as TIMESTAMPTZ)) "
            f"else coalesce(try_strptime({text}, {sql_list(formats)}), try_cast({text} as TIMESTAMP)) end")


def read_distinct(con: duckdb.DuckDBPyConnection, values: str, out: str, formats: list[str], country: str) -> None:
    """Temp table `out`(v, ts): each distinct non-blank `v` of relation `values`, read by SQL or dateutil."""
    con.execute(f"create or replace temp table {ident(out)} as select v, {read_sql('v', formats)} as ts "
                f"from (select distinct v from {values} where nullif(trim(v), '') is not null)")
    rest = [v for (v,) in con.execute(f"select v from {ident(out)} where ts is null").fetchall()]
    if rest:
        fixed = pa.table({"v": rest, "ts": pa.array([_dateutil(v, country) for v in rest], pa.timestamp("us"))})
        con.register("_cdp_dates_fixed", fixed)
        con.execute(f"update {ident(out)} set ts = f.ts from _cdp_dates_fixed f "
                    f"where {ident(out)}.v = f.v and f.ts is not null")
        con.unregister("_cdp_dates_fixed")


def _dateutil(value: str, country: str) -> dt.datetime | None:
    """dateutil's reading, kept only when it is the same whatever day, month and year it defaults to."""
    dayfirst = country not in MONTH_FIRST_COUNTRIES
    try:
        one = dateutil.parse(value, default=dt.datetime(2001, 1, 1), dayfirst=dayfirst)
        two = dateutil.parse(value, default=dt.datetime(2002, 2, 2), dayfirst=dayfirst)
    except (ValueError, OverflowError):
        return None
    if one != two:
        return None
    return one.astimezone(dt.UTC).replace(tzinfo=None) if one.tzinfo else one


def parse_timestamp(value: str | None, country: str = "US", hint: str | None = None) -> dt.datetime | None:
    """A timestamp read as ingestion reads interaction times, or None."""
    if not value or not value.strip():
        return None
    found = evaluate(f"(select {read_sql('v', formats_for(hint, country))} from (select ?::VARCHAR as v))", value)
    return found or _dateutil(value, country)


def parse_birth_date(value: str | None, country: str = "US", hint: str | None = None) -> dt.date | None:
    """A birth date as ingestion reads it, or None when unreadable, out of range or a placeholder."""
    read = parse_timestamp(value, country, hint)
    return evaluate("cdp_birth_date(?::DATE, ?::VARCHAR)", read.date(), value) if read else None
