"""Helpers of the tests that score through Spark or an endpoint: local model endpoints (real uvicorn servers),
moto servers, and the environment of Spark's Python workers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from churn_tools.local import endpoint_server
from churn_tools.local import services as local_services


@contextlib.contextmanager
def running_moto(log_dir: Path, set_environment: bool = True):
    """A real moto server on loopback for the block; yields its URL. With `set_environment`, clients reach it
    via AWS_ENDPOINT_URL (and moto's fake credentials), set for the block and restored after it; without, the
    caller hands the URL to whatever needs it (Terraform's endpoints) and no variable changes."""
    port = local_services.free_port()
    process = local_services.start_moto(port, log_dir / "moto.log")
    url = f"http://{local_services.LOOPBACK}:{port}"
    try:
        with pytest.MonkeyPatch.context() as env:
            if set_environment:
                for key, value in {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": url}.items():
                    env.setenv(key, value)
            yield url
    finally:
        local_services.stop_process(process)


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
