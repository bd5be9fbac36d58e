"""PutRecords-to-visible latency of the streaming job, at a sustained rate, on this machine.

    python -m churn_tools.bench.stream_latency --model-dir .work/model --rate 1000 --seconds 60

Starts moto on loopback (unless AWS_ENDPOINT_URL is already set: then that Kinesis is used), a 4-shard stream,
and the streaming job as its own process; waits for the job to score its first records, produces synthetic
records at RATE/s for WARMUP seconds (not measured) and then for SECONDS, polling the output's commit markers.
A record's latency is from the moment its PutRecords call was made to the moment a reader finds its row in a
committed file. Prints p50/p95/max and writes JSON.

Why a warm-up at the rate: a streaming job runs for days, and its first minute is not its steady state. On a
2-core machine the JVM's JIT compilers took more than half of the job's CPU during its first 100 s (C2 alone
32 of 60 CPU-s in one trial), competing with the batches; measured from the first batch, that start-up cost
showed as latency.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import numpy as np
import pyarrow.parquet as pq

from churn_pipeline import tables
from churn_pipeline.contract import outputs
from churn_pipeline.streaming.handler import StreamTables, commit_seconds_logged
from churn_tools import synthetic
from churn_tools.local import producer
from churn_tools.local import services as local_services


class ReadLog:
    """The transport floor's `Visibility`: the read-only reader's log of (record_id, time read) lines."""

    def __init__(self, path: Path):
        self.path = path
        self.visible_at: dict[str, float] = {}
        self._offset = 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            record_id, _, read_at = line.partition(" ")
            self.visible_at.setdefault(record_id, float(read_at))


def read_and_discard(stream: str, out: Path, poll_seconds: float = 0.2) -> None:
    """The transport floor's reader: GetRecords on every shard from TRIM_HORIZON, each record's id and the
    time it was read appended to `out`, nothing else done with it; until SIGTERM."""
    client = boto3.client("kinesis")
    iterators = {
        shard["ShardId"]: client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for shard in client.list_shards(StreamName=stream)["Shards"]
    }
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(out, "a") as log:
        while not stop.is_set():
            got = 0
            for shard, iterator in list(iterators.items()):
                answer = client.get_records(ShardIterator=iterator, Limit=10_000)
                iterators[shard] = answer["NextShardIterator"]
                now = time.time()
                lines = [f"{json.loads(r['Data'])['record_id']} {now}\n" for r in answer["Records"]]
                log.writelines(lines)
                got += len(lines)
            log.flush()
            if not got:
                stop.wait(poll_seconds)


class Visibility:
    """Polls the scored table's current snapshot; remembers when each record_id first became visible.

    The probe shares the machine with the job it measures: one catalog for all polls, and a new snapshot's files
    planned only when the snapshot changed, so that polling four times a second costs the job little CPU."""

    def __init__(self, where: StreamTables):
        self.where = where
        self.seen_files: set[str] = set()
        self.visible_at: dict[str, float] = {}
        self._catalog = None
        self._snapshot_id: int | None = None

    def poll(self) -> None:
        now = time.time()
        if self._catalog is None:
            self._catalog = tables.catalog_from_settings(self.where.catalog)
        identifier = self.where.identifier(outputs.STREAM_PREDICTIONS)
        if not self._catalog.table_exists(identifier):  # the job creates it at its first micro-batch
            return
        table = self._catalog.load_table(identifier)
        snapshot = table.current_snapshot()
        if snapshot is None or snapshot.snapshot_id == self._snapshot_id:
            return
        self._snapshot_id = snapshot.snapshot_id
        for path in tables.data_file_paths(self._catalog, identifier, snapshot.snapshot_id):
            if path not in self.seen_files:
                self.seen_files.add(path)
                with table.io.new_input(path).open() as stream:
                    record_ids = pq.read_table(stream, columns=["record_id"])["record_id"].to_pylist()
                for record_id in record_ids:
                    self.visible_at.setdefault(record_id, now)


def measure(
    model_dir: str,
    rate: float,
    seconds: float,
    work_dir: Path,
    shards: int = 4,
    trigger: float = 1.0,
    warmup_seconds: float = 40.0,
    transport_only: bool = False,
) -> dict:
    """The job's PutRecords-to-visible latency at `rate`; with `transport_only`, the transport floor instead:
    the same producer and local Kinesis, read by `read_and_discard` (PutRecords-to-read)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    # The AWS_* variables below point at this trial's moto; put them back so that the next trial starts its own.
    saved_environ = dict(os.environ)
    try:
        return _measure(model_dir, rate, seconds, work_dir, shards, trigger, warmup_seconds, transport_only)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)


