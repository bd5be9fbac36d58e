"""Session-wide fixtures: one local SparkSession, one trained model, one moto server."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from churn_pipeline import local_services, synthetic
from churn_pipeline.datasets import read_churn_csv
from churn_pipeline.training import train, write_artifacts

REPO_ROOT = Path(__file__).resolve().parent.parent

# Spark's Python workers import churn_pipeline: they must run this interpreter (the venv), not `python3`
# from PATH. Set before any session starts, for the shared fixture and for jobs the tests start themselves.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "churn.txt"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """The tutorial's dataset, read from ../shared (never committed); skipped with the reason if absent."""
    if not REAL_DATA.exists():
        message = f"real dataset not found at {REAL_DATA} (it lives beside the checkout, in ../shared/data)"
        print(f"SKIP: {message}", file=sys.stderr)
        pytest.skip(message)
    return REAL_DATA


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "synthetic.csv"
    return synthetic.write_csv(20_000, path, seed=7)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, synthetic_csv) -> Path:
    """A model trained once per session on synthetic data: model.tar.gz, feature_spec.json, metrics.json."""
    out = tmp_path_factory.mktemp("model")
    write_artifacts(train(read_churn_csv(synthetic_csv)), out)
    return out


@pytest.fixture(scope="session")
def real_model_dir(tmp_path_factory, real_data_path) -> Path:
    """A model trained on the tutorial's dataset with the tutorial's recipe."""
    out = tmp_path_factory.mktemp("real-model")
    write_artifacts(train(read_churn_csv(real_data_path)), out)
    return out


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole run (starting the JVM dominates small tests)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java 17+ is required for the Spark tests: install a JDK or set JAVA_HOME")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("churn-pipeline-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A real moto server on loopback; yields its endpoint URL. Clients reach it via AWS_ENDPOINT_URL."""
    port = local_services.free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = local_services.start_moto(port, log)
    url = f"http://{local_services.LOOPBACK}:{port}"
    saved = {k: os.environ.get(k) for k in [*local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(local_services.LOCAL_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        local_services.stop_process(process)
