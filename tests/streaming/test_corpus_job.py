"""The malformed-record corpus through the running job: every record lands once, scored or dead-lettered."""

from __future__ import annotations

import json

from churn_pipeline.streaming import records

from .conftest import create_stream, put_one_by_one, run_job
from .corpus import corpus


def test_each_corpus_record_ends_scored_or_dead_lettered_with_its_reason(spark, kinesis, tmp_path, model_dir):
    cases = corpus()
    stream = create_stream(kinesis, shards=1)
    placed = put_one_by_one(
        kinesis, stream, [(payload, f"customer-{i}") for i, (_, payload, _) in enumerate(cases)]
    )
    stats, scored, dead = run_job(spark, stream, tmp_path, model_dir)

    outcome_by_seq = {seq: "scored" for seq in scored["kinesis_sequence_number"]}
    for seq, code in zip(dead["kinesis_sequence_number"], dead["error_code"], strict=True):
        assert seq not in outcome_by_seq, f"record {seq} is both scored and dead-lettered"
        outcome_by_seq[seq] = code
    assert len(scored) + len(dead) == len(cases)
    found = {kind: outcome_by_seq.get(seq) for (kind, _, _), (_, seq) in zip(cases, placed, strict=True)}
    assert found == {kind: outcome for kind, _, outcome in cases}

    # Dead letters keep the raw payload byte for byte, with shard, sequence number and arrival time.
    payload_by_seq = {seq: payload for (_, payload, _), (_, seq) in zip(cases, placed, strict=True)}
    for row in dead.itertuples():
        assert bytes(row.raw_payload) == payload_by_seq[row.kinesis_sequence_number]
        assert row.kinesis_shard_id == placed[0][0]
        assert row.error_reason
        assert row.kinesis_arrival_time is not None
    # Contract rejects know their record_id; parse failures cannot.
    by_code = dead.set_index("error_code")
    assert by_code.loc["OUT_OF_RANGE", "record_id"] == "c-negative"

    # Scored rows carry the record's fields (typed as in the batch job), scores and Kinesis metadata.
    lower = scored.set_index("record_id").loc["c-lower-keys"]
    assert lower["State"] == "KS" and lower["Day Calls"] == 110 and lower["Day Mins"] == 265.1
    assert 0.0 <= lower["churn_probability"] <= 1.0 and lower["churn_prediction"] in (0, 1)
    no_id_seq = placed[[kind for kind, _, _ in cases].index("no record_id")][1]
    assert f"{placed[0][0]}/{no_id_seq}" in set(scored["record_id"])
    # Same customer data, different spelling: same score.
    same = scored[
        scored["record_id"].isin(["c-valid", "c-lower-keys", "c-extra", "c-numeric-strings", "c-area-float"])
    ]
    assert same["churn_probability"].nunique() == 1, same[["record_id", "churn_probability"]]
    assert sum(s.records_in for s in stats) == len(cases)
    assert json.loads(json.dumps(records.DEFAULT_MAX_PAYLOAD_BYTES)) == 64 * 1024


def test_handler_on_a_batch_of_only_malformed_records_then_its_replay(spark, tmp_path, model_dir):
    import datetime as dt

    from churn_pipeline import tables
    from churn_pipeline.contract import outputs
    from churn_pipeline.scoring.config import ScoringConfig
    from churn_pipeline.streaming.handler import BatchHandler, StreamTables, commit_seconds_logged

    arrival = dt.datetime(2026, 11, 26, 23, 59, 59, tzinfo=dt.UTC)
    rows = [
        (b"[]", "shardId-000000000000", "1", "k1", arrival),
        (b"\xff", "shardId-000000000000", "2", "k2", arrival),
    ]
    batch = spark.createDataFrame(
        rows,
        "data binary, shard_id string, sequence_number string, partition_key string, approximate_arrival_timestamp timestamp",
    )
    where = StreamTables.local(tmp_path / "warehouse")
    handler = BatchHandler(ScoringConfig("embedded", str(model_dir)), where, "q")
    stats = handler(batch, 7)
    assert (stats.records_in, stats.scored, stats.dead_lettered) == (2, 0, 2)
    assert stats.dead_letter_codes == {"NOT_AN_OBJECT": 1, "INVALID_UTF8": 1}
    assert len(where.read(outputs.STREAM_PREDICTIONS)) == 0
    dead = where.read(outputs.STREAM_DEAD_LETTER)
    assert sorted(bytes(p) for p in dead["raw_payload"]) == [b"[]", b"\xff"]
    # The hour partition, from the arrival time (Iceberg's hour transform: hours since the epoch).
    catalog = tables.catalog_from_settings(where.catalog)
    files = catalog.load_table(where.identifier(outputs.STREAM_DEAD_LETTER)).inspect.files().to_pylist()
    assert {f["partition"]["kinesis_arrival_time_hour"] for f in files} == {int(arrival.timestamp()) // 3600}
    replay = handler(batch, 7)
    assert replay.skipped, "a replay of a committed batch writes nothing"
    assert len(where.read(outputs.STREAM_DEAD_LETTER)) == 2
    # The commit time the log reports (make bench reads it there): the batch's, none for the skipped replay.
    assert stats.commit_seconds > 0 and replay.commit_seconds is None
    assert commit_seconds_logged(f"INFO x: {stats.log_line()}\nINFO x: {replay.log_line()}\n") == [
        round(stats.commit_seconds, 3)
    ]
    assert commit_seconds_logged("batch 3: records_in=2 max_arrival_to_commit=0.52s\n") == []
