"""The two forms in which Glue's Kinesis connector hands over records, through the entry script's mapping
(`streaming.glue.BatchFunction`) into the real handler: raw (`data` bytes, no shard id) and parsed
(classification=json with the contract's DDL schema). A record the parser cannot fit is surfaced and
dead-lettered, never dropped; record ids never contain "None"."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.streaming import glue, records
from churn_pipeline.streaming import handler as h
from churn_pipeline.streaming.handler import BatchHandler, StreamTables
from churn_tools.local import producer

ARRIVAL = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
RAW_SCHEMA = T.StructType(
    [
        T.StructField("data", T.BinaryType()),
        T.StructField("streamName", T.StringType()),
        T.StructField("partitionKey", T.StringType()),
        T.StructField("sequenceNumber", T.StringType()),
        T.StructField(glue.RECORD_TIMESTAMP, T.TimestampType()),
    ]
)


@pytest.fixture
def payloads(synthetic_csv) -> list[tuple[bytes, str]]:
    """Five good records (two without a record_id), numeric text, not JSON, a JSON object of no contract field."""
    good = list(producer.csv_records(synthetic_csv, "form-"))[:5]
    anonymous = []
    for data, key in good[3:]:
        record = json.loads(data)
        del record["record_id"]
        anonymous.append((json.dumps(record).encode(), key))
    numeric_text = json.loads(good[0][0])
    numeric_text.update({"record_id": "form-text", "Area Code": "415"})
    return [
        *good[:3],
        *anonymous,
        (json.dumps(numeric_text).encode(), "k-text"),
        (b"{not json", "k-bad"),
        (b'{"unrelated": 1}', "k-none"),
    ]


def raw_frame(spark, payloads):
    rows = [(data, "s", key, f"4960{i:04d}", ARRIVAL) for i, (data, key) in enumerate(payloads)]
    return spark.createDataFrame(rows, RAW_SCHEMA)


def parsed_frame(spark, payloads):
    """What the connector gives with classification=json and the job's schema: Spark's JSON parser, permissive,
    over each payload, the struct's fields at top level (the connector's metadata columns are not there)."""
    parsed = F.from_json(
        F.col("data").cast("string"),
        records.payload_ddl(tutorial()),
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": records.CORRUPT_RECORD},
    )
    return (
        raw_frame(spark, payloads)
        .select(parsed.alias("p"), F.col(glue.RECORD_TIMESTAMP))
        .select("p.*", glue.RECORD_TIMESTAMP)
    )


def run(spark, frame, model_dir, tmp_path, name):
    where = StreamTables.local(tmp_path / name / "warehouse")
    handler = BatchHandler(ScoringConfig(mode="embedded", model_uri=str(model_dir)), where, "q-1")
    stats = glue.BatchFunction(handler)(frame, 0)
    return stats, where.read(outputs.STREAM_PREDICTIONS), where.read(outputs.STREAM_DEAD_LETTER)


def test_the_job_asks_the_connector_for_the_documented_parsed_form(spark):
    options = glue.kinesis_connection_options(
        {"stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s", "starting_position": "LATEST"},
        tutorial(),
    )
    assert {k: options[k] for k in ("classification", "inferSchema")} == {"classification": "json",
                                                                        "inferSchema": "false"}  # fmt: skip
    # The schema is the contract's: every raw column with its type, the ids, and the corrupt-record column.
    schema = T.StructType.fromDDL(options["schema"])
    assert schema.fieldNames() == [
        *records.RecordParser.for_description(tutorial()).parsed_fields,
        records.CORRUPT_RECORD,
    ]
    assert schema["Day Mins"].dataType == T.DoubleType() and schema["Area Code"].dataType == T.IntegerType()


def test_both_forms_score_the_same_records_and_dead_letter_the_rest(spark, payloads, model_dir, tmp_path):
    raw_stats, raw_scored, raw_dead = run(spark, raw_frame(spark, payloads), model_dir, tmp_path, "raw")
    stats, scored, dead = run(spark, parsed_frame(spark, payloads), model_dir, tmp_path, "parsed")

    # Every record comes out once, scored or dead-lettered, in either form.
    assert (raw_stats.records_in, raw_stats.scored, raw_stats.dead_lettered) == (len(payloads), 6, 2)
    assert (stats.records_in, stats.scored, stats.dead_lettered) == (len(payloads), 6, 2)
    # The same scores, field for field (the Kinesis metadata columns differ: the parsed form has none).
    compared = [
        c for c in raw_scored.columns
        if c != "scored_at" and (not c.startswith("kinesis_") or c == "kinesis_arrival_time")
    ]  # fmt: skip
    by_id = sorted(scored[compared].to_dict("records"), key=lambda r: str(r["record_id"]))
    raw_by_id = sorted(raw_scored[compared].to_dict("records"), key=lambda r: str(r["record_id"]))
    named = [r["record_id"] for r in by_id if r["record_id"].startswith("form-")]
    assert sorted(named) == ["form-000000000", "form-000000001", "form-000000002", "form-text"]
    # Ids: from the payload where it has one; else from what the record has, never "None".
    assert not any("None" in str(r) for r in [*scored["record_id"], *raw_scored["record_id"]])
    # The raw form has partition key and sequence number (no shard id); the parsed form neither.
    assert sorted(i for i in raw_scored["record_id"] if not i.startswith("form-")) == sorted(
        f"{payloads[i][1]}/4960{i:04d}" for i in (3, 4)
    )
    assert all(i.startswith("sha256:") for i in scored["record_id"] if not i.startswith("form-"))
    for row in (*by_id, *raw_by_id):
        row.pop("record_id")
    assert sorted(map(str, by_id)) == sorted(map(str, raw_by_id))

    # Not JSON: kept whole with the parser's reason in both forms; no contract field at all: raw says it is
    # missing values, the parsed form has nothing left to judge and says so.
    assert dict(zip(raw_dead["error_code"], map(bytes, raw_dead["raw_payload"]), strict=True)) == {
        codes.NOT_JSON: b"{not json",
        codes.MISSING_VALUE: b'{"unrelated": 1}',
    }
    assert dict(zip(dead["error_code"], map(bytes, dead["raw_payload"]), strict=True)) == {
        codes.NOT_JSON: b"{not json",
        codes.UNPARSED_RECORD: b"{}",
    }
    assert (
        dead.loc[dead["error_code"] == codes.UNPARSED_RECORD, "error_reason"]
        .item()
        .startswith("Glue's Kinesis connector (classification=json) gave no field")
    )


def test_a_frame_of_neither_form_is_refused_naming_its_columns(spark):
    frame = spark.createDataFrame([("x",)], "payload string")
    with pytest.raises(ValueError, match=r"neither a `data` column .* its columns: \['payload'\]"):
        glue.to_handler_columns(frame, records.RecordParser.for_description(tutorial()))


def test_the_first_micro_batch_logs_the_source_schema_and_the_runtime(spark, payloads, model_dir, tmp_path,
                                                                      caplog):  # fmt: skip
    handler = BatchHandler(
        ScoringConfig(mode="embedded", model_uri=str(model_dir)),
        StreamTables.local(tmp_path / "warehouse"),
        "q",
    )
    function = glue.BatchFunction(handler)
    with caplog.at_level(logging.INFO, logger="churn_pipeline.streaming"):
        function(raw_frame(spark, payloads[:1]), 0)
        function(raw_frame(spark, payloads[1:2]), 1)
    schema_lines = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("source frame schema")
    ]
    runtime_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("runtime: ")]
    assert len(schema_lines) == len(runtime_lines) == 1  # the first batch only
    assert json.loads(schema_lines[0].split(": ", 1)[1]) == json.loads(RAW_SCHEMA.json())
    facts = json.loads(runtime_lines[0].split(": ", 1)[1])
    import numpy
    import pyspark

    assert facts["spark"] == spark.version and facts["pyspark"] == pyspark.__version__
    assert facts["numpy"] == numpy.__version__ and set(glue.RUNTIME_DISTRIBUTIONS) <= set(facts)


@pytest.mark.parametrize(
    ("shard", "sequence", "key", "expected"),
    [
        ("shardId-000000000001", "4960", "k", "shardId-000000000001/4960"),
        (None, "4960", "k", "k/4960"),
        (None, "4960", None, "no-key/4960"),
    ],
)
def test_a_derived_id_uses_what_the_record_has(shard, sequence, key, expected):
    assert records.derived_record_id(shard, sequence, key, 1, b"{}") == expected


def test_with_no_metadata_the_id_is_a_digest_of_payload_and_arrival():
    first = records.derived_record_id(None, None, None, 1_000, b'{"a": 1}')
    assert first == records.derived_record_id(None, None, None, 1_000, b'{"a": 1}')  # stable across replays
    assert first != records.derived_record_id(None, None, None, 1_001, b'{"a": 1}')
    assert first != records.derived_record_id(None, None, None, 1_000, b'{"a": 2}')
    assert first.startswith("sha256:") and "None" not in first


# addRecordTimestamp's __src_timestamp: AWS documents the column, not its type. Each plausible type, as a real
# Spark frame of the parsed form, reaches the handler as the same arrival time.
ARRIVAL_MILLIS = int(ARRIVAL.timestamp() * 1000)
ARRIVAL_FORMS = {  # SQL, the column of each form
    "timestamp": f"timestamp_millis({ARRIVAL_MILLIS})",
    "bigint": f"CAST({ARRIVAL_MILLIS} AS BIGINT)",
    "string": "'2026-12-02T09:30:00.000Z'",
}


def parsed_frame_with_arrival(spark, payloads, form):
    return parsed_frame(spark, payloads).withColumn(glue.RECORD_TIMESTAMP, F.expr(ARRIVAL_FORMS[form]))


@pytest.mark.parametrize("form", sorted(ARRIVAL_FORMS))
def test_the_record_timestamp_is_read_as_the_arrival_time_whatever_its_type(spark, payloads, form):
    frame = parsed_frame_with_arrival(spark, payloads[:2], form)
    assert frame.schema[glue.RECORD_TIMESTAMP].dataType.simpleString() == form
    mapped = glue.to_handler_columns(frame, records.RecordParser.for_description(tutorial()))
    assert isinstance(mapped.schema[h.ARRIVAL].dataType, T.TimestampType)
    micros = {row[0] for row in mapped.select(F.expr(f"unix_micros({h.ARRIVAL})")).collect()}
    assert micros == {ARRIVAL_MILLIS * 1000}


def test_a_micro_batch_with_epoch_millis_scores_and_the_first_batch_logs_the_type(
    spark, payloads, model_dir, tmp_path, caplog
):
    with caplog.at_level(logging.INFO, logger="churn_pipeline.streaming"):
        frame = parsed_frame_with_arrival(spark, payloads[:3], "bigint")
        stats, scored, _ = run(spark, frame, model_dir, tmp_path, "ms")
    assert stats.scored == len(scored) == 3
    assert "arrival column: __src_timestamp of type bigint, read as epoch milliseconds" in caplog.messages


def test_a_record_timestamp_of_another_type_is_refused_naming_it(spark, payloads):
    frame = parsed_frame(spark, payloads[:1]).withColumn(glue.RECORD_TIMESTAMP, F.lit(1.5))
    with pytest.raises(
        ValueError, match=r"arrival column __src_timestamp is of type double: expected a timestamp"
    ):
        glue.to_handler_columns(frame, records.RecordParser.for_description(tutorial()))
