"""The stewards' side of the serving store: the published review queue and the decisions made on it.

`review_candidates` is replaced by every publish like the other published tables; `review_decisions`
is written here, by the API, with an audit row in the same transaction, and no publish touches either.
The next run reads every decision back (serving.decisions) into the warehouse, where clustering honours
it. No web framework here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from api.reader import Page, decode_cursor, encode_cursor
from cdp.sealing import Sealer, unseal
from serving import audit
from serving.tables import review_candidates, review_decisions, source_records

Status = Literal["open", "decided", "all"]
Decision = Literal["match", "no_match"]


@dataclass(frozen=True)
class Recorded:
    """One decision as stored."""

    decision_id: int
    candidate_id: str
    decision: str
    who: str
    note: str | None
    at: dt.datetime


class ReviewDesk:
    """The review queue and the decisions: read over the API's pool (`engine`), decisions written through
    `writer` (serving.audit.write_engine); `sealer` opens the records of a queue published encrypted."""

    def __init__(self, engine: sa.Engine, writer: sa.Engine, sealer: Sealer | None = None) -> None:
        self.engine = engine
        self.writer = writer
        self.sealer = sealer
        c, d = review_candidates.c, review_decisions.c
        latest = (sa.select(sa.func.max(review_decisions.c.decision_id)).where(d.candidate_id == c.candidate_id)
                  .correlate(review_candidates).scalar_subquery())
        self._queue = (sa.select(c.candidate_id, c.match_probability, c.status, c.left_record, c.right_record,
                                 c.explanation, d.decision_id, d.decision, d.who, d.note, d.at)
                       .select_from(review_candidates.outerjoin(
                           review_decisions, sa.and_(d.candidate_id == c.candidate_id, d.decision_id == latest)))
                       .order_by(c.match_probability.desc(), c.candidate_id))

    def candidates(self, status: Status, limit: int, cursor: str | None = None) -> Page:
        """Candidates as dicts, most likely matches first; a candidate decided since the publish is 'decided'.

        Each carries its latest decision (or None).
        """
        c, d = review_candidates.c, review_decisions.c
        query = self._queue.limit(limit + 1)
        if status == "open":
            query = query.where(c.status == "open", d.decision_id.is_(None))
        elif status == "decided":
            query = query.where(sa.or_(c.status == "decided", d.decision_id.is_not(None)))
        if cursor is not None:
            probability, after = decode_cursor(cursor, (float, str))
            query = query.where(sa.or_(c.match_probability < probability,
                                       sa.and_(c.match_probability == probability, c.candidate_id > str(after))))
        with self.engine.connect() as con:
            rows = con.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        token = encode_cursor([rows[-1].match_probability, rows[-1].candidate_id]) if more else None
        return Page([_candidate(r, self.sealer) for r in rows], token)

    def candidate(self, candidate_id: str) -> dict[str, Any] | None:
        """One published candidate as `candidates` lists it (with its latest decision), or None."""
        with self.engine.connect() as con:
            row = con.execute(self._queue.where(review_candidates.c.candidate_id == candidate_id)).first()
        return _candidate(row, self.sealer) if row is not None else None

    def decide(self, candidate_id: str, decision: Decision, who: str, note: str | None) -> Recorded | None:
        """Record a decision on a published candidate (the pair's record ids copied along), and audit it with
        the two records' customers; None if no such candidate.

        One INSERT ... SELECT: the lookup and the write are one statement, so a publish swapping the
        queue in between cannot separate them.
        """
        at = audit.now()
        c = review_candidates.c
        source = sa.select(c.candidate_id, c.record_id_l, c.record_id_r, sa.literal(decision), sa.literal(who),
                           sa.literal(note, sa.Text), sa.literal(at, sa.DateTime)).where(c.candidate_id == candidate_id)
        names = ["candidate_id", "record_id_l", "record_id_r", "decision", "who", "note", "at"]
        d = review_decisions.c
        insert = sa.insert(review_decisions).from_select(names, source).returning(d.decision_id, d.record_id_l,
                                                                                 d.record_id_r)
        with self.writer.begin() as con:
            row = con.execute(insert).first()
            if row is None:
                return None
            audit.record(con, "decision", who, customer_id=_customer_of(row.record_id_l),
                         other_customer_id=_customer_of(row.record_id_r), candidate_id=candidate_id, detail=decision,
                         note=note, at=at)
        return Recorded(row.decision_id, candidate_id, decision, who, note, at)

    def involving(self, record_ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The published candidates pairing any of these records (with their latest decision), and every
        decision recorded on a pair of them, oldest first: what an access request shows."""
        c, d = review_candidates.c, review_decisions.c
        with self.engine.connect() as con:
            rows = con.execute(self._queue.where(sa.or_(c.record_id_l.in_(record_ids),
                                                        c.record_id_r.in_(record_ids)))).all()
            decided = con.execute(sa.select(d.decision_id, d.candidate_id, d.decision, d.who, d.note, d.at)
                                  .where(sa.or_(d.record_id_l.in_(record_ids), d.record_id_r.in_(record_ids)))
                                  .order_by(d.decision_id)).all()
        return [_candidate(r, self.sealer) for r in rows], [r._asdict() for r in decided]


def _customer_of(record_id: str) -> sa.ScalarSelect[Any]:
    """SQL: the published customer of a record id ('<source>:<source_id>'; source names hold no colon)."""
    source, _, source_id = record_id.partition(":")
    sr = source_records.c
    return sa.select(sr.customer_id).where(sr.source == source, sr.source_id == source_id).scalar_subquery()


def _candidate(row: Any, sealer: Sealer | None) -> dict[str, Any]:
    """A queue row as the API answers it (JSON columns opened and parsed, the latest decision folded in)."""
    decided = row.decision_id is not None
    left, right = (json.loads(unseal(text, sealer, review_candidates.name, column, row.candidate_id))
                   for text, column in ((row.left_record, "left_record"), (row.right_record, "right_record")))
    return {"candidate_id": row.candidate_id, "status": "decided" if decided else row.status,
            "match_probability": row.match_probability, "left": left,
            "right": right, "explanation": json.loads(row.explanation),
            "decision": {"decision": row.decision, "who": row.who, "note": row.note, "at": row.at} if decided else None}

