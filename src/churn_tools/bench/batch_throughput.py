"""Batch throughput, side by side in one process tree on the same data and the same local endpoint.

Four ways to get the same rows through the job, each on one SparkSession:
- per-row: the tutorial's method, a Python UDF that builds a new boto3 client and sends one request per row
  (run on a sample: it is slow);
- endpoint: `run` with mode endpoint (batched text/csv payloads, pooled client, bounded concurrency);
- embedded: `run` with the model inside the Python workers;
- no-scoring: `run` with scoring removed (read, validate, write);
- embedded-drift: embedded, plus the drift against the model's training baseline written (the drift table);
- floor-c: not the job, Spark's own CSV -> Parquet copy of the same file (the description's columns as an
  explicit schema, no validation, no scoring): what the engine itself costs for the read and the write.
Reported as rows/s and as the ratios of the acceptance criteria: endpoint / per-row (>= 100),
embedded wall time / no-scoring wall time (<= 1.10) and embedded / floor C (<= 2.0). Wall times are the best of `--repeat` runs, with the
modes interleaved so that a noisy neighbour or JVM warm-up does not favour one of them; every run also records
its CPU time and the peak memory of the driver JVM and of the Python workers (`churn_tools.bench.proc`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from churn_pipeline.batch.job import BatchConfig, run
from churn_pipeline.model import ModelDir
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.spark_session import local_session
from churn_pipeline.tables import JobTables
from churn_tools.bench.proc import TreeMeter
from churn_tools.local import endpoint_server
from churn_tools.local import services as local_services

ENDPOINT_NAME = "churn-bench"
DRIFT_SUFFIX = "-drift"


def per_row_rows_per_second(
    spark, data: str, model_dir: str, sample: int, endpoint_name: str
) -> tuple[int, float]:
    """The tutorial's scoring loop: per row, a new boto3 client and one InvokeEndpoint call."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from churn_pipeline.batch.reader import READ_ERROR_CODE, read_churn_lines
    from churn_pipeline.contract.features import FeatureSpec, encode

    spec = FeatureSpec.load(Path(model_dir))
    columns = spec.input_columns

    def invoke_one(*values):
        import boto3
        import pandas as pd

        from churn_pipeline.scoring.endpoint_protocol import format_csv

        encoded = encode(pd.DataFrame([values], columns=columns), spec)
        if not encoded.valid.all():
            return None
        client = boto3.client("sagemaker-runtime")  # as in the tutorial: a new client for every row
        response = client.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Body=format_csv(encoded.matrix)
        )
        return float(response["Body"].read().decode().strip())

    rows = (
        read_churn_lines(spark, data, ModelDir(model_dir).description())
        .rows.where(F.col(READ_ERROR_CODE).isNull())
        .limit(sample)
    )
    rows = rows.repartition(spark.sparkContext.defaultParallelism).cache()
    n_rows = rows.count()
    udf = F.udf(invoke_one, T.DoubleType()).asNondeterministic()
    started = time.monotonic()
    scored = (
        rows.select(udf(*[F.col(f"`{c}`") for c in columns]).alias("p")).where(F.col("p").isNotNull()).count()
    )
    elapsed = time.monotonic() - started
    rows.unpersist()
    if scored != n_rows:
        raise RuntimeError(f"per-row method scored {scored} of {n_rows} rows")
    return n_rows, n_rows / elapsed


FLOOR_C = "floor-c"


def floor_c(spark, data: str, model_dir: str, out_dir: Path) -> dict:
    """Spark's own copy of the CSV file to Parquet: the description's columns as an explicit schema (typed as
    the job types them), the header skipped, nothing validated, scored or split; the figures of `run_mode`."""
    import pyarrow.parquet as pq

    from churn_pipeline.batch.reader import spark_type

    description = ModelDir(model_dir).description()
    schema = ", ".join(f"`{c.name.replace('`', '``')}` {spark_type(c.type)}" for c in description.columns)
    target = out_dir / FLOOR_C
    shutil.rmtree(target, ignore_errors=True)
    meter = TreeMeter()
    started = time.monotonic()
    spark.read.schema(schema).option("header", "true").csv(data).write.parquet(str(target))
    wall_seconds = time.monotonic() - started
    cpu_seconds = meter.stop()
    rows = sum(pq.read_metadata(f).num_rows for f in target.glob("*.parquet"))
    return {
        "wall_seconds": round(wall_seconds, 3),
        "cpu_seconds": round(cpu_seconds, 2),
        "rows": rows,
        "rows_per_second": rows / wall_seconds,
        "peak_rss_mb": meter.peak_rss_mb(),
    }


def run_mode(spark, mode: str, data: str, model_dir: str, out_dir: Path, concurrency: int) -> dict:
    if mode == FLOOR_C:
        return floor_c(spark, data, model_dir, out_dir)
    scoring = None
    if mode != "no-scoring":
        scoring = ScoringConfig(
            mode=mode.removesuffix(DRIFT_SUFFIX), model_uri=model_dir, endpoint_name=ENDPOINT_NAME,
            concurrency=concurrency,
        )  # fmt: skip
    # Each mode commits to its own Iceberg tables (pyiceberg's SQL catalog), kept across rounds as a deployed
    # job's are: a later round replaces the run's partition, as a re-run does.
    config = BatchConfig(
        input_path=data,
        # Only the drift mode writes drift; the others compute none (the cost measured is all of it).
        tables=JobTables.local(out_dir / mode / "warehouse", "bench", drift=mode.endswith(DRIFT_SUFFIX)),
        scoring=scoring,
        # The floor without scoring reads the data as the scored modes do: as the model's description.
        dataset=None if scoring else ModelDir(model_dir).description(),
        batch_id="bench",
        progress_seconds=0,
    )
    meter = TreeMeter()
    summary = run(spark, config, log=lambda message: None)
    cpu_seconds = meter.stop()
    if summary.failed or summary.scored != summary.rows_read - summary.rejected:
        raise RuntimeError(f"{mode}: not every row was scored: {summary.describe()}")
    return {
        "wall_seconds": summary.wall_seconds,
        "cpu_seconds": round(cpu_seconds, 2),
        "rows": summary.rows_read,
        "rows_per_second": summary.rows_per_second,
        "peak_rss_mb": meter.peak_rss_mb(),
    }


