"""kill -9 the streaming job at random moments, restart it from its checkpoint each time: exactly once as read.

The size is a parameter (environment): STREAM_CRASH_RECORDS (default 1000), STREAM_CRASH_KILLS (default 2),
STREAM_CRASH_SEED. `make test` runs the small default; the issue's full size is
    STREAM_CRASH_RECORDS=50000 STREAM_CRASH_KILLS=10 .venv/bin/pytest tests/streaming/test_crash.py -s
"""

from __future__ import annotations

import collections
import functools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from churn_pipeline import tables
from churn_pipeline.contract import outputs
from churn_pipeline.streaming.handler import StreamTables
from churn_tools import synthetic
from churn_tools.local import producer

from .conftest import create_stream, wait_until

RECORDS = int(os.environ.get("STREAM_CRASH_RECORDS", "1000"))
KILLS = int(os.environ.get("STREAM_CRASH_KILLS", "2"))
SEED = int(os.environ.get("STREAM_CRASH_SEED", "20261126"))
SHARDS = 4


def malformed(i: int) -> bytes:
    """About 1% of the records: each one unique, of several kinds (parser and contract rejects)."""
    kinds = [
        lambda: f'{{"record_id": "bad-{i}", "State": "KS", "Day Mins": '.encode(),  # truncated
        lambda: b"\xff\xfe bad-" + str(i).encode(),  # not UTF-8
        lambda: json.dumps([f"bad-{i}"]).encode(),  # an array
        lambda: json.dumps({"record_id": f"bad-{i}", "State": "KS", "Day Mins": f"lots-{i}"}).encode(),
        lambda: json.dumps(
            {"record_id": f"bad-{i}", "State": "KS", "Day Mins": -float(i)}
        ).encode(),  # contract
    ]
    return kinds[(i // 100) % len(kinds)]()


def make_records(tmp_path: Path) -> tuple[list[tuple[bytes, str]], set[str], collections.Counter]:
    csv = synthetic.write_csv(RECORDS, tmp_path / "input.csv", seed=SEED % 10_000)
    items, valid_ids, bad = [], set(), collections.Counter()
    for i, (data, key) in enumerate(producer.csv_records(csv, "crash-")):
        if i % 100 == 50:
            items.append((malformed(i), key))
            bad[malformed(i)] += 1
        else:
            items.append((data, key))
            valid_ids.add(json.loads(data)["record_id"])
    return items, valid_ids, bad


class Job:
    """The job as a separate process group, so kill -9 takes the driver, the JVM and its Python workers at once."""

    def __init__(self, tmp_path: Path, stream: str, model_dir: Path, attempt: int, idle: float | None = None):
        self.where = StreamTables.local(tmp_path / "warehouse")
        self.log = tmp_path / f"job-{attempt}.log"
        command = [
            sys.executable, "-m", "churn_pipeline.streaming.job",
            "--stream", stream, "--warehouse", str(tmp_path / "warehouse"), "--database", self.where.database,
            "--checkpoint", str(tmp_path / "checkpoint"), "--model-dir", str(model_dir),
            "--trigger-seconds", "1", "--max-records-per-shard", str(max(50, RECORDS // 40)),
        ]  # fmt: skip
        if idle is not None:
            command += ["--stop-when-idle", str(idle)]
        with open(self.log, "wb") as handle:
            self.process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "SPARK_MASTER": "local[2]"},
                start_new_session=True,
            )  # fmt: skip

    def _tables(self):
        return {
            dataset.table: (self.where.catalog.table_location(self.where.database, dataset.table), dataset)
            for dataset in (outputs.STREAM_PREDICTIONS, outputs.STREAM_DEAD_LETTER)
        }

    @functools.cached_property
    def catalog(self):
        """The job's catalog, opened once for the polls (each load_table reads the catalog afresh)."""
        return tables.catalog_from_settings(self.where.catalog)

    def commits(self) -> int:
        """Snapshots of the scored table (0 before the job created it)."""
        catalog = self.catalog
        identifier = self.where.identifier(outputs.STREAM_PREDICTIONS)
        return len(catalog.load_table(identifier).snapshots()) if catalog.table_exists(identifier) else 0

    def writing(self) -> bool:
        """A batch is between its data files and its commit (in either table): a file no snapshot holds."""
        catalog = self.catalog
        for location, dataset in self._tables().values():
            on_disk = {str(p) for p in Path(urlparse(location).path).glob("data/*/*.parquet")}
            identifier = self.where.identifier(dataset)
            if on_disk and catalog.table_exists(identifier):
                if on_disk - {urlparse(p).path for p in tables.data_file_paths(catalog, identifier)}:
                    return True
        return False

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if needle in line]


def produce_in_background(client, stream: str, items, split: bool) -> threading.Thread:
    def work():
        rate = max(500.0, len(items) / 20)  # spread over ~20 s, so kills land while records still arrive
        half = len(items) // 2
        producer.send(client, stream, items[:half], rate=rate)
        if split:
            shard = client.list_shards(StreamName=stream)["Shards"][0]
            low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
            client.split_shard(
                StreamName=stream, ShardToSplit=shard["ShardId"], NewStartingHashKey=str((low + high) // 2)
            )
        producer.send(client, stream, items[half:], rate=rate)

    thread = threading.Thread(target=work, name="producer", daemon=True)
    thread.start()
    return thread


@pytest.mark.slow(seconds=305)
@pytest.mark.parametrize("split", [False, True], ids=["4-shards", "4-shards-with-split"])
def test_kill_9_and_restart_leaves_each_record_exactly_once(resharding_kinesis, model_dir, tmp_path, split):
    rng = random.Random(SEED + split)
    items, valid_ids, bad = make_records(tmp_path)
    stream = create_stream(resharding_kinesis, shards=SHARDS)
    started = time.monotonic()
    production = produce_in_background(resharding_kinesis, stream, items, split)

    kill_moments = []
    for attempt in range(KILLS):
        job = Job(tmp_path, stream, model_dir, attempt)
        before = job.commits()
        # Let it make progress (a new commit), then kill at a random instant of what follows.
        wait_until(
            lambda job=job, before=before: job.commits() > before or job.process.poll() is not None,
            240,
            f"progress of attempt {attempt}",
        )
        assert job.process.poll() is None, job.log.read_text()[-3000:]
        if attempt % 2:
            # Every other kill aims at the write window: data files being written, commit marker not yet.
            deadline = time.monotonic() + 30
            while not job.writing() and time.monotonic() < deadline:
                time.sleep(0.002)
            moment = "mid-write" if job.writing() else "after 30s"
        else:
            delay = rng.uniform(0.0, 3.0)
            time.sleep(delay)
            moment = f"{delay:.2f}s after a commit"
        job.kill()
        kill_moments.append(moment)
    production.join(timeout=600)
    assert not production.is_alive()

    final = Job(tmp_path, stream, model_dir, KILLS, idle=8)
    assert final.process.wait(timeout=900) == 0, final.log.read_text()[-3000:]
    elapsed = time.monotonic() - started

    # What a reader of the table sees (files an interrupted attempt left are in no snapshot).
    where = final.where
    counts = collections.Counter(where.read(outputs.STREAM_PREDICTIONS, ["record_id"])["record_id"]).items()
    duplicates = [(r, n) for r, n in counts if n != 1]
    assert not duplicates, f"{len(duplicates)} record_id(s) not exactly once, e.g. {duplicates[:5]}"
    assert {r for r, _ in counts} == valid_ids, "every valid record scored"

    dead = where.read(outputs.STREAM_DEAD_LETTER, ["raw_payload"])
    assert collections.Counter(bytes(p) for p in dead["raw_payload"]) == bad, (
        "each malformed record dead-lettered once"
    )

    logs = [
        line
        for attempt in range(KILLS + 1)
        for line in (tmp_path / f"job-{attempt}.log").read_text(errors="replace").splitlines()
    ]
    replays = sum("replay of an interrupted attempt" in line for line in logs)
    skipped = sum("already committed: skipped" in line for line in logs)
    print(
        f"\ncrash test ({'with split' if split else 'no split'}): {RECORDS} records ({len(valid_ids)} valid, "
        f"{sum(bad.values())} malformed), {SHARDS} shards, {KILLS} kill -9 ({kill_moments}); "
        f"{replays} batch(es) replayed after a mid-batch kill, {skipped} already-committed batch(es) skipped; "
        f"output {len(counts)} unique record_ids, 0 duplicates; dead letters {len(dead)}; {elapsed:.0f}s"
    )
