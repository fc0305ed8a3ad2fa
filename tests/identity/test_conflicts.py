"""The value rules behind the clustering guards."""

from __future__ import annotations

import pytest

from identity.conflicts import Name, dobs_compatible, first_names_compatible, tax_ids_compatible


@pytest.mark.parametrize(("a", "b", "same"), [
    (Name("BOB", "ROBERT", "SMITH"), Name("ROBERT", "ROBERT", "SMITH"), True),   # nickname
    (Name("DAVE", "DAVID", "ALLEN"), Name("ADVID", "ADVID", "ALLEN"), True),     # typo of the full form
    (Name("J", "J", "KIM"), Name("JOHN", "JOHN", "KIM"), True),                  # initial
    (Name("AMY", "AMY", "LEE"), Name("ANY", "ANY", "LEE"), True),                # one edit
    (Name("SMITH", "SMITH", "JOHN"), Name("JOHN", "JOHN", "SMITH"), True),       # swapped
    (Name("KLEIN", "KLEIN", "MARYANNE"), Name("MARIA", "MARIA", "KLEIN"), True),  # swapped, one name shortened
    (Name("SMITH", "SMITH", None), Name("JOHN", "JOHN", "SMITH"), True),         # swapped, the other part lost
    (Name("WARREN", "WARREN", "GWENDOLYN"), Name("SHIRLEY", "SHIRLEY", "WARREN"), False),  # swapped sister
    (Name("ANNA", "ANNA", "KOWALSKI"), Name("EMMA", "EMMA", "KOWALSKI"), False),  # twins
    (Name("JOHN", "JOHN", "MILLER"), Name("MARY", "MARY", "MILLER"), False),
])
def test_first_names(a: Name, b: Name, same: bool) -> None:
    assert first_names_compatible(a, b) is same and first_names_compatible(b, a) is same


def test_birth_dates_and_tax_ids() -> None:
    assert dobs_compatible("19750203", "19750230")      # a transposition
    assert dobs_compatible("19750302", "19750203")      # day and month swapped
    assert not dobs_compatible("19580402", "19880930")  # father and son
    assert tax_ids_compatible("123456789", "123456798")
    assert not tax_ids_compatible("123456789", "987654321")
