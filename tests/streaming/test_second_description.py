"""The streaming path on a second shape of data (tests/data/telco-shape.dataset.json): the records' fields,
their types, the connector's DDL and the scored dataset's columns all come from the model's description."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline import tables
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.streaming import glue, records
from churn_pipeline.streaming.handler import BatchHandler, StreamContract, StreamTables
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts

from .telco import telco_records, write_csv

# The second description's output columns in file order: all but the ignored "Internal flag".
TELCO_FIELDS = [
    "customerID", "gender", "SeniorCitizen", "tenure", "InternetService", "Contract", "PaymentMethod",
    "MonthlyCharges", "TotalCharges", "Region note", "Churn",
]  # fmt: skip
ARRIVAL = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
ARRIVAL_MICROS = int(ARRIVAL.timestamp() * 1_000_000)


@pytest.fixture(scope="module")
def parser(second_description) -> records.RecordParser:
    return records.RecordParser.for_description(second_description)


@pytest.fixture(scope="module")
def telco_model(tmp_path_factory, second_description):
    """A model trained on generated data of the second description's shape (dataset.json in its directory)."""
    root = tmp_path_factory.mktemp("telco")
    data = read_churn_csv(write_csv(telco_records(1500, seed=5), root / "telco.csv"), second_description)
    model_dir = root / "model"
    write_artifacts(train(data, description=second_description), model_dir)
    assert ModelDir(model_dir).description() == second_description
    return model_dir


def payload(record: dict) -> bytes:
    return json.dumps(record).encode()


# ---------------------------------------------------------------------- the parser
def test_the_fields_are_the_description_s_output_columns_then_the_stream_s_own(parser):
    assert parser.parsed_fields == (*TELCO_FIELDS, "record_id", "event_time")
    assert parser.data_fields == tuple(TELCO_FIELDS)
    assert [parser.type_of(n) for n in ("customerID", "SeniorCitizen", "tenure", "TotalCharges")] == [
        "string", "int", "int", "double",
    ]  # fmt: skip


def test_a_record_of_that_shape_is_typed_and_keeps_spaces_and_parentheses(parser):
    record = {**telco_records(1, seed=1)[0], "InternetService": "Fiber optic",
              "PaymentMethod": "Bank transfer (automatic)", "tenure": "12", "MonthlyCharges": "70.35",
              "record_id": "r-1"}  # fmt: skip
    parsed = parser.parse(payload(record))
    assert parsed.error_code is None, parsed.error_reason
    values = parsed.values
    assert values["InternetService"] == "Fiber optic"
    assert values["PaymentMethod"] == "Bank transfer (automatic)"
    assert values["Region note"] == record["Region note"]  # passthrough, kept as given
    assert values["tenure"] == 12 and isinstance(values["tenure"], int)
    assert values["MonthlyCharges"] == 70.35 and isinstance(values["MonthlyCharges"], float)
    assert values["SeniorCitizen"] in (0, 1) and values["record_id"] == "r-1"


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_or_null_total_is_a_missing_value_not_a_parse_error(parser, blank):
    record = {**telco_records(1, seed=1)[0], "TotalCharges": blank}
    parsed = parser.parse(payload(record))
    assert parsed.error_code is None, parsed.error_reason
    assert parsed.values["TotalCharges"] is None  # the description allows it: scored with XGBoost's NaN


def test_the_ignored_column_and_the_label_need_not_be_in_a_record(parser):
    record = telco_records(1, seed=1)[0]
    del record["Internal flag"], record["Churn"]
    parsed = parser.parse(payload(record))
    assert parsed.error_code is None and parsed.values["Churn"] is None
    # Neither kept nor read by the model: a value of any type there is not checked, like an unknown field.
    parsed = parser.parse(payload({**record, "Internal flag": {"nested": [1]}}))
    assert parsed.error_code is None and "Internal flag" not in parsed.values


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"SeniorCitizen": "yes"}, codes.NOT_A_NUMBER, "'SeniorCitizen' is not a whole number: 'yes'"),
        ({"TotalCharges": "n/a"}, codes.NOT_A_NUMBER, "'TotalCharges' is not a number: 'n/a'"),
        ({"InternetService": 3}, codes.MISTYPED_FIELD, "'InternetService' is the number 3, expected a string"),
        ({"tenure": True}, codes.MISTYPED_FIELD, "'tenure' is a JSON boolean (true), expected a number"),
        ({"CUSTOMERID": "x"}, codes.DUPLICATE_FIELD,
         "fields 'customerID' and 'CUSTOMERID' are the same field 'customerID'"),
    ],
)  # fmt: skip
def test_a_wrong_type_is_a_dead_letter_naming_field_and_value(parser, changes, code, reason):
    parsed = parser.parse(payload({**telco_records(1, seed=1)[0], **changes}))
    assert (parsed.values, parsed.error_code, parsed.error_reason) == (None, code, reason)


