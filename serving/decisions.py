"""The stewards' decisions, read back out of the serving store (the API writes them there) for the warehouse."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from serving.tables import review_decisions

DECISION_SCHEMA = pa.schema([("record_id_l", pa.string()), ("record_id_r", pa.string()), ("decision", pa.string()),
                             ("who", pa.string()), ("note", pa.string()), ("at", pa.timestamp("us"))])
"""The columns of the warehouse's steward_decisions (cdp/schema.py), as `decisions` returns them."""


def decisions(url: str) -> pa.Table:
    """Every decision in the store at `url`, oldest first, as steward_decisions rows; none before the first publish."""
    target = sa.make_url(url)
    if target.get_backend_name() == "sqlite" and not Path(target.database or "").is_file():
        return DECISION_SCHEMA.empty_table()  # no file yet (connecting would create one), or in-memory
    engine = sa.create_engine(target)
    try:
        if not sa.inspect(engine).has_table(review_decisions.name):
            return DECISION_SCHEMA.empty_table()
        d = review_decisions.c
        with engine.connect() as con:
            rows = con.execute(sa.select(d.record_id_l, d.record_id_r, d.decision, d.who, d.note, d.at)
                               .order_by(d.decision_id)).all()
    finally:
        engine.dispose()
    return pa.Table.from_pylist([r._asdict() for r in rows], DECISION_SCHEMA)

