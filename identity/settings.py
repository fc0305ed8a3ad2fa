"""The Splink model in code: what identifies a person, what a household merely shares.

Names, birth date and tax id say *who* a record is; email, phone and address say *where* a person
can be reached, and a household shares those. So the contact comparisons only count when the two
records could be the same person (first names compatible, birth dates not in conflict); a shared
family landline, email or street between two different first names carries a fixed weight of zero
instead of adding up to a false match.

Column names are those of the Splink input built by `identity.model.INPUT_SQL`.
"""

from __future__ import annotations

import re
from typing import Any, cast

import sqlglot
from sqlglot import exp

# Jaro-Winkler similarity above which two names are taken for typo variants of each other.
NAME_TYPO = 0.92
# A looser bound used only to decide whether two first names could belong to one person.
NAME_COMPATIBLE = 0.88


def edits(col: str, most: int) -> str:
    """SQL: `col` of the two records within `most` edits (Damerau-Levenshtein: a transposition is one edit).

    Levenshtein first: it is ~5x cheaper in DuckDB, never below Damerau-Levenshtein, and counts a
    transposition as two edits, so `levenshtein <= 2 * most` drops no pair within `most` and leaves the
    costly distance to the few close pairs (phones, random pairs in training)."""
    return f"levenshtein({col}_l, {col}_r) <= {2 * most} AND damerau_levenshtein({col}_l, {col}_r) <= {most}"


def _both(col: str) -> str:
    return f"{col}_l IS NOT NULL AND {col}_r IS NOT NULL"


def _null(col: str) -> str:
    return f"{col}_l IS NULL OR {col}_r IS NULL"


INITIAL = (
    "(length(first_name_l) = 1 OR length(first_name_r) = 1) AND left(first_name_l, 1) = left(first_name_r, 1)"
)
# First and last name entered the other way round, allowing a typo in one of them.
SWAPPED_SUM = 2 * NAME_TYPO - 0.1
SWAPPED = (
    "jaro_winkler_similarity(first_name_l, last_name_r) + jaro_winkler_similarity(last_name_l, first_name_r) "
    f">= {SWAPPED_SUM}"
)
DAY_MONTH_SWAP = (
    "left(dob_l, 4) = left(dob_r, 4) AND substr(dob_l, 5, 2) = substr(dob_r, 7, 2) "
    "AND substr(dob_l, 7, 2) = substr(dob_r, 5, 2)"
)
DOB_TYPO = edits("dob", 1)

# First and last entered the other way round: both names crossed (SWAPPED), or one record's first name
# the other's last where its own last name is lost. One crossed name beside a different one is a
# household ("WARREN, SHIRLEY" filed as first name WARREN beside GWENDOLYN WARREN), not a person.
CROSSED = (
    f"({SWAPPED}) OR (last_name_l IS NULL AND jaro_winkler_similarity(first_name_l, last_name_r) >= {NAME_TYPO}) "
    f"OR (last_name_r IS NULL AND jaro_winkler_similarity(first_name_r, last_name_l) >= {NAME_TYPO})"
)
# A typo of the formal name against a nickname (ADVID / DAVE): ingestion folds only the nickname.
ROOT_TYPO = (
    f"jaro_winkler_similarity(first_name_root_l, first_name_root_r) >= {NAME_TYPO} "
    f"OR ({edits('first_name_root', 1)})"
)
FIRST_COMPATIBLE = (
    f"({_null('first_name')} OR first_name_root_l = first_name_root_r "
    f"OR jaro_winkler_similarity(first_name_l, first_name_r) >= {NAME_COMPATIBLE} "
    f"OR ({edits('first_name', 1)}) OR {ROOT_TYPO} OR ({INITIAL}) OR ({CROSSED}))"
)
DOB_COMPATIBLE = f"({_null('dob')} OR {DOB_TYPO} OR ({DAY_MONTH_SWAP}))"
SUFFIX_COMPATIBLE = f"({_null('name_suffix')} OR name_suffix_l = name_suffix_r)"
SAME_PERSON_POSSIBLE = f"(({FIRST_COMPATIBLE} AND {DOB_COMPATIBLE} AND {SUFFIX_COMPATIBLE}) OR tax_id_l = tax_id_r)"
"""SQL, for a level's condition only: nothing in the two records' names or birth dates says they are different
people (or they share a tax id, which outweighs a mistyped name or birth date). NULL where a name or tax id is
missing and nothing else speaks for the pair: a level takes NULL as false, and so must any use of this (never
under NOT). Not wrapped in coalesce(): DuckDB then computes every similarity of every pair, where a level's AND
and OR skip the rest once the answer is known (9x the CPU over a million candidate pairs)."""


