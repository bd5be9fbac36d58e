"""Helpers of the batch tests: local model endpoints (real uvicorn servers), worker environment, CSV lines."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from churn_pipeline import endpoint_server, local_services, schema

HEADER = ",".join(schema.RAW_COLUMN_NAMES)
# A clean row of the tutorial's format (values typed by hand, not taken from the dataset).
GOOD_ROW = "KS,128,415,382-4657,no,yes,25,265.1,110,45.07,197.4,99,16.78,244.7,91,11.01,10.0,3,2.7,1,False."


@contextlib.contextmanager
def worker_environment(spark, values: dict[str, str]):
    """Set variables for the driver and for Spark's Python workers (started with SparkContext.environment)."""
    saved_os = {k: os.environ.get(k) for k in values}
    saved_sc = {k: spark.sparkContext.environment.get(k) for k in values}
    os.environ.update(values)
    spark.sparkContext.environment.update(values)
    try:
        yield
    finally:
        for saved, target in ((saved_os, os.environ), (saved_sc, spark.sparkContext.environment)):
            for key, value in saved.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value


@contextlib.contextmanager
def running_endpoint(model_dir: Path, run_dir: Path, **faults):
    """A real endpoint process on a free loopback port; yields its URL and stops it (pid file in run_dir)."""
    port = local_services.free_port()
    endpoint_server.start_background(model_dir, port, run_dir, **faults)
    try:
        yield f"http://{local_services.LOOPBACK}:{port}"
    finally:
        endpoint_server.stop_background(run_dir)


def runtime_env(url: str) -> dict[str, str]:
    return {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
