"""Which level of a comparison a pair of staged records lands in, evaluated as Splink does (first true level)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from identity import settings as sql
from identity.model import INPUT_SQL, with_block_sizes
from tests.utils.staged import staged_row, write_staged

ANNETTE = {"first_name": "ANNETTE", "last_name": "HARVEY"}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def level_of(comparison: dict[str, Any], left: dict[str, Any], right: dict[str, Any]) -> str:
    """The label of the first level of `comparison` whose condition holds for the two records."""
    con = duckdb.connect()
    write_staged(con, [staged_row("l", "1", **left), staged_row("r", "1", **right)])
    cols = con.sql(INPUT_SQL.format(table="staged")).columns
    pairs = ", ".join([*(f"l.{c} as {c}_l" for c in cols), *(f"r.{c} as {c}_r" for c in cols)])
    whens = " ".join(f"when {lv['sql_condition']} then {_quoted(lv['label_for_charts'])}"
                     for lv in comparison["comparison_levels"] if lv["sql_condition"] != "ELSE")
    return con.sql(f"""with s as ({INPUT_SQL.format(table="staged")})
        select case {whens} else 'different' end from (select {pairs} from s l, s r
        where l.source = 'l' and r.source = 'r')""").fetchall()[0][0]


@pytest.mark.parametrize(("left", "right", "expected"), [
    ("annette.harvey62@icloud.com", "anunette.harvey62@icloud.com", "typo in the user name, names compatible"),
    ("annette.harvey62@icloud.com", "annete.harvy62@icloud.com", "typo in the user name, names compatible"),
    ("annette.harvey62@icloud.com", "annette.harvey62@gmail.com", "same user, other domain, names compatible"),
    ("annette.harvey62@icloud.com", "anunette.harvey62@gmail.com", "different"),  # a typo and another provider
    ("anne1@icloud.com", "anne2@icloud.com", "different"),  # short user names: too often two people
    ("annette.harvey62@icloud.com", "annette.harvey63@icloud.com", "different"),  # numbers are people's
    ("annette.harvey62@icloud.com", "annette.harvey62@icloud.com", "same, names compatible"),
])
def test_email_levels(left: str, right: str, expected: str) -> None:
    assert level_of(sql.email(), ANNETTE | {"email": left}, ANNETTE | {"email": right}) == expected


def test_an_email_typo_between_two_first_names_is_a_household() -> None:
    other = ANNETTE | {"first_name": "GEORGE", "email": "anunette.harvey62@icloud.com"}
    assert level_of(sql.email(), ANNETTE | {"email": "annette.harvey62@icloud.com"}, other).endswith("(household)")


def test_one_street_counts_once_not_again_as_postcode_and_city() -> None:
    home = {"street": "12 BIRCH RD", "postcode": "00042", "city": "SPRINGFIELD"}
    assert level_of(sql.area(), ANNETTE | home, ANNETTE | home) == "same street (counted by street)"
    moved = home | {"street": "3 OAK ST"}
    assert level_of(sql.area(), ANNETTE | home, ANNETTE | moved) == "same postcode and city"


@pytest.mark.parametrize("name", sql.GATED)
def test_ungated_forms_have_the_gated_levels_without_the_fixed_ones(name: str) -> None:
    gated, ungated = (next(c for c in sql.comparisons(g) if c["output_column_name"] == name) for g in (True, False))
    labels = [lv["label_for_charts"] for lv in gated["comparison_levels"] if not lv.get("fix_m_probability")]
    assert labels == [lv["label_for_charts"] for lv in ungated["comparison_levels"]
                      if not lv.get("fix_m_probability")]
    assert all(sql.SAME_PERSON_POSSIBLE not in lv["sql_condition"] for lv in ungated["comparison_levels"])


@pytest.mark.parametrize("shared", [{"email": "debra.fairley@icloud.com"}, {"phone": "+13154679742"},
                                    {"birth_date": "1980-02-03", "street": "3 OAK ST"},
                                    {"birth_date": "1980-02-03", "postcode": "13901"}])
def test_a_changed_surname_with_a_first_name_and_a_contact_in_common_is_no_evidence_against(
        shared: dict[str, str]) -> None:
    left, right = {"first_name": "DEBRA", "last_name": "FAIRLEY"}, {"first_name": "DEBRA", "last_name": "HACKMAN"}
    assert level_of(sql.last_name(), left | shared, right | shared).endswith("(surname changed)")
    assert level_of(sql.last_name(), left, right) == "different"


def test_a_first_name_and_birth_date_alone_do_not_excuse_a_different_surname() -> None:
    left, right = {"first_name": "DEBRA", "last_name": "FAIRLEY"}, {"first_name": "DEBRA", "last_name": "HACKMAN"}
    born = {"birth_date": "1980-02-03"}
    assert level_of(sql.last_name(), left | born, right | born) == "different"


def test_a_relative_filed_last_name_first_is_a_household_not_a_person() -> None:
    gwendolyn = {"first_name": "WARREN", "last_name": "GWENDOLYN", "phone": "+13154679742"}
    shirley = {"first_name": "SHIRLEY", "last_name": "WARREN", "phone": "+13154679742"}
    assert level_of(sql.phone(), gwendolyn, shirley).endswith("(household)")
    assert level_of(sql.phone(), gwendolyn | {"last_name": "SHIRLEY"}, shirley) == "same, names compatible"


def test_swapped_names_are_weighed_once() -> None:
    left, right = {"first_name": "JAMES", "last_name": "BLACKBURN"}, {"first_name": "BLACKBURN", "last_name": "JAMES"}
    assert level_of(sql.first_name(), left, right) == "swapped with last name"
    label = level_of(sql.last_name(), left, right)
    assert label == "swapped with first name (counted by first name)"
    level = next(lv for lv in sql.last_name()["comparison_levels"] if lv["label_for_charts"] == label)
    assert level["m_probability"] == level["u_probability"]


def test_names_swapped_with_a_typo_in_one_are_candidates_through_the_birth_date() -> None:
    con = duckdb.connect()
    write_staged(con, [staged_row("l", "1", first_name="TIPPINS", last_name="HACRY", birth_date="1949-07-06"),
                       staged_row("r", "1", first_name="HARRY", last_name="TIPPINS", birth_date="1949-07-06")])
    pairs = f"with s as ({INPUT_SQL.format(table='staged')}) select count(*) from s l, s r where l.source <> r.source"
    blocked = [rule for rule in sql.PREDICTION_RULES if con.sql(f"{pairs} and {rule}").fetchall()[0][0]]
    assert blocked and all("dob" in rule for rule in blocked)


def test_rules_of_like_keys_on_both_sides_are_capped_and_swaps_are_not() -> None:
    assert sql.capped("l.email = r.email") == f"l.email = r.email AND l.block_size_email <= {sql.MAX_BLOCK}"
    assert sql.block_keys("l.dob = r.dob AND left(l.last_name, 1) = left(r.last_name, 1)") == \
           ["dob", "LEFT(last_name, 1)"]
    assert sql.block_size_column(["dob", "LEFT(last_name, 1)"]) == "block_size_dob_left_last_name_1"
    for uncapped in ("l.first_name = r.last_name AND l.last_name = r.first_name", "l.dob = r.dob AND l.x > r.x"):
        assert sql.capped(uncapped) == uncapped
    rules = sql.settings()["blocking_rules_to_generate_predictions"]
    assert len(rules) == len(sql.PREDICTION_RULES)
    assert sum("block_size_" in rule for rule in rules) == 14
    assert sql.block_keys(sql.capped("l.phone = r.phone")) == ["phone"]


def test_each_rule_capped_at_the_split_cap_is_followed_by_its_split_capped_at_the_block_cap() -> None:
    """A block over SPLIT_BLOCK is split by one more key, not dropped; the split's own blocks may hold MAX_BLOCK."""
    rules = sql.settings()["blocking_rules_to_generate_predictions"]
    assert len(sql.SPLIT_RULES) == 3
    for rule in sql.SPLIT_RULES:
        n = sql.PREDICTION_RULES.index(rule)
        split = sql.PREDICTION_RULES[n + 1]
        keys = sql.block_keys(split)
        assert split.startswith(f"{rule} AND ") and keys is not None and keys[:-1] == sql.block_keys(rule)
        assert rules[n].endswith(f" <= {sql.SPLIT_BLOCK}")
        floor = f"l.{sql.block_size_column(keys[:-1])} > {sql.SPLIT_BLOCK}"
        assert rules[n + 1].endswith(f" <= {sql.MAX_BLOCK} AND {floor}")
        assert sql.block_keys(rules[n + 1]) == keys and f"l.{sql.block_size_column(keys)}" in rules[n + 1]


