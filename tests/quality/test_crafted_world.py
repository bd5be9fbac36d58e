"""The quality job on a small world made by hand (the tutorial's description): which score an outcome is
joined to (the latest at or before known_at, across the batch and the stream datasets, committed stream
batches only, within the horizon), every reject reason, ISO weeks, and churn-outcomes check finding the same
problems as the job's reader."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest

from churn_pipeline import tables
from churn_pipeline.batch import files as batch_files
from churn_pipeline.batch import table_layout as batch_layout
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.quality import outcomes, scores
from churn_pipeline.tables import files as table_files
from churn_pipeline.training.datasets import read_churn_csv
from churn_tools import outcomes_cli

from .conftest import quality_run, read

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday noon
NOW = datetime.datetime(2026, 4, 1, tzinfo=UTC)  # the run's clock
DAY = datetime.timedelta(days=1)
HORIZON = 90
TEMPLATE = dict(zip(tutorial().column_names, "KS,128,415,382-4657,no,yes,25,265.1,110,45.07,197.4,99,16.78,"
                    "244.7,91,11.01,10.0,3,2.7,1,False.".split(","), strict=True))  # fmt: skip
ACCOUNT = "Account Length"  # each score row's own value: the training set shows which row was joined


def score(phone: str, account: int, at: datetime.datetime, version: str) -> dict:
    row = {c.name: TEMPLATE[c.name] for c in tutorial().output_columns}
    row.update({"Phone": phone, ACCOUNT: str(account)})
    typed = {c.name: (int(row[c.name]) if c.type == "integer" else float(row[c.name]) if c.type == "decimal"
                      else row[c.name]) for c in tutorial().output_columns}  # fmt: skip
    typed["Churn?"] = None  # scoring inputs have no label
    return {**typed, outputs.PROBABILITY: 0.1 + account / 100, outputs.PREDICTION: 0,
            outputs.MODEL_VERSION: version, outputs.SCORED_AT: at}  # fmt: skip


def table(rows: list[dict], dataset: outputs.Dataset) -> pa.Table:
    schema = outputs.arrow_schema(dataset.for_data(tutorial()))
    filled = [{**{f.name: None for f in schema}, **row} for row in rows]
    return pa.Table.from_pylist(filled, schema=schema)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("crafted")
    settings = tables.CatalogSettings("sql", str(root / "warehouse"))
    batch_rows = [
        score("100-0001", 1, T0 - 10 * DAY, "v-batch"),
        score("100-0002", 4, T0 - 2 * DAY, "v-batch"),
        score("100-0003", 9, T0 + datetime.timedelta(hours=1), "v-batch"),  # after its outcome only
        score("100-0004", 6, T0 - HORIZON * DAY, "v-batch"),  # exactly the horizon: joined
        score("100-0005", 9, T0 - HORIZON * DAY - datetime.timedelta(seconds=1), "v-batch"),  # a second older
        score("100-0007", 7, T0 - DAY, "v-batch"),
        score("100-0008", 9, T0 - DAY, "v-batch"),
        score("100-0009", 8, T0 - DAY, "v-batch"),
        score("100-0010", 10, datetime.datetime(2025, 12, 30, 9, tzinfo=UTC), "v-batch"),  # ISO week 2026-W01
    ]
    # The batch job's scored table, as the batch job creates and commits it (run b1).
    specs = batch_layout.table_specs(batch_layout.datasets(tutorial()), drift=False)
    catalog = tables.catalog_from_settings(settings)
    scored = {batch_layout.SCORED: specs[batch_layout.SCORED]}
    identifier = tables.ensure_tables(catalog, settings, "batch", scored)[batch_layout.SCORED]
    batch = tables.TableRef(settings, identifier)
    data_path = catalog.load_table(identifier).location_provider().data_path
    run_folder = f"{data_path}/{batch_layout.PARTITION_COLUMN}=b1"
    b1 = [{**r, outputs.BATCH_PARTITION: "b1"} for r in batch_rows]
    written = batch_files.write_file(run_folder, "part-b1", table(b1, outputs.BATCH_PREDICTIONS))
    tables.commit_data_files(catalog, identifier, [written], tables.CommitMarker("b1/t", 0))
    # A run that stopped before its commit: its file is in the partition's folder, in no snapshot, never read
    # (it would beat 0002's committed score).
    unfinished = [{**score("100-0002", 11, T0 - DAY, "v-batch"), outputs.BATCH_PARTITION: "b1"}]
    batch_files.write_file(run_folder, "part-b1-unfinished", table(unfinished, outputs.BATCH_PREDICTIONS))
    # The stream's scored table, as the streaming job creates and commits it.
    stream = tables.TableRef(settings, f"stream.{outputs.STREAM_PREDICTIONS.table}")
    scored_table = outputs.STREAM_PREDICTIONS.for_data(tutorial())
    data = table_files.data_location(tables.ensure_table(
        catalog, stream.identifier, outputs.arrow_schema(scored_table),
        [(outputs.KINESIS_ARRIVAL_TIME, "hour")], settings.table_location("stream", scored_table.table),
    ))  # fmt: skip
    arrival = {outputs.KINESIS_ARRIVAL_TIME: datetime.datetime(2026, 3, 1, 12, tzinfo=UTC)}
    committed = [score("100-0001", 2, T0 - DAY, "v-stream"), score("100-0002", 5, T0 - 5 * DAY, "v-stream")]
    files = table_files.write_hour_files(
        settings,
        data,
        table([{**r, **arrival} for r in committed], scored_table),
        outputs.KINESIS_ARRIVAL_TIME,
        "q1-0",
    )
    tables.commit_data_files(catalog, stream.identifier, files, tables.CommitMarker("q1", 0))
    # A later batch the job was writing when it stopped: written, never committed, never read.
    late = [score("100-0001", 3, T0 - datetime.timedelta(hours=1), "v-stream")]
    table_files.write_hour_files(
        settings,
        data,
        table([{**r, **arrival} for r in late], scored_table),
        outputs.KINESIS_ARRIVAL_TIME,
        "q1-1",
    )
    lines = {
        "100-0001,True.,2026-03-02T14:00:00+02:00": None,  # = T0: the committed stream score (1 day old)
        "100-0002,False.,2026-03-02T12:00:00": None,  # no offset: UTC; the batch score (2 days) beats 5
        "100-0003,True.,2026-03-02T12:00:00Z": codes.NOT_SCORED,
        "100-0004,True.,2026-03-02T12:00:00Z": None,
        "100-0005,True.,2026-03-02T12:00:00Z": codes.NOT_SCORED,
        "100-0006,True.,2026-03-02T12:00:00Z": codes.NOT_SCORED,  # never scored
        "100-0007,False.,2026-03-02T12:00:00Z": None,
        "100-0007,False.,2026-03-02T13:00:00Z": codes.DUPLICATE_OUTCOME,  # same day, same label: a repeat
        "100-0008,False.,2026-03-02T12:00:00Z": codes.DUPLICATE_OUTCOME,  # same day, labels differ: neither
        "100-0008,True.,2026-03-02T18:00:00Z": codes.DUPLICATE_OUTCOME,
        "100-0009,False.,2026-03-02": None,  # a date: that day's start (UTC)
        "100-0010,True.,2026-01-05T08:00:00Z": None,
        ",True.,2026-03-02T12:00:00Z": codes.MISSING_ID,
        "100-0011,Maybe,2026-03-02T12:00:00Z": codes.UNKNOWN_LABEL,
        "100-0012,True.,2026-02-30": codes.INVALID_KNOWN_AT,
        "100-0013,True.,2026-5-1": codes.INVALID_KNOWN_AT,  # not ISO-8601 (Spark's cast alone would take it)
        "100-0014,True.,2026-05-01T00:00:00Z": codes.FUTURE_KNOWN_AT,
        "100-0015,True.": codes.WRONG_FIELD_COUNT,
    }
    outcome_file = root / "outcomes" / "outcomes.csv"
    outcome_file.parent.mkdir()
    outcome_file.write_text("Phone,Churn?,known_at\n" + "\n".join(lines) + "\n\n")
    return {"root": root, "batch": batch, "stream": stream, "lines": lines, "file": outcome_file}


@pytest.fixture(scope="module")
def crafted_run(spark, world, real_model_dir):
    return quality_run(spark, world["root"] / "out", str(world["file"].parent), real_model_dir,
                       batch=(world["batch"],), stream=(world["stream"],), now=NOW, horizon_days=HORIZON)  # fmt: skip


def test_every_bad_outcome_is_kept_with_its_reason(world, crafted_run):
    config, summary = crafted_run
    rejects = read(config.rejects_path)
    found = dict(zip(rejects[outputs.RAW_LINE], rejects[outputs.ERROR_CODE], strict=True))
    expected = {line: code for line, code in world["lines"].items() if code is not None}
    assert found == expected
    assert set(rejects[outputs.SOURCE_FILE].str.replace("file:", "")) == {str(world["file"])}
    reasons = dict(zip(rejects[outputs.RAW_LINE], rejects[outputs.ERROR_REASON], strict=True))
    assert reasons["100-0006,True.,2026-03-02T12:00:00Z"] == "id '100-0006' was never scored"
    assert "within 90 day(s)" in reasons["100-0005,True.,2026-03-02T12:00:00Z"]
    assert "different labels" in reasons["100-0008,True.,2026-03-02T18:00:00Z"]
    counts: dict[str, int] = {}
    for code in expected.values():
        counts[code] = counts.get(code, 0) + 1
    assert summary.reject_codes == counts
    assert (summary.joined, summary.rejected, summary.header_lines, summary.blank_lines) == (6, 12, 1, 1)
    assert summary.outcome_lines == len(world["lines"])


def test_each_outcome_takes_the_latest_committed_score_before_it_within_the_horizon(world, crafted_run):
    config, summary = crafted_run
    written = read_churn_csv(summary.training_set_path, tutorial())
    picked = dict(zip(written["Phone"], written[ACCOUNT].astype(int), strict=True))
    # stream over batch (newer), batch over stream (newer), the horizon's last second, the rest.
    assert picked == {
        "100-0001": 2,
        "100-0002": 4,
        "100-0004": 6,
        "100-0007": 7,
        "100-0009": 8,
        "100-0010": 10,
    }
    labels = dict(zip(written["Phone"], written["Churn?"], strict=True))
    assert labels["100-0001"] == "True." and labels["100-0009"] == "False."
    quality = read(config.quality_path)
    weeks = {
        (row[outputs.MODEL_VERSION], row[outputs.SCORE_WEEK]): (row[outputs.ROWS], row[outputs.POSITIVES])
        for _, row in quality.iterrows()
    }

    def week(at: datetime.datetime) -> str:
        year, number, _ = at.isocalendar()
        return f"{year}-W{number:02d}"

    assert weeks == {
        ("v-stream", week(T0 - DAY)): (1, 1),
        ("v-batch", week(T0 - DAY)): (3, 0),  # 0002 (2 days before, the same week), 0007, 0009
        ("v-batch", week(T0 - HORIZON * DAY)): (1, 1),
        ("v-batch", "2026-W01"): (1, 1),  # 2025-12-30 is in ISO week 1 of 2026
    }
    # Weeks with one kind of outcome have no AUC: nothing to publish for either version.
    assert quality[outputs.AUC].isna().all() and summary.latest_auc == {}


def test_churn_outcomes_check_finds_what_the_reader_rejects(world, crafted_run, real_model_dir, capsys):
    config, _summary = crafted_run
    rejects = read(config.rejects_path)
    by_reader = {
        (line, code)
        for line, code in zip(rejects[outputs.RAW_LINE], rejects[outputs.ERROR_CODE], strict=True)
        if code != codes.NOT_SCORED  # needs the scores
    }
    problems = outcomes.check_file(str(world["file"]), tutorial(), NOW)
    assert {(p.text, p.code) for p in problems} == by_reader
    assert outcomes_cli.main(["check", str(real_model_dir), str(world["file"])]) == 1
    printed = capsys.readouterr().out
    assert f"outcomes.csv:14: {codes.MISSING_ID}" in printed
    good = world["root"] / "good.csv"
    good.write_text("Phone,Churn?,known_at\n100-0001,True.,2026-03-02\n")
    assert outcomes_cli.main(["check", str(real_model_dir), str(good)]) == 0


def test_an_outcome_file_without_the_model_s_columns_is_refused_by_name(world, real_model_dir):
    bad = world["root"] / "bad.csv"
    bad.write_text("customer,churned,known_at\n1,True.,2026-03-02\n")
    with pytest.raises(outcomes.OutcomesError, match=r"missing column\(s\) \['Phone', 'Churn\?'\]"):
        outcomes.check_file(str(bad), tutorial(), NOW)
    assert outcomes_cli.main(["check", str(real_model_dir), str(bad)]) == 2


def test_a_table_not_created_yet_holds_no_score(spark, world):
    """Before the batch job's first run its table does not exist (the jobs create their tables): no score from
    it, the other table's committed rows still read, and a run with none at all joins nothing."""
    settings = world["stream"].settings
    missing = [tables.TableRef(settings, f"batch.not_{outputs.BATCH_PREDICTIONS.table}"),
               tables.TableRef(settings, f"no_database.{outputs.BATCH_PREDICTIONS.table}")]  # fmt: skip
    read = scores.read_scores(spark, tutorial(), missing, [world["stream"]])
    assert sorted(read.select("Phone", ACCOUNT).collect()) == [("100-0001", 2), ("100-0002", 5)]
    nothing = scores.read_scores(spark, tutorial(), missing)
    assert (nothing.count(), nothing.schema.simpleString()) == (0, read.schema.simpleString())
