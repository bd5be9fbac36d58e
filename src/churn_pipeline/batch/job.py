"""The batch scoring job: CSV in, scored / rejected / failed (/ drift) Iceberg tables out, a summary at the end.

`run(spark, config)` is the whole job and takes every path, name and threshold from `config`; the Glue
entry script and `python -m churn_pipeline.batch` only build the config and the session. The columns read
and written follow the dataset description of the model the run scores with (`BatchConfig.description`).

One pass, one operator per Spark task, as the streaming handler's: the reader (Spark's JVM) types and tags
each CSV line, then a mapInArrow task scores its Arrow batches with the shared scorer (the reader's verdict as
the prior error, the feature contract's rejects beside it), splits each batch into the scored, rejects and
failed datasets and writes their Parquet data files itself (batch.files). The driver gets counts per outcome
and code, the drift counts (an accumulator the scoring workers fill), the first failure reasons and each task's
files; it never sees a record, and nothing is persisted or read twice. It then commits each table's files in
one Iceberg commit (tables.commit_data_files) that replaces the run's partition batch_id=<id>: a reader sees
a table's previous rows of that batch or all of this run's, never a part (batch.table_layout).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from churn_pipeline import drift, tables
from churn_pipeline.batch import files, reader, table_layout, writer
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring import spark as spark_scoring
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.spark_session import session_conf
from churn_pipeline.tables.files import data_location


@dataclass(frozen=True)
class BatchConfig:
    input_path: str
    # The Iceberg tables the run commits to (contract.outputs BATCH_* names in this catalog and database); with
    # drift, the run's drift against the training baseline is written too.
    tables: tables.JobTables
    scoring: ScoringConfig | None  # None: the same job with scoring removed (the benchmark's baseline)
    batch_id: str | None = None  # the partition this run owns; default derived from input_path
    progress_seconds: float = 10.0  # 0 turns progress lines off
    metrics_job_name: str | None = (
        None  # publish the largest PSI to CloudWatch under this job name (None: not)
    )
    # The data's description for a run without scoring (default: the tutorial's). A scoring run takes the
    # one of the model it scores with, never another: see `description`.
    dataset: DatasetDescription | None = None

    def __post_init__(self) -> None:
        if self.scoring is not None and self.dataset is not None:
            raise ValueError(
                "a scoring run reads its data as the model's dataset description (dataset.json in the model "
                "directory); an explicit dataset description is for a run without scoring"
            )
        if self.batch_id is not None:
            writer.check_batch_id(self.batch_id)

    def description(self) -> DatasetDescription:
        """The description the run reads and writes by: its model's (fetched once per process), or else the
        explicit one, or the tutorial's."""
        if self.scoring is not None:
            return ModelDir.fetch(self.scoring.model_uri, self.scoring.region).description()
        return self.dataset or tutorial()

    @property
    def resolved_batch_id(self) -> str:
        return self.batch_id or writer.default_batch_id(self.input_path)


@dataclass
class BatchSummary:
    mode: str
    batch_id: str
    model_version: str | None
    rows_read: int
    scored: int
    rejected: int
    failed: int
    header_lines: int
    blank_lines: int
    reject_codes: dict[str, int]
    wall_seconds: float
    tables: dict[str, str]  # {role: the table's identifier} of the tables the run committed to
    failure_reasons: list[str] = field(default_factory=list)
    # PSI per model input and of the score against the training baseline, or why it is unavailable
    drift: dict = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """Non-zero when rows could not be scored: the run finished but is not complete."""
        return 1 if self.failed else 0

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "rows_per_second": round(self.rows_per_second, 1),
            "exit_code": self.exit_code,
        }

    def describe(self) -> str:
        text = (
            f"batch {self.batch_id} ({self.mode}): {self.rows_read:,} rows read, {self.scored:,} scored, "
            f"{self.rejected:,} rejected, {self.failed:,} failed in {self.wall_seconds:.1f}s "
            f"({self.rows_per_second:,.0f} rows/s); skipped {self.header_lines} header and {self.blank_lines} blank line(s)"
        )
        if self.reject_codes:
            text += "; rejects by code: " + ", ".join(
                f"{k}={v:,}" for k, v in sorted(self.reject_codes.items())
            )
        if self.failed:
            text += f"; {self.failed:,} row(s) in {self.tables[FAILED]} (e.g. {self.failure_reasons[0]})"
        if self.drift.get("available"):
            text += f"; drift: max PSI {self.drift['max_psi']:.3f} ({self.drift['max_feature']})"
        elif self.drift:
            text += f"; drift unavailable: {self.drift['reason']}"
        return text

    def raise_if_failed(self) -> None:
        if self.failed:
            raise RuntimeError(self.describe())


