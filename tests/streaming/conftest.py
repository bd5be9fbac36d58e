"""Fixtures of the streaming tests: Kinesis streams on moto over HTTP, a moto with AWS's resharding, helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

from churn_tools.local import services as local_services

HERE = Path(__file__).resolve().parent


def create_stream(client, shards: int, prefix: str = "churn") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return name


def put_one_by_one(client, stream: str, items: list[tuple[bytes, str]]) -> list[tuple[str, str]]:
    """PutRecord each item in order; returns (shard id, sequence number) per item."""
    placed = []
    for data, key in items:
        response = client.put_record(StreamName=stream, Data=data, PartitionKey=key)
        placed.append((response["ShardId"], response["SequenceNumber"]))
    return placed


@pytest.fixture
def kinesis(moto_server):
    return boto3.client("kinesis", endpoint_url=moto_server)


@pytest.fixture(scope="session")
def resharding_moto_url(tmp_path_factory):
    """A moto server whose SplitShard/MergeShards behave like Kinesis (see moto_kinesis.py for why)."""
    port = local_services.free_port()
    log = tmp_path_factory.mktemp("moto-resharding") / "moto.log"
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "moto_kinesis.py"), "-H", local_services.LOOPBACK, "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **local_services.LOCAL_AWS_ENV},
            start_new_session=True,
        )
    url = f"http://{local_services.LOOPBACK}:{port}"
    try:
        local_services.wait_for_http(f"{url}/moto-api/", timeout=60, process=process, log=log)
        yield url
    finally:
        local_services.stop_process(process)


@pytest.fixture
def resharding_kinesis(resharding_moto_url, monkeypatch):
    """Client of the resharding moto; AWS_ENDPOINT_URL points the job's own clients at it for this test."""
    for key, value in local_services.LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", resharding_moto_url)
    return boto3.client("kinesis", endpoint_url=resharding_moto_url)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_job(spark, stream: str, tmp_path: Path, model_dir: Path, name: str = "run", **overrides):
    """Run the streaming job in-process on the shared SparkSession until idle; returns (stats, scored, dead)."""
    from churn_pipeline.contract import outputs
    from churn_pipeline.streaming import job
    from churn_pipeline.streaming.handler import StreamTables

    config = job.StreamJobConfig(
        stream_name=stream,
        tables=overrides.pop("tables", None) or StreamTables.local(tmp_path / "warehouse"),
        checkpoint_path=str(tmp_path / "checkpoint"),
        model_uri=str(model_dir),
        trigger_seconds=overrides.pop("trigger_seconds", 0.5),
        stop_when_idle=overrides.pop("stop_when_idle", 4.0),
        **overrides,
    )
    stats = job.run(config, spark=spark, install_signal_handlers=False)
    return (
        stats,
        config.tables.read(outputs.STREAM_PREDICTIONS),
        config.tables.read(outputs.STREAM_DEAD_LETTER),
    )
