"""Values that fail their country's rules but are still evidence: kept for matching, flagged; the rest dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cdp.config import Config
from ingestion.load import load_source
from ingestion.stage import stage_source
from ingestion.standardise import normalise_phone
from tests.utils.sources import write_config, write_csv

HEADER = ("id", "name", "phone", "tax_id")


def stage(folder: Path, rows: list[tuple[str, ...]], **source: Any) -> duckdb.DuckDBPyConnection:
    """Stage one CSV source `people` of these rows (HEADER columns); extra keys go into its config."""
    write_csv(folder / "people.csv", HEADER, rows)
    cfg: Config = write_config(folder, {"people": {
        "connector": "csv", "path": "people.csv", "key": "id",
        "fields": {"full_name": "name", "phone": "phone", "tax_id": "tax_id"}, **source}})
    con = duckdb.connect()
    load_source(con, "people", cfg.sources["people"])
    stage_source(con, "people", cfg.sources["people"])
    return con


def staged(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, Any]:
    return dict(con.execute(f"select source_id, {column} from staged_people").fetchall())


def issues(con: duckdb.DuckDBPyConnection, field: str) -> dict[str, str]:
    return dict(con.execute("select source_id, reason from attribute_issues where field = ?", [field]).fetchall())


def test_a_possible_phone_is_kept_flagged_and_an_impossible_one_dropped(tmp_path: Path) -> None:
    phones = {"1": "(212) 555-0100", "2": "(999) 555-0100", "3": "555-0100", "4": "212 555 01000"}
    con = stage(tmp_path, [(k, "Ann Lee", v, "") for k, v in phones.items()])
    assert staged(con, "phone") == {"1": "+12125550100", "2": "+19995550100", "3": None, "4": None}
    assert issues(con, "phone") == {
        "2": "kept for matching; not a valid number for US (unassigned area code?)",
        "3": "not a possible phone number for US", "4": "not a possible phone number for US"}
    # the API reads a search value the way staging read the data
    assert {k: normalise_phone(v, "US") for k, v in phones.items()} == staged(con, "phone")


AUSTRALIAN = [(str(i), "Ann Lee", "", f"{40000000 + 7919 * i}") for i in range(12)]  # 8 digits, not SSNs


def test_tax_ids_of_a_source_without_country_that_are_mostly_not_ssns_are_kept_flagged(tmp_path: Path) -> None:
    con = stage(tmp_path, [*AUSTRALIAN, ("x", "Ann Lee", "", "12")])
    assert staged(con, "tax_id") == {k: v for k, _, _, v in AUSTRALIAN} | {"x": None}
    flagged = issues(con, "tax_id")
    assert flagged.pop("x") == "not 5 to 20 digits"
    assert set(flagged.values()) == {"kept for matching; an SSN has 9 digits (most of the source's tax ids fail "
                                     "the US rules and it sets no `country:`)"}
    assert set(flagged) == {k for k, *_ in AUSTRALIAN}


def test_a_source_that_says_it_is_american_keeps_only_ssns(tmp_path: Path) -> None:
    con = stage(tmp_path, AUSTRALIAN, country="US")
    assert set(staged(con, "tax_id").values()) == {None}
    assert set(issues(con, "tax_id").values()) == {"an SSN has 9 digits"}


def test_a_source_of_another_country_keeps_its_tax_ids_unflagged(tmp_path: Path) -> None:
    con = stage(tmp_path, AUSTRALIAN, country="AU")
    assert staged(con, "tax_id") == {k: v for k, _, _, v in AUSTRALIAN}
    assert issues(con, "tax_id") == {}


def test_junk_ssns_of_a_mostly_american_source_stay_dropped(tmp_path: Path) -> None:
    """Placeholders (123-45-6789) are shared by strangers: keeping them would join them."""
    ssns = [(str(i), "Ann Lee", "", f"219-09-{1000 + i}") for i in range(10)]
    con = stage(tmp_path, [*ssns, ("j1", "Bo Li", "", "123-45-6789"), ("j2", "Cy Ng", "", "21909999")])
    assert staged(con, "tax_id")["0"] == "219091000"
    assert (staged(con, "tax_id")["j1"], staged(con, "tax_id")["j2"]) == (None, None)
    assert issues(con, "tax_id") == {"j1": "not a valid SSN (area, group or serial not issued)",
                                     "j2": "an SSN has 9 digits"}
