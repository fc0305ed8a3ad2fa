"""customer_links: each record's strongest scored link inside its customer, as publish computes it."""

from __future__ import annotations

import json

import duckdb

from cdp.schema import MATCH_PAIRS, RECORD_CUSTOMER
from serving.build import links_sql

CUSTOMERS = {"s:a": "C1", "s:b": "C1", "s:c": "C1", "s:d": "C2", "s:e": "C2", "s:f": "C3"}
PAIRS = [("s:a", "s:b", 0.99), ("s:b", "s:c", 0.95), ("s:a", "s:c", 0.6), ("s:d", "s:e", 0.8),
         ("s:a", "s:d", 0.97)]  # a and d: scored high, yet in two customers (cut by the guards)


def test_each_record_keeps_its_strongest_link_inside_its_customer() -> None:
    con = duckdb.connect()
    con.execute(f"create table {RECORD_CUSTOMER} (record_id varchar, customer_id varchar)")
    con.executemany(f"insert into {RECORD_CUSTOMER} values (?, ?)", list(CUSTOMERS.items()))
    con.execute(f"""create table {MATCH_PAIRS} (record_id_l varchar, record_id_r varchar, match_probability double,
                    match_weight double, explanation json)""")
    con.executemany(f"insert into {MATCH_PAIRS} values (?, ?, ?, 0, ?)",
                    [(left, right, p, f'[{{"comparison": "email", "level": "exact", "weight": {p}}}]')
                     for left, right, p in PAIRS])
    rows = con.execute(links_sql()).fetchall()
    assert [r[:4] for r in rows] == [("C1", "s:a", "s:b", 0.99), ("C1", "s:b", "s:c", 0.95), ("C2", "s:d", "s:e", 0.8)]
    assert json.loads(rows[0][4]) == [{"comparison": "email", "level": "exact", "weight": 0.99}]