def level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    """One comparison level in Splink's settings-dict form."""
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def null_level(*cols: str) -> dict[str, Any]:
    return level(" OR ".join(f"({_null(c)})" for c in cols), "missing", is_null_level=True)


ELSE = level("ELSE", "different")
# A level that proves nothing, such as a contact shared by people whose names or birth dates conflict
# (a household, not a person). m = u fixes its Bayes factor at 1 (weight 0) whatever training sees.
NO_EVIDENCE = {"m_probability": 0.5, "u_probability": 0.5, "fix_m_probability": True, "fix_u_probability": True}


def comparison(name: str, description: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"output_column_name": name, "comparison_description": description, "comparison_levels": levels}


def first_name() -> dict[str, Any]:
    return comparison("first_name", "first name: exact, nickname, typo, swapped with last, initial", [
        null_level("first_name"),
        level("first_name_l = first_name_r", "exact", tf_adjustment_column="first_name"),
        level(SWAPPED, "swapped with last name"),
        level("first_name_root_l = first_name_root_r", "same nickname root", tf_adjustment_column="first_name_root"),
        level(f"jaro_winkler_similarity(first_name_l, first_name_r) >= {NAME_TYPO}", "typo"),
        level(ROOT_TYPO, "typo of the nickname's full form"),
        level(INITIAL, "initial"),
        level(f"jaro_winkler_similarity(first_name_l, first_name_r) >= {NAME_COMPATIBLE}", "similar"),
        ELSE,
    ])


def last_name(gated: bool = True) -> dict[str, Any]:
    """`gated=False` leaves out the changed-surname level, whose condition keeps training away (see `contact`)."""
    # A changed surname (marriage) keeps the first name and often the email or phone, or the birth date and
    # the address. A first name and birth date alone do not say it: at a million records four in five such
    # pairs were strangers, so those keep the weight of a different surname.
    changed = ("first_name_root_l = first_name_root_r AND (email_l = email_r OR phone_l = phone_r "
               "OR (dob_l = dob_r AND (street_l = street_r OR postcode_l = postcode_r)))")
    # No evidence either way: what agrees counts in its own comparison already, and a level of its own
    # would count it again (at a million records, strangers sharing a first name and birth date linked on it).
    surname_changed = [level(changed, "different, same first name and contact (surname changed)",
                             **NO_EVIDENCE)]
    return comparison("last_name", "last name: exact, typo, swapped, double-barrelled, changed", [
        null_level("last_name"),
        level("last_name_l = last_name_r", "exact", tf_adjustment_column="last_name"),
        level(f"jaro_winkler_similarity(last_name_l, last_name_r) >= {NAME_TYPO} "
              f"OR ({edits('last_name', 1)})", "typo"),
        # The first name's swapped level already weighs the swap of both names: counting it here too
        # gave every swapped pair twice the weight of the same names in place.
        level(SWAPPED, "swapped with first name (counted by first name)", **NO_EVIDENCE),
        level("contains(last_name_l, last_name_r) OR contains(last_name_r, last_name_l)", "one part of the other"),
        *(surname_changed if gated else []),
        level("jaro_winkler_similarity(last_name_l, last_name_r) >= 0.8", "similar"),
        ELSE,
    ])


def middle_name() -> dict[str, Any]:
    return comparison("middle_name", "middle name: exact, initial", [
        null_level("middle_name"),
        level("middle_name_l = middle_name_r", "exact"),
        level("left(middle_name_l, 1) = left(middle_name_r, 1)", "initial"),
        ELSE,
    ])


def name_suffix() -> dict[str, Any]:
    return comparison("name_suffix", "generational suffix: JR and SR are two people", [
        null_level("name_suffix"),
        level("name_suffix_l = name_suffix_r", "same"),
        ELSE,
    ])


def birth_date() -> dict[str, Any]:
    return comparison("birth_date", "date of birth: exact, one-digit typo, day/month swap, same year", [
        null_level("dob"),
        level("dob_l = dob_r", "exact"),
        level(DOB_TYPO, "one digit or transposition"),
        level(DAY_MONTH_SWAP, "day and month swapped"),
        level("left(dob_l, 4) = left(dob_r, 4)", "same year"),
        ELSE,
    ])