# Session settings for the run's duration (set back after it).
RUN_CONF = {
    # HotSpot never compiles a method of more than 8,000 bytes of bytecode (-XX:+DontCompileHugeMethods, its
    # default) and runs it interpreted, while whole-stage codegen only gives up on a method over 65,535 bytes.
    # The reader's projections fused into a method of 9,066 bytes (the tutorial's 21 columns, when its checks
    # were compiled into it; they are evaluated now, batch.reader._text_verdict) ran 2-3x slower than
    # compiled. Spark's own advice for HotSpot (apache/spark SQLConf.scala, spark.sql.codegen.hugeMethodLimit,
    # 4.1.1: "When running on HotSpot, it may be preferable to set the value to 8000 to match HotSpot's
    # implementation"): a wider description's larger method then runs without whole-stage codegen, in
    # expression methods small enough to be compiled.
    "spark.sql.codegen.hugeMethodLimit": "8000",
}


def run(spark: SparkSession, config: BatchConfig, log: Callable[[str], None] | None = None) -> BatchSummary:
    """Read, score and write one batch; returns the summary (also printed through `log`)."""
    with session_conf(spark, RUN_CONF):
        return _run(spark, config, log)


def _run(spark: SparkSession, config: BatchConfig, log: Callable[[str], None] | None) -> BatchSummary:
    say: Callable[[str], None] = log or (
        lambda message: print(f"[batch] {message}", file=sys.stderr, flush=True)
    )
    started = time.monotonic()
    batch_id = config.resolved_batch_id
    mode = config.scoring.mode if config.scoring else "no-scoring"
    say(f"batch {batch_id}: reading {config.input_path} (mode {mode})")
    description = config.description()
    csv_input = reader.read_churn_lines(spark, config.input_path, description)
    shapes = table_layout.datasets(description, csv_input.extra_columns)
    specs = table_layout.table_specs(shapes, config.tables.drift and config.scoring is not None)
    catalog = tables.catalog_from_settings(config.tables.catalog)
    # Created on first use, and given the columns of this run's input it lacks (tables.ensure_table, evolve).
    ensured = tables.ensure_loaded_tables(
        catalog, config.tables.catalog, config.tables.database, specs, evolve=True
    )
    identifiers = {role: identifier for role, (identifier, _table) in ensured.items()}
    # Each table's files of this run go under its partition's folder, as the table's own location provider
    # places data (tables.files.data_location), read from the table as the check above loaded it. The files
    # are part of the table only once committed: a failed run's files are in no snapshot, and the orphan-file
    # optimizer removes them. The commit loads each table again: a run takes minutes, and the optimizers
    # commit meanwhile.
    folders = {
        role: f"{data_location(table)}/{table_layout.PARTITION_COLUMN}={batch_id}"
        for role, (_identifier, table) in ensured.items()
    }
    scorer = None
    if config.scoring is not None:
        scorer = spark_scoring.task_scorer(
            csv_input.rows.schema,
            spark,
            config.scoring,
            prior_error=(reader.READ_ERROR_CODE, reader.READ_ERROR_REASON),
            count_drift=DRIFT in specs,
        )
    else:  # the same Arrow batches as a scoring run's (task_scorer sets them), so the same files
        spark.conf.set(spark_scoring.ARROW_BATCH_ROWS_CONF, str(ScoringConfig.arrow_batch_rows))
    region = config.tables.catalog.region or (config.scoring.region if config.scoring else None)
    token = files.run_token()
    pipeline = _task_pipeline(
        scorer,
        {role: specs[role].dataset for role in shapes},
        {role: folders[role] for role in shapes},
        token,
        batch_id,
        int(time.time() * 1e6),  # one scoring time for the run, as current_timestamp() gives a query
        region,
    )
    progress = ProgressReporter(spark, config.progress_seconds, say) if config.progress_seconds > 0 else None
    if progress:
        progress.start()
    try:
        say(f"scoring and writing the data files of {', '.join(shapes)} (one pass, per Spark task)")
        tally = _Tally.of(
            json.loads(row["report"])
            for row in csv_input.rows.mapInArrow(pipeline, _TASK_REPORT_SCHEMA).collect()
        )
    finally:
        if progress:
            progress.stop()
    written = {role: tally.files.get(role, []) for role in shapes}
    drift_report = _drift(scorer, config, tally.outcome(spark_scoring.SCORED), say)
    if DRIFT in specs:
        written[DRIFT] = []
        if drift_report is not None and drift_report.unavailable is None and scorer is not None:
            table = _drift_table(drift_report, scorer.model_version, batch_id)
            written[DRIFT] = [files.write_file(folders[DRIFT], f"part-driver-{token}", table, region)]
    table_layout.commit_run(catalog, identifiers, written, batch_id, token, say)

    counts = tally.counts
    header_lines = counts.get((spark_scoring.REJECTED, codes.HEADER_LINE), 0)
    blank_lines = counts.get((spark_scoring.REJECTED, codes.BLANK_LINE), 0)
    reject_codes: dict[str, int] = {}
    for (outcome, code), n in counts.items():
        if outcome == spark_scoring.REJECTED and code not in codes.SKIPPED_LINES:
            if code is None:  # every reject carries the reader's or the feature contract's code
                raise RuntimeError(f"{n} rejected row(s) without an error code: a bug in the scorer")
            reject_codes[code] = n
    summary = BatchSummary(
        mode=mode,
        batch_id=batch_id,
        model_version=scorer.model_version if scorer else None,
        rows_read=sum(counts.values()) - header_lines - blank_lines,
        scored=tally.outcome(spark_scoring.SCORED),
        rejected=sum(reject_codes.values()),
        failed=tally.outcome(spark_scoring.FAILED),
        header_lines=header_lines,
        blank_lines=blank_lines,
        reject_codes=reject_codes,
        wall_seconds=round(time.monotonic() - started, 3),
        tables=identifiers,
        failure_reasons=tally.failure_reasons,
        drift=drift_report.summary() if drift_report else {},
    )
    say(summary.describe())
    if drift_report is not None and config.metrics_job_name:
        drift.publish_max_psi(
            drift_report, config.metrics_job_name, config.scoring.region if config.scoring else None
        )
    return summary


