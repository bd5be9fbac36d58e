"""The micro-batch handler (foreachBatch / Glue forEachBatch): parse, score, dead-letter, commit exactly once,
every record handled in the Spark tasks (the driver sees counts and the names of the files they wrote).

Each micro-batch is one Iceberg commit per table (dead letter, drift, scored: in that order), its marker
(query id, batch id) in the snapshot summary (churn_pipeline.tables.commit_data_files); a replayed batch is
skipped for every table whose history holds its marker. See docs/streaming-commit-protocol.md.

Input: a DataFrame of Kinesis records with the columns of `SOURCE_COLUMNS` (the Python source gives them as
is; the Glue entry script maps either form of the Glue connector's records to them), and optionally
`SOURCE_ERROR_CODE` / `SOURCE_ERROR_REASON`: a record the source already judged unusable is dead-lettered
with that code, never parsed. The record's fields and the scored dataset's columns follow the dataset
description of the model the handler scores with (`StreamContract`, read once per run on the driver).
Kept compatible with Python 3.10 and Spark 3.3 (Glue 4.0 runs this module): no Spark-4-only calls.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pandas as pd
import pyarrow as pa
from pyiceberg.table import Table
from pyspark import Accumulator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline import drift, tables
from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import DatasetDescription, canonical
from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring import spark as spark_scoring
from churn_pipeline.streaming import records
from churn_pipeline.streaming import table_layout as layout
from churn_pipeline.tables import files as table_files

log = logging.getLogger("churn_pipeline.streaming")

DATA = "data"
SHARD_ID = "shard_id"
SEQUENCE_NUMBER = "sequence_number"
PARTITION_KEY = "partition_key"
ARRIVAL = "approximate_arrival_timestamp"
SOURCE_COLUMNS = (DATA, SHARD_ID, SEQUENCE_NUMBER, PARTITION_KEY, ARRIVAL)
SOURCE_ERROR_CODE = "source_error_code"
SOURCE_ERROR_REASON = "source_error_reason"

ARRIVAL_MICROS = "_arrival_micros"
PARSE_ERROR_CODE = "_parse_error_code"
PARSE_ERROR_REASON = "_parse_error_reason"

_SPARK_TYPES = {outputs.INT: T.IntegerType(), outputs.DOUBLE: T.DoubleType(), outputs.STRING: T.StringType()}
# What each write task reports to the driver: one JSON line of counts and the files it wrote.
_TASK_REPORT_SCHEMA = T.StructType([T.StructField("report", T.StringType())])


# The tables, their schemas and partitioning: one definition, shared with the deploy step that creates them.
SCORED, DEAD, DRIFT, HOUR_COLUMN = layout.SCORED, layout.DEAD, layout.DRIFT, layout.HOUR_COLUMN


@dataclass(frozen=True)
class StreamTables(tables.JobTables):
    """Where the streaming job commits (tables.JobTables: the catalog, the database, whether the drift table is
    written, drift computed per batch); a local run's database is `stream` unless told otherwise."""

    @classmethod
    def local(cls, warehouse: str | Path, database: str = "stream", drift: bool = False) -> Self:
        return super().local(warehouse, database, drift)


@dataclass(frozen=True)
class StreamContract:
    """What the records and the scored dataset look like for one model: its dataset description, the record
    parser built from it (pickled into the tasks), the frame `parse_frame` returns and the scored dataset's
    columns (contract.outputs.STREAM_PREDICTIONS with the description's columns in front)."""

    description: DatasetDescription
    parser: records.RecordParser
    parsed_schema: T.StructType
    output: outputs.Dataset

    @classmethod
    def for_description(cls, description: DatasetDescription) -> StreamContract:
        parser = records.RecordParser.for_description(description)
        # The record, its parsed fields (the types the scorer reads its inputs as), and the parser's (or the
        # source's) verdict.
        parsed_schema = T.StructType(
            [
                T.StructField(DATA, T.BinaryType()),
                T.StructField(SHARD_ID, T.StringType()),
                T.StructField(SEQUENCE_NUMBER, T.StringType()),
                T.StructField(PARTITION_KEY, T.StringType()),
                T.StructField(ARRIVAL_MICROS, T.LongType()),
                *[
                    T.StructField(name, _SPARK_TYPES[kind])
                    for name, kind in zip(parser.parsed_fields, parser.types, strict=True)
                ],
                T.StructField(PARSE_ERROR_CODE, T.StringType()),
                T.StructField(PARSE_ERROR_REASON, T.StringType()),
            ]
        )
        output = outputs.STREAM_PREDICTIONS.for_data(description)
        names = [canonical(name) for name in output.column_names]
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise ContractError(
                f"{description.source}: column(s) {clashes} have the name of a column the stream job adds "
                f"to its scored records ({outputs.STREAM_PREDICTIONS.table}): rename them"
            )
        return cls(description, parser, parsed_schema, output)


