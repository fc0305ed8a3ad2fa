"""Record keys, and the few deliberately bad rows and values that quality has to catch.

Per silo: two rows with a blank key and three whose key repeats an earlier row's (a key
collision between systems: the later row is another person's record); junk emails, phones and
tax ids, and impossible or placeholder birth dates in a small share of rows. Sales also gets one
CSV line with surplus fields and service one line that is not JSON.

Ingestion quarantines a row whose key is blank, repeats an earlier row's key, or cannot be
read; it publishes every other row, junk values included (attribute-level problems do not
reject a row). So the ground truth lists exactly the published rows: every row with a key that
is the first with that key. `issues` lists every planted flaw, quarantined or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

BLANK_KEYS = 2  # one NULL, one empty
REPEATED_KEYS = 3
JUNK = {
    "email": ["none@none.com", "noemail@example.com", "n/a", "test@test", "asdf", "john.smith@", "NA"],
    "phone": ["n/a", "000-000-0000", "12", "unknown", "999"],
    "tax_id": ["000-00-0000", "999-99-9999", "123-45-6789", "12345", "N/A"],
    "birth_date": ["1900-01-01", "0000-00-00", "2099-12-31", "1985-02-30", "N/A", "13/45/1999", "1901-01-01"],
}
JUNK_SHARE = {"email": 0.002, "phone": 0.001, "tax_id": 0.001, "birth_date": 0.001}
SURPLUS_LINE = "C9999999,Too,Many,too.many@example.com,555-867-5309,1 Main St,Springfield,IL,62701,01/01/1980,x,y"
NOT_JSON_LINE = '{"requester_id": "R-broken", "name": "Half Written", "email": '


@dataclass
class Silo:
    """One silo's rows as written, with the person behind each and which rows ingestion will publish."""

    name: str
    key: str
    rows: pd.DataFrame
    person: np.ndarray
    published: np.ndarray
    broken_line: str | None = None
    """A line that cannot be read, written after row `broken_after`."""
    broken_after: int = 0
    issues: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(source_id, column, value as written, problem) of every planted flaw."""

    def truth(self) -> pd.DataFrame:
        """source, source_id, person_id of every published row."""
        keys = self.rows[self.key].to_numpy()[self.published]
        return pd.DataFrame({"source": self.name, "source_id": pd.Series(keys).astype(str),
                             "person_id": self.person[self.published]})


def keyed(name: str, key: str, rows: pd.DataFrame, person: np.ndarray, keys: np.ndarray) -> Silo:
    rows.insert(0, key, keys)
    return Silo(name, key, rows, person, np.ones(len(rows), bool))


def plant(rng: np.random.Generator, silo: Silo, columns: dict[str, str]) -> None:
    """Plant junk values in `columns` (junk kind -> column), then blank and repeated keys."""
    n = len(silo.rows)
    for kind, column in columns.items():
        hit = rng.choice(n, size=min(n, max(2, round(n * JUNK_SHARE[kind]))), replace=False)
        values = np.array(JUNK[kind], dtype=object)[rng.integers(0, len(JUNK[kind]), hit.size)]
        silo.rows.iloc[hit, silo.rows.columns.get_loc(column)] = values
        keys = silo.rows[silo.key].to_numpy()[hit]
        silo.issues += [(str(k), column, str(v), f"junk {kind}") for k, v in zip(keys, values, strict=True)]
    if n >= 2 * (BLANK_KEYS + REPEATED_KEYS):
        _bad_keys(rng, silo)


def _bad_keys(rng: np.random.Generator, silo: Silo) -> None:
    """Copies of random rows with a blank key, and rows taking the key of an earlier row of another person."""
    n = len(silo.rows)
    copied = rng.choice(n, size=BLANK_KEYS + REPEATED_KEYS, replace=False)
    extra = silo.rows.iloc[copied].copy()
    victims = rng.choice(n - 1, size=REPEATED_KEYS, replace=False)
    keys = np.array([None, "", *silo.rows[silo.key].to_numpy()[victims]], dtype=object)  # NULL and empty
    extra[silo.key] = keys
    # a blank-keyed row anywhere; a repeated key somewhere after the row that holds it first
    at = np.concatenate([rng.uniform(0, n, BLANK_KEYS), victims + 0.5 + rng.uniform(0, n - 1 - victims)])
    order = np.concatenate([np.arange(n, dtype=float), at])
    merged = pd.concat([silo.rows, extra], ignore_index=True)
    sort = np.argsort(order, kind="stable")
    silo.rows = merged.iloc[sort].reset_index(drop=True)
    silo.person = np.concatenate([silo.person, silo.person[copied]])[sort]
    silo.published = np.concatenate([silo.published, np.zeros(len(extra), bool)])[sort]
    silo.issues += [("", silo.key, "", "blank key")] * BLANK_KEYS
    silo.issues += [(str(k), silo.key, str(k), "repeated key (an earlier row holds it)") for k in keys[BLANK_KEYS:]]


def break_line(rng: np.random.Generator, silo: Silo, line: str, problem: str) -> None:
    """Write `line` (which no reader can take as a record) somewhere among the silo's rows."""
    silo.broken_line = line
    silo.broken_after = int(rng.integers(0, len(silo.rows) + 1))
    silo.issues.append(("", "", line, problem))