# The tables a run writes, by the names the tasks report their files under.
SCORED, REJECTS, FAILED, DRIFT = (
    table_layout.SCORED,
    table_layout.REJECTS,
    table_layout.FAILED,
    table_layout.DRIFT,
)
# What each task reports to the driver: one JSON line of counts, first failure reasons and the files it wrote.
_TASK_REPORT_SCHEMA = T.StructType([T.StructField("report", T.StringType())])
_FAILURE_REASONS = 5  # distinct reasons the summary quotes


def _drift(
    scorer: spark_scoring.TaskScorer | None, config: BatchConfig, rows: int, say: Callable[[str], None]
) -> drift.DriftReport | None:
    """PSI of the scored rows' inputs and scores against the model's baseline (counted by the scoring workers
    as they scored, see scoring.spark), for the drift table. None when the run asks for no drift or scores
    nothing (the benchmark's floor): the benchmark measures the drift's cost as a run with drift against one
    without."""
    if scorer is None or not config.tables.drift:
        return None
    if rows == 0:  # nothing to compare (every row rejected or failed): unavailable, never a PSI of 0
        report = drift.DriftReport(unavailable="no row was scored in this run")
    elif scorer.drift_baseline is None:
        report = drift.report(None, {}, rows)
    else:
        report = drift.report(scorer.drift_baseline, scorer.drift_counts(rows), rows)
        say(f"writing drift (max PSI {report.max_psi:.3f}, {report.max_feature})")
        return report
    say(f"drift unavailable: {report.unavailable}")
    return report