def test_a_split_reads_only_blocks_over_the_split_cap_and_pairs_what_it_paired_before() -> None:
    """Postcode 1 holds 12 LEES (a block over SPLIT_BLOCK, split by the first initial), postcode 2 holds 4
    (paired by the first rule): the split's floor keeps it off postcode 2 and every rule's pairs stay the same."""
    initials = "AABBBCCCDDEE"
    rows = [staged_row("s", f"a{i}", first_name=f"{c}{'XYZWVUTSRQPO'[i]}", last_name="LEE", postcode="1")
            for i, c in enumerate(initials)]
    rows += [staged_row("s", f"b{i}", first_name=f"A{'XYZW'[i]}", last_name="LEE", postcode="2") for i in range(4)]
    con = duckdb.connect()
    write_staged(con, rows)
    con.register("records", with_block_sizes(con.sql(INPUT_SQL.format(table="staged")).to_arrow_table(),
                                             sql.settings()))

    def pairs(rule: str) -> set[tuple[str, str]]:
        return set(con.sql(f"select l.unique_id, r.unique_id from records l join records r on {rule} "
                           "where l.unique_id < r.unique_id").fetchall())

    rule = "l.last_name = r.last_name AND l.postcode = r.postcode"
    split = sql.PREDICTION_RULES[sql.PREDICTION_RULES.index(rule) + 1]
    first, floored = sql.capped(rule), sql.capped(split)
    assert floored.endswith(f" > {sql.SPLIT_BLOCK}") and sql.block_keys(floored) == sql.block_keys(split)
    unfloored = floored.rsplit(" AND ", 1)[0]
    assert len(pairs(first)) == 6  # postcode 2's four records; postcode 1's twelve are over the cap
    assert len(pairs(floored)) == 1 + 3 + 3 + 1 + 1  # postcode 1's pairs of one initial
    assert pairs(first) | pairs(floored) == pairs(first) | pairs(unfloored)
    assert not pairs(first) & pairs(floored)
