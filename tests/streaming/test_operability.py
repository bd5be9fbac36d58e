"""Producer, local stack, start-up checks, graceful stop and endpoint mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from urllib.parse import urlparse

import boto3
import pytest

from churn_pipeline import tables
from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.streaming import job
from churn_pipeline.streaming.handler import StreamTables
from churn_tools import synthetic
from churn_tools.local import producer
from churn_tools.local import services as local_services

from .conftest import create_stream, run_job, wait_until

pytestmark = pytest.mark.slow(seconds=90)  # expected seconds: make test starts the longest units first


def test_producer_batches_respect_kinesis_limits():
    small = [(b"x" * 100, f"k{i}") for i in range(1201)]
    assert [len(b) for b in producer.batches(small)] == [500, 500, 201]
    big = [(b"y" * 900_000, f"k{i}") for i in range(12)]  # 5 of these exceed 5 MiB
    sizes = [sum(len(d) + len(k) for d, k in b) for b in producer.batches(big)]
    assert (
        all(size <= producer.MAX_BATCH_BYTES for size in sizes)
        and sum(len(b) for b in producer.batches(big)) == 12
    )
    with pytest.raises(producer.ProducerError, match="exceeds Kinesis' 1 MiB limit"):
        list(producer.batches([(b"z" * (1024 * 1024), "k")]))


def test_producer_records_are_json_per_customer_with_id_and_event_time(tmp_path):
    csv = synthetic.write_csv(50, tmp_path / "d.csv", seed=2)
    items = list(producer.csv_records(csv, "p-"))
    bodies = [json.loads(data) for data, _ in items]
    assert [b["record_id"] for b in bodies] == [f"p-{i:09d}" for i in range(50)]
    assert all(b["event_time"].endswith("+00:00") for b in bodies)
    first = bodies[0]
    assert (
        isinstance(first["Account Length"], int)
        and isinstance(first["Day Mins"], float)
        and first["Int'l Plan"] in ("yes", "no")
    )
    keys = [key for _, key in items]
    # The customer is the description's id column (the tutorial's: Phone); no module names a tutorial column.
    assert keys[0] == first[tutorial().id_column] == first["Phone"]
    assert len(set(keys)) > 45  # one key per customer, not one constant key


def test_producer_resends_only_the_records_kinesis_reports_failed(resharding_kinesis, tmp_path, caplog):
    stream = create_stream(resharding_kinesis, shards=2, prefix="throttled")
    items = [(json.dumps({"record_id": f"r{i}"}).encode(), f"c{i}") for i in range(30)]
    with caplog.at_level("WARNING"):
        assert producer.send(resharding_kinesis, stream, items) == 30
    assert "10 of 30 record(s) failed (ProvisionedThroughputExceededException); retrying them" in caplog.text
    stored = []
    for shard in resharding_kinesis.list_shards(StreamName=stream)["Shards"]:
        it = resharding_kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        stored += [
            json.loads(r["Data"])["record_id"]
            for r in resharding_kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
        ]
    assert sorted(stored) == sorted(f"r{i}" for i in range(30)), "each record stored exactly once"


def test_producer_cli_fails_clearly_on_a_missing_stream(moto_server, tmp_path, capsys):
    csv = synthetic.write_csv(5, tmp_path / "d.csv", seed=2)
    assert producer.main(["--data", str(csv), "--stream", "does-not-exist"]) == 2
    assert "error: Kinesis stream 'does-not-exist' does not exist" in capsys.readouterr().err


def test_job_fails_clearly_when_stream_or_endpoint_is_missing(
    moto_server, tmp_path, model_dir, capsys, monkeypatch
):
    common = [
        "--warehouse",
        str(tmp_path / "warehouse"),
        "--database",
        "stream",
        "--checkpoint",
        str(tmp_path / "c"),
        "--model-dir",
        str(model_dir),
    ]
    assert job.main(["--stream", "no-such-stream", *common]) == 2
    assert "error: Kinesis stream 'no-such-stream' does not exist" in capsys.readouterr().err
    stream = create_stream(boto3.client("kinesis", endpoint_url=moto_server), shards=1)
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://{local_services.LOOPBACK}:{local_services.free_port()}"
    )
    assert job.main(["--stream", stream, *common, "--mode", "endpoint", "--endpoint-name", "churn"]) == 2
    err = capsys.readouterr().err
    assert "error: endpoint 'churn' at http://127.0.0.1:" in err and "does not answer" in err


def test_sigterm_finishes_the_batch_in_progress_then_exits_0(moto_server, tmp_path, model_dir, synthetic_csv):
    client = boto3.client("kinesis", endpoint_url=moto_server)
    stream = create_stream(client, shards=2)
    producer.send(client, stream, list(producer.csv_records(synthetic_csv, "t-"))[:400])
    warehouse = tmp_path / "warehouse"
    where = StreamTables.local(warehouse)
    command = [sys.executable, "-m", "churn_pipeline.streaming.job", "--stream", stream,
               "--warehouse", str(warehouse), "--database", where.database,
               "--checkpoint", str(tmp_path / "ckpt"), "--model-dir", str(model_dir), "--trigger-seconds", "0.5",
               "--max-records-per-shard", "50"]  # fmt: skip
    log = tmp_path / "job.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=dict(os.environ), start_new_session=True
        )
    try:
        wait_until(
            lambda: list(warehouse.glob("*/*/data/*/*.parquet")) or process.poll() is not None,
            180,
            "a batch to start writing",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = log.read_text()
    assert "stop requested (SIGTERM): finishing the batch in progress" in text
    # Every batch that started writing was committed: no half batch left behind.
    # (every data file the tasks wrote is in its table's snapshot)
    catalog = tables.catalog_from_settings(where.catalog)
    for dataset in (outputs.STREAM_PREDICTIONS, outputs.STREAM_DEAD_LETTER):
        on_disk = sorted(
            str(p) for p in (warehouse / where.database / dataset.table).glob("data/*/*.parquet")
        )
        committed = [urlparse(p).path for p in tables.data_file_paths(catalog, where.identifier(dataset))]
        assert on_disk == committed, dataset.table
        assert on_disk or dataset is outputs.STREAM_DEAD_LETTER, "the scored table has the batches' files"
    assert len(where.read(outputs.STREAM_PREDICTIONS)) < 400, "stopped before reading everything"


def test_local_stack_up_endpoint_mode_down(spark, tmp_path, model_dir, synthetic_csv, monkeypatch):
    run_dir = tmp_path / "run"
    moto_port, endpoint_port = local_services.free_port(), local_services.free_port()
    up = [sys.executable, "-m", "churn_tools.local.stack", "up", "--run-dir", str(run_dir), "--model-dir", str(model_dir),
          "--moto-port", str(moto_port), "--endpoint-port", str(endpoint_port), "--stream", "churn-local", "--shards", "2"]  # fmt: skip
    started = subprocess.run(up, capture_output=True, text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stderr
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("export ")
        )
        assert exports["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{moto_port}"
        assert exports["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == f"http://127.0.0.1:{endpoint_port}"
        for key, value in exports.items():
            monkeypatch.setenv(key, value)
        client = boto3.client("kinesis")
        producer.send(client, "churn-local", list(producer.csv_records(synthetic_csv, "e-"))[:30])
        _, by_endpoint, _ = run_job(
            spark,
            "churn-local",
            tmp_path / "endpoint",
            model_dir,
            mode="endpoint",
            endpoint_name="churn-local",
            stop_when_idle=2.0,
        )
        _, embedded, _ = run_job(spark, "churn-local", tmp_path / "embedded", model_dir, stop_when_idle=2.0)
        merged = by_endpoint.merge(embedded, on="record_id", suffixes=("_endpoint", "_embedded"))
        assert len(merged) == 30
        assert (
            merged["churn_probability_endpoint"] - merged["churn_probability_embedded"]
        ).abs().max() <= 1e-6
    finally:
        stopped = subprocess.run([sys.executable, "-m", "churn_tools.local.stack", "down", "--run-dir", str(run_dir)],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped moto server" in stopped.stdout and "stopped local endpoint" in stopped.stdout
    assert not local_services.port_in_use(moto_port) and not local_services.port_in_use(endpoint_port)
    again = subprocess.run([sys.executable, "-m", "churn_tools.local.stack", "down", "--run-dir", str(run_dir)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert again.returncode == 0 and "no moto server recorded" in again.stdout
