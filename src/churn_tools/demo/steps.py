"""The demo's steps, each a method of the demo (the plumbing they use, `start` / `run_child` / `say`, is the
runner's), and what they read from the local deployment."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from churn_pipeline import tables as iceberg
from churn_pipeline.batch import writer
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.model import ModelDir
from churn_pipeline.streaming.handler import StreamTables
from churn_pipeline.tables import JobTables
from churn_tools import analytics, outcome_files
from churn_tools.analytics import load_named_queries
from churn_tools.local import services as local_services
from churn_tools.local import stack as local_stack

# A few records the producer of a real system might send, to show the dead-letter path.
MALFORMED_SAMPLES = (
    b'{"State": "KS", "Account Length": 128',  # truncated JSON
    b"not json at all",
    b'["an", "array"]',
    b'{"State": "OH", "Account Length": "one hundred"}',
    b"\xff\xfe invalid utf-8",
)


class StepFailed(RuntimeError):
    def __init__(self, message: str, logs: list[Path] | None = None):
        super().__init__(message)
        self.logs = logs or []


class DemoSteps:
    def _dataset_args(self) -> list[str]:
        """--dataset for the children that read raw data (synthetic, training, producer) when one is given."""
        return ["--dataset", str(self.config.dataset)] if self.config.dataset else []

    def step_data(self) -> str:
        if self.config.dataset and not self.config.dataset.is_file():
            raise StepFailed(f"DATASET={self.config.dataset} does not exist")
        if self.config.data:
            if not self.config.data.is_file():
                raise StepFailed(f"DATA={self.config.data} does not exist")
            self.data = self.config.data
            return f"using {self.data}"
        self.data = self.work / "data" / "churn.csv"
        self.run_child(
            "data",
            ["-m", "churn_tools.synthetic", "--rows", str(self.config.rows), "--out", str(self.data),
             "--seed", str(self.config.seed), *self._dataset_args()],
        )  # fmt: skip
        return f"{self.config.rows:,} synthetic rows in {self.data}"

    def step_train(self) -> str:
        self.model_dir = self.work / "model"
        self.run_child(
            "train",
            ["model_training/train.py", "--data", str(self.data), "--model-dir", str(self.model_dir),
             *self._dataset_args()],
        )  # fmt: skip
        metrics = ModelDir(self.model_dir).metrics()
        self.outcome.report["model"] = {
            "version": metrics["model_version"],
            "test_auc": metrics["test"]["auc"],
            "validation_auc": metrics["validation"]["auc"],
        }
        return f"model {metrics['model_version']}, test AUC {metrics['test']['auc']:.3f}"

    def check_ports_free(self) -> None:
        """StepFailed naming the port when the moto server's or the local endpoint's port is taken."""
        for port, what in (
            (self.config.moto_port, "moto server"),
            (self.config.endpoint_port, "local endpoint"),
        ):
            if local_services.port_in_use(port):
                raise StepFailed(
                    f"port {port} (for the {what}) is already in use on {local_services.LOOPBACK}; stop what "
                    f"holds it (e.g. `make local-down`, or `ss -ltnp 'sport = :{port}'` to find it) or choose "
                    f"another port with {'MOTO_PORT' if what == 'moto server' else 'PORT'}=..."
                )

    def step_local_up(self) -> str:
        # Checked again: the ports may have been taken while the data was made and the model trained.
        self.check_ports_free()
        with open(self.logs / "local-up.log", "a") as log:
            try:
                self.stack_up = True  # from here on, shutdown() stops whatever did start
                code = _quietly(
                    lambda: local_stack.up(
                        self.run_dir,
                        self.model_dir,
                        self.config.moto_port,
                        self.config.endpoint_port,
                        None,
                        0,
                    ),
                    log,
                )
            except (RuntimeError, OSError, TimeoutError) as exc:
                raise StepFailed(
                    f"could not start the local services: {exc}", [self.logs / "local-up.log"]
                ) from exc
        if code != 0:
            raise StepFailed("could not start the local services", [self.logs / "local-up.log"])
        return f"moto {self.moto_url}, endpoint {self.endpoint_url}"

    def step_deploy(self) -> str:
        printed_outputs = self.work / "deploy-outputs.json"
        self.run_child(
            "deploy",
            ["-m", "churn_tools.deploy.terraform", "deploy", "--env", "local", "--model-dir", str(self.model_dir),
             "--work", str(self.work), "--endpoint-url", self.moto_url, "--dependency-wheels", "no"],
            stdout=printed_outputs,
        )  # fmt: skip
        outputs = json.loads(printed_outputs.read_text())
        self.deployed = DeployedNames.from_deployment(outputs, self.env())
        self.outcome.report["deployed"] = self.deployed.__dict__
        return f"stream {self.deployed.stream_name!r}, endpoint {self.deployed.endpoint_name!r}"

    def step_batch(self) -> str:
        # The batch job's Iceberg tables in pyiceberg's SQL catalog (a run with no AWS catalog of its own).
        self.batch_tables = JobTables.local(self.lake / "batch" / "warehouse", "batch", drift=True)
        self.batch_out = Path(
            self.batch_tables.catalog.table_location("batch", outputs.BATCH_PREDICTIONS.table).removeprefix(
                "file://"
            )
        )
        summary_file = self.work / "batch-summary.json"
        code = self.run_child(
            "batch",
            ["-m", "churn_pipeline.batch", "--input", str(self.data), "--warehouse", self.batch_tables.catalog.warehouse,
             "--database", self.batch_tables.database, "--drift",
             "--mode", self.config.batch_mode, "--model-uri", str(self.model_dir),
             "--endpoint-name", self.deployed.endpoint_name, "--threshold", str(self.deployed.threshold),
             "--progress-seconds", "5", "--summary-json", str(summary_file), "--master", "local[2]",
             "--driver-memory", "2g"],
        )  # fmt: skip
        summary = json.loads(summary_file.read_text())
        self.outcome.report["batch"] = summary
        if code != 0:
            raise StepFailed(f"batch job exited {code}", [self.logs / "batch.log"])
        return (
            f"{summary['rows_read']:,} rows: {summary['scored']:,} scored, {summary['rejected']:,} rejected, "
            f"{summary['failed']:,} failed ({self.config.batch_mode} mode)"
        )

    def step_drift(self) -> str:
        """A shifted copy of the data (one numeric feature x 1.5, drift_demo_column) through the batch job, which
        publishes its largest PSI to CloudWatch under the deployed batch job's name; then the deployed drift
        alarm's condition is checked."""
        shifted = self.work / "data" / "shifted.csv"
        column = drift_demo_column(ModelDir(self.model_dir).description())
        write_shifted_copy(self.data, shifted, column, DRIFT_DEMO_FACTOR, DRIFT_DEMO_ROWS)
        summary_file = self.work / "drift-summary.json"
        self.run_child(
            "batch-shifted",
            ["-m", "churn_pipeline.batch", "--input", str(shifted), "--warehouse", str(self.lake / "shifted" / "warehouse"),
             "--database", "shifted", "--drift", "--mode", "embedded", "--model-uri", str(self.model_dir),
             "--threshold", str(self.deployed.threshold), "--metrics-job-name", self.deployed.batch_job_name,
             "--progress-seconds", "0", "--summary-json", str(summary_file), "--master", "local[2]",
             "--driver-memory", "2g"],
        )  # fmt: skip
        found = json.loads(summary_file.read_text())["drift"]
        alarm = drift_alarm_condition(self.deployed.batch_job_name, self.env())
        self.outcome.report["drift_demo"] = {
            "column": column,
            "factor": DRIFT_DEMO_FACTOR,
            **found,
            **alarm,
        }
        if not alarm["reached"]:
            raise StepFailed(f"the shifted data did not reach the drift alarm's condition: {alarm}")
        return (
            f"{column} x {DRIFT_DEMO_FACTOR}: max PSI {found['max_psi']:.3f} ({found['max_feature']}) "
            f">= alarm {alarm['alarm']} threshold {alarm['threshold']}: alarm condition reached"
        )

    def step_produce(self) -> str:
        self.run_child(
            "produce",
            ["-m", "churn_tools.local.producer", "--data", str(self.data),
             "--stream", self.deployed.stream_name, "--id-prefix", "demo-", *self._dataset_args()],
        )  # fmt: skip
        sent = _count_data_rows(self.data)
        malformed = put_malformed(self.deployed.stream_name, self.env())
        self.produced = {"valid_rows": sent, "malformed": malformed, "total": sent + malformed}
        self.outcome.report["produced"] = self.produced
        return f"{sent:,} records from the data set + {malformed} malformed ones"

    def step_stream(self) -> str:
        self.stream_tables = StreamTables.local(self.lake / "stream" / "warehouse", drift=True)
        where = self.stream_tables
        self.stream_out = Path(where.catalog.table_location(where.database, outputs.STREAM_PREDICTIONS.table))
        self.dead_letter = Path(
            where.catalog.table_location(where.database, outputs.STREAM_DEAD_LETTER.table)
        )
        # About half of what was sent per micro-batch (Kinesis spreads the records over the shards): the scored
        # table then has an earlier snapshot than its current one, which the report reads back (time_travel).
        shards = local_client("kinesis", self.env()).describe_stream_summary(
            StreamName=self.deployed.stream_name
        )["StreamDescriptionSummary"]["OpenShardCount"]
        per_shard_per_batch = -(-self.produced["total"] // (2 * shards))
        process = self.start(
            "stream",
            ["-m", "churn_pipeline.streaming.job", "--stream", self.deployed.stream_name,
             "--warehouse", where.catalog.warehouse, "--database", where.database, "--drift",
             "--checkpoint", str(self.lake / "stream" / "checkpoint"), "--mode", self.config.stream_mode,
             "--model-uri", str(self.model_dir), "--endpoint-name", self.deployed.endpoint_name,
             "--threshold", str(self.deployed.threshold), "--trigger-seconds", str(self.config.trigger_seconds),
             "--metrics-job-name", self.deployed.stream_job_name,
             "--max-records-per-shard", str(per_shard_per_batch)],
        )  # fmt: skip
        expected = self.produced["total"]
        deadline = time.monotonic() + self.config.stream_timeout
        last_beat = 0.0
        while True:
            scored = committed_rows(self.stream_tables, outputs.STREAM_PREDICTIONS)
            dead = committed_rows(self.stream_tables, outputs.STREAM_DEAD_LETTER)
            if scored + dead >= expected:
                break
            if process.poll() is not None:
                raise StepFailed(
                    f"streaming job exited with code {process.returncode}", [self.logs / "stream.log"]
                )
            if time.monotonic() > deadline:
                raise StepFailed(
                    f"streaming job did not finish within {self.config.stream_timeout:.0f}s "
                    f"({scored + dead:,} of {expected:,} records committed)",
                    [self.logs / "stream.log"],
                )
            if time.monotonic() - last_beat >= 5:
                last_beat = time.monotonic()
                self.say(
                    f"          {self.elapsed()}  {scored:,} scored + {dead:,} dead-lettered of {expected:,}"
                )
            time.sleep(1)
        # Graceful stop: SIGTERM lets the job finish its current micro-batch and exit 0.
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(
                "streaming job did not stop within 120s of SIGTERM", [self.logs / "stream.log"]
            ) from exc
        self.children.remove(process)
        if code != 0:
            raise StepFailed(
                f"streaming job exited with code {code} after SIGTERM", [self.logs / "stream.log"]
            )
        return f"{scored:,} scored, {dead:,} dead-lettered ({self.config.stream_mode} mode)"

    def step_quality(self) -> str:
        """The data's own labels as outcomes, in a CSV as a team would drop it under outcomes/ (with a few bad
        lines, so that the rejects show), joined by the quality job (its CLI, as the batch job's) to the batch
        and stream scores: model quality per model version and week, and the rejects by code."""
        description = ModelDir(self.model_dir).description()
        self.quality_out = self.lake / "quality"
        if description.id_column is None:
            reason = f"the dataset description {description.name!r} names no id column to join outcomes by"
            self.outcome.report["quality"] = {"skipped": reason}
            return f"skipped: {reason}"
        outcomes, shared = outcome_files.own_label_outcomes(
            self.data, description, outcome_files.known_at_now()
        )
        id_column = outcomes.columns[0]
        first = [str(v) for v in outcomes.iloc[0]]
        planted = {
            codes.NOT_SCORED: [outcome_files.unknown_id(outcomes[id_column], description), *first[1:]],
            codes.UNKNOWN_LABEL: [first[0], outcome_files.unknown_label(description), first[2]],
            codes.DUPLICATE_OUTCOME: first,  # the same outcome again: the first one read is kept
        }
        self.outcomes_file = outcome_files.write_outcomes(
            outcomes, self.work / "outcomes" / "outcomes.csv", list(planted.values())
        )
        summary_file = self.work / "quality-summary.json"
        self.run_child(
            "quality",
            ["-m", "churn_pipeline.quality", "--outcomes", str(self.outcomes_file),
             "--batch-table", "sql", self.batch_tables.catalog.warehouse,
             self.batch_tables.identifier(outputs.BATCH_PREDICTIONS), "--model-uri", str(self.model_dir),
             "--stream-table", "sql", self.stream_tables.catalog.warehouse,
             self.stream_tables.identifier(outputs.STREAM_PREDICTIONS),
             "--out", str(self.quality_out), "--threshold", str(self.deployed.threshold),
             "--summary-json", str(summary_file), "--master", "local[2]", "--driver-memory", "2g"],
        )  # fmt: skip
        summary = json.loads(summary_file.read_text())
        unscored = unscored_customers(outcomes[id_column], self.batch_tables, self.stream_tables)
        self.outcome.report["quality"] = {
            **summary,
            "outcomes": {
                "file": str(self.outcomes_file),
                "lines": len(outcomes) + len(planted),
                "customers": len(outcomes),
                "ids_shared_by_rows_left_out": shared,
                "planted": {code: 1 for code in planted},
                "customers_without_a_score": unscored,
            },
            "table": quality_table(writer.partition_path(summary["quality_path"], summary["run_id"])),
        }
        return (
            f"{summary['outcome_lines']:,} outcome lines: {summary['joined']:,} joined to a score, "
            f"{summary['rejected']:,} rejected"
        )

    def step_query(self) -> str:
        import duckdb

        con = duckdb.connect()
        database = self.deployed.database_name
        con.execute(f'CREATE SCHEMA "{database}"')
        tables = self.deployed.tables
        for where, dataset, name in (
            (self.batch_tables, outputs.BATCH_PREDICTIONS, "batch"),
            (self.batch_tables, outputs.BATCH_DRIFT, "drift"),
            (self.stream_tables, outputs.STREAM_PREDICTIONS, "stream"),
            (self.stream_tables, outputs.STREAM_DEAD_LETTER, "dead_letter"),
            (self.stream_tables, outputs.STREAM_DRIFT, "stream_drift"),
        ):
            table_view(con, where, dataset, f'"{database}"."{tables[name]}"')
        con.execute(
            quality_view_sql(self.lake / "quality" / "metrics", f'"{database}"."{tables["quality"]}"')
        )
        results = {}
        # The queries a user finds in Athena: the contract's and those of the scoring model's data.
        description = ModelDir(self.model_dir).description()
        for query in load_named_queries(database=database, tables=tables, description=description):
            frame = con.execute(query.sql).df()
            results[query.name] = frame
        counts = {
            "batch_scored": _scalar(con, f'SELECT count(*) FROM "{database}"."{tables["batch"]}"'),
            "stream_scored": _scalar(con, f'SELECT count(*) FROM "{database}"."{tables["stream"]}"'),
            "stream_distinct_records": _scalar(
                con, f'SELECT count(DISTINCT record_id) FROM "{database}"."{tables["stream"]}"'
            ),
            "dead_lettered": _scalar(con, f'SELECT count(*) FROM "{database}"."{tables["dead_letter"]}"'),
        }
        counts["cloudwatch_dead_letter_records"] = dead_letter_metric_sum(
            self.deployed.stream_job_name, self.env()
        )
        self.outcome.report["duckdb"] = counts
        self.outcome.report["time_travel"] = time_travel(
            self.stream_tables, f'"{database}"."{tables["stream"]}"'
        )
        self.query_results = results
        return f"{len(results)} named queries"

    # ------------------------------------------------------------------ report


DRIFT_DEMO_FACTOR = 1.5
DRIFT_DEMO_ROWS = 3000


def drift_demo_column(description: DatasetDescription) -> str:
    """The feature the drift demo shifts: the model's first decimal numeric feature (the tutorial's day minutes),
    else its first numeric one."""
    numeric = description.numeric_features
    if not numeric:
        raise StepFailed(f"the drift demo shifts a numeric feature; {description.name!r} has none")
    return next((c for c in numeric if c.type == "decimal"), numeric[0]).name


def write_shifted_copy(source: Path, target: Path, column: str, factor: float, rows: int) -> Path:
    """The first `rows` rows of `source` with one numeric column multiplied, in the same CSV format."""
    import pandas as pd

    frame = pd.read_csv(source, dtype=str, keep_default_na=False, nrows=rows)
    frame[column] = (pd.to_numeric(frame[column]) * factor).round(2).astype(str)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target, index=False)
    return target


