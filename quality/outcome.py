"""What a quality gate found, in plain Python (no Great Expectations types leave quality.validation)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One expectation that was not met."""

    expectation: str
    """Great Expectations' name of it, e.g. expect_column_values_to_not_be_null."""
    source: str | None
    """The source it is about; None for the identity stages, which span all sources."""
    table: str
    """The warehouse table validated (raw_sales__orders, staged_sales, clusters...)."""
    column: str | None
    """The column it is about, if any."""
    blocking: bool
    """A blocking finding stops everything downstream: nothing is published."""
    observed: str
    """What was found, e.g. '31.0% of 1,000 values unexpected'."""
    expected: str
    """The expectation's bounds, e.g. 'mostly=0.5'."""
    note: str = ""
    """What the expectation means, in words."""

    def line(self) -> str:
        """One line naming the expectation, source, table and column, for logs and `cdp run`."""
        where = [f"source {self.source}"] if self.source else []
        where += [f"table {self.table}"] + ([f"column {self.column}"] if self.column else [])
        note = f" ({self.note})" if self.note else ""
        return f"{self.expectation} failed for {', '.join(where)}: {self.observed}; expected {self.expected}{note}"


@dataclass
class Outcome:
    """Every expectation a gate evaluated, and the ones not met."""

    evaluated: int = 0
    findings: list[Finding] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.blocking]

    def add(self, other: Outcome) -> Outcome:
        """This outcome with another's expectations added (a gate validating several tables)."""
        return Outcome(self.evaluated + other.evaluated, self.findings + other.findings, self.tables + other.tables)

    def description(self) -> str:
        """Blocking findings first, then warnings; or how many expectations were met."""
        if not self.findings:
            return f"{self.evaluated} expectations met ({', '.join(self.tables)})"
        return "; ".join(f.line() for f in self.blocking + self.warnings)
