"""The micro-batch's table commits, crashed at every step: before the tasks write their data files, after they
wrote them, after a table's new metadata file is written but before the catalog points at it, and after one
table's catalog update but before the next table's commit. At each point a reader of any table sees the batch
whole or not at all, and after the restart (a new handler replaying the same batch, as Spark does from its
checkpoint) every record is in its table exactly once. On pyiceberg's SQL catalog and on Glue (moto)."""

from __future__ import annotations

import collections
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from pyiceberg.table import TableProperties

from churn_pipeline import tables
from churn_pipeline.contract import outputs
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming import job
from churn_tools import synthetic
from churn_tools.local import producer

from .test_stream_drift import SOURCE_SCHEMA  # the source columns of the handler's input

QUERY = "5e1d-query"
BATCH = 3
REGION = "us-east-1"
# Records arriving across an hour boundary: each task writes one file per hour.
FIRST_ARRIVAL = datetime(2026, 12, 6, 9, 58, tzinfo=UTC)


class Crash(RuntimeError):
    """The simulated death of the driver at one step."""


@pytest.fixture(scope="module")
def batch_records(tmp_path_factory) -> tuple[list[tuple], set[str], collections.Counter]:
    """(source rows, record ids of the valid ones, malformed payloads): 1 in 10 records malformed."""
    csv = synthetic.write_csv(120, tmp_path_factory.mktemp("records") / "in.csv", seed=31)
    rows, valid, bad = [], set(), collections.Counter()
    for i, (data, key) in enumerate(producer.csv_records(csv, "tc-")):
        if i % 10 == 5:
            data = f'{{"record_id": "bad-{i}", "State": '.encode()
            bad[data] += 1
        else:
            valid.add(json.loads(data)["record_id"])
        rows.append((data, f"shardId-{i % 2}", f"{i:08d}", key, FIRST_ARRIVAL + timedelta(seconds=2 * i)))
    return rows, valid, bad


@pytest.fixture
def where(request, tmp_path, spark) -> h.StreamTables:
    """The stream's tables: in a SQL catalog in tmp_path, or in a new Glue database and bucket on moto."""
    if request.node.callspec.params["kind"] == "sql":
        return h.StreamTables(tables.CatalogSettings("sql", str(tmp_path / "warehouse")), "crash", drift=True)
    request.getfixturevalue("moto_server")
    job.forward_aws_environment(spark)  # the tasks write to moto's S3
    bucket, database = f"crash-{uuid.uuid4().hex[:12]}", f"crash_{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": database})
    return h.StreamTables(
        tables.CatalogSettings("glue", f"s3://{bucket}/warehouse", REGION), database, drift=True
    )


def new_handler(model_dir, where: h.StreamTables) -> h.BatchHandler:
    """A fresh handler: what a restarted job has (nothing in memory from the crashed one)."""
    return h.BatchHandler(ScoringConfig(mode="embedded", model_uri=str(model_dir)), where, QUERY)


def visible(handler: h.BatchHandler) -> dict[str, list]:
    """What a reader sees of each table now: the record ids (the raw payloads for dead letters)."""
    catalog = tables.catalog_from_settings(handler.tables.catalog)
    ids = handler.identifiers()
    return {
        h.SCORED: tables.read_arrow(catalog, ids[h.SCORED], [outputs.RECORD_ID]).column(0).to_pylist(),
        h.DEAD: [
            bytes(p)
            for p in tables.read_arrow(catalog, ids[h.DEAD], [outputs.RAW_PAYLOAD]).column(0).to_pylist()
        ],
        h.DRIFT: tables.read_arrow(catalog, ids[h.DRIFT], [outputs.MICRO_BATCH]).column(0).to_pylist(),
    }


def assert_whole_or_nothing(seen: dict[str, list], valid: set[str], bad: collections.Counter) -> set[str]:
    """Each table holds the batch exactly once or not at all; returns the tables that hold it."""
    holding = set()
    if seen[h.SCORED]:
        assert sorted(seen[h.SCORED]) == sorted(valid), "the scored table holds the whole batch, once"
        holding.add(h.SCORED)
    if seen[h.DEAD]:
        assert collections.Counter(seen[h.DEAD]) == bad, "the dead-letter table holds the whole batch, once"
        holding.add(h.DEAD)
    if seen[h.DRIFT]:
        assert set(seen[h.DRIFT]) == {BATCH}, "drift rows of this batch only"
        holding.add(h.DRIFT)
    return holding