def test_the_connector_ddl_follows_the_description(spark, second_description):
    ddl = records.payload_ddl(second_description)
    assert ddl == (
        "`customerID` STRING, `gender` STRING, `SeniorCitizen` INT, `tenure` INT, `InternetService` STRING, "
        "`Contract` STRING, `PaymentMethod` STRING, `MonthlyCharges` DOUBLE, `TotalCharges` DOUBLE, "
        "`Region note` STRING, `Churn` STRING, `record_id` STRING, `event_time` STRING, "
        "`_corrupt_record` STRING"
    )
    schema = T.StructType.fromDDL(ddl)  # Spark reads it back, names with spaces included
    assert schema["Region note"].dataType == T.StringType() and schema["tenure"].dataType == T.IntegerType()


def test_a_column_named_like_a_field_the_stream_adds_is_refused(second_description):
    data = second_description.to_dict()
    data["columns"][9]["name"] = "Record_ID"  # the passthrough column
    clashing = DatasetDescription.from_dict(data, "clash.dataset.json")
    with pytest.raises(
        ContractError, match=r"clash.dataset.json: column 'Record_ID' has the name of a field"
    ):
        records.RecordParser.for_description(clashing)
    data["columns"][9]["name"] = "churn_probability"
    with pytest.raises(ContractError, match=r"\['churn_probability'\] have the name of a column the stream"):
        StreamContract.for_description(DatasetDescription.from_dict(data, "clash.dataset.json"))


# ---------------------------------------------------------------------- the handler, on Spark
SOURCE_SCHEMA = T.StructType(
    [
        T.StructField("data", T.BinaryType()),
        T.StructField("shard_id", T.StringType()),
        T.StructField("sequence_number", T.StringType()),
        T.StructField("partition_key", T.StringType()),
        T.StructField("approximate_arrival_timestamp", T.TimestampType()),
    ]
)
GOOD = 40


@pytest.fixture(scope="module")
def stream_records() -> list[dict]:
    """Customers not seen in training: the first few with blank or null totals, odd values and no label;
    then the dead letters."""
    rows = telco_records(GOOD + 5, seed=99)
    for i, row in enumerate(rows):
        row["record_id"] = f"t-{i:03d}"
        row["event_time"] = f"2026-12-02T09:{i % 60:02d}:00Z"
    rows[0].update(tenure=0, TotalCharges="")
    rows[1].update(tenure=0, TotalCharges=None)
    rows[2].update(TotalCharges=" ", InternetService="Fiber optic", PaymentMethod="Bank transfer (automatic)")
    del rows[3]["Churn"], rows[3]["Internal flag"]  # a customer scored before the outcome is known
    rows[4].update(tenure="24", MonthlyCharges="56.95")  # numeric text
    rows[GOOD].update(SeniorCitizen="yes")
    rows[GOOD + 1].update(PaymentMethod=4)
    rows[GOOD + 2].update(tenure=-1)
    del rows[GOOD + 3]["MonthlyCharges"]
    rows[GOOD + 4].update(InternetService="Satellite (beta)")  # unseen category: scored, all-zero one-hot
    return rows


EXPECTED_DEAD = {
    f"t-{GOOD:03d}": (codes.NOT_A_NUMBER, "'SeniorCitizen' is not a whole number: 'yes'"),
    f"t-{GOOD + 1:03d}": (codes.MISTYPED_FIELD, "'PaymentMethod' is the number 4, expected a string"),
    f"t-{GOOD + 2:03d}": (codes.OUT_OF_RANGE, "'tenure' is -1, below the minimum 0"),
    f"t-{GOOD + 3:03d}": (codes.MISSING_VALUE, "'MonthlyCharges' is missing"),
}


