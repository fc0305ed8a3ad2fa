"""How values get written down: layouts of phones, dates, streets, emails and tax ids, and typos.

Each function takes a column of clean values and the share of each variant, and returns the
column as one silo would hold it. Columns are numpy object arrays or pandas Series; None stays
None. Only typos walk through the values one by one, and only the few that get one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KEYBOARD = {  # neighbouring keys, for substitution typos
    "a": "qswz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb",
    "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol",
    "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc",
    "y": "tghu", "z": "asx", "0": "9", "1": "2", "2": "13", "3": "24", "4": "35", "5": "46", "6": "57", "7": "68",
    "8": "79", "9": "80",
}
PHONE_LAYOUTS = ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "{a}{e}{l}", "1-{a}-{e}-{l}",
                 "+1{a}{e}{l}", "{a} {e} {l}", "+1 ({a}) {e}-{l}"]
STREET_WORDS = {"St": "Street", "Ave": "Avenue", "Rd": "Road", "Dr": "Drive", "Ln": "Lane", "Ct": "Court",
                "Blvd": "Boulevard", "Way": "Way", "Pl": "Place", "Cir": "Circle", "Ter": "Terrace"}
DIRECTION_WORDS = {"N": "North", "S": "South", "E": "East", "W": "West", "": ""}
UNIT_LABELS = ["Apt ", "Apt. ", "#", "Unit ", "Apartment "]
NULL = np.array(None, dtype=object)
"""A missing value, for the third argument of np.where (whose type hints refuse a bare None)."""


def pick(rng: np.random.Generator, n: int, shares: Sequence[float]) -> np.ndarray:
    """Which of len(shares) variants each of n values takes (shares are normalised)."""
    p = np.asarray(shares, float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def chance(rng: np.random.Generator, n: int, share: float | np.ndarray) -> np.ndarray:
    return rng.random(n) < share


def _typo(rng: np.random.Generator, word: str) -> str:
    i = int(rng.integers(1, len(word) - 1)) if len(word) > 2 else len(word) - 1
    kind = rng.random()
    if kind < 0.4:  # adjacent letters swapped
        return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]
    if kind < 0.6:  # a letter dropped
        return word[:i] + word[i + 1:]
    if kind < 0.8:  # a neighbouring key hit instead
        near = KEYBOARD.get(word[i].lower())
        if near:
            hit = near[int(rng.integers(0, len(near)))]
            return word[:i] + (hit.upper() if word[i].isupper() else hit) + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # a letter doubled


def typos(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """`values` with a one-keystroke typo in about `share` of the non-blank ones (of 2+ characters)."""
    out = np.asarray(values, dtype=object).copy()
    for i in np.flatnonzero(rng.random(len(out)) < share):
        if isinstance(out[i], str) and len(out[i]) >= 2:
            out[i] = _typo(rng, out[i])
    return out


def by_variant(n: int, variant: np.ndarray, makers: Sequence[Callable[[np.ndarray], pd.Series]]) -> np.ndarray:
    """Per value, the result of the maker its variant names, each maker run on its values only."""
    out = np.full(n, None, dtype=object)
    for k, make in enumerate(makers):
        chosen = np.flatnonzero(variant == k)
        if chosen.size:
            out[chosen] = np.asarray(make(chosen), dtype=object)
    return out


def phones(rng: np.random.Generator, digits: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """10-digit numbers in the layouts of PHONE_LAYOUTS, in the given shares."""
    s = pd.Series(digits, dtype=object)
    a, e, ln = s.str[:3], s.str[3:6], s.str[6:]

    def layout(fmt: str) -> Callable[[np.ndarray], pd.Series]:
        parts = fmt.replace("{", "|{").replace("}", "}|").split("|")
        pieces = {"{a}": a, "{e}": e, "{l}": ln}

        def make(idx: np.ndarray) -> pd.Series:
            out = pd.Series("", index=idx, dtype=object)
            for part in parts:
                out = out + (pieces[part].iloc[idx].to_numpy(object) if part in pieces else part)
            return out
        return make

    out = by_variant(len(s), pick(rng, len(s), shares), [layout(f) for f in PHONE_LAYOUTS])
    out[s.isna().to_numpy()] = None
    return out


def strftime(times: np.ndarray, fmt: str) -> np.ndarray:
    """datetime64 values as text in a strftime format, in one pass of Arrow's C++; None for NaT."""
    stamps = pa.array(np.asarray(times, dtype="datetime64[s]"))
    return np.asarray(pc.strftime(stamps, format=fmt).to_numpy(zero_copy_only=False), dtype=object)


def numbered(prefix: str, n: int, width: int, first: int = 1) -> np.ndarray:
    """n ids: prefix and running numbers from `first`, zero-padded to `width` digits (C0000001, ...)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(first, first + n)), pa.string()), width, "0")
    return np.asarray(pc.binary_join_element_wise(prefix, digits, "").to_numpy(zero_copy_only=False), dtype=object)


def iso_dates(dates: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD text of datetime64 values; None for NaT."""
    values = np.asarray(dates, dtype="datetime64[D]")
    text = np.datetime_as_string(values, unit="D").astype(object)
    text[np.isnat(values)] = None
    return text