def _measure(
    model_dir: str,
    rate: float,
    seconds: float,
    work_dir: Path,
    shards: int,
    trigger: float,
    warmup_seconds: float,
    transport_only: bool,
) -> dict:
    moto = None
    env = dict(os.environ)
    if not env.get("AWS_ENDPOINT_URL"):
        port = local_services.free_port()
        moto = local_services.start_moto(port, work_dir / "moto.log")
        env.update(local_services.LOCAL_AWS_ENV, AWS_ENDPOINT_URL=f"http://{local_services.LOOPBACK}:{port}")
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    client = boto3.client("kinesis")
    stream = f"latency-{int(time.time())}"
    client.create_stream(StreamName=stream, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    run = work_dir / stream
    where = StreamTables.local(run / "warehouse")
    command = [
        sys.executable, "-m", "churn_pipeline.streaming.job", "--stream", stream,
        "--warehouse", str(run / "warehouse"), "--database", where.database,
        "--checkpoint", str(run / "checkpoint"), "--model-dir", model_dir, "--trigger-seconds", str(trigger),
    ]  # fmt: skip
    if transport_only:
        command = [sys.executable, "-m", "churn_tools.bench.stream_latency", "--read-only", stream,
                   "--read-log", str(run / "read.log")]  # fmt: skip
    log_path = run / "job.log"
    run.mkdir(parents=True, exist_ok=True)
    n_records, n_warmup = int(rate * seconds), int(rate * warmup_seconds)
    csv = synthetic.write_csv(200 + n_warmup + n_records, run / "input.csv", seed=99)
    items = list(producer.csv_records(csv, "lat-"))
    first, at_rate = items[:200], items[200:]
    measured_ids = {json.loads(data)["record_id"] for data, _ in at_rate[n_warmup:]}
    with open(log_path, "wb") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    visibility = ReadLog(run / "read.log") if transport_only else Visibility(where)
    try:
        # JVM start, first batch, model load are not part of the steady state being measured.
        producer.send(client, stream, first)
        deadline = time.monotonic() + 300
        while len(visibility.visible_at) < len(first):
            if job.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"job did not come up (exit {job.poll()}); log: {log_path}")
            time.sleep(0.25)
            visibility.poll()

        sent_at: dict[str, float] = {}
        measure_started: list[float] = []  # monotonic time of the first measured PutRecords call
        log_at_measure: list[int] = []  # the job log's size then: its batches from there on are measured

        def on_batch(report, batch):
            started = time.time() - report.seconds
            for data, _ in batch:
                record_id = json.loads(data)["record_id"]
                if record_id in measured_ids:
                    if not measure_started:
                        measure_started.append(time.monotonic() - report.seconds)
                        log_at_measure.append(log_path.stat().st_size)
                    sent_at[record_id] = started

        # One producer, one pace: the measured records follow the warm-up ones without a pause.
        thread = threading.Thread(
            target=producer.send, args=(client, stream, at_rate, rate), kwargs={"on_batch": on_batch}
        )
        thread.start()
        while thread.is_alive():
            visibility.poll()
            time.sleep(0.25)
        produce_seconds = time.monotonic() - measure_started[0]
        deadline = time.monotonic() + 120
        while not all(r in visibility.visible_at for r in sent_at) and time.monotonic() < deadline:
            visibility.poll()
            time.sleep(0.25)
    finally:
        job.send_signal(signal.SIGTERM)
        try:
            job.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        if moto is not None:
            local_services.stop_process(moto)
    latencies = np.array(
        [visibility.visible_at[r] - t for r, t in sent_at.items() if r in visibility.visible_at]
    )
    missing = len(sent_at) - len(latencies)
    # The job's own commits (every table of a micro-batch), from its log: the batches logged once the measured
    # records were being sent, so neither the cold first batch nor the warm-up counts.
    with open(log_path, "rb") as handle:
        handle.seek(log_at_measure[0] if log_at_measure else 0)
        commits = np.array(commit_seconds_logged(handle.read().decode(errors="replace")))
    result = {
        "rate_target": rate,
        "rate_achieved": round(len(sent_at) / produce_seconds, 1),
        "records": len(sent_at),
        "not_visible_within_120s": missing,
        "trigger_seconds": trigger,
        "warmup_seconds": warmup_seconds,
        "shards": shards,
        "reader": "read and discard (transport floor)" if transport_only else "the streaming job",
        # None when no record became visible (the job fell over): there is no distribution to report.
        "p50_seconds": round(float(np.percentile(latencies, 50)), 3) if len(latencies) else None,
        "p95_seconds": round(float(np.percentile(latencies, 95)), 3) if len(latencies) else None,
        "max_seconds": round(float(latencies.max()), 3) if len(latencies) else None,
        **(
            {}
            if transport_only
            else {
                "commit_batches": len(commits),
                "commit_p50_seconds": round(float(np.percentile(commits, 50)), 3) if len(commits) else None,
                "commit_p95_seconds": round(float(np.percentile(commits, 95)), 3) if len(commits) else None,
            }
        ),
        "cpu_count": os.cpu_count(),
        "job_log": str(log_path),
    }
    (work_dir / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    # Every record's latency, for histograms; kept out of latency.json (one float per record).
    return {**result, "latencies_seconds": latencies.round(3).tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure PutRecords-to-visible latency of the streaming job."
    )
    parser.add_argument("--model-dir", help="the job's model (required unless --read-only)")
    parser.add_argument("--rate", type=float, default=1000.0, help="records per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to produce at that rate")
    parser.add_argument("--work-dir", default=".work/bench-stream-latency")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--trigger-seconds", type=float, default=1.0)
    parser.add_argument(
        "--warmup-seconds", type=float, default=40.0, help="production at the rate before measuring"
    )
    parser.add_argument("--read-only", metavar="STREAM", help="be the transport floor's reader of STREAM")
    parser.add_argument("--read-log", type=Path, help="where --read-only logs what it read")
    parser.add_argument("--transport-only", action="store_true", help="measure the transport floor instead")
    args = parser.parse_args(argv)
    if args.read_only:
        read_and_discard(args.read_only, args.read_log)
        return 0
    if not args.model_dir:
        parser.error("--model-dir is required")
    result = measure(
        args.model_dir,
        args.rate,
        args.seconds,
        Path(args.work_dir),
        args.shards,
        args.trigger_seconds,
        args.warmup_seconds,
        args.transport_only,
    )
    print(json.dumps({k: v for k, v in result.items() if k != "latencies_seconds"}, indent=2))
    print(
        f"PutRecords -> visible at {result['rate_achieved']:.0f} records/s (target {args.rate:.0f}): "
        f"p50 {result['p50_seconds']}s, p95 {result['p95_seconds']}s, max {result['max_seconds']}s"
    )
    return 0 if result["not_visible_within_120s"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
