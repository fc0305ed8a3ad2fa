"""From scored pairs to clusters, without letting chains of plausible links join different people.

1. Connected components over the links at or above the threshold (plus stewards' must-links).
2. A component is clean when it is small enough, carries no steward cannot-link and shows no
   variation in tax id, birth date or first name: it becomes a cluster as it is. So does one whose
   values vary only by compatible ones (typos, nicknames): no guard could refuse a merge inside it.
3. Every other component is rebuilt by a greedy merge: links strongest first (must-links before
   all), joining two groups only when the merged group stays under the size bound, breaks no
   cannot-link and holds no two records that plainly belong to different people: their
   identifiers conflict (`identity.conflicts`: first names, birth dates, tax ids) and the model, comparing the two
   directly, did not find them more likely the same than not (the pair is not in match_pairs).
   A chain A-B-C whose ends conflict is thus cut at its weakest link.

Writes `clusters(record_id, cluster_id)` for every staged record; cluster_id is the smallest
record_id in the cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cdp.schema import CLUSTERS, IDENTITY_PENDING, MATCH_PAIRS, STAGED, STEWARD_DECISIONS
from cdp.warehouse import table_exists
from identity.conflicts import COMPATIBLE, Name, Person
from identity.incremental import (
    add_pending,
    is_full,
    linked_component_records,
    mark_decisions_seen,
    new_decisions,
    strong_pairs,
)

MUST_LINK = 2.0  # sorts before any probability
REASONS = {"tax": "tax_id", "dob": "birth_date", "name": "first_name"}


@dataclass
class ClusterStats:
    """What the clustering did, for asset metadata and the benchmark."""

    records: int = 0
    links: int = 0
    components: int = 0
    components_checked: int = 0
    components_split: int = 0
    clusters: int = 0
    largest: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, int]:
        flat = {k: v for k, v in asdict(self).items() if k != "rejected"}
        return flat | {f"rejected_{k}": v for k, v in sorted(self.rejected.items())}


class GuardedMerge:
    """Union-find whose groups remember their members' identifying values, and their cannot-links.

    A merge is refused when no value of an identifier in one group is compatible with any of the
    other group's values for it, unless the model scored some pair of records carrying them as
    plausible (it saw that difference and judged it a typo or a stale value).
    """

    def __init__(
        self, people: dict[int, Person], weighed: set[tuple[int, int]], max_size: int, cannot: list[tuple[int, int]]
    ) -> None:
        self.weighed = weighed
        self.max_size = max_size
        self.parent = {i: i for i in people}
        self.members = {i: [i] for i in people}
        self.values: dict[int, dict[str, dict[Any, list[int]]]] = {
            i: {f: {v: [i]} if v is not None else {} for f, v in p._asdict().items()} for i, p in people.items()
        }
        self.forbid: dict[int, set[int]] = {i: set() for i in people}
        for a, b in cannot:
            self.forbid[a].add(b)
            self.forbid[b].add(a)
        self.rejected: Counter[str] = Counter()

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def offer(self, i: int, j: int, must: bool = False) -> None:
        """Merge the groups of i and j unless a guard objects (a must-link overrides the guards)."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return
        reason = None if must else self._objection(a, b)
        if reason:
            self.rejected[reason] += 1
            return
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a] += self.members.pop(b)
        self.forbid[a] |= self.forbid.pop(b)
        for attr, held in self.values.pop(b).items():
            for value, holders in held.items():
                self.values[a][attr].setdefault(value, []).extend(holders)

    def _objection(self, a: int, b: int) -> str | None:
        if len(self.members[a]) + len(self.members[b]) > self.max_size:
            return "size"
        if any(self.find(x) == b for x in self.forbid[a]):
            return "steward"
        va, vb = self.values[a], self.values[b]
        for attr, compatible in COMPATIBLE.items():
            if attr != "tax" and va["tax"].keys() & vb["tax"].keys():
                continue  # a shared tax id vouches for the person behind a mistyped name or birth date
            if not self._agree(va[attr], vb[attr], compatible):
                return REASONS[attr]
        return None

    def _agree(self, mine: dict[Any, list[int]], theirs: dict[Any, list[int]], compatible: Callable) -> bool:
        """Whether some value of mine matches some value of theirs, or either side has none.

        A group's values of an identifier stay one family of typo variants: each new value must
        join the family through a value it is a typo of (or that the model judged plausible).
        """
        if not mine or not theirs or mine.keys() & theirs.keys():
            return True
        return any(compatible(u, v) or self._weighed(mine[u], theirs[v]) for u in mine for v in theirs)

    def _weighed(self, left: list[int], right: list[int]) -> bool:
        return any((min(i, j), max(i, j)) in self.weighed for i in left for j in right)