def drift_alarm_condition(job_name: str, env: dict[str, str]) -> dict:
    """The deployed drift alarm of the job (its metric, statistic and threshold, as Terraform made it) against
    the metric the job published: whether the alarm's condition is reached (moto does not evaluate alarms)."""
    from datetime import timedelta

    from churn_pipeline.contract import metrics

    cloudwatch = local_client("cloudwatch", env)
    alarms = [
        a for a in cloudwatch.describe_alarms(AlarmNamePrefix=job_name)["MetricAlarms"]
        if a["MetricName"] == metrics.MAX_PSI
    ]  # fmt: skip
    if len(alarms) != 1:
        raise StepFailed(f"expected one deployed {metrics.MAX_PSI} alarm for {job_name}, found {len(alarms)}")
    alarm = alarms[0]
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Period=alarm["Period"],
        Statistics=[alarm["Statistic"]],
    )["Datapoints"]  # fmt: skip
    value = max((p[alarm["Statistic"]] for p in points), default=None)
    reached = (
        value is not None
        and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        and (value >= alarm["Threshold"])
    )
    return {
        "alarm": alarm["AlarmName"],
        "threshold": alarm["Threshold"],
        "published": value,
        "reached": reached,
    }


QUALITY_COLUMNS = (outputs.MODEL_VERSION, outputs.SCORE_WEEK, outputs.ROWS, outputs.POSITIVES, outputs.AUC,
                   outputs.LOG_LOSS, outputs.PRECISION, outputs.RECALL)  # fmt: skip


