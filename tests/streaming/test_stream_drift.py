"""Drift per micro-batch: the handler's PSI against the model's training baseline, counted in Spark tasks over the
scored rows, written to the stream_drift dataset through the commit protocol and published as the drift metric
when the batch has enough rows (drift.MIN_ROWS)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import boto3
import pandas as pd
import pytest
from pyspark.sql import types as T

from churn_pipeline import drift
from churn_pipeline.contract import metrics, outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming.cloudwatch import CloudWatchBatchMetrics
from churn_pipeline.streaming.handler import StreamTables
from churn_tools import synthetic
from churn_tools.local import producer

SHIFTED_COLUMN = "Day Mins"
SOURCE_SCHEMA = T.StructType(
    [
        T.StructField(h.DATA, T.BinaryType()),
        T.StructField(h.SHARD_ID, T.StringType()),
        T.StructField(h.SEQUENCE_NUMBER, T.StringType()),
        T.StructField(h.PARTITION_KEY, T.StringType()),
        T.StructField(h.ARRIVAL, T.TimestampType()),
    ]
)
ARRIVAL = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, list[tuple[bytes, str]]]:
    """Records like the training data (another seed), and the same with Day Mins x 1.5."""
    root = tmp_path_factory.mktemp("stream-drift")
    fresh = synthetic.write_csv(drift.MIN_ROWS + 200, root / "fresh.csv", seed=23)
    frame = pd.read_csv(fresh, dtype=str, keep_default_na=False)
    frame[SHIFTED_COLUMN] = (frame[SHIFTED_COLUMN].astype(float) * 1.5).round(1).astype(str)
    frame.to_csv(root / "shifted.csv", index=False)
    return {
        "fresh": list(producer.csv_records(fresh, "fresh-")),
        "shifted": list(producer.csv_records(root / "shifted.csv", "shifted-")),
    }


def source_frame(spark, items):
    rows = [(data, "shardId-0", f"{i:08d}", key, ARRIVAL) for i, (data, key) in enumerate(items)]
    return spark.createDataFrame(rows, SOURCE_SCHEMA)


def tables_at(root) -> StreamTables:
    return StreamTables.local(root / "warehouse", drift=True)


def handler_for(model_dir, root, metrics_client=None) -> h.BatchHandler:
    return h.BatchHandler(
        ScoringConfig(mode="embedded", model_uri=str(model_dir)),
        tables_at(root),
        "q-drift",
        on_batch=CloudWatchBatchMetrics("churn-test-stream", client=metrics_client)
        if metrics_client
        else None,
    )


def test_a_shifted_micro_batch_reports_its_drift_writes_it_and_publishes_the_alarm_metric(
    spark, model_dir, records, tmp_path, moto_server
):
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_server, region_name="us-east-1")
    stats = handler_for(model_dir, tmp_path, cloudwatch)(source_frame(spark, records["shifted"]), 7)

    assert stats.scored >= drift.MIN_ROWS and stats.drift["available"]
    psi = stats.drift["psi"]
    assert (
        stats.drift["max_feature"] == SHIFTED_COLUMN and psi[SHIFTED_COLUMN] >= metrics.DRIFT_ALARM_THRESHOLD
    )
    assert stats.max_psi == stats.drift["max_psi"]
    # The drift dataset: one row per baseline feature, committed with the batch, in the contract's columns.
    written = tables_at(tmp_path).read(outputs.STREAM_DRIFT)
    assert list(written.columns) == [f.name for f in outputs.STREAM_DRIFT.columns]
    assert set(written[outputs.FEATURE]) == set(ModelDir(model_dir).baseline().features)
    assert dict(zip(written[outputs.FEATURE], written[outputs.PSI], strict=True)) == pytest.approx(
        psi, abs=1e-6
    )
    assert set(written[outputs.DRIFT_ROWS]) == {stats.scored} and set(written[outputs.MICRO_BATCH]) == {7}
    # The metric the drift alarm reads, under the stream job's name.
    points = cloudwatch.get_metric_statistics(
        Namespace=metrics.NAMESPACE, MetricName=metrics.MAX_PSI,
        Dimensions=[{"Name": metrics.DIMENSION, "Value": "churn-test-stream"}],
        StartTime=pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=10),
        EndTime=pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1), Period=60, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    assert max(p["Maximum"] for p in points) == pytest.approx(stats.max_psi)


def test_a_batch_like_the_training_data_is_stable_and_a_small_one_publishes_no_metric(
    spark, model_dir, records, tmp_path
):
    stats = handler_for(model_dir, tmp_path / "big")(source_frame(spark, records["fresh"]), 0)
    assert stats.drift["available"] and stats.drift["max_psi"] < 0.05, stats.drift
    small = handler_for(model_dir, tmp_path / "small")(source_frame(spark, records["shifted"][:200]), 0)
    # Fewer rows than drift.MIN_ROWS: the rows are written (with their count), no metric (sampling noise).
    assert small.drift["available"] and small.drift["rows"] == small.scored < drift.MIN_ROWS
    assert small.max_psi is None
    names = {d["MetricName"] for d in CloudWatchBatchMetrics("job", client=object()).metric_data(small)}
    assert metrics.MAX_PSI not in names and metrics.DEAD_LETTER_RECORDS in names
    assert set(tables_at(tmp_path / "small").read(outputs.STREAM_DRIFT)[outputs.DRIFT_ROWS]) == {small.scored}


def test_a_model_without_a_baseline_scores_as_before_and_writes_no_drift(spark, model_dir, records, tmp_path):
    older = tmp_path / "older-model"
    shutil.copytree(model_dir, older)
    (older / ModelDir.BASELINE).unlink()
    frame = source_frame(spark, records["fresh"][:50])
    new = handler_for(model_dir, tmp_path / "new")(frame, 0)
    old = handler_for(older, tmp_path / "old")(frame, 0)
    assert (
        old.drift == {"available": False, "reason": old.drift["reason"]}
        and "no baseline.json" in old.drift["reason"]
    )
    assert old.max_psi is None and len(tables_at(tmp_path / "old").read(outputs.STREAM_DRIFT)) == 0
    columns = ["record_id", outputs.PROBABILITY, outputs.PREDICTION]
    scored_new = (
        tables_at(tmp_path / "new").read(outputs.STREAM_PREDICTIONS, columns).sort_values("record_id")
    )
    scored_old = (
        tables_at(tmp_path / "old").read(outputs.STREAM_PREDICTIONS, columns).sort_values("record_id")
    )
    pd.testing.assert_frame_equal(scored_new.reset_index(drop=True), scored_old.reset_index(drop=True))
    assert json.loads(json.dumps(new.drift))["available"]


def test_a_replayed_micro_batch_is_skipped_once_all_three_datasets_committed(
    spark, model_dir, records, tmp_path
):
    handler = handler_for(model_dir, tmp_path)
    frame = source_frame(spark, records["fresh"][:30])
    first = handler(frame, 3)
    again = handler(frame, 3)
    assert not first.skipped and again.skipped
    assert len(tables_at(tmp_path).read(outputs.STREAM_DRIFT)) == len(ModelDir(model_dir).baseline().features)


def test_the_driver_holds_one_drift_accumulator_per_query_however_many_micro_batches_ran(
    spark, model_dir, records, tmp_path
):
    # pyspark registers every accumulator made on the driver in `_accumulatorRegistry` and never drops one:
    # a new accumulator per micro-batch would grow the driver by one (with its counts) per batch, for weeks.
    from pyspark import accumulators

    handler = handler_for(model_dir, tmp_path)
    batches = [records["fresh"][i * 40 : (i + 1) * 40] for i in range(6)]
    first = handler(source_frame(spark, batches[0]), 0)
    registered = len(accumulators._accumulatorRegistry)
    later = [handler(source_frame(spark, items), batch_id) for batch_id, items in enumerate(batches[1:], 1)]
    assert len(accumulators._accumulatorRegistry) == registered, "a micro-batch left a new accumulator behind"
    # Reused, and each batch's drift counts only its own rows.
    assert [s.drift["rows"] for s in (first, *later)] == [s.scored for s in (first, *later)] == [40] * 6