def fail_tasks_before_writing(monkeypatch):
    original = h._task_pipeline

    def pipeline(*args):
        original(*args)  # built as the handler builds it; its tasks die before they write

        def write(batches):
            raise RuntimeError("the task died before its data files")  # a builtin: the task unpickles it
            yield  # a generator, as mapInPandas expects

        return write

    monkeypatch.setattr(h, "_task_pipeline", pipeline)


def fail_commit_of(monkeypatch, table: str):
    """The driver dies as it is about to commit `table` (the data files of every table are written)."""
    original = tables.commit_data_files

    def commit(catalog, identifier, files, marker, *args, **kwargs):
        if identifier.endswith(f".{table}"):
            raise Crash(f"the driver died before the commit of {identifier}")
        return original(catalog, identifier, files, marker, *args, **kwargs)

    monkeypatch.setattr(tables, "commit_data_files", commit)


def fail_after_metadata_of(monkeypatch, handler: h.BatchHandler, table: str):
    """The driver dies after writing `table`'s new metadata file, before the catalog points at it: for the SQL
    catalog after MetastoreCatalog._write_metadata in SqlCatalog.commit_table, for Glue in place of the
    UpdateTable call (pyiceberg/catalog/sql.py and glue.py, commit_table)."""
    catalog = handler.catalog
    written: list[str] = []
    if handler.tables.catalog.kind == "sql":
        original = catalog._write_metadata

        def write_metadata(metadata, io, metadata_path):
            original(metadata, io, metadata_path)
            if metadata.location.rstrip("/").endswith(f"/{table}"):
                written.append(metadata_path)
                raise Crash(f"the driver died after writing {metadata_path}")

        monkeypatch.setattr(catalog, "_write_metadata", write_metadata)
    else:
        original = catalog._update_glue_table

        def update(database_name, table_name, table_input, version_id):
            if table_name == table:
                written.append(table_input["Parameters"]["metadata_location"])
                raise Crash(f"the driver died before UpdateTable of {table_name}")
            return original(database_name, table_name, table_input, version_id)

        monkeypatch.setattr(catalog, "_update_glue_table", update)
    return written


def table_file_count(handler: h.BatchHandler, table: str) -> int:
    """Parquet files in a local table's data directory, committed or not."""
    location = handler.catalog.load_table(handler.identifiers()[table]).location()
    return len(list(Path(urlparse(location).path).rglob("*.parquet")))


STEPS = [
    "before-data-files",
    "after-data-files",
    "after-dead-letter-metadata-file",
    "after-scored-metadata-file",
    "after-dead-letter-catalog-update",
    "after-drift-catalog-update",
]


