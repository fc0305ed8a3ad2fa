"""The change sensor and the full schedule (cdp.automation), evaluated as Dagster's daemon would."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
import yaml

from cdp.automation import CHANGED_TAG, JOB
from cdp.config import Config, load_config
from cdp.definitions import build_definitions
from cdp.resources import FULL_RUN_TAG

FIELDS = {"first_name": "first", "last_name": "last"}


def project(folder: Path) -> Config:
    (folder / "people.csv").write_text("id,first,last\n1,Ann,Smith\n")
    with sa.create_engine(f"sqlite:///{folder / 'finance.db'}").begin() as con:
        con.execute(sa.text("create table people (id text, first text, last text, updated integer)"))
        con.execute(sa.text("insert into people values ('1', 'Ann', 'Smith', 5)"))
    (folder / "cdp.yaml").write_text(yaml.safe_dump({"sources": {
        "sales": {"connector": "csv", "path": "people.csv", "key": "id", "fields": FIELDS},
        "finance": {"connector": "sql", "url": "sqlite:///finance.db", "table": "people", "key": "id",
                    "fields": FIELDS, "watermark": "updated"},
        "service": {"connector": "sql", "url": "sqlite:///finance.db", "table": "people", "key": "id",
                    "fields": FIELDS}}}))  # no watermark: not watched
    return load_config(folder / "cdp.yaml")


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    sensor = defs.resolve_sensor_def("cdp_source_changes")
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
    return list(data.run_requests or []), data.cursor or ""


def test_sensor_launches_a_run_on_a_changed_file_or_high_water_mark_only(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    defs = build_definitions(cfg)
    with dg.DagsterInstance.ephemeral() as instance:
        first, cursor = tick(defs, instance, None)  # nothing seen yet: the sources may hold anything
        assert [r.tags[CHANGED_TAG] for r in first] == ["finance,sales"]
        assert tick(defs, instance, cursor)[0] == []
        (tmp_path / "people.csv").write_text("id,first,last\n1,Ann,Smith\n2,Bo,Lee\n")
        changed, cursor = tick(defs, instance, cursor)
        assert [r.tags[CHANGED_TAG] for r in changed] == ["sales"]
        assert changed[0].run_key and changed[0].run_key != first[0].run_key
        assert tick(defs, instance, cursor)[0] == []
        with sa.create_engine(f"sqlite:///{tmp_path / 'finance.db'}").begin() as con:
            con.execute(sa.text("insert into people values ('2', 'Bo', 'Lee', 3)"))  # below the mark: not seen
        assert tick(defs, instance, cursor)[0] == []
        with sa.create_engine(f"sqlite:///{tmp_path / 'finance.db'}").begin() as con:
            con.execute(sa.text("insert into people values ('3', 'Cy', 'Ng', 9)"))
        marked, cursor = tick(defs, instance, cursor)
        assert [r.tags[CHANGED_TAG] for r in marked] == ["finance"]
        os.utime(tmp_path / "people.csv", ns=(1, 1))  # a touched file is looked at again by the run
        assert [r.tags[CHANGED_TAG] for r in tick(defs, instance, cursor)[0]] == ["sales"]


def test_schedule_launches_the_full_run_of_every_asset(tmp_path: Path) -> None:
    defs = build_definitions(project(tmp_path))
    schedule = defs.resolve_schedule_def("cdp_full_daily")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.job_name == JOB
    with dg.DagsterInstance.ephemeral() as instance:
        data = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert [r.tags.get(FULL_RUN_TAG) for r in data.run_requests or []] == ["true"]
    job, implicit = defs.resolve_job_def(JOB), defs.resolve_implicit_global_asset_job_def()
    assert {n.name for n in job.nodes} == {n.name for n in implicit.nodes}  # what `cdp run` executes
