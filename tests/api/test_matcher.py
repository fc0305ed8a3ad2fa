"""POST /resolve's matcher across publishes: a new version is indexed at the next check, and while its index is
built the previous one keeps answering."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

import api.matcher as matcher_module
from api.matcher import Matcher, published_records
from api.reader import ServingReader
from cdp.config import Config
from cdp.sealing import Sealer
from cdp.warehouse import open_warehouse
from identity.incremental import save_snapshot
from identity.model import ModelStore
from identity.resolve import Scorer, model_input
from serving.publish import publish
from tests.utils.models import made_up_model
from tests.utils.publishing import ingest, resolve

BOB = "C000000001"


def publish_run(cfg: Config, run_id: str) -> None:
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, cfg.serving, run_id)


def test_a_publish_is_indexed_while_the_previous_index_answers(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ingest(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    resolve(cfg)
    ModelStore(cfg.state_dir / "models").save(made_up_model())
    publish_run(cfg, "run-1")
    matcher = Matcher(ServingReader(cfg.serving), cfg.state_dir / "models")
    bob = matcher.standardise({"first_name": "Robert", "last_name": "Smith", "email": "bob.smith@gmail.com"}, "US")
    before = matcher.resolve(bob, 5)
    assert [m.customer_id for m in before] == [BOB]

    # Bob's two records become two customers in the next version.
    resolve(cfg, (("finance:1",), ("sales:c1",), ("finance:2",), ("sales:c2",), ("sales:c4",)), run_id="r2")
    publish_run(cfg, "run-2")
    monkeypatch.setattr(matcher_module, "RECHECK_SECONDS", 0.0)
    building, release = threading.Event(), threading.Event()

    def held(engine: sa.Engine, sealer: Sealer | None) -> pa.Table:
        building.set()
        release.wait(30)
        return published_records(engine, sealer)

    monkeypatch.setattr(matcher_module, "published_records", held)
    rebuild = threading.Thread(target=matcher.resolve, args=(bob, 5))
    rebuild.start()
    assert building.wait(30)
    assert matcher.resolve(bob, 5) == before  # answered from the previous version's index meanwhile
    release.set()
    rebuild.join(30)
    after = matcher.resolve(bob, 5)
    assert len(after) == 2 and BOB in {m.customer_id for m in after}
    assert {(m.source, m.source_id) for m in after} == {("finance", "1"), ("sales", "c1")}


def test_resolve_scores_with_the_model_the_published_version_was_resolved_with(tmp_path: Path) -> None:
    """A newer model made current after the publish (a `cdp train` whose run stopped before publishing) does not
    change /resolve's probabilities: they stay the published customers' model's."""
    cfg = ingest(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    resolve(cfg)
    models = ModelStore(cfg.state_dir / "models")
    published_with = models.save(made_up_model(seed=7))
    with open_warehouse(cfg.warehouse_path) as con:
        save_snapshot(con, published_with.name)
    publish_run(cfg, "run-1")
    models.save(made_up_model(seed=8))  # current now, but nothing was published with it

    matcher = Matcher(ServingReader(cfg.serving), cfg.state_dir / "models")
    bob = matcher.standardise({"first_name": "Robert", "last_name": "Smith", "email": "bob.smith@gmail.com"}, "US")
    (found,) = matcher.resolve(bob, 5)
    candidate = next(r for r in matcher.current().records.to_pylist()
                     if r["record_id"] == f"{found.source}:{found.source_id}")
    published_score = Scorer(made_up_model(seed=7), matcher.current().scorer.tf).score(model_input(bob), candidate)
    current_score = Scorer(made_up_model(seed=8), matcher.current().scorer.tf).score(model_input(bob), candidate)
    assert found.score.match_weight == pytest.approx(published_score.match_weight)
    assert found.score.match_weight != pytest.approx(current_score.match_weight)