def quality_table(run_folder: str) -> list[dict]:
    """The rows of one quality run's model_quality folder (one per model version and week), as plain values."""
    import duckdb

    columns = ", ".join(f'"{c}"' for c in QUALITY_COLUMNS)
    frame = duckdb.sql(f"SELECT {columns} FROM read_parquet('{run_folder}/*.parquet') ORDER BY 1, 2").df()
    return [
        {k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for row in frame.to_dict("records")
    ]


def table_view(con, where: JobTables | StreamTables, dataset: outputs.Dataset, view: str) -> None:
    """A DuckDB view over the committed rows of one of the jobs' Iceberg tables: its current snapshot read by
    pyiceberg's scan (tables.read) and handed to DuckDB as Arrow. Not DuckDB's iceberg extension (pip
    duckdb-extension-iceberg 1.4.4 would match the pinned DuckDB): it attaches a catalog through the Iceberg REST
    API (Glue's is its /iceberg endpoint), which moto does not serve, or reads one metadata file by path; the scan
    finds the table through the same catalog the jobs commit to (Glue on moto, or the SQL catalog)."""
    arrow = iceberg.read_arrow(iceberg.catalog_from_settings(where.catalog), where.identifier(dataset))
    source = f"_{dataset.table}_rows"
    con.register(source, arrow)
    con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {source}")


def unscored_customers(ids, batch_scored: JobTables, stream_scored: StreamTables) -> int:
    """How many of `ids` no scored row has (a committed batch run, or a committed stream batch), by DuckDB over
    the tables: the customers the quality job should reject as NOT_SCORED besides the planted line."""
    import duckdb

    con = duckdb.connect()
    table_view(con, batch_scored, outputs.BATCH_PREDICTIONS, "batch_scored")
    table_view(con, stream_scored, outputs.STREAM_PREDICTIONS, "stream_scored")
    con.register("outcome_ids", ids.to_frame("id"))
    scored_id = f'trim(CAST("{ids.name}" AS VARCHAR))'
    return _scalar(
        con,
        f"""SELECT count(*) FROM outcome_ids ANTI JOIN (
              SELECT {scored_id} AS id FROM batch_scored
              UNION SELECT {scored_id} AS id FROM stream_scored) AS scored ON trim(outcome_ids.id) = scored.id""",
    )


@dataclass
class DeployedNames:
    """What the demo takes from the deployment: names from `terraform output`, job settings from the Glue job."""

    stream_name: str
    stream_job_name: str
    batch_job_name: str
    endpoint_name: str
    database_name: str
    tables: dict[str, str]
    threshold: float

    @classmethod
    def from_deployment(cls, outputs: dict, env: dict[str, str]) -> DeployedNames:

        pipeline = outputs["pipeline"]
        glue = local_client("glue", env)
        # The deployed batch job's own arguments: one config source feeds the Glue job and this local run.
        arguments = glue.get_job(JobName=pipeline["batch_job_name"])["Job"]["DefaultArguments"]
        tables = dict(analytics.TABLES)
        missing = set(tables.values()) - set(pipeline["glue_tables"])
        if missing:
            raise StepFailed(f"the deployment has no catalog table(s) {sorted(missing)}")
        return cls(
            stream_name=pipeline["stream_name"],
            stream_job_name=pipeline["stream_job_name"],
            batch_job_name=pipeline["batch_job_name"],
            endpoint_name=pipeline["endpoint_name"],
            database_name=pipeline["glue_database"],
            tables=tables,
            threshold=float(arguments["--threshold"]),
        )


def quality_view_sql(folder: Path, view: str) -> str:
    """The model_quality table as DuckDB reads it: the quality job's batch_id=<run> folders under `folder`, or,
    before any quality run, no rows with the table's columns (the saved query on it then answers nothing)."""
    if any(folder.rglob("*.parquet")):
        return f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
    columns = ", ".join(
        f'CAST(NULL AS {c["type"]}) AS "{c["name"]}"' for c in outputs.MODEL_QUALITY.catalog_columns()
    )
    return f"CREATE VIEW {view} AS SELECT {columns} WHERE false"


def local_client(service: str, env: dict[str, str]):
    """A boto3 client for the demo's moto server (its URL and fake credentials are in `env`)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def put_malformed(stream: str, env: dict[str, str]) -> int:

    client = local_client("kinesis", env)
    records = [{"Data": data, "PartitionKey": f"malformed-{i}"} for i, data in enumerate(MALFORMED_SAMPLES)]
    response = client.put_records(StreamName=stream, Records=records)
    if response["FailedRecordCount"]:
        raise StepFailed(f"{response['FailedRecordCount']} malformed sample record(s) were not accepted")
    return len(records)


def dead_letter_metric_sum(job_name: str, env: dict[str, str]) -> int:
    """Sum of the DeadLetterRecords metric the streaming job published (what the alarm watches)."""
    from datetime import timedelta

    from churn_pipeline.contract import metrics

    cloudwatch = local_client("cloudwatch", env)
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=metrics.NAMESPACE,
        MetricName=metrics.DEAD_LETTER_RECORDS,
        Dimensions=[{"Name": metrics.DIMENSION, "Value": job_name}],
        StartTime=now - timedelta(hours=2),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return int(sum(p["Sum"] for p in points))


def time_travel(where: StreamTables, athena_table: str) -> dict:
    """Iceberg time travel on the stream's scored table: the scores its first snapshot that held any row still
    serves, read from that snapshot, beside what the current snapshot holds. On AWS the same read is Athena's
    `FOR VERSION AS OF <snapshot id>` (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-time-travel-and-version-travel-queries.html),
    for as long as snapshot retention keeps the snapshot (terraform/README.md, the table optimizers)."""
    from churn_pipeline.tables.commit import SEQUENCE_PROPERTY

    catalog = iceberg.catalog_from_settings(where.catalog)
    identifier = where.identifier(outputs.STREAM_PREDICTIONS)
    history = sorted(catalog.load_table(identifier).snapshots(), key=lambda s: s.sequence_number)
    holding = [
        s for s in history if s.summary and int(s.summary.additional_properties.get("total-records", 0))
    ]
    if not holding:
        raise StepFailed(f"{identifier}: no snapshot holds a scored row ({len(history)} snapshot(s))")
    first = holding[0]
    then = iceberg.read_arrow(catalog, identifier, [outputs.RECORD_ID], snapshot_id=first.snapshot_id)
    now = iceberg.read_arrow(catalog, identifier, [outputs.RECORD_ID])
    then_ids, now_ids = set(then.column(0).to_pylist()), set(now.column(0).to_pylist())
    return {
        "snapshots": len(history),
        "snapshot_id": first.snapshot_id,
        "committed_at": datetime.fromtimestamp(first.timestamp_ms / 1000, UTC).isoformat(timespec="seconds"),
        "micro_batch": int(first.summary.additional_properties[SEQUENCE_PROPERTY]),
        "rows_then": then.num_rows,
        "rows_now": now.num_rows,
        "then_all_still_there": then_ids <= now_ids and len(then_ids) == then.num_rows,
        "athena_sql": f"SELECT count(*) FROM {athena_table} FOR VERSION AS OF {first.snapshot_id}",
    }


def committed_rows(where: StreamTables, dataset: outputs.Dataset) -> int:
    """Rows of one of the stream's tables in its current snapshot (what a reader sees), from the snapshot's
    summary (total-records): no data file is read. 0 before the job created the table."""
    catalog = iceberg.catalog_from_settings(where.catalog)
    identifier = where.identifier(dataset)
    if not catalog.table_exists(identifier):
        return 0
    snapshot = catalog.load_table(identifier).current_snapshot()
    return int(snapshot.summary["total-records"]) if snapshot is not None and snapshot.summary else 0


def _quietly(action: Callable[[], object], log):
    """Run an in-process action with its prints going to a log file."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = log
    try:
        return action()
    finally:
        sys.stdout, sys.stderr = saved


def _count_data_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def _scalar(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])