def tax_id() -> dict[str, Any]:
    return comparison("tax_id", "tax id: exact, one-digit typo; two different ids are strong evidence against", [
        null_level("tax_id"),
        level("tax_id_l = tax_id_r", "exact"),
        level(edits("tax_id", 1), "one digit or transposition"),
        ELSE,
    ])


def contact(name: str, exact: str, near: list[tuple[str, str]], tf: str | None = None,
            gated: bool = True) -> dict[str, Any]:
    """A contact point that counts only while the two records could be one person.

    `near` holds (SQL, label) of the close-but-not-equal levels, closest first. `gated=False`
    gives the same levels without the person gate and household level: the form training sees
    (`identity.model`), since the gate reads the very columns training blocks on.
    """
    # The TF adjustment is relative to this level's own u, not that of a bare "equal" level.
    tf_level = {"tf_adjustment_column": tf, "disable_tf_exact_match_detection": True} if tf else {}
    person = f" AND {SAME_PERSON_POSSIBLE}" if gated else ""
    # Past the gated levels, a pair that agrees is one the gate refused.
    close = " OR ".join(f"({sql})" for sql in [exact, *(sql for sql, _ in near)])
    household = [level(close, "same or close, but names or birth dates conflict (household)", **NO_EVIDENCE)]
    return comparison(name, f"{name}: shared and the people are compatible; shared by a household counts 0", [
        null_level(name),
        level(f"({exact}){person}", "same, names compatible", **tf_level),
        *(level(f"({sql}){person}", f"{label}, names compatible") for sql, label in near),
        *(household if gated else []),
        ELSE,
    ])


# A typo in the user name at the same provider; short user names ("jo", "mike1") are too often another person's.
# Digits must agree: john.smith1 and john.smith7 are two John Smiths far more often than one typo.
# Not the same email: a pair sharing one stopped at the level before unless the gate refused it, and would
# go through every test here for nothing.
EMAIL_TYPO = (
    "email_l <> email_r AND split_part(email_l, '@', 2) = split_part(email_r, '@', 2) AND least(length(email_user_l), "
    "length(email_user_r)) >= 6 AND " + edits("email_user", 2) + " "
    "AND regexp_replace(email_user_l, '[^0-9]', '', 'g') = regexp_replace(email_user_r, '[^0-9]', '', 'g')"
)


def email(gated: bool = True) -> dict[str, Any]:
    return contact("email", "email_l = email_r", [(EMAIL_TYPO, "typo in the user name"),
                                                  ("email_user_l = email_user_r", "same user, other domain")],
                   "email", gated)


def phone(gated: bool = True) -> dict[str, Any]:
    return contact("phone", "phone_l = phone_r", [(edits("phone", 1), "one digit")],
                   "phone", gated)


def street(gated: bool = True) -> dict[str, Any]:
    return contact("street", "street_l = street_r",
                   [(f"jaro_winkler_similarity(street_l, street_r) >= {NAME_TYPO}", "typo")], gated=gated)


def area(gated: bool = True) -> dict[str, Any]:
    person = f" AND {SAME_PERSON_POSSIBLE}" if gated else ""
    # Past the gated levels, a pair in the same area is one the gate refused.
    household = [level("postcode_l = postcode_r OR city_l = city_r", "same area, but names or birth dates conflict",
                       **NO_EVIDENCE)] if gated else []
    return comparison("area", "postcode and city: count only while the two could be one person", [
        level(f"({_null('postcode')}) AND ({_null('city')})", "missing", is_null_level=True),
        # One street is one postcode: counting both would count one address twice.
        level("street_l = street_r", "same street (counted by street)", **NO_EVIDENCE),
        level(f"postcode_l = postcode_r AND city_l = city_r{person}", "same postcode and city"),
        level(f"postcode_l = postcode_r{person}", "same postcode"),
        level(f"city_l = city_r{person}", "same city", tf_adjustment_column="city",
              disable_tf_exact_match_detection=True),
        *household,
        ELSE,
    ])


CONTACTS = ("email", "phone", "street", "area")
"""Comparisons gated on SAME_PERSON_POSSIBLE: no training session can see them in their gated form."""
GATED = ("last_name", *CONTACTS)
"""Comparisons whose gated form no training session sees: `identity.model` trains their ungated form."""