def _drift_table(report: drift.DriftReport, model_version: str, batch_id: str) -> pa.Table:
    """The run's drift rows in the columns and types of contract.outputs.BATCH_DRIFT."""
    rows = report.rows_of()
    now = int(time.time() * 1e6)
    return outputs.arrow_table(
        {
            outputs.FEATURE: pa.array([r["feature"] for r in rows], pa.string()),
            outputs.DRIFT_KIND: pa.array([r["kind"] for r in rows], pa.string()),
            outputs.PSI: pa.array([float(r["psi"]) for r in rows], pa.float64()),
            outputs.DRIFT_ROWS: pa.array([int(r["rows"]) for r in rows], pa.int64()),
            outputs.MODEL_VERSION: pa.array([model_version] * len(rows), pa.string()),
            outputs.COMPUTED_AT: pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            outputs.BATCH_PARTITION: pa.array([batch_id] * len(rows), pa.string()),
        },
        outputs.BATCH_DRIFT,
    )


def counts_of(counts: dict[tuple[str, str | None], int], outcome: str) -> int:
    return sum(n for (o, _code), n in counts.items() if o == outcome)


@dataclass
class _Tally:
    """The tasks' reports summed on the driver: rows per (outcome, code), the first distinct failure reasons
    and the files written per dataset. Checked: each dataset holds exactly the rows its outcome counted."""

    counts: dict[tuple[str, str | None], int]
    failure_reasons: list[str]
    files: dict[str, list[str]]

    @classmethod
    def of(cls, reports) -> _Tally:
        counts: dict[tuple[str, str | None], int] = {}
        reasons: list[str] = []
        found: dict[str, list[str]] = {}
        written: dict[str, int] = {}
        for report in reports:
            for outcome, code, n in report["counts"]:
                counts[(outcome, code)] = counts.get((outcome, code), 0) + n
            reasons += [r for r in report["failure_reasons"] if r not in reasons]
            for name, names in report["files"].items():
                found.setdefault(name, []).extend(names)
            for name, n in report["rows"].items():
                written[name] = written.get(name, 0) + n
        tally = cls(counts, reasons[:_FAILURE_REASONS], found)
        expected = {
            SCORED: tally.outcome(spark_scoring.SCORED),
            REJECTS: sum(n for (o, code), n in counts.items()
                         if o == spark_scoring.REJECTED and code not in codes.SKIPPED_LINES),
            FAILED: tally.outcome(spark_scoring.FAILED),
        }  # fmt: skip
        for name, n in expected.items():
            if written.get(name, 0) != n:
                raise RuntimeError(
                    f"the tasks wrote {written.get(name, 0)} {name} row(s) for {n} counted: a bug in the batch job"
                )
        return tally

    def outcome(self, outcome: str) -> int:
        return counts_of(self.counts, outcome)