def source_frame(spark, rows: list[dict]):
    return spark.createDataFrame(
        [(payload(r), "shardId-000000000000", f"4960{i:04d}", "k", ARRIVAL) for i, r in enumerate(rows)],
        SOURCE_SCHEMA,
    )


def handle(frame, model_dir, tmp_path, function=None):
    where = StreamTables.local(tmp_path / "warehouse")
    handler = BatchHandler(ScoringConfig(mode="embedded", model_uri=str(model_dir)), where, "q")
    stats = (function(handler) if function else handler)(frame, 0)
    return stats, where, where.read(outputs.STREAM_PREDICTIONS), where.read(outputs.STREAM_DEAD_LETTER)


def expected_output(rows: list[dict], model_dir) -> pd.DataFrame:
    """The scored rows as the model's own scorer scores them from the record's text, with the record's fields
    typed as the description says and the stream's fields from the Kinesis record."""
    scored_rows = [r for r in rows if r["record_id"] not in EXPECTED_DEAD]
    texts = pd.DataFrame(
        [{name: None if r.get(name) in ("", " ", None) else str(r[name]).strip() for name in TELCO_FIELDS}
         for r in scored_rows]
    )  # fmt: skip
    model = ModelDir(model_dir)
    probabilities = model.scorer().score(texts).probabilities
    assert len(probabilities) == len(scored_rows)

    def typed(value, cast):
        return None if value in ("", " ", None) else cast(value)

    expected = pd.DataFrame(
        {
            "customerID": [r["customerID"] for r in scored_rows],
            "gender": [r["gender"] for r in scored_rows],
            "SeniorCitizen": [typed(r["SeniorCitizen"], int) for r in scored_rows],
            "tenure": [typed(r["tenure"], int) for r in scored_rows],
            "InternetService": [r["InternetService"] for r in scored_rows],
            "Contract": [r["Contract"] for r in scored_rows],
            "PaymentMethod": [r["PaymentMethod"] for r in scored_rows],
            "MonthlyCharges": [typed(r["MonthlyCharges"], float) for r in scored_rows],
            "TotalCharges": [typed(r["TotalCharges"], float) for r in scored_rows],
            "Region note": [r["Region note"] for r in scored_rows],
            "Churn": [r.get("Churn") for r in scored_rows],
            "event_time": [r["event_time"] for r in scored_rows],
            "churn_probability": probabilities,
            "churn_prediction": (probabilities >= 0.5).astype("int32"),
            "model_version": model.version(),
            "record_id": [r["record_id"] for r in scored_rows],
            "kinesis_shard_id": "shardId-000000000000",
            "kinesis_sequence_number": [f"4960{rows.index(r):04d}" for r in scored_rows],
            "kinesis_arrival_time": pd.Timestamp(ARRIVAL),
        }
    )
    return expected.sort_values("record_id").reset_index(drop=True)


def comparable(scored: pd.DataFrame) -> pd.DataFrame:
    frame = scored.drop(columns=["scored_at"]).sort_values("record_id")
    frame = frame.reset_index(drop=True)
    frame["kinesis_arrival_time"] = pd.to_datetime(frame["kinesis_arrival_time"], utc=True)
    return frame.astype({c: object for c in ("SeniorCitizen", "tenure", "Churn")}).where(frame.notna(), None)