def comparisons(gated: bool = True) -> list[dict[str, Any]]:
    """Every comparison of the model, person-identifying ones first (`gated`: see `contact`)."""
    return [first_name(), last_name(gated), middle_name(), name_suffix(), birth_date(), tax_id(),
            email(gated), phone(gated), street(gated), area(gated)]


# Candidate pairs: each rule is cheap on its own (an equi-join on a selective key) and together
# they find a person's records through any one attribute that survived intact.
PREDICTION_RULES: list[str] = [
    "l.email = r.email",
    "l.phone = r.phone",
    "l.tax_id = r.tax_id",
    # The full name alone: a service desk often records nothing else that survived (no birth date,
    # another phone or email). Blocks stay small: a first name cuts even the commonest surname.
    "l.first_name_root = r.first_name_root AND l.last_name = r.last_name",
    "l.last_name = r.last_name AND l.postcode = r.postcode",
    "l.last_name = r.last_name AND l.postcode = r.postcode AND left(l.first_name, 1) = left(r.first_name, 1)",
    "l.last_name = r.last_name AND l.dob = r.dob",
    "l.first_name_root = r.first_name_root AND l.dob = r.dob",
    "l.first_name_root = r.first_name_root AND l.postcode = r.postcode",
    "l.first_name_root = r.first_name_root AND l.postcode = r.postcode AND left(l.last_name, 1) = left(r.last_name, 1)",
    "l.first_name = r.last_name AND l.last_name = r.first_name",
    # Swapped with a typo in one of the two names (TIPPINS HACRY / HARRY TIPPINS): the birth date keeps it small.
    "l.dob = r.dob AND l.first_name = r.last_name",
    "l.dob = r.dob AND l.last_name = r.first_name",
    "l.email_user = r.email_user AND l.first_name_root = r.first_name_root",
    "l.dob = r.dob AND l.postcode = r.postcode",
    "l.dob = r.dob AND left(l.last_name, 1) = left(r.last_name, 1)",
    "l.dob = r.dob AND left(l.last_name, 1) = left(r.last_name, 1) AND left(l.first_name, 1) = left(r.first_name, 1)",
]

MAX_BLOCK = 50
"""Most records one key of a prediction rule may gather. A key shared by more (a common name, a birth date
with a common initial, a junk phone) says too little to link on alone, and its pairs grow with the square
of the records: at 1M records the full-name rule's blocks of over 50 made 1.57M of the 8.05M candidate
pairs, and 0.14% of the true pairs the run linked could have come from nowhere else (bench/blocking.py).
Capped, every rule makes at most MAX_BLOCK / 2 pairs per record, at any size."""
SPLIT_BLOCK = 10
"""The cap of the rules whose keys come from a fixed stock (a postcode, a birth date with an initial beside a
name): their blocks fill as the records grow, so under MAX_BLOCK their pairs per record still grew 45-74x from
1M to 10M records. Each is followed by the same keys and one more (an initial), capped at MAX_BLOCK: a block over
SPLIT_BLOCK is split by that key instead of dropped; the split reads only records of such blocks (a smaller block's
pairs are all the first rule's already), so that its join does not pair every small block again."""
SPLIT_RULES = frozenset({
    "l.last_name = r.last_name AND l.postcode = r.postcode",
    "l.first_name_root = r.first_name_root AND l.postcode = r.postcode",
    "l.dob = r.dob AND left(l.last_name, 1) = left(r.last_name, 1)",
})
"""The prediction rules capped at SPLIT_BLOCK (each followed by its split in PREDICTION_RULES)."""
BLOCK_SIZE = "block_size_"
"""Prefix of the input column holding the size of a record's block under a capped rule (identity.model)."""


def block_keys(rule: str) -> list[str] | None:
    """The key expressions of a rule that sets each expression of `l.` equal to the same of `r.` (the
    record's block under the rule is the records of equal keys), without the `l.`; None for any other rule."""
    keys = []
    for node in conjuncts(cast(exp.Expression, sqlglot.parse_one(rule, read="duckdb"))):
        if is_cap(node) or is_floor(node):
            continue
        if not isinstance(node, exp.EQ):
            return None
        if {c.table for c in node.this.find_all(exp.Column)} != {"l"} or \
                {c.table for c in node.expression.find_all(exp.Column)} != {"r"}:
            return None
        left, right = _unsided(node.this), _unsided(node.expression)
        if left != right:
            return None
        keys.append(left.sql("duckdb"))
    return keys