def measure(data: str, model_dir: str, work_dir: Path, per_row_sample: int, repeat: int = 2, master: str = "local[*]",
            concurrency: int = 4, driver_memory: str = "4g", spark=None,
            warmup_data: str | None = None) -> dict:  # fmt: skip
    """Start a local endpoint, run every method on one SparkSession, stop the endpoint; returns the figures.

    `warmup_data` (a small CSV): every mode runs once on it first, untimed, so that JIT compilation and worker
    start-up do not land on whichever mode happens to run first.

    Pass `spark` to reuse a running session (it is left running); otherwise one is created and stopped.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    port = local_services.free_port()
    run_dir = work_dir / "endpoint"
    endpoint_server.start_background(model_dir, port, run_dir)
    env = {
        **local_services.LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": f"http://{local_services.LOOPBACK}:{port}",
    }
    own_session = spark is None
    saved_worker_env = {}
    try:
        if own_session:
            # Set before the JVM starts, so every Python worker's boto3 client reaches the local endpoint.
            os.environ.update(env)
            spark = local_session("bench-batch-throughput", master, driver_memory)
            spark.sparkContext.setLogLevel("ERROR")
        else:  # a running JVM's workers take their environment from SparkContext.environment
            saved_worker_env = {k: spark.sparkContext.environment.get(k) for k in env}
            spark.sparkContext.environment.update(env)
        runs: dict[str, list[dict]] = {
            "no-scoring": [], "embedded": [], "embedded-drift": [], "endpoint": [], FLOOR_C: [],
        }  # fmt: skip
        per_row_runs: list[float] = []
        if warmup_data:
            for mode in runs:
                run_mode(spark, mode, warmup_data, model_dir, work_dir / "warmup", concurrency)
        for round_index in range(repeat):
            sample, per_row = per_row_rows_per_second(spark, data, model_dir, per_row_sample, ENDPOINT_NAME)
            per_row_runs.append(per_row)
            print(f"per-row method: {sample:,} rows at {per_row:,.1f} rows/s", flush=True)
            order = (
                [FLOOR_C, "no-scoring", "embedded", "embedded-drift", "endpoint"]
                if round_index % 2 == 0
                else ["endpoint", "embedded-drift", "embedded", "no-scoring", FLOOR_C]
            )
            for mode in order:
                figures = run_mode(spark, mode, data, model_dir, work_dir / "out", concurrency)
                runs[mode].append(figures)
                print(f"{mode}: {figures['rows']:,} rows in {figures['wall_seconds']:.1f}s, "
                      f"{figures['cpu_seconds']:.1f} CPU-s ({figures['rows_per_second']:,.0f} rows/s)", flush=True)  # fmt: skip
    finally:
        if own_session and spark is not None:
            spark.stop()
        for key, value in saved_worker_env.items():
            if value is None:
                spark.sparkContext.environment.pop(key, None)
            else:
                spark.sparkContext.environment[key] = value
        endpoint_server.stop_background(run_dir)
    best = {mode: min(r["wall_seconds"] for r in results) for mode, results in runs.items()}
    cpu = {mode: min(r["cpu_seconds"] for r in results) for mode, results in runs.items()}
    rows = runs["embedded"][0]["rows"]
    per_row = max(per_row_runs)
    report = {
        "rows": rows,
        "per_row_sample": sample,
        "per_row_rows_per_second": round(per_row, 1),
        "per_row_runs": [round(r, 1) for r in per_row_runs],
        "best_wall_seconds": best,
        "least_cpu_seconds": cpu,
        "rows_per_second": {mode: round(rows / seconds, 1) for mode, seconds in best.items()},
        "endpoint_vs_per_row": round(rows / best["endpoint"] / per_row, 1),
        "embedded_vs_no_scoring_wall_time": round(best["embedded"] / best["no-scoring"], 3),
        "embedded_vs_no_scoring_cpu_time": round(cpu["embedded"] / cpu["no-scoring"], 3),
        "embedded_vs_floor_c_wall_time": round(best["embedded"] / best[FLOOR_C], 3),
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="churn CSV (make data ROWS=1000000 OUT=...)")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--work-dir", required=True, help="outputs, endpoint pid/log and report.json go here")
    parser.add_argument("--per-row-sample", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)
    work_dir = Path(args.work_dir)
    report = measure(args.data, args.model_dir, work_dir, args.per_row_sample, args.repeat, args.master,
                     args.concurrency, args.driver_memory)  # fmt: skip
    (work_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    print(
        f"endpoint mode = {report['endpoint_vs_per_row']}x the per-row method (target >= 100); "
        f"embedded wall time = {report['embedded_vs_no_scoring_wall_time']}x no scoring (target <= 1.10), "
        f"CPU time {report['embedded_vs_no_scoring_cpu_time']}x; "
        f"{report['embedded_vs_floor_c_wall_time']}x Spark's own CSV -> Parquet copy (floor C, target <= 2.0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