@pytest.mark.parametrize("kind", ["sql", "glue"])
@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_shows_no_partial_batch_and_the_restart_commits_each_record_once(
    spark, model_dir, batch_records, monkeypatch, kind, step, where
):
    rows, valid, bad = batch_records
    frame = spark.createDataFrame(rows, SOURCE_SCHEMA)
    crashing = new_handler(model_dir, where)
    crashing.identifiers()  # the tables exist before the crash is armed (the first batch creates them)
    written: list[str] = []
    with monkeypatch.context() as patch:
        if step == "before-data-files":
            fail_tasks_before_writing(patch)
        elif step == "after-data-files":
            fail_commit_of(patch, outputs.STREAM_DEAD_LETTER.table)
        elif step == "after-dead-letter-metadata-file":
            written = fail_after_metadata_of(patch, crashing, outputs.STREAM_DEAD_LETTER.table)
        elif step == "after-scored-metadata-file":
            written = fail_after_metadata_of(patch, crashing, outputs.STREAM_PREDICTIONS.table)
        elif step == "after-dead-letter-catalog-update":
            fail_commit_of(patch, outputs.STREAM_DRIFT.table)
        else:
            fail_commit_of(patch, outputs.STREAM_PREDICTIONS.table)
        with pytest.raises(Exception, match="died") as died:
            crashing(frame, BATCH)
    assert "died" in str(died.value)

    # While the job is down: each table holds the batch whole or not at all, and the tables committed are a
    # prefix of the commit order (dead letter, drift, scored).
    holding = assert_whole_or_nothing(visible(crashing), valid, bad)
    expected = {
        "after-dead-letter-catalog-update": {h.DEAD},
        "after-drift-catalog-update": {h.DEAD, h.DRIFT},
        "after-scored-metadata-file": {h.DEAD, h.DRIFT},
    }.get(step, set())
    assert holding == expected
    if written:
        assert len(written) == 1, "the metadata file of the interrupted commit was written"
    if kind == "sql" and step != "before-data-files":
        assert table_file_count(crashing, h.SCORED) > 0, (
            "the interrupted attempt's scored files exist, unread"
        )

    restarted = new_handler(model_dir, where)
    stats = restarted(frame, BATCH)
    assert (stats.skipped, stats.replayed) == (False, bool(expected))
    seen = visible(restarted)
    assert assert_whole_or_nothing(seen, valid, bad) == {h.SCORED, h.DEAD, h.DRIFT}
    # One scoring time in the committed batch, written by every task: the attempt's, taken on the driver.
    scored_at = tables.read_arrow(
        restarted.catalog, restarted.identifiers()[h.SCORED], [outputs.SCORED_AT]
    ).column(0)
    assert len(scored_at.unique()) == 1
    # Replayed once more (Spark re-delivers a batch whose end it did not record): every table skips it.
    again = new_handler(model_dir, where)(frame, BATCH)
    assert again.skipped and visible(restarted) == seen


@pytest.mark.parametrize("kind", ["sql", "glue"])
def test_a_micro_batch_loads_each_table_once_and_so_does_its_replay(
    spark, model_dir, batch_records, monkeypatch, kind, where
):
    """The handler's check of which tables lack the batch and the commits share one load per table: a catalog
    call per table (a Glue GetTable) fewer per micro-batch."""
    rows, _, _ = batch_records
    frame = spark.createDataFrame(rows, SOURCE_SCHEMA)
    handler = new_handler(model_dir, where)
    identifiers = (
        handler.identifiers()
    )  # once per run: the tables checked (created here) before the first batch
    loads: list[str] = []
    load_table = handler.catalog.load_table

    def counted(identifier):
        # Not counted: pyiceberg's SqlCatalog.commit_table loading the table itself by its tuple identifier
        # (pyiceberg/catalog/sql.py), a step of the catalog's commit (Glue's reads its table with GetTable).
        if isinstance(identifier, str):
            loads.append(identifier)
        return load_table(identifier)

    monkeypatch.setattr(handler.catalog, "load_table", counted)
    assert not handler(frame, BATCH).skipped
    assert collections.Counter(loads) == collections.Counter(identifiers.values())  # each once
    loads.clear()
    assert handler(frame, BATCH).skipped
    assert collections.Counter(loads) == collections.Counter(identifiers.values())


def test_a_table_with_its_own_write_data_path_gets_its_files_there(spark, model_dir, batch_records, tmp_path):
    """Where a table's data files go is the table's to say (its location provider: write.data.path if set)."""
    where = h.StreamTables(tables.CatalogSettings("sql", str(tmp_path / "warehouse")), "paths", drift=True)
    handler = new_handler(model_dir, where)
    identifier = handler.identifiers()[h.SCORED]
    elsewhere = (tmp_path / "scored-data").as_uri()
    with handler.catalog.load_table(identifier).transaction() as transaction:
        transaction.set_properties({TableProperties.WRITE_DATA_PATH: elsewhere})
    rows, valid, _ = batch_records
    handler(spark.createDataFrame(rows, SOURCE_SCHEMA), BATCH)
    listed = [f["file_path"] for f in handler.catalog.load_table(identifier).inspect.files().to_pylist()]
    assert listed and all(
        path.startswith(f"{elsewhere}/{outputs.KINESIS_ARRIVAL_TIME}_hour=") for path in listed
    )
    assert sorted(visible(handler)[h.SCORED]) == sorted(valid)