def parse_frame(frame: pd.DataFrame, parser: records.RecordParser, max_payload_bytes: int) -> pd.DataFrame:
    """Parse every record of a pandas batch; one output row per input row, in order."""
    fields = parser.parsed_fields
    out: dict[str, list[object]] = {name: [] for name in (*fields, PARSE_ERROR_CODE, PARSE_ERROR_REASON)}
    rows = zip(
        frame[DATA], frame[SHARD_ID], frame[SEQUENCE_NUMBER], frame[PARTITION_KEY], frame[ARRIVAL_MICROS],
        frame[SOURCE_ERROR_CODE], frame[SOURCE_ERROR_REASON], strict=True,
    )  # fmt: skip
    for data, shard, seq, key, arrival, source_code, source_reason in rows:
        payload = bytes(data) if data is not None else b""
        if source_code is not None:
            parsed = records.Parsed(None, source_code, source_reason)
        else:
            parsed = parser.parse(payload, max_payload_bytes)
        values = parsed.values or dict.fromkeys(fields)
        if parsed.values is not None and not values[records.RECORD_ID]:
            # Producers that add no record_id (the tutorial's) still get a stable id: where Kinesis put it.
            values[records.RECORD_ID] = records.derived_record_id(
                _text_or_none(shard), _text_or_none(seq), _text_or_none(key), _int_or_none(arrival), payload
            )
        for name in fields:
            out[name].append(values[name])
        out[PARSE_ERROR_CODE].append(parsed.error_code)
        out[PARSE_ERROR_REASON].append(parsed.error_reason)
    result = frame[[DATA, SHARD_ID, SEQUENCE_NUMBER, PARTITION_KEY, ARRIVAL_MICROS]].reset_index(drop=True)
    result[DATA] = result[DATA].map(
        lambda v: b"" if v is None else v
    )  # a dead letter keeps bytes, maybe none
    for name, column in out.items():
        result[name] = pd.Series(column, dtype=object)
    return result


