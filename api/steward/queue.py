"""The queue as a steward works it: open candidates ranked by how much a decision would change.

A candidate whose two records are in two customers is a link the model or the guards left out: "Match"
would join those customers, so the records at stake are both customers' records; one the clustering
guards cut (scored past the match threshold, yet kept apart) comes first of all. A candidate inside one
customer is a link the model was unsure of: "Not a match" would split that customer. More records at stake
ranks higher; the likelier match breaks ties. The candidates come from api.review_desk, the customers
from the published source records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.review_desk import ReviewDesk
from serving.tables import source_records

PAGE = 500
"""Candidates read per query, and record pairs looked up per query (within every store's parameter limit)."""


@dataclass(frozen=True)
class Placed:
    """A record's published customer and how many records that customer has."""

    customer_id: str
    size: int


@dataclass(frozen=True)
class Ranked:
    """An open candidate with the customers of its two records (None: a record not published, e.g. erased)."""

    candidate: dict[str, Any]
    left: Placed | None
    right: Placed | None
    guards_cut: bool

    @property
    def joins(self) -> bool:
        """Whether the records are in two customers (a match would join them)."""
        return self.left is not None and self.right is not None and self.left.customer_id != self.right.customer_id

    @property
    def at_stake(self) -> int:
        """The records whose customer a decision could change."""
        sizes = [p.size for p in (self.left, self.right) if p is not None]
        return sum(sizes) if self.joins else max(sizes, default=0)


def open_candidates(review: ReviewDesk) -> list[dict[str, Any]]:
    """Every open candidate (as GET /review/candidates answers them), page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = review.candidates("open", PAGE, cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def placed(engine: sa.Engine, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Placed]:
    """(source, source_id) -> its customer and the customer's size, for the records that are published."""
    pairs = sorted(set(records))
    sr = source_records.c
    found: dict[tuple[str, str], Placed] = {}
    with engine.connect() as con:
        for start in range(0, len(pairs), PAGE):
            owners = (sa.select(sr.source, sr.source_id, sr.customer_id)
                      .where(sa.tuple_(sr.source, sr.source_id).in_(pairs[start:start + PAGE])).subquery())
            sizes = (sa.select(sr.customer_id, sa.func.count().label("size"))
                     .where(sr.customer_id.in_(sa.select(owners.c.customer_id))).group_by(sr.customer_id).subquery())
            rows = con.execute(sa.select(owners, sizes.c.size)
                               .join_from(owners, sizes, owners.c.customer_id == sizes.c.customer_id)).all()
            found.update({(r.source, r.source_id): Placed(r.customer_id, r.size) for r in rows})
    return found


def rank(candidates: list[dict[str, Any]], engine: sa.Engine, threshold: float) -> list[Ranked]:
    """The candidates with their records' customers, most at stake first (guard cuts before everything)."""
    where = placed(engine, [_ref(c[side]) for c in candidates for side in ("left", "right")])
    ranked = []
    for c in candidates:
        left, right = where.get(_ref(c["left"])), where.get(_ref(c["right"]))
        apart = left is not None and right is not None and left.customer_id != right.customer_id
        ranked.append(Ranked(c, left, right, guards_cut=apart and c["match_probability"] >= threshold))
    return sorted(ranked, key=lambda r: (not r.guards_cut, -r.at_stake, -r.candidate["match_probability"],
                                         r.candidate["candidate_id"]))


def matching(candidates: list[dict[str, Any]], source: str | None, low: float, high: float) -> list[dict[str, Any]]:
    """The candidates with a record from `source` (None: any) and a match probability in [low, high]."""
    return [c for c in candidates if low <= c["match_probability"] <= high
            and (source is None or source in (c["left"]["source"], c["right"]["source"]))]


def _ref(record: dict[str, Any]) -> tuple[str, str]:
    return str(record["source"]), str(record["source_id"])