def test_a_micro_batch_of_that_shape_is_scored_whole_by_its_own_model(spark, telco_model, stream_records,
                                                                    tmp_path):  # fmt: skip
    stats, out, scored, dead = handle(source_frame(spark, stream_records), telco_model, tmp_path)

    assert (stats.records_in, stats.scored, stats.dead_lettered) == (len(stream_records), GOOD + 1, 4)
    # Columns: the description's output columns, then the stream's own, as the catalog table declares them
    # (the arrival time is the source of the table's hour partition).
    catalog = tables.catalog_from_settings(out.catalog)
    identifier = out.identifier(outputs.STREAM_PREDICTIONS)
    files = [urlparse(path).path for path in tables.data_file_paths(catalog, identifier)]
    # Filed under the records' arrival hour.
    listed = catalog.load_table(identifier).inspect.files().to_pylist()
    assert {f["partition"]["kinesis_arrival_time_hour"] for f in listed} == {int(ARRIVAL.timestamp()) // 3600}
    assert {Path(f).parent.name for f in files} == {"kinesis_arrival_time_hour=2026-12-02-09"}
    file_schema = pq.read_schema(files[0])
    assert file_schema.names == [*TELCO_FIELDS, *(f.name for f in outputs.STREAM_PREDICTIONS.columns)]
    assert [str(file_schema.field(n).type) for n in ("SeniorCitizen", "TotalCharges", "Region note")] == [
        "int32", "double", "string",
    ]  # fmt: skip
    assert scored["scored_at"].notna().all()

    expected = expected_output(stream_records, telco_model)
    pd.testing.assert_frame_equal(
        comparable(scored),
        expected.astype({c: object for c in ("SeniorCitizen", "tenure", "Churn")}).where(
            expected.notna(), None
        ),
        check_dtype=False,
        rtol=1e-6,
    )
    # The blank and null totals were scored (as missing), not dead-lettered.
    assert scored.loc[scored["record_id"].isin(["t-000", "t-001", "t-002"]), "TotalCharges"].isna().all()

    # Dead letters keep the record whole with the reason (a record the parser refused has no parsed id).
    dead_by_id = {
        json.loads(bytes(raw))["record_id"]: (code, reason)
        for raw, code, reason in zip(
            dead["raw_payload"], dead["error_code"], dead["error_reason"], strict=True
        )
    }
    assert dead_by_id == EXPECTED_DEAD
    by_id = {r["record_id"]: r for r in stream_records}
    assert all(
        bytes(raw) == payload(by_id[json.loads(bytes(raw))["record_id"]]) for raw in dead["raw_payload"]
    )


def test_glue_s_parsed_form_with_the_model_s_ddl_scores_the_same(
    spark, telco_model, stream_records, tmp_path
):
    """The connector's parsed form, its schema from the handler's description (as the entry script asks for
    it), through the entry script's mapping: the same scores and dead letters as the raw records."""
    _, _, raw_scored, raw_dead = handle(source_frame(spark, stream_records), telco_model, tmp_path / "raw")

    handler = BatchHandler(
        ScoringConfig(mode="embedded", model_uri=str(telco_model)),
        StreamTables.local(tmp_path / "unused"),
        "q",
    )
    args = {"stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s", "starting_position": "LATEST"}
    ddl = glue.kinesis_connection_options(args, handler.description)["schema"]
    parsed = F.from_json(
        F.col("data").cast("string"),
        ddl,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": records.CORRUPT_RECORD},
    )
    frame = (
        source_frame(spark, stream_records)
        .select(parsed.alias("p"), F.col("approximate_arrival_timestamp").alias(glue.RECORD_TIMESTAMP))
        .select("p.*", glue.RECORD_TIMESTAMP)
    )
    stats, _, scored, dead = handle(frame, telco_model, tmp_path / "parsed", glue.BatchFunction)

    # One known difference: Spark's JSON reader gives a string field any scalar as its text (JacksonParser,
    # StringType: "always tries to convert the data as string"), so the number 4 for PaymentMethod arrives
    # as "4", an unseen category, and is scored; the raw form dead-letters it (MISTYPED_FIELD).
    lenient = f"t-{GOOD + 1:03d}"
    assert (stats.scored, stats.dead_lettered) == (GOOD + 2, 3)
    assert scored.loc[scored["record_id"] == lenient, "PaymentMethod"].tolist() == ["4"]
    # The parsed form has no shard id or sequence number; everything else is the same.
    compared = [
        c for c in raw_scored.columns if c not in ("scored_at", "kinesis_shard_id", "kinesis_sequence_number")
    ]
    pd.testing.assert_frame_equal(
        scored.loc[scored["record_id"] != lenient, compared].sort_values("record_id").reset_index(drop=True),
        raw_scored[compared].sort_values("record_id").reset_index(drop=True),
    )
    raw_reasons = set(zip(raw_dead["error_code"], raw_dead["error_reason"], strict=True))
    assert set(zip(dead["error_code"], dead["error_reason"], strict=True)) == raw_reasons - {
        EXPECTED_DEAD[lenient]
    }