def floor_of(rule: str) -> str | None:
    """A split's floor (`capped`) as a condition on one record (`block_size_... > n`); None for another rule."""
    floors = [node for node in conjuncts(cast(exp.Expression, sqlglot.parse_one(rule, read="duckdb")))
              if is_floor(node)]
    return _unsided(floors[0]).sql("duckdb") if floors else None


def _unsided(node: exp.Expression) -> exp.Expression:
    """A copy of `node` with its columns' `l.` or `r.` taken off."""
    node = node.copy()
    for column in node.find_all(exp.Column):
        column.set("table", None)
    return node


def is_cap(node: exp.Expression) -> bool:
    """Whether a conjunct of a rule is `capped`'s `l.block_size_... <= n`."""
    return isinstance(node, exp.LTE) and _is_size_bound(node)


def is_floor(node: exp.Expression) -> bool:
    """Whether a conjunct of a rule is `capped`'s `l.block_size_... > n` (a split reads only blocks over the cap)."""
    return isinstance(node, exp.GT) and _is_size_bound(node)


def _is_size_bound(node: exp.Binary) -> bool:
    return isinstance(node.this, exp.Column) and node.this.table == "l" \
        and node.this.name.startswith(BLOCK_SIZE) and isinstance(node.expression, exp.Literal)


def block_size_column(keys: list[str]) -> str:
    """The input column of a record's block size under keys `keys` (block_size_first_name_root_last_name)."""
    return BLOCK_SIZE + "_".join(re.sub(r"\W+", "_", k).strip("_") for k in keys).lower()


def prediction_rules(model: dict[str, Any]) -> list[str]:
    """The SQL of a saved model's prediction blocking rules (Splink keeps each as a string or a dict)."""
    rules = model.get("blocking_rules_to_generate_predictions", [])
    return [r if isinstance(r, str) else r["blocking_rule"] for r in rules]


def capped(rule: str) -> str:
    """The rule restricted to blocks of at most MAX_BLOCK records (SPLIT_BLOCK for SPLIT_RULES), when it is one
    `block_keys` understands; the split of a SPLIT_RULES rule also to the blocks of over SPLIT_BLOCK under it."""
    keys = block_keys(rule)
    if keys is None:
        return rule
    cap = SPLIT_BLOCK if rule in SPLIT_RULES else MAX_BLOCK
    bounded = f"{rule} AND l.{block_size_column(keys)} <= {cap}"
    return f"{bounded} AND l.{block_size_column(keys[:-1])} > {SPLIT_BLOCK}" if keys[:-1] in _SPLIT_KEYS else bounded


def conjuncts(node: exp.Expression) -> list[exp.Expression]:
    """The parts of an AND, however nested."""
    node = node.this if isinstance(node, exp.Paren) else node
    return [*conjuncts(node.this), *conjuncts(node.expression)] if isinstance(node, exp.And) else [node]


_SPLIT_KEYS = [block_keys(rule) for rule in SPLIT_RULES]
"""The keys of each SPLIT_RULES rule (a split's keys but its last)."""


# Rules that admit almost no false matches: used to estimate the share of pairs that match.
DETERMINISTIC_RULES: list[str] = [
    "l.tax_id = r.tax_id AND l.first_name_root = r.first_name_root",
    "l.email = r.email AND l.first_name_root = r.first_name_root AND l.last_name = r.last_name",
    "l.first_name = r.first_name AND l.last_name = r.last_name AND l.dob = r.dob",
]
DETERMINISTIC_RECALL = 0.7

# Expectation maximisation runs once per rule; each rule leaves the others' comparisons free.
TRAINING_RULES: list[str] = [
    "l.dob = r.dob",
    "l.first_name_root = r.first_name_root AND l.last_name = r.last_name",
    "l.tax_id = r.tax_id",
]


def settings(gated: bool = True) -> dict[str, Any]:
    """The untrained Splink settings dict over the input of `identity.model.INPUT_SQL`."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(gated),
        "blocking_rules_to_generate_predictions": [capped(rule) for rule in PREDICTION_RULES],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "max_iterations": 20,
        "em_convergence": 0.001,
    }