def date_slips(rng: np.random.Generator, iso: np.ndarray, digit: float, day_month: float) -> np.ndarray:
    """ISO dates with a mistyped digit (of year, month or day) or day and month swapped, in the given shares."""
    out = iso.copy()
    present = pd.notna(out)
    slip = np.flatnonzero(present & (rng.random(len(out)) < digit))
    for i in slip:
        j = int(rng.choice([2, 3, 5, 6, 8, 9]))
        out[i] = out[i][:j] + KEYBOARD[out[i][j]][0] + out[i][j + 1:]
    swap = np.flatnonzero(present & (rng.random(len(out)) < day_month))
    if swap.size:
        s = pd.Series(out[swap])
        can = (s.str[8:10] <= "12").to_numpy()
        out[swap[can]] = (s.str[:5] + s.str[8:10] + "-" + s.str[5:7])[can].to_numpy(object)
    return out


def us_dates(rng: np.random.Generator, iso: np.ndarray, unpadded: float) -> np.ndarray:
    """ISO text as MM/DD/YYYY (some M/D/YYYY); text that is not an ISO date passes unchanged."""
    s = pd.Series(iso, dtype=object)
    ok = s.str.match(r"^\d{4}-\d\d-\d\d$", na=False).to_numpy(bool)
    month, day = s.str[5:7], s.str[8:10]
    trim = chance(rng, len(s), unpadded)
    month = month.where(~trim, month.str.lstrip("0"))
    day = day.where(~trim, day.str.lstrip("0"))
    out = s.to_numpy(object).copy()
    out[ok] = (month + "/" + day + "/" + s.str[:4])[ok].to_numpy(object)
    return out


def streets(rng: np.random.Generator, parts: pd.DataFrame, spelled: float, upper: float | np.ndarray) -> np.ndarray:
    """"123 N Oak St Apt 4B" from number, direction, street, street_type (text) and unit columns.

    `spelled` is the share writing the street type and direction in full ("North Oak Street").
    """
    n = len(parts)
    full = chance(rng, n, spelled)
    kind = parts["street_type"].to_numpy(object)
    kind = np.where(full, pd.Series(kind).map(STREET_WORDS).to_numpy(object), kind)
    direction = parts["direction"].to_numpy(object)
    direction = np.where(full, pd.Series(direction).map(DIRECTION_WORDS).to_numpy(object), direction)
    direction = np.where(direction == "", "", direction + " ")
    labels = np.array(UNIT_LABELS, dtype=object)[pick(rng, n, [4, 2, 2, 1, 1])]
    comma = np.where(chance(rng, n, 0.4), ", ", " ")
    unit = parts["unit"].to_numpy(object)
    unit = np.where(unit == "", "", comma + labels + unit)
    text = parts["number"].astype(str).to_numpy(object) + " " + direction + parts["street"].to_numpy(object) \
        + " " + kind + unit
    up = chance(rng, n, upper)
    text[up] = pd.Series(text[up], dtype=object).str.upper().to_numpy(object)
    return text


def emails(rng: np.random.Generator, addresses: np.ndarray, upper: float, capital: float, gmail: float) -> np.ndarray:
    """Addresses as typed: all caps, a capitalised first letter, and Gmail's ignored dots and +tags."""
    out = np.asarray(addresses, dtype=object).copy()
    present = np.flatnonzero(pd.notna(out))
    # a copy: pandas' arrays are read-only views under copy-on-write, and `local` is edited in place
    local, _, domain = pd.Series(out[present], dtype=object).str.partition("@").T.to_numpy(copy=True)
    is_gmail = domain == "gmail.com"
    dotted = np.flatnonzero(is_gmail & chance(rng, len(local), gmail / 2))
    for i in dotted:  # a dot added where there is none, else the dots dropped
        v = local[i]
        cut = int(rng.integers(1, len(v))) if len(v) > 1 else 1
        local[i] = v[:cut] + "." + v[cut:] if "." not in v and len(v) > 2 else v.replace(".", "")
    tagged = is_gmail & chance(rng, len(local), gmail / 2)
    tags = np.array(["+shop", "+news", "+orders", "+store", "+promo"], dtype=object)
    local[tagged] = local[tagged] + tags[rng.integers(0, len(tags), int(tagged.sum()))]
    typed = pd.Series(local + "@" + domain, dtype=object)
    variant = pick(rng, len(typed), [1 - upper - capital, upper, capital])
    typed[variant == 1] = typed[variant == 1].str.upper()
    typed[variant == 2] = typed[variant == 2].str.capitalize()
    out[present] = typed.to_numpy(object)
    return out


def ssns(rng: np.random.Generator, digits: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """9-digit SSNs as 123-45-6789, 123456789 or 123 45 6789, in the given shares."""
    s = pd.Series(digits, dtype=object)
    a, g, n = s.str[:3], s.str[3:5], s.str[5:]
    out = by_variant(len(s), pick(rng, len(s), shares), [
        lambda i: (a + "-" + g + "-" + n).iloc[i], lambda i: s.iloc[i], lambda i: (a + " " + g + " " + n).iloc[i],
    ])
    out[s.isna().to_numpy()] = None
    return out


def case(rng: np.random.Generator, values: np.ndarray, upper: float, lower: float) -> np.ndarray:
    """Values with some written in capitals and some in lower case."""
    s = pd.Series(values, dtype=object)
    k = pick(rng, len(s), [1 - upper - lower, upper, lower])
    s[k == 1] = s[k == 1].str.upper()
    s[k == 2] = s[k == 2].str.lower()
    out = s.to_numpy(object, copy=True)  # not a read-only view of `s` (copy-on-write)
    out[s.isna().to_numpy()] = None
    return out
