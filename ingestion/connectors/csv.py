"""CSV files: every column as text; records with too many or too few fields are set aside."""

from __future__ import annotations

from typing import ClassVar

from cdp.config import CsvLocation
from ingestion.connectors.files import REJECT_OPTIONS, FileConnector, line_encoding


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
