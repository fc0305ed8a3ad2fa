"""What a sensor watches to tell that a run has work to do, read cheaply from the sources themselves.

A file feed's mark is its files' names, sizes and modification times (no contents read: the run itself
hashes them and skips files that were merely touched); a SQL feed with `watermark:` has the column's
highest value. A SQL feed without one cannot be watched without reading it, and has no mark.
"""

from __future__ import annotations

import json

from cdp.config import Config
from ingestion.connectors import SqlConnector, connector_for
from ingestion.connectors.files import FileConnector
from ingestion.load import feeds_of
from ingestion.state import encode_mark, file_stats


def source_marks(cfg: Config) -> dict[str, str]:
    """Per watchable feed (feed_name), its current mark; a changed mark means the feed changed."""
    marks = {}
    for name, src in cfg.sources.items():
        for feed in feeds_of(name, src):
            connector = connector_for(feed.location)
            if isinstance(connector, FileConnector):
                marks[feed.name] = json.dumps(file_stats(connector.paths()))
            elif isinstance(connector, SqlConnector) and feed.watermark:
                high = connector.highest(feed.watermark)
                marks[feed.name] = encode_mark(high) if high is not None else ""
    return marks