def cluster_records(con: duckdb.DuckDBPyConnection, threshold: float, max_size: int,
                    scope: str | None = None) -> ClusterStats:
    """Build the `clusters` table from `match_pairs` and steward decisions; return what happened.

    With `scope`, a table of record ids closed under links (whole components, as
    `identity.incremental.linked_component_records` finds them), only those records are clustered again and
    every other record keeps its cluster: the guards work within a component, so the result is the same.
    """
    records = f"{STAGED} semi join {scope} using (record_id)" if scope else STAGED
    # Each record's identifiers ride along, so the guards read them by index, not by joining staged on its ids.
    con.execute(f"""create or replace temp table cluster_nodes as select record_id,
        (row_number() over (order by record_id) - 1)::bigint as idx, tax_id, strftime(birth_date, '%Y%m%d') as dob,
        first_name, first_name_root, last_name from {records}""")
    n = con.execute("select count(*) from cluster_nodes").fetchall()[0][0]
    edges = _pairs(con)
    strong = edges[2] >= threshold
    cannot = _cannot_links(con)
    graph = coo_matrix((np.ones(int(strong.sum())), (edges[0][strong], edges[1][strong])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    checked, splittable = _components_to_check(con, comp, cannot, max_size)
    labels, merge, split = _rebuild(con, comp, splittable, edges, strong, cannot, max_size)
    _write(con, labels, replace=scope is None)
    sizes = np.bincount(np.unique(labels, return_inverse=True)[1]) if n else np.zeros(1, dtype=int)
    return ClusterStats(
        records=n, links=int(strong.sum()), components=int(comp.max(initial=-1) + 1),
        components_checked=int(checked.size), components_split=split, clusters=int(sizes.size if n else 0),
        largest=int(sizes.max()), rejected=dict(merge.rejected),
    )


def _pairs(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left idx, right idx, strength) of every scored pair and must-link, must-links first, strongest first."""
    must = _decided_pairs(con, "match", MUST_LINK)
    rows = con.execute(f"""
        select l.idx as i, r.idx as j, p.match_probability as p from {MATCH_PAIRS} p
        join cluster_nodes l on l.record_id = p.record_id_l join cluster_nodes r on r.record_id = p.record_id_r
        {must}
        order by 3 desc, 1, 2""").fetchnumpy()
    return tuple(rows[c] for c in rows)  # type: ignore[return-value]


def _decided_pairs(con: duckdb.DuckDBPyConnection, decision: str, strength: float) -> str:
    """SQL `union all` of the latest steward decision per pair, when stewards have decided any."""
    if not table_exists(con, STEWARD_DECISIONS):
        return ""
    return f"""union all select l.idx, r.idx, {strength} from (
        select record_id_l, record_id_r, arg_max(decision, "at") as decision from {STEWARD_DECISIONS} group by all
    ) d join cluster_nodes l on l.record_id = d.record_id_l join cluster_nodes r on r.record_id = d.record_id_r
    where d.decision = '{decision}'"""


def _cannot_links(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    sql = _decided_pairs(con, "no_match", 0.0).removeprefix("union all ")
    return [(a, b) for a, b, _ in con.execute(sql).fetchall()] if sql else []


def _components_to_check(
    con: duckdb.DuckDBPyConnection, comp: np.ndarray, cannot: list[tuple[int, int]], max_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Components that are too big, hold a cannot-link, or vary in an identifying attribute; and of those, the ones
    the greedy merge could split: too big, holding a cannot-link, or with two values of an identifier that are not
    compatible. In any other every merge passes the guards, so the merge would give the component back whole (at
    1M records all but 5.4k of the 66k checked components: their values are typo variants and nicknames)."""
    con.register("cluster_comp", pa.table({"idx": np.arange(comp.size, dtype=np.int64), "comp": comp}))
    # The values of the components that vary, listed in a second pass: listing every component's took seconds.
    rows = con.execute("""
        with checked as (
            select c.comp, count(*) > ? as too_big
            from cluster_comp c join cluster_nodes s using (idx)
            group by c.comp
            having count(*) > 1 and (count(*) > ? or count(distinct s.tax_id) > 1
                or count(distinct s.dob) > 1 or count(distinct s.first_name) > 1))
        select k.comp, any_value(k.too_big), list(distinct s.tax_id) filter (s.tax_id is not null),
            list(distinct s.dob) filter (s.dob is not null),
            list(distinct [s.first_name, s.first_name_root, s.last_name]) filter (s.first_name <> '')
        from checked k join cluster_comp c using (comp) join cluster_nodes s using (idx)
        group by k.comp""", [max_size, max_size]).fetchall()
    con.unregister("cluster_comp")
    forbidding = {int(comp[a]) for a, b in cannot if comp[a] == comp[b]}
    splittable = forbidding | {c for c, too_big, *values in rows if too_big or not _compatible(values)}
    return _ids(forbidding | {r[0] for r in rows}, comp.dtype), _ids(splittable, comp.dtype)


def _ids(components: set[int], dtype: np.dtype) -> np.ndarray:
    return np.asarray(sorted(components), dtype=dtype)


def _compatible(values: list[list[Any]]) -> bool:
    """Whether every two values of each identifier (tax ids, birth dates, names as [first, root, last]) could be
    one person's."""
    taxes, dobs, names = (held or [] for held in values)  # NULL where a component has none
    return (all(COMPATIBLE["tax"](u, v) for u, v in combinations(taxes, 2))
            and all(COMPATIBLE["dob"](u, v) for u, v in combinations(dobs, 2))
            and all(COMPATIBLE["name"](Name(*u), Name(*v)) for u, v in combinations(names, 2)))


def _rebuild(
    con: duckdb.DuckDBPyConnection, comp: np.ndarray, splittable: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray], strong: np.ndarray, cannot: list[tuple[int, int]],
    max_size: int,
) -> tuple[np.ndarray, GuardedMerge, int]:
    """Labels per record: the component, or for the components that could split the group the greedy merge made."""
    in_rebuilt = np.isin(comp, splittable)
    left, right, strength = edges
    inside = in_rebuilt[left] & in_rebuilt[right]
    weighed = {(min(i, j), max(i, j)) for i, j in zip(left[inside].tolist(), right[inside].tolist(), strict=True)}
    nodes = np.flatnonzero(in_rebuilt)
    # A cannot-link across two components holds already (no link joins them), and its far record may be
    # in a component nobody rebuilds: only those inside one rebuilt component constrain the merge.
    merge = GuardedMerge(_people(con, nodes), weighed, max_size,
                         [(a, b) for a, b in cannot if in_rebuilt[a] and comp[a] == comp[b]])
    for k in np.flatnonzero(inside & strong):
        merge.offer(int(left[k]), int(right[k]), must=bool(strength[k] >= MUST_LINK))
    labels = comp.astype(np.int64)
    for i in nodes:
        labels[i] = comp.size + merge.find(int(i))
    groups = {(int(comp[i]), int(labels[i])) for i in nodes}
    split = sum(n > 1 for n in Counter(c for c, _ in groups).values())
    return labels, merge, split


def _people(con: duckdb.DuckDBPyConnection, nodes: np.ndarray) -> dict[int, Person]:
    con.register("cluster_checked", pa.table({"idx": nodes.astype(np.int64)}))
    rows = con.execute("""
        select idx, first_name, first_name_root, last_name, dob, tax_id
        from cluster_checked join cluster_nodes using (idx)""").fetchall()
    con.unregister("cluster_checked")
    return {int(i): Person(Name(first, root, last) if first else None, dob, tax)
            for i, first, root, last, dob, tax in rows}


def _write(con: duckdb.DuckDBPyConnection, labels: np.ndarray, replace: bool) -> None:
    """Write the nodes' clusters: the whole table, or (not `replace`) over the nodes' and deleted records' rows."""
    con.register("cluster_labels", pa.table({"idx": np.arange(labels.size, dtype=np.int64), "label": labels}))
    labelled = """select n.record_id, min(n.record_id) over (partition by l.label) as cluster_id
        from cluster_nodes n join cluster_labels l using (idx) order by n.record_id"""
    if replace:
        con.execute(f"create or replace table {CLUSTERS} as {labelled}")
    else:
        con.execute(f"""delete from {CLUSTERS} where record_id in (select record_id from cluster_nodes)
            or record_id not in (select record_id from {STAGED})""")
        con.execute(f"insert into {CLUSTERS} {labelled}")
    con.unregister("cluster_labels")
    con.execute("drop table if exists cluster_nodes")


def cluster_changed(con: duckdb.DuckDBPyConnection, threshold: float, max_size: int) -> tuple[ClusterStats, str]:
    """`cluster_records` over what changed since the last run, or over everything after a full `match_pairs`.

    Re-clustered are the whole linked components (links and must-links) around the pending records, their
    previous cluster-mates, and the records of steward decisions not seen yet; they join the pending records.
    Returns the stats and the mode (`full` or `incremental`).
    """
    if is_full(con) or not table_exists(con, CLUSTERS):
        stats, mode = cluster_records(con, threshold, max_size), "full"
    else:
        pending = f"select record_id from {IDENTITY_PENDING}"
        seeds = f"""{pending} union all {new_decisions(con)} union all
            select c.record_id from {CLUSTERS} c semi join (select cluster_id from {CLUSTERS}
                where record_id in ({pending})) using (cluster_id)"""
        links = f"{strong_pairs(threshold)} union all {_must_links(con)}"
        linked_component_records(con, links, seeds, "_cluster_scope")
        stats, mode = cluster_records(con, threshold, max_size, scope="_cluster_scope"), "incremental"
        add_pending(con, "select record_id from _cluster_scope")
        con.execute("drop table _cluster_scope")
    mark_decisions_seen(con)
    return stats, mode


def _must_links(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: the pairs whose latest steward decision is a match (record_id_l, record_id_r)."""
    if not table_exists(con, STEWARD_DECISIONS):
        return "select NULL::VARCHAR as record_id_l, NULL::VARCHAR as record_id_r where false"
    return f"""select record_id_l, record_id_r from (select record_id_l, record_id_r,
        arg_max(decision, "at") as decision from {STEWARD_DECISIONS} group by all) where decision = 'match'"""
