"""`cdp demo`: files a seed reproduces, a config that loads, truth that is exactly what ingestion publishes,
the people's realistic overlaps (households, nicknames, twins, maiden names), and planted flaws caught."""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from cdp.config import SqlLocation, load_config
from cdp.demo import write_demo
from cdp.demo.contacts import contacts
from cdp.demo.population import CHILD, population
from cdp.demo.vocab import vocab
from identity.ids import assign_customer_ids
from identity.traits import build_traits
from ingestion import check_columns
from ingestion.load import load_source
from ingestion.stage import build_unions, stage_source

FILES = ("cdp.yaml", "truth.csv", "flaws.csv", "sales_contacts.csv", "sales_orders.csv",
         "service_requesters.jsonl", "service_tickets.csv")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo") / "out", people=600, seed=5)


@pytest.fixture(scope="module")
def con(demo: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The demo loaded and staged by ingestion's own functions, with truth.csv and flaws.csv beside."""
    cfg = load_config(demo)
    con = duckdb.connect()
    for name, src in cfg.sources.items():
        load_source(con, name, src)
        stage_source(con, name, src)
    build_unions(con, cfg)
    con.execute(f"create table truth as select * from read_csv('{demo.parent / 'truth.csv'}', all_varchar=true)")
    con.execute(f"create table flaws as select * from read_csv('{demo.parent / 'flaws.csv'}', all_varchar=true)")
    con.execute("create table who as select s.*, t.person_id from staged s join truth t using (source, source_id)")
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    return con.execute(sql).fetchall()


def finance_tables(folder: Path) -> list[list[tuple]]:  # type: ignore[type-arg]
    with sqlite3.connect(folder / "finance.db") as db:
        return [db.execute(f"select * from {t}").fetchall() for t in ("accounts", "invoices")]


def test_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    one, two, other = (write_demo(tmp_path / name, people=150, seed=seed).parent
                       for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    for name in FILES:  # the config may name its folder: compare it with the folder left out
        texts = [(folder / name).read_text().replace(str(folder.resolve()), "DIR") for folder in (one, two)]
        assert texts[0] == texts[1], name
    assert (one / "truth.csv").read_bytes() != (other / "truth.csv").read_bytes()
    assert finance_tables(one) == finance_tables(two)
    # and on any machine and library version: bench figures rest on these files (pandas 2.3 and 3.1 write
    # the same bytes); a deliberate change of the demo updates this digest
    digest = hashlib.sha256(repr(finance_tables(one)).encode())
    for name in FILES[1:]:  # the config is left out: its format is not the data
        digest.update((one / name).read_bytes())
    assert digest.hexdigest()[:16] == "89db710078eded6c"


def test_config_loads_with_paths_beside_it(demo: Path) -> None:
    cfg = load_config(demo)
    check_columns(cfg)  # every mapped column is in the files
    assert set(cfg.sources) == {"finance", "sales", "service"}
    finance = cfg.sources["finance"].location
    assert isinstance(finance, SqlLocation) and finance.url == f"sqlite:///{demo.parent / 'finance.db'}"
    assert cfg.warehouse_path.parent.parent == demo.parent
    assert [i.name for s in cfg.sources.values() for i in s.interactions] == ["invoices", "orders", "tickets"]
    assert [s.trust for s in cfg.sources.values()] == [3, 2, 1]


def test_truth_is_exactly_the_published_records(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, "select count(*) from truth") == rows(con, "select count(*) from staged")
    unmatched = """select count(*) from staged s full join truth t using (source, source_id)
                   where s.record_id is null or t.person_id is null"""
    assert rows(con, unmatched) == [(0,)]
    # duplicates inside a silo: some people hold two records of one source
    twice = "select count(*) from (select 1 from truth group by source, person_id having count(*) > 1)"
    assert rows(con, twice)[0][0] > 0


def test_every_planted_bad_row_is_quarantined_with_its_reason(con: duckdb.DuckDBPyConnection) -> None:
    quarantined = rows(con, "select source, coalesce(source_id, ''), reason from quarantine")
    for source, source_id, problem in rows(con, "select source, coalesce(source_id, ''), problem from flaws"):
        expected = {"blank key": "blank key", "blank record key": "blank record key",
                    "repeated key (an earlier row holds it)": "duplicate key",
                    "repeated event id (an earlier event holds it)": "duplicate key",
                    "CSV line with surplus fields": "unreadable record", "line that is not JSON": "unreadable record"}
        if problem in expected:
            assert any(s == source and i == source_id and r.startswith(expected[problem])
                       for s, i, r in quarantined), (source, source_id, problem)
    lines = rows(con, "select source, raw->>'_line' from quarantine where reason like 'unreadable%' order by 1")
    assert [s for s, _ in lines] == ["sales", "service"]
    assert lines[0][1].startswith("C9999999,") and lines[1][1].startswith('{"requester_id": "R-broken"')
    # nothing else is quarantined: 2 blank and 3 repeated keys per source, 2 bad events per feed
    counts = rows(con, "select source, count(*) from quarantine group by 1 order by 1")
    assert counts == [("finance", 5), ("finance__invoices", 2), ("sales", 6), ("sales__orders", 2),
                      ("service", 6), ("service__tickets", 2)]


def test_planted_bad_values_are_published_and_reported(con: duckdb.DuckDBPyConnection) -> None:
    """Junk emails, phones, SSNs, dates, orphan events and unreadable times: the row stays, an issue says why."""
    missed = rows(con, """
        select f.* from flaws f anti join attribute_issues a
            on a.source = f.source and a.source_id = f.source_id and a.value = f.value
        where f.problem like 'junk%' or f.problem in ('record key no record holds', 'unreadable time')""")
    # a few junk values pass as plausible (123-45-6789 is a well-formed SSN); the rest must be reported
    assert all(problem == "junk tax_id" or value == "NA" for *_, value, problem in missed), missed
    junk = rows(con, "select count(*) from flaws where problem like 'junk%'")[0][0]
    assert junk >= 15 and len(missed) <= junk // 4


def test_households_share_addresses_landlines_and_family_emails(con: duckdb.DuckDBPyConnection) -> None:
    shared = """select {col}, count(distinct person_id) as people, count(distinct postcode) as postcodes
                from who where {col} is not null group by 1 having count(distinct person_id) > 1"""
    phones = rows(con, shared.format(col="phone"))
    emails = rows(con, shared.format(col="email"))
    assert len(phones) >= 10 and len(emails) >= 5
    # a shared landline is a household's: mostly one postcode (two when the household moved)
    assert sum(postcodes <= 2 for _, _, postcodes in phones) >= 0.9 * len(phones)
    streets = rows(con, "select count(*) from (select street from who where street is not null "
                        "group by street, postcode having count(distinct person_id) > 1)")
    assert streets[0][0] >= 20


def test_people_appear_under_nicknames_and_maiden_names(con: duckdb.DuckDBPyConnection) -> None:
    nick = rows(con, """select count(*) from (select person_id from who group by 1
                        having count(distinct first_name) > 1 and count(distinct first_name_root) = 1)""")
    assert nick[0][0] >= 20  # ROBERT in one silo, BOB in another: one root
    maiden = rows(con, """select count(*) from (select person_id from who where last_name is not null
                          group by 1 having count(distinct last_name) > 1)""")
    assert maiden[0][0] >= 10


def test_population_has_twins_juniors_and_maiden_names() -> None:
    rng = np.random.default_rng(1)
    pop = population(rng, 6000, vocab())
    contacts(rng, pop, vocab())
    p = pop.people
    kids = p[p["role"] == CHILD]
    twins = kids[kids.duplicated(["household", "dob"], keep=False)]
    assert len(twins) >= 2 and twins.groupby("household")["first"].nunique().min() == 2
    juniors = p[p["suffix"].notna()].groupby("household")["suffix"].agg(sorted)
    assert len(juniors) >= 3 and all(s == ["JR", "SR"] for s in juniors)
    assert p["maiden"].notna().mean() > 0.05 and (p["maiden"] != p["last"]).all()
    homes = p.merge(pop.households, left_on="household", right_index=True)
    assert homes.groupby("household")["landline"].nunique(dropna=False).max() == 1
    assert p["email"].dropna().is_unique and pop.households["family_email"].notna().sum() > 50


def test_interactions_link_to_records_and_carry_a_churn_signal(con: duckdb.DuckDBPyConnection) -> None:
    feeds = dict(rows(con, "select name, count(*) from interactions group by 1"))
    assert set(feeds) == {"invoices", "orders", "tickets"} and min(feeds.values()) >= 100
    orphans = rows(con, "select count(*) from interactions i anti join staged s using (record_id)")
    assert orphans == [(3,)]  # the one planted orphan per feed
    spread = rows(con, """select name, year(max("at")) - year(min("at")), count(amount)
                          from interactions group by 1 order by 1""")
    assert all(years >= 8 for _, years, _ in spread)
    assert [(n, a > 0) for n, _, a in spread] == [("invoices", True), ("orders", True), ("tickets", False)]
    # one customer per person, as if identity were perfect: complaints and churn risk are there
    con.execute("create or replace table clusters as select source || ':' || source_id as record_id, "
                "min(source || ':' || source_id) over (partition by person_id) as cluster_id from who")
    assign_customer_ids(con, "demo")
    build_traits(con)
    customers, at_risk, complaints = rows(con, "select count(*), count(*) filter (where churn_risk), "
                                               "count(*) filter (where complaints_90d > 0) from traits")[0]
    assert 0.02 * customers < at_risk < 0.3 * customers and complaints > 0


def test_tiny_and_bad_sizes(tmp_path: Path) -> None:
    cfg = load_config(write_demo(tmp_path / "tiny", people=3))
    check_columns(cfg)
    with open(tmp_path / "tiny" / "truth.csv") as f:
        assert {r["source"] for r in csv.DictReader(f)} == {"finance", "sales", "service"}
    with pytest.raises(ValueError, match="at least 1"):
        write_demo(tmp_path / "none", people=0)
    assert pd.read_csv(tmp_path / "tiny" / "truth.csv")["person_id"].between(0, 2).all()