def _text_or_none(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _int_or_none(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


@dataclass
class BatchStats:
    batch_id: int
    records_in: int = 0
    scored: int = 0
    dead_lettered: int = 0
    skipped: bool = False
    replayed: bool = False
    batch_seconds: float = 0.0
    max_arrival_to_commit_seconds: float | None = None
    commit_seconds: float | None = None  # the batch's table commits, from the first to the last (driver)
    model_version: str | None = None
    dead_letter_codes: dict[str, int] = field(default_factory=dict)
    drift: dict = field(default_factory=dict)  # DriftReport.summary() of the scored rows; {} when not asked

    @property
    def max_psi(self) -> float | None:
        """The largest PSI for the drift metric: only from enough rows for a stable one (drift.MIN_ROWS)."""
        if not self.drift.get("available") or self.drift["rows"] < drift.MIN_ROWS:
            return None
        return self.drift["max_psi"]

    def log_line(self) -> str:
        latency = (
            "n/a"
            if self.max_arrival_to_commit_seconds is None
            else f"{self.max_arrival_to_commit_seconds:.2f}s"
        )
        return (
            f"batch {self.batch_id}: records_in={self.records_in} scored={self.scored} "
            f"dead_lettered={self.dead_lettered} batch_latency={self.batch_seconds:.2f}s "
            f"max_arrival_to_commit={latency}"
            + ("" if self.commit_seconds is None else f" commit={self.commit_seconds:.3f}s")
            + (" (already committed: skipped)" if self.skipped else "")
            + (" (replay of an interrupted attempt)" if self.replayed else "")
            + (
                f" dead_letter_codes={json.dumps(self.dead_letter_codes, sort_keys=True)}"
                if self.dead_letter_codes
                else ""
            )
            + (
                f" max_psi={self.drift['max_psi']:.3f} ({self.drift['max_feature']})"
                if self.drift.get("available")
                else (f" drift unavailable: {self.drift['reason']}" if self.drift else "")
            )
        )


# What `BatchStats.log_line` writes of a batch's commit time, for readers of the job's log (make bench).
_COMMIT_IN_LOG = re.compile(r"\bbatch \d+: .* max_arrival_to_commit=\S+ commit=(\d+\.\d+)s")


def commit_seconds_logged(log_text: str) -> list[float]:
    """The commit time of every micro-batch a job's log reports, in its order (skipped batches commit nothing)."""
    return [float(m.group(1)) for m in _COMMIT_IN_LOG.finditer(log_text)]


class BatchHandler:
    """Callable for foreachBatch: handler(batch_df, batch_id)."""

    def __init__(
        self,
        scoring: spark_scoring.ScoringConfig,
        tables_at: StreamTables,
        query_id: Callable[[], str] | str,
        max_payload_bytes: int = records.DEFAULT_MAX_PAYLOAD_BYTES,
        on_batch: Callable[[BatchStats], None] | None = None,
    ):
        self.scoring = scoring
        self.tables = tables_at
        self._query_id = query_id
        self.max_payload_bytes = max_payload_bytes
        self.on_batch = on_batch
        # One drift accumulator for the query, emptied per micro-batch: the driver never releases one.
        self._drift_counts: Accumulator | None = None
        self._contract: StreamContract | None = None
        self._catalog = None
        self._identifiers: dict[str, str] | None = None

    @property
    def contract(self) -> StreamContract:
        """The records' and outputs' shape for the model scored with, read from its directory once per run
        (at the first micro-batch, or when the Glue entry script asks for the connector's schema)."""
        if self._contract is None:
            model = ModelDir.fetch(self.scoring.model_uri, self.scoring.region)
            self._contract = StreamContract.for_description(model.description())
        return self._contract

    @property
    def description(self) -> DatasetDescription:
        return self.contract.description

    @property
    def query_id(self) -> str:
        return self._query_id() if callable(self._query_id) else self._query_id

    def table_specs(self) -> dict[str, layout.TableSpec]:
        return layout.table_specs(self.contract.output, self.tables.drift)

    def identifiers(self) -> dict[str, str]:
        """Each table's identifier, the tables checked against the writer's schema once per run. Deployed, the
        deploy step has created them (churn_tools.deploy.tables; the job's role may not create a table); a run
        with no deployment (a local catalog, tests) creates them here, with the same definition."""
        if self._identifiers is None:
            self._identifiers = layout.ensure_tables(
                self.catalog, self.tables.catalog, self.tables.database, self.table_specs()
            )
        return self._identifiers

    @property
    def catalog(self):
        if self._catalog is None:
            self._catalog = tables.catalog_from_settings(self.tables.catalog)
        return self._catalog

    def __call__(self, batch: DataFrame, batch_id: int) -> BatchStats:
        started = time.time()
        query_id = self.query_id
        stats = BatchStats(batch_id)
        identifiers = self.identifiers()
        # A table whose history holds this batch's marker (or a later one of this query) has it already: a
        # crash came after its commit. The batch is re-run for the others only. Each table is loaded once per
        # micro-batch: its commit starts from this load (and reloads only after a lost race).
        marker = tables.CommitMarker(query_id, batch_id)
        loaded = {name: self.catalog.load_table(identifier) for name, identifier in identifiers.items()}
        done = {name for name, table in loaded.items() if tables.is_committed(table, marker)}
        if SCORED in done:  # committed last, always (even empty): the batch is in every table that has rows
            stats.skipped = True
            log.info(stats.log_line())
            return self._done(stats)
        stats.replayed = bool(done)

        # Everything per record runs in the Spark tasks (parse, score, write their own files); the driver sees
        # counts and the files written, then commits them (docs/streaming-commit-protocol.md).
        source = batch.select(
            F.col(DATA),
            F.col(SHARD_ID),
            F.col(SEQUENCE_NUMBER),
            F.col(PARTITION_KEY),
            F.expr(f"unix_micros({ARRIVAL})").alias(ARRIVAL_MICROS),
            *[
                F.col(name) if name in batch.columns else F.lit(None).cast("string").alias(name)
                for name in (SOURCE_ERROR_CODE, SOURCE_ERROR_REASON)
            ],
        )
        pending = {name: table for name, table in loaded.items() if name not in done}
        stats = self._process(source, marker, stats, pending)
        stats.batch_seconds = time.time() - started
        log.info(stats.log_line())
        return self._done(stats)

    def _done(self, stats: BatchStats) -> BatchStats:
        if self.on_batch is not None:
            self.on_batch(stats)
        return stats

    @staticmethod
    def _drift_of(scorer: spark_scoring.TaskScorer, rows: int) -> drift.DriftReport:
        """PSI of the batch's scored rows against the baseline: the counts were taken by the scoring workers
        as they scored (scoring.spark), never the rows collected for it."""
        if rows == 0:
            return drift.DriftReport(unavailable="no record of this micro-batch was scored")
        if scorer.drift_baseline is None:
            return drift.report(None, {}, rows)
        return drift.report(scorer.drift_baseline, scorer.drift_counts(rows), rows)

    def _process(
        self, source: DataFrame, marker: tables.CommitMarker, stats: BatchStats, pending: dict[str, Table]
    ) -> BatchStats:
        """`pending`: each table this batch is not yet committed to, as loaded for this batch."""
        query_id, batch_id = marker.writer, marker.sequence
        locations = {name: table_files.data_location(table) for name, table in pending.items()}
        # One Python operator per task: it parses, scores (the shared scorer's function) and writes each Arrow
        # batch in turn, so a task holds one batch. Spark's scoring UDF would queue every row it sent to Python
        # until its result came back: behind a parse that outruns the model, the whole partition
        # (spark_scoring.TaskScorer).
        contract = self.contract
        if self.tables.drift and self._drift_counts is None:
            self._drift_counts = spark_scoring.drift_accumulator(source.sparkSession)
        scorer = spark_scoring.task_scorer(
            contract.parsed_schema,
            source.sparkSession,
            self.scoring,
            prior_error=(PARSE_ERROR_CODE, PARSE_ERROR_REASON),
            count_drift=self.tables.drift,
            drift_counts=self._drift_counts,
        )
        # No more partitions than task slots: on 2 cores, 4 shards' partitions ran in two waves and a wave's
        # fixed cost (a Python worker, the Arrow hops) was most of a small batch's latency. A task holds one
        # Arrow batch at a time, so more records per task cost no memory.
        # (coalesce never adds partitions: a batch with fewer keeps its own.)
        source = source.coalesce(source.sparkSession.sparkContext.defaultParallelism)
        # One scoring time for this attempt at the micro-batch (as current_timestamp() is one per query), taken
        # here on the driver and shipped in the tasks' function: every task, and a task Spark retries, writes
        # the same. A replay of the batch (a new handler call, after a failure or a restart) scores again at its
        # own time; only one attempt is ever committed (the marker), so a committed batch has one scored_at.
        scored_at_micros = int(time.time() * 1e6)
        pipeline = _task_pipeline(
            contract.parser,
            contract.output,
            self.max_payload_bytes,
            scorer,
            scored_at_micros,
            {name: location for name, location in locations.items() if name in (SCORED, DEAD)},
            self.tables.catalog,
            f"{query_id}-{batch_id:012d}",
        )
        reports = [
            json.loads(row["report"]) for row in source.mapInPandas(pipeline, _TASK_REPORT_SCHEMA).collect()
        ]
        stats.records_in = sum(r["records"] for r in reports)
        stats.scored = sum(r["rows"][SCORED] for r in reports)
        report = self._drift_of(scorer, stats.scored) if self.tables.drift else None
        stats.dead_lettered = sum(r["rows"][DEAD] for r in reports)
        for r in reports:
            for code, n in r["codes"].items():
                stats.dead_letter_codes[code] = stats.dead_letter_codes.get(code, 0) + n
        stats.model_version = scorer.model_version
        arrivals = [r["min_arrival"] for r in reports if r["min_arrival"] is not None]

        files = {name: [f for r in reports for f in r["files"].get(name, [])] for name in (DEAD, SCORED)}
        if report is not None and arrivals:
            stats.drift = report.summary()
            if DRIFT in pending:  # the driver writes the batch's few drift rows itself
                table = drift_table(report, scorer.model_version, batch_id)
                name = f"{query_id}-{batch_id:012d}-driver"
                files[DRIFT] = table_files.write_hour_files(
                    self.tables.catalog, locations[DRIFT], table, HOUR_COLUMN[DRIFT], name
                )
        # Dead letters and drift first, the scored table last: a crash before a table's commit leaves the
        # batch uncommitted there, so it re-runs for that table (and those after it) only. The scored table's
        # snapshot is made even with no scored row: its marker says the whole batch is done.
        committing = time.perf_counter()
        for name, identifier in self.identifiers().items():
            if name in pending:
                tables.commit_data_files(
                    self.catalog, identifier, files.get(name, []), marker, commit_empty=name == SCORED,
                    loaded=pending[name],
                )  # fmt: skip
        stats.commit_seconds = time.perf_counter() - committing
        if arrivals:
            stats.max_arrival_to_commit_seconds = time.time() - float(min(arrivals)) / 1e6
        return stats


def _task_pipeline(
    parser: records.RecordParser,
    output: outputs.Dataset,
    max_payload_bytes: int,
    scorer: spark_scoring.TaskScorer,
    scored_at_micros: int,
    locations: dict[str, str],
    catalog: tables.CatalogSettings,
    batch_name: str,
):
    """The tasks' function (mapInPandas over the source frame): for each Arrow batch of its partition, a task
    parses the records (`parse_frame`), scores them (the shared scorer, the parser's verdict as the prior
    error), builds the scored and dead-letter tables, writes each as data files under the data location of
    the tables not yet committed (one file per arrival hour, names unique to this attempt: no retry or replay
    overwrites or deletes a file), and reports one JSON line: records, rows and files per table, dead-letter
    codes and the earliest arrival. A task holds one Arrow batch at a time, never its whole partition."""

    def write(batches):
        from pyspark import TaskContext

        from churn_pipeline.spark_worker import keep_archive_directories

        keep_archive_directories()  # this worker's next tasks start without re-reading Spark's archives
        context = TaskContext.get()
        if context is None:
            raise RuntimeError("the stream's write runs in Spark tasks: no TaskContext here")
        for chunk, source in enumerate(batches):
            if not len(source):
                continue
            frame = scorer.outcomes(parse_frame(source, parser, max_payload_bytes), scored_at_micros)
            is_scored = (frame[spark_scoring.OUTCOME] == spark_scoring.SCORED).to_numpy()
            scored, dead = frame[is_scored].reset_index(drop=True), frame[~is_scored].reset_index(drop=True)
            built = {
                table: output_table(scored, output) if table == SCORED else dead_letter_table(dead)
                for table in locations
            }
            name = f"{batch_name}-{context.partitionId():05d}-{chunk:05d}"
            report = {
                "records": len(frame),
                "rows": {SCORED: len(scored), DEAD: len(dead)},
                "codes": {str(k): int(v) for k, v in dead[spark_scoring.ERROR_CODE].value_counts().items()},
                "min_arrival": int(frame[ARRIVAL_MICROS].min()),
                "files": {
                    table: table_files.write_hour_files(
                        catalog, location, built[table], HOUR_COLUMN[table], name
                    )
                    for table, location in locations.items()
                },
            }
            yield pd.DataFrame({"report": [json.dumps(report)]})

    return write


def _timestamps(micros: pd.Series) -> pa.Array:
    return pa.array(
        micros.astype("Int64").to_numpy(dtype="int64", na_value=0), type=pa.timestamp("us", tz="UTC")
    )


def _text(series: pd.Series) -> pa.Array:
    return pa.array(
        series.astype(object).where(series.notna(), None).map(lambda v: v if v is None else str(v)),
        pa.string(),
    )


def output_table(scored: pd.DataFrame, dataset: outputs.Dataset) -> pa.Table:
    """Scored rows of `dataset` (STREAM_PREDICTIONS for the model's description): the record's fields (as
    received), the scores, record_id and kinesis_* (the arrival time is the table's partition source)."""
    fixed = {f.name for f in outputs.STREAM_PREDICTIONS.columns}
    columns: dict[str, pa.Array] = {
        f.name: pa.array(scored[f.name], outputs.arrow_type(f.type), from_pandas=True)
        for f in dataset.columns
        if f.name not in fixed
    }
    columns[records.EVENT_TIME] = _text(scored[records.EVENT_TIME])
    columns[spark_scoring.PROBABILITY] = pa.array(
        scored[spark_scoring.PROBABILITY].astype(float), pa.float64()
    )
    columns[spark_scoring.PREDICTION] = pa.array(scored[spark_scoring.PREDICTION].astype(int), pa.int32())
    columns[spark_scoring.VERSION] = _text(scored[spark_scoring.VERSION])
    columns[spark_scoring.SCORED_AT] = _timestamps(scored[spark_scoring.SCORED_AT])
    columns[outputs.RECORD_ID] = _text(scored[records.RECORD_ID])
    columns[outputs.KINESIS_SHARD_ID] = _text(scored[SHARD_ID])
    columns[outputs.KINESIS_SEQUENCE_NUMBER] = _text(scored[SEQUENCE_NUMBER])
    columns[outputs.KINESIS_ARRIVAL_TIME] = _timestamps(scored[ARRIVAL_MICROS])
    return _as_dataset(columns, dataset)


def drift_table(report: drift.DriftReport, model_version: str, batch_id: int) -> pa.Table:
    """The micro-batch's drift rows (contract.outputs.STREAM_DRIFT), all computed at one instant."""
    rows = report.rows_of()
    now = int(time.time() * 1e6)
    columns: dict[str, pa.Array] = {
        outputs.FEATURE: pa.array([r["feature"] for r in rows], pa.string()),
        outputs.DRIFT_KIND: pa.array([r["kind"] for r in rows], pa.string()),
        outputs.PSI: pa.array([float(r["psi"]) for r in rows], pa.float64()),
        outputs.DRIFT_ROWS: pa.array([int(r["rows"]) for r in rows], pa.int64()),
        outputs.MODEL_VERSION: pa.array([model_version] * len(rows), pa.string()),
        outputs.MICRO_BATCH: pa.array([batch_id] * len(rows), pa.int64()),
        outputs.COMPUTED_AT: pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
    }
    return _as_dataset(columns, outputs.STREAM_DRIFT)


def dead_letter_table(dead: pd.DataFrame) -> pa.Table:
    now = int(time.time() * 1e6)
    columns: dict[str, pa.Array] = {
        outputs.RAW_PAYLOAD: pa.array([bytes(v) for v in dead[DATA]], pa.binary()),
        outputs.ERROR_CODE: _text(dead[outputs.ERROR_CODE]),
        outputs.ERROR_REASON: _text(dead[outputs.ERROR_REASON]),
        outputs.RECORD_ID: _text(dead[records.RECORD_ID]),
        outputs.KINESIS_SHARD_ID: _text(dead[SHARD_ID]),
        outputs.KINESIS_SEQUENCE_NUMBER: _text(dead[SEQUENCE_NUMBER]),
        outputs.KINESIS_PARTITION_KEY: _text(dead[PARTITION_KEY]),
        outputs.KINESIS_ARRIVAL_TIME: _timestamps(dead[ARRIVAL_MICROS]),
        outputs.DEAD_LETTERED_AT: pa.array([now] * len(dead), pa.timestamp("us", tz="UTC")),
    }
    return _as_dataset(columns, outputs.STREAM_DEAD_LETTER)


def _as_dataset(columns: dict[str, pa.Array], dataset: outputs.Dataset) -> pa.Table:
    """The table in the dataset's contract order and types (what its Iceberg table declares): a column
    missing here, or one of another type, fails the batch before anything is written."""
    return outputs.arrow_table(columns, dataset)


def read_query_id(checkpoint_path: str, region: str | None = None) -> str:
    """The id Spark keeps in the checkpoint's `metadata` file: stable across restarts of the same query."""
    location = f"{checkpoint_path.rstrip('/')}/metadata"
    if location.startswith(("s3://", "s3a://")):
        import boto3

        bucket, _, key = location.split("://", 1)[1].partition("/")
        client = boto3.client("s3", region_name=region)
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            body = None
    else:
        path = Path(location)
        body = path.read_bytes() if path.exists() else None
    if body is None:
        raise FileNotFoundError(f"no Spark metadata file in checkpoint {checkpoint_path!r}")
    return json.loads(body.decode().splitlines()[0])["id"]


class CheckpointQueryId:
    """The query id for BatchHandler, read from the checkpoint once per run, at the first micro-batch.

    Spark writes the checkpoint's `metadata` file once, when the query is first started, and never rewrites
    it; reading it again for every micro-batch would be a GET per batch and would tie every batch to that one
    object (which a lifecycle rule on checkpoints/ once expired after 30 days, stopping the stream).
    """

    def __init__(self, checkpoint_path: str, region: str | None = None):
        self.checkpoint_path = checkpoint_path
        self.region = region
        self._id: str | None = None

    def __call__(self) -> str:
        if self._id is None:
            self._id = read_query_id(self.checkpoint_path, self.region)
        return self._id