def _task_pipeline(
    scorer: spark_scoring.TaskScorer | None,
    datasets: dict[str, outputs.Dataset],
    folders: dict[str, str],
    token: str,
    batch_id: str,
    scored_at_micros: int,
    region: str | None,
):
    """The tasks' function (mapInArrow over the reader's typed rows): for each Arrow batch of its partition, a
    task scores the rows (the shared scorer, the reader's verdict as the prior error; with no scorer, every
    row the reader passed is "scored" with null scores: the benchmark's floor B), splits them into the
    scored, rejects and failed datasets and appends each to its own Parquet file in the table's folder,
    then reports one JSON line: rows per (outcome, code), rows and files per dataset, the first failure
    reasons. A task holds one Arrow batch at a time, never its whole partition."""
    schemas = {name: outputs.arrow_schema(dataset) for name, dataset in datasets.items()}

    def write(batches):
        from pyspark import TaskContext

        from churn_pipeline.spark_worker import keep_archive_directories

        keep_archive_directories()  # this worker's next tasks start without re-reading Spark's archives
        context = TaskContext.get()
        if context is None:
            raise RuntimeError("the batch job's write runs in Spark tasks: no TaskContext here")
        stem = f"part-{context.partitionId():05d}-{token}"
        writers: dict[str, files.FileWriter] = {}
        counts: dict[tuple[str, str | None], int] = {}
        rows = dict.fromkeys(datasets, 0)
        reasons: list[str] = []
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                split = _split(batch, scorer, datasets, batch_id, scored_at_micros, counts, reasons)
                for name, table in split.items():
                    if table.num_rows == 0:
                        continue
                    if name not in writers:
                        writers[name] = files.FileWriter(folders[name], stem, schemas[name], region)
                    writers[name].write(table)
                    rows[name] += table.num_rows
            written = {name: [writer.close()] for name, writer in writers.items()}
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        report = {
            "counts": [[outcome, code, n] for (outcome, code), n in counts.items()],
            "rows": rows,
            "files": written,
            "failure_reasons": reasons,
        }
        yield pa.RecordBatch.from_pydict({"report": [json.dumps(report)]}, schema=_REPORT_ARROW_SCHEMA)

    return write


_REPORT_ARROW_SCHEMA = pa.schema([pa.field("report", pa.string())])


