"""Scoring one record against the staged records without writing anything (`POST /resolve`).

The record is a dict of staged columns, already standardised the way ingestion standardises
(first_name, first_name_root, last_name, email, phone, birth_date as a date, ...). Candidates are
the staged records sharing any blocking key with it; term frequencies come from all staged records,
so a common surname counts as little here as it does in a pipeline run.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI

from identity.model import INPUT_SQL, make_linker
from identity.predict import explanation_sql
from identity.settings import PREDICTION_RULES

QUERY_COLUMNS = {
    "record_id": pa.string(), "source": pa.string(), "first_name": pa.string(), "first_name_root": pa.string(),
    "middle_name": pa.string(), "last_name": pa.string(), "name_suffix": pa.string(), "email": pa.string(),
    "phone": pa.string(), "street": pa.string(), "city": pa.string(), "postcode": pa.string(),
    "tax_id": pa.string(), "birth_date": pa.date32(),
}


def resolve(
    con: duckdb.DuckDBPyConnection, model: dict[str, Any], record: dict[str, Any], floor: float = 0.5, limit: int = 10
) -> list[dict[str, Any]]:
    """Staged records matching `record` at or above `floor`, best first: {record_id, match_probability, explanation}."""
    row = {c: [record.get(c)] for c in QUERY_COLUMNS} | {"record_id": ["__query__"], "source": ["__query__"]}
    con.register("resolve_raw", pa.table(row, schema=pa.schema(QUERY_COLUMNS)))
    query = con.sql(INPUT_SQL.format(table="resolve_raw")).to_arrow_table()
    con.register("resolve_query", query)
    candidates = con.sql(_candidates_sql()).to_arrow_table()
    tf_tables = {col: _term_frequencies(con, col) for col in _tf_columns(model)}
    for name in ("resolve_raw", "resolve_query"):
        con.unregister(name)
    if candidates.num_rows == 0:
        return []
    return _score(model, query, candidates, tf_tables, floor, limit)


def _candidates_sql() -> str:
    """Staged records sharing a blocking key with the query: the prediction rules, l as query, r as staged."""
    keys = " or ".join("(" + _SIDES.sub(lambda m: "q." if m.group(1) == "l" else "s.", rule) + ")"
                       for rule in PREDICTION_RULES)
    return f"select distinct s.* from ({INPUT_SQL.format(table='staged')}) s join resolve_query q on {keys}"


_SIDES = re.compile(r"\b([lr])\.")


def _tf_columns(model: dict[str, Any]) -> set[str]:
    levels = (lv for c in model["comparisons"] for lv in c["comparison_levels"])
    return {lv["tf_adjustment_column"] for lv in levels if lv.get("tf_adjustment_column")}


def _term_frequencies(con: duckdb.DuckDBPyConnection, col: str) -> pa.Table:
    return con.sql(f"""select {col}, count(*) / sum(count(*)) over () as tf_{col}
        from ({INPUT_SQL.format(table='staged')}) where {col} is not null group by 1""").to_arrow_table()


def _score(
    model: dict[str, Any], query: pa.Table, candidates: pa.Table, tf_tables: dict[str, pa.Table],
    floor: float, limit: int,
) -> list[dict[str, Any]]:
    db_api = DuckDBAPI()
    linker = make_linker(candidates, model, db_api)
    for col, table in tf_tables.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table), col)
    scored = linker.inference.score_pairs(db_api.register(query), db_api.register(candidates))
    rows = db_api.duckdb_con.execute(f"""
        select unique_id_r as record_id, match_probability, {explanation_sql(model)} as explanation
        from {scored.physical_name} where match_probability >= ? order by match_probability desc limit ?""",
        [floor, limit]).fetchall()
    return [{"record_id": r, "match_probability": p, "explanation": e} for r, p, e in rows]
