"""CSV files: every column as text; records with too many or too few fields are set aside."""

from __future__ import annotations

from typing import ClassVar

import duckdb

from cdp.config import CsvLocation
from ingestion.connectors.files import REJECT_OPTIONS, FileConnector, line_encoding

TAIL_READER = ("read_csv(?, all_varchar=true, header=true, delim=?, encoding=?, quote=?, escape=?, comment=?, "
               f"{REJECT_OPTIONS})")


class CsvConnector(FileConnector):
    """Reads `path:` (a file or a glob) with DuckDB's CSV reader."""

    location: CsvLocation
    location_class = CsvLocation
    reader: ClassVar[str] = f"read_csv(?, all_varchar=true, header=true, delim=?, encoding=?, {REJECT_OPTIONS})"
    header_lines: ClassVar[int] = 1
    rejects: ClassVar[bool] = True

    def reader_params(self) -> list[object]:
        return [self.location.delimiter, self.location.encoding]

    def tail_readable(self, path: str) -> bool:
        return super().tail_readable(path) and line_encoding(self.location.encoding)

    def tail_reader(self, con: duckdb.DuckDBPyConnection, path: str) -> tuple[str, list[object]]:
        # A few lines alone may look quoted another way (a 'single-quoted, field' and no "): use the whole file's guess.
        # The full read sets unreadable lines aside; so does the guess, which strict fails on a line of too many fields.
        guess = con.execute("select Quote, Escape, Comment from sniff_csv(?, all_varchar=true, header=true, "
                            "delim=?, encoding=?, ignore_errors=true)", [path, *self.reader_params()]).fetchall()[0]
        return TAIL_READER, [*self.reader_params(), *("" if g == "(empty)" else g for g in guess)]