def _split(
    batch: pa.RecordBatch,
    scorer: spark_scoring.TaskScorer | None,
    datasets: dict[str, outputs.Dataset],
    batch_id: str,
    scored_at_micros: int,
    counts: dict[tuple[str, str | None], int],
    reasons: list[str],
) -> dict[str, pa.Table]:
    """One Arrow batch of the reader's rows -> the rows of each dataset (adding to `counts`, `reasons`)."""
    import pyarrow.compute as pc

    n = batch.num_rows
    if scorer is not None:
        probability, outcome, code, reason = scorer.score_arrow(batch).flatten()
    else:
        code = batch.column(reader.READ_ERROR_CODE)
        reason = batch.column(reader.READ_ERROR_REASON)
        outcome = pc.if_else(pc.is_null(code), spark_scoring.SCORED, spark_scoring.REJECTED)
        probability = pa.nulls(n, pa.float64())
    code, reason = code.cast(pa.string()), reason.cast(pa.string())
    for key, found in _group_counts(outcome, code):
        counts[key] = counts.get(key, 0) + found
    is_failed = pc.equal(outcome, spark_scoring.FAILED)
    if len(reasons) < _FAILURE_REASONS:
        for value in pc.unique(reason.filter(is_failed)).to_pylist():
            if value not in reasons and len(reasons) < _FAILURE_REASONS:
                reasons.append(value)

    data = [c.name for c in datasets[SCORED].columns[: -len(outputs.SCORE_FIELDS) - 1]]  # (then batch_id)
    # Only the columns a dataset keeps are filtered (not the raw lines and files of every row), and not at all
    # when every row of the batch was scored, as most are.
    rows = batch.select(data)
    is_scored = pc.equal(outcome, spark_scoring.SCORED)
    n_scored = pc.sum(is_scored.cast(pa.int64())).as_py() or 0
    scored = rows if n_scored == n else rows.filter(is_scored)
    score = probability if n_scored == n else probability.filter(is_scored)
    threshold = scorer.config.threshold if scorer is not None else 0.0
    version = scorer.model_version if scorer is not None else None
    scored_columns = {name: _plain(scored.column(name)) for name in data}
    scored_columns[outputs.PROBABILITY] = score
    scored_columns[outputs.PREDICTION] = pc.greater_equal(score, threshold).cast(pa.int32())
    scored_columns[outputs.MODEL_VERSION] = pa.repeat(pa.scalar(version, pa.string()), n_scored)
    scored_at = pa.scalar(scored_at_micros, pa.timestamp("us", tz="UTC"))
    scored_columns[outputs.SCORED_AT] = pa.repeat(scored_at, n_scored)
    run = pa.scalar(batch_id, pa.string())
    scored_columns[outputs.BATCH_PARTITION] = pa.repeat(run, n_scored)

    skipped = pa.array(codes.SKIPPED_LINES, pa.string())
    is_reject = pc.and_(
        pc.equal(outcome, spark_scoring.REJECTED), pc.invert(pc.is_in(code, value_set=skipped))
    )
    is_reject = pc.fill_null(is_reject, False)
    rejects = {
        outputs.SOURCE_FILE: _plain(batch.column(reader.SOURCE_FILE).filter(is_reject)),
        outputs.RAW_LINE: _plain(batch.column(reader.RAW_LINE).filter(is_reject)),
        outputs.ERROR_CODE: code.filter(is_reject),
        outputs.ERROR_REASON: reason.filter(is_reject),
    }
    rejects[outputs.BATCH_PARTITION] = pa.repeat(run, len(rejects[outputs.ERROR_CODE]))
    failed_rows = batch.select([*data, reader.SOURCE_FILE, reader.RAW_LINE]).filter(is_failed)
    failed = {name: _plain(failed_rows.column(name)) for name in data}
    failed[outputs.SOURCE_FILE] = _plain(failed_rows.column(reader.SOURCE_FILE))
    failed[outputs.RAW_LINE] = _plain(failed_rows.column(reader.RAW_LINE))
    failed[outputs.ERROR_REASON] = reason.filter(is_failed)
    failed[outputs.BATCH_PARTITION] = pa.repeat(run, failed_rows.num_rows)
    return {
        SCORED: outputs.arrow_table(scored_columns, datasets[SCORED]),
        REJECTS: outputs.arrow_table(rejects, datasets[REJECTS]),
        FAILED: outputs.arrow_table(failed, datasets[FAILED]),
    }


def _group_counts(outcome: pa.Array, code: pa.Array) -> list[tuple[tuple[str, str | None], int]]:
    grouped = (
        pa.table({"outcome": outcome, "code": code})
        .group_by(["outcome", "code"])
        .aggregate([([], "count_all")])
    )
    return list(
        zip(
            zip(grouped["outcome"].to_pylist(), grouped["code"].to_pylist(), strict=True),
            grouped["count_all"].to_pylist(),
            strict=True,
        )
    )


def _plain(array: pa.Array) -> pa.Array:
    """Spark may hand text to Python as large_string (spark.sql.execution.arrow.useLargeVarTypes): the
    datasets store it as string."""
    return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array


class ProgressReporter:
    """Prints the progress of running Spark stages every few seconds while the job runs."""

    def __init__(self, spark: SparkSession, interval: float, say):
        self._tracker = spark.sparkContext.statusTracker()
        self._interval = interval
        self._say = say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="batch-progress", daemon=True)
        self._started = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 1)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            stages = [self._tracker.getStageInfo(s) for s in self._tracker.getActiveStageIds()]
            parts = [
                f"stage {s.stageId}: {s.numCompletedTasks}/{s.numTasks} tasks done, {s.numActiveTasks} running"
                for s in stages
                if s is not None
            ]
            if parts:
                self._say(f"{time.monotonic() - self._started:.0f}s: " + "; ".join(parts))


def summary_json(summary: BatchSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True)
