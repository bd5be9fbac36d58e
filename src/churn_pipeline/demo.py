"""`make demo`: the tutorial's whole story on one machine, with no AWS account.

generate data -> train -> start moto server + the local endpoint -> terraform apply envs/local (moto) ->
batch job -> produce into Kinesis (moto) -> streaming job until every record is scored or dead-lettered ->
the Athena named queries, run by DuckDB -> report.

Every step runs a CLI of the package (or terraform) as a child process with its output in a log file; the
console shows each step with its elapsed time and, for long steps, periodic counts. Whatever happens
(a failed step, Ctrl-C, SIGTERM) every background process the demo started is stopped before it exits, and the
exit code is 0 only when every step succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from churn_pipeline import local_services
from churn_pipeline.analytics_queries import load_named_queries
from churn_pipeline.contract import settings
from churn_pipeline.streaming import sink

REPO_ROOT = Path(__file__).resolve().parents[2]
# Kept between runs: re-running must not copy the Terraform provider or rebuild the package each time.
KEPT_BETWEEN_RUNS = ("terraform/plugin-cache", "package-cache")
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


class Interrupted(BaseException):
    """SIGINT/SIGTERM: unwinds like KeyboardInterrupt, from either signal."""


@dataclass
class DemoConfig:
    work: Path
    data: Path | None
    rows: int
    seed: int
    moto_port: int
    endpoint_port: int
    batch_mode: str
    stream_mode: str
    trigger_seconds: float
    stream_timeout: float
    python: str = sys.executable


@dataclass
class Outcome:
    report: dict = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)


class Demo:
    def __init__(self, config: DemoConfig, out=sys.stdout):
        self.config = config
        self.out = out
        self.work = config.work
        self.logs = self.work / "logs"
        self.run_dir = self.work / "run"
        self.lake = self.work / "lake"
        self.children: list[subprocess.Popen] = []
        self.outcome = Outcome()
        self.started = time.monotonic()
        self.stack_up = False

    # ------------------------------------------------------------------ plumbing
    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.stack_up:
            env.update(local_services.LOCAL_AWS_ENV)
            env["AWS_ENDPOINT_URL"] = self.moto_url
            env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = self.endpoint_url
        return env

    @property
    def moto_url(self) -> str:
        return f"http://{local_services.LOOPBACK}:{self.config.moto_port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{local_services.LOOPBACK}:{self.config.endpoint_port}"

    def start(self, name: str, args: list[str], stdout: Path | None = None) -> subprocess.Popen:
        """A child in its own process group (so Ctrl-C reaches only the demo, which then stops it cleanly)."""
        log = self.logs / f"{name}.log"
        err = open(log, "ab")  # noqa: SIM115 - owned by the child
        out = open(stdout, "wb") if stdout else err  # noqa: SIM115
        process = subprocess.Popen(
            [self.config.python, *args],
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children.append(process)
        return process

    def run_child(
        self,
        name: str,
        args: list[str],
        *,
        stdout: Path | None = None,
        heartbeat: Callable[[], str | None] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> int:
        """Run a child to completion, printing a status line every few seconds; raise StepFailed on error."""
        process = self.start(name, args, stdout)
        log = self.logs / f"{name}.log"
        last_beat = time.monotonic()
        while process.poll() is None:
            time.sleep(0.2)
            if time.monotonic() - last_beat >= 5:
                last_beat = time.monotonic()
                status = heartbeat() if heartbeat else _last_line(log)
                if status:
                    self.say(f"          {self.elapsed()}  {status}")
        self.children.remove(process)
        if process.returncode not in ok_codes:
            raise StepFailed(f"{name} exited with code {process.returncode}", [log])
        return process.returncode

    def stop_children(self) -> None:
        for process in list(self.children):
            stop_process_group(process)
            self.children.remove(process)

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        self.prepare_work_dir()
        steps: list[tuple[str, Callable[[], str]]] = [
            ("Generate data", self.step_data),
            ("Train the model", self.step_train),
            ("Start the local AWS (moto server) and the local endpoint", self.step_local_up),
            ("Apply terraform/envs/local and upload the artifacts", self.step_deploy),
            ("Batch job", self.step_batch),
            ("Produce the data set into Kinesis", self.step_produce),
            ("Streaming job until every record is scored or dead-lettered", self.step_stream),
            ("Query the results with DuckDB (the Athena named queries)", self.step_query),
        ]
        exit_code = 0
        try:
            for index, (title, step) in enumerate(steps, 1):
                self.say(f"[{index}/{len(steps)}] {title} ...")
                began = time.monotonic()
                detail = step()
                self.outcome.step_seconds[title] = time.monotonic() - began
                self.say(f"      done {self.elapsed()}  ({time.monotonic() - began:.1f}s) {detail}")
            self.print_report()
        except StepFailed as exc:
            exit_code = 1
            self.say(f"\nFAILED: {exc}")
            for log in [*exc.logs, *self.service_logs()]:
                if log.exists():
                    self.say(f"  log: {log}")
                    for line in _tail(log, 15):
                        self.say(f"    | {line}")
        except Interrupted:
            exit_code = 130
            self.say("\ninterrupted: stopping everything the demo started")
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            self.shutdown()
        return exit_code

    def service_logs(self) -> list[Path]:
        return [self.run_dir / "moto.log", self.run_dir / "endpoint.log"]

    def shutdown(self) -> None:
        self.stop_children()
        if self.stack_up or (self.run_dir / "moto.pid").exists():
            from churn_pipeline import local_stack

            with open(self.logs / "local-down.log", "a") as log:
                code = _quietly(lambda: local_stack.down(self.run_dir), log)
            if code != 0:
                self.say(f"error: could not stop the local services; see {self.logs / 'local-down.log'}")
            self.stack_up = False

    def prepare_work_dir(self) -> None:
        """Start clean, keeping only caches; stop what a killed earlier run may have left running."""
        if (self.run_dir / "moto.pid").exists():
            self.shutdown()
        if self.work.exists():
            for child in self.work.iterdir():
                if child.name not in {p.split("/")[0] for p in KEPT_BETWEEN_RUNS}:
                    _remove(child)
            terraform_dir = self.work / "terraform"
            if terraform_dir.exists():
                for child in terraform_dir.iterdir():
                    if child.name != "plugin-cache":
                        _remove(child)
        for directory in (self.logs, self.run_dir, self.lake):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ steps
    def step_data(self) -> str:
        if self.config.data:
            if not self.config.data.is_file():
                raise StepFailed(f"DATA={self.config.data} does not exist")
            self.data = self.config.data
            return f"using {self.data}"
        self.data = self.work / "data" / "churn.csv"
        self.run_child(
            "data",
            ["-m", "churn_pipeline.synthetic", "--rows", str(self.config.rows), "--out", str(self.data),
             "--seed", str(self.config.seed)],
        )  # fmt: skip
        return f"{self.config.rows:,} synthetic rows in {self.data}"

    def step_train(self) -> str:
        self.model_dir = self.work / "model"
        self.run_child(
            "train", ["model_training/train.py", "--data", str(self.data), "--model-dir", str(self.model_dir)]
        )
        metrics = json.loads((self.model_dir / "metrics.json").read_text())
        self.outcome.report["model"] = {
            "version": metrics["model_version"],
            "test_auc": metrics["test"]["auc"],
            "validation_auc": metrics["validation"]["auc"],
        }
        return f"model {metrics['model_version']}, test AUC {metrics['test']['auc']:.3f}"

    def step_local_up(self) -> str:
        from churn_pipeline import local_stack

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
            ["-m", "churn_pipeline.deploy.terraform", "deploy", "--env", "local", "--model-dir", str(self.model_dir),
             "--work", str(self.work), "--endpoint-url", self.moto_url, "--dependency-wheels", "no"],
            stdout=printed_outputs,
        )  # fmt: skip
        outputs = json.loads(printed_outputs.read_text())
        self.deployed = DeployedNames.from_deployment(outputs, self.env())
        self.outcome.report["deployed"] = self.deployed.__dict__
        return f"stream {self.deployed.stream_name!r}, endpoint {self.deployed.endpoint_name!r}"

    def step_batch(self) -> str:
        self.batch_out = self.lake / "batch" / "scored"
        summary_file = self.work / "batch-summary.json"
        code = self.run_child(
            "batch",
            ["-m", "churn_pipeline.batch", "--input", str(self.data), "--output", str(self.batch_out),
             "--rejects", str(self.lake / "batch" / "rejects"), "--failed", str(self.lake / "batch" / "failed"),
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

    def step_produce(self) -> str:
        self.run_child(
            "produce",
            ["-m", "churn_pipeline.streaming.producer", "--data", str(self.data),
             "--stream", self.deployed.stream_name, "--id-prefix", "demo-"],
        )  # fmt: skip
        sent = _count_data_rows(self.data)
        malformed = put_malformed(self.deployed.stream_name, self.env())
        self.produced = {"valid_rows": sent, "malformed": malformed, "total": sent + malformed}
        self.outcome.report["produced"] = self.produced
        return f"{sent:,} records from the data set + {malformed} malformed ones"

    def step_stream(self) -> str:
        self.stream_out = self.lake / "stream" / "scored"
        self.dead_letter = self.lake / "stream" / "dead-letter"
        process = self.start(
            "stream",
            ["-m", "churn_pipeline.streaming.job", "--stream", self.deployed.stream_name,
             "--output", str(self.stream_out), "--dead-letter", str(self.dead_letter),
             "--checkpoint", str(self.lake / "stream" / "checkpoint"), "--mode", self.config.stream_mode,
             "--model-uri", str(self.model_dir), "--endpoint-name", self.deployed.endpoint_name,
             "--threshold", str(self.deployed.threshold), "--trigger-seconds", str(self.config.trigger_seconds),
             "--metrics-job-name", self.deployed.stream_job_name],
        )  # fmt: skip
        expected = self.produced["total"]
        deadline = time.monotonic() + self.config.stream_timeout
        last_beat = 0.0
        while True:
            scored, dead = committed_rows(self.stream_out), committed_rows(self.dead_letter)
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

    def step_query(self) -> str:
        import duckdb

        con = duckdb.connect()
        database = self.deployed.database_name
        con.execute(f'CREATE SCHEMA "{database}"')
        tables = self.deployed.tables
        con.execute(
            f'CREATE VIEW "{database}"."{tables["batch"]}" AS SELECT * FROM '
            f"read_parquet('{self.batch_out}/**/*.parquet', hive_partitioning = true)"
        )
        con.execute(sink.duckdb_view_sql(str(self.stream_out), f'"{database}"."{tables["stream"]}"'))
        con.execute(sink.duckdb_view_sql(str(self.dead_letter), f'"{database}"."{tables["dead_letter"]}"'))
        results = {}
        for query in load_named_queries(database=database, tables=tables):
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
        self.query_results = results
        return f"{len(results)} named queries"

    # ------------------------------------------------------------------ report
    def print_report(self) -> None:
        report = self.outcome.report
        batch, counts, produced = report["batch"], report["duckdb"], report["produced"]
        checks = {
            "batch: rows read = scored + rejected + failed": batch["rows_read"]
            == batch["scored"] + batch["rejected"] + batch["failed"],
            "batch: DuckDB sees every scored row once": counts["batch_scored"] == batch["scored"],
            "stream: produced = scored + dead-lettered": produced["total"]
            == counts["stream_scored"] + counts["dead_lettered"],
            "stream: each record_id once": counts["stream_distinct_records"] == counts["stream_scored"],
            "stream: CloudWatch DeadLetterRecords (the alarm's metric) = dead letters": counts[
                "cloudwatch_dead_letter_records"
            ]
            == counts["dead_lettered"],
        }
        self.say("\n" + "=" * 78)
        self.say("Churn scoring demo — report")
        self.say("=" * 78)
        model = report["model"]
        self.say(
            f"model           {model['version']}  test AUC {model['test_auc']:.4f}  (validation {model['validation_auc']:.4f})"
        )
        self.say(
            f"batch  ({self.config.batch_mode:<8}) {batch['rows_read']:>9,} rows read   {batch['scored']:>9,} scored  "
            f"{batch['rejected']:>6,} rejected  {batch['failed']:>6,} failed"
        )
        self.say(
            f"stream ({self.config.stream_mode:<8}) {produced['total']:>9,} produced    {counts['stream_scored']:>9,} scored  "
            f"{counts['dead_lettered']:>6,} dead-lettered"
        )
        self.say("\nchurn rate by state, top 10 (batch scores):")
        self.say(_indent(self.query_results["churn_rate_by_state"].head(10).to_string(index=False)))
        self.say("\ndead-letter summary (stream):")
        self.say(_indent(self.query_results["dead_letter_summary"].to_string(index=False)))
        self.say("\nlatest predictions (stream), 5 of them:")
        self.say(_indent(self.query_results["latest_predictions"].head(5).to_string(index=False)))
        self.say("\nconsistency (DuckDB over the outputs vs the jobs' own counts):")
        for check, ok in checks.items():
            self.say(f"  {'ok  ' if ok else 'FAIL'} {check}")
        self.say("\nwhere everything lives:")
        for label, path in (
            ("data", self.data),
            ("model", self.model_dir),
            ("batch scores", self.batch_out),
            ("batch rejects", self.lake / "batch" / "rejects"),
            ("stream scores", self.stream_out),
            ("dead letters", self.dead_letter),
            ("logs", self.logs),
            ("terraform state", self.work / "terraform" / "local"),
        ):
            self.say(f"  {label:<16} {path}")
        self.say("\nstep times: " + ", ".join(f"{t:.0f}s" for t in self.outcome.step_seconds.values()))
        (self.work / "report.json").write_text(
            json.dumps({**report, "checks": checks}, indent=2, default=str)
        )
        if not all(checks.values()):
            raise StepFailed("the report's counts do not add up (see the consistency checks above)")


@dataclass
class DeployedNames:
    """What the demo takes from the deployment: names from `terraform output`, job settings from the Glue job."""

    stream_name: str
    stream_job_name: str
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
        tables = {
            "batch": "batch_predictions",
            "stream": "stream_predictions",
            "dead_letter": "stream_dead_letter",
        }
        missing = set(tables.values()) - set(pipeline["glue_tables"])
        if missing:
            raise StepFailed(f"the deployment has no catalog table(s) {sorted(missing)}")
        return cls(
            stream_name=pipeline["stream_name"],
            stream_job_name=pipeline["stream_job_name"],
            endpoint_name=pipeline["endpoint_name"],
            database_name=pipeline["glue_database"],
            tables=tables,
            threshold=float(arguments["--threshold"]),
        )


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
    from datetime import datetime, timedelta

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


def committed_rows(location: Path) -> int:
    """Rows of the committed batches of a streaming dataset (what a reader sees)."""
    import pyarrow.parquet as pq

    store = sink.LocalStore(location)
    if not location.exists():
        return 0
    return sum(pq.ParquetFile(location / key).metadata.num_rows for key in sink.committed_files(store))


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the child's process group (a Spark job takes its JVM with it), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _tail(path: Path, lines: int) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-lines:]


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _last_line(path: Path) -> str | None:
    """The last non-blank line of a log, without terminal colour codes (Terraform's), cut to fit a line."""
    if not path.exists():
        return None
    for line in reversed(_tail(path, 5)):
        text = _ANSI_ESCAPE.sub("", line).strip()
        if text:
            return text[:150]
    return None


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _raise_interrupted(signum, _frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole churn pipeline locally, end to end.")
    parser.add_argument("--work", type=Path, default=Path(".work/demo"))
    parser.add_argument("--data", type=Path, default=None, help="a churn CSV (default: synthetic data)")
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows when --data is not given")
    parser.add_argument("--seed", type=int, default=1729)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--endpoint-port", type=int, default=8080)
    parser.add_argument("--batch-mode", choices=settings.SCORING_MODES, default="embedded")
    parser.add_argument("--stream-mode", choices=settings.SCORING_MODES, default="endpoint")
    parser.add_argument("--trigger-seconds", type=float, default=2.0)
    parser.add_argument("--stream-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    config = DemoConfig(
        work=args.work.resolve(),
        data=args.data.resolve() if args.data else None,
        rows=args.rows,
        seed=args.seed,
        moto_port=args.moto_port,
        endpoint_port=args.endpoint_port,
        batch_mode=args.batch_mode,
        stream_mode=args.stream_mode,
        trigger_seconds=args.trigger_seconds,
        stream_timeout=args.stream_timeout,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)
    config.work.mkdir(parents=True, exist_ok=True)
    return Demo(config).run()


if __name__ == "__main__":
    sys.exit(main())
