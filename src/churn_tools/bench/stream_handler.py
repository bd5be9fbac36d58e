"""The streaming handler alone, on one micro-batch of N records, beside the batch job on the same rows.

    python -m churn_tools.bench.stream_handler --records 1000000 --model-dir .work/model --work-dir W

No Kinesis is involved: the micro-batch is a frame in the Kinesis source's raw schema (`data` as the JSON bytes
the producer sends, shard id, sequence number, partition key, arrival time), read from parquet files of at
most `RECORDS_PER_SHARD` records, one file per "shard" and one Spark partition per file, as the Kinesis source
gives one partition per shard. Each size runs in a fresh process, so its peak memory is its own, on a
`local-cluster` master: the driver in this process's JVM, the executors in JVMs of their own (one core each,
as many as the local master has task slots), as on Glue, so the driver's memory is the driver's alone:

- the driver's Python process: its peak resident memory (ru_maxrss), which grew with the batch when the
  handler collected every micro-batch to the driver;
- the driver JVM's live heap: what a full collection, requested every LIVE_HEAP_SAMPLE_SECONDS while the
  handler runs, leaves (GC log); beside it the heap after young collections, which also holds garbage;
- the executors' heap after collections (their own GC logs), for what the tasks hold.

The batch job on the same rows runs on the same master, so the per-core ratio compares like with like.

`measure` runs the sizes (and the batch job on the same rows, for the per-core throughput ratio) REPEAT
times, interleaved, and returns medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from churn_tools.bench import gc_log
from churn_tools.bench.proc import TreeMeter
from churn_tools.bench.ratios import stats

RECORDS_PER_SHARD = 50_000
# While the handler runs, a full collection is requested this often (and once when it returns): the heap it
# leaves is the live heap. The heap after a young collection also holds the old generation's garbage, which
# climbs to G1's marking threshold (45% of the heap) on a long run whatever the job keeps.
LIVE_HEAP_SAMPLE_SECONDS = 2.0
QUERY_ID = "bench-handler"
# One micro-batch of 1M records runs in under a minute here; far beyond that, something is stuck.
RUN_TIMEOUT_SECONDS = 1800


def raw_records(csv: Path, out: Path, say) -> Path:
    """`out/shard-NNNNN.parquet`: the CSV's rows as the producer's JSON records, in the source's raw schema."""
    from churn_tools.local import producer

    done = out / "_complete"
    if done.exists():
        say(f"handler bench: reusing {out}")
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    say(f"handler bench: writing raw records of {csv} to {out}")
    arrival = dt.datetime.now(dt.UTC)
    shard, payloads, keys = 0, [], []

    def flush() -> None:
        n = len(payloads)
        table = pa.table(
            {
                "data": pa.array(payloads, pa.binary()),
                "shard_id": pa.array([f"shardId-{shard:012d}"] * n, pa.string()),
                "sequence_number": pa.array([f"{shard:06d}{i:012d}" for i in range(n)], pa.string()),
                "partition_key": pa.array(keys, pa.string()),
                "approximate_arrival_timestamp": pa.array([arrival] * n, pa.timestamp("us", tz="UTC")),
            }
        )
        pq.write_table(table, out / f"shard-{shard:05d}.parquet")

    for payload, key in producer.csv_records(csv, "bench-"):
        payloads.append(payload)
        keys.append(key)
        if len(payloads) == RECORDS_PER_SHARD:
            flush()
            shard, payloads, keys = shard + 1, [], []
    if payloads:
        flush()
    done.write_text("")
    return out


def run_handler(
    records_dir: Path,
    model_dir: str,
    out: Path,
    master: str,
    driver_memory: str,
    java: str,
    executor_java: str = "",
) -> dict:
    """One micro-batch through the handler in this process; its figures."""
    from churn_pipeline.scoring.config import ScoringConfig
    from churn_pipeline.spark_session import local_session
    from churn_pipeline.streaming.handler import BatchHandler, StreamTables

    largest = max(p.stat().st_size for p in records_dir.glob("shard-*.parquet"))
    spark = local_session(
        "churn-bench-handler", master, driver_memory, java,
        # One partition per file (per shard): a file is never split, and no two are packed together.
        extra_conf={"spark.sql.files.maxPartitionBytes": str(largest + 1),
                    "spark.sql.files.openCostInBytes": str(largest + 1),
                    **({"spark.executor.extraJavaOptions": executor_java} if executor_java else {})},
    )  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    source = spark.read.parquet(str(records_dir))
    partitions = source.rdd.getNumPartitions()
    handler = BatchHandler(
        ScoringConfig(mode="embedded", model_uri=model_dir),
        StreamTables.local(out / "warehouse", drift=True),
        QUERY_ID,
    )
    sampling = threading.Event()

    def sample_live_heap() -> None:
        while not sampling.wait(LIVE_HEAP_SAMPLE_SECONDS):
            spark.sparkContext._jvm.java.lang.System.gc()

    sampler = threading.Thread(target=sample_live_heap, daemon=True)
    started = time.monotonic()
    sampler.start()
    stats = handler(source, 0)
    wall = time.monotonic() - started
    sampling.set()
    sampler.join()
    spark.sparkContext._jvm.java.lang.System.gc()
    spark.stop()
    return {
        "records": stats.records_in,
        "scored": stats.scored,
        "dead_lettered": stats.dead_lettered,
        "partitions": partitions,
        "wall_seconds": round(wall, 3),
        "driver_python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _spark_home(out: Path) -> Path:
    """`out/spark-home`: links to every entry of Spark's home (SPARK_HOME, or the pip-installed pyspark) but
    its `work` directory. A local-cluster master starts its executors from SPARK_HOME, each in a directory
    under SPARK_HOME/work (it reads no SPARK_WORKER_DIR): so they run under `out`, not in the virtualenv."""
    import pyspark

    source = Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)
    home = out / "spark-home"
    home.mkdir()
    for entry in source.iterdir():
        if entry.name != "work":
            (home / entry.name).symlink_to(entry)
    return home


def _fresh_process(command: list[str], out: Path) -> tuple[dict, float]:
    env = {**os.environ, "SPARK_HOME": str(_spark_home(out))}
    with open(out / "job.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        meter = TreeMeter(process.pid)
        try:
            # An executor that cannot start is relaunched without end (the run never finishes): give up.
            exit_code = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"{command[2]} still running after {RUN_TIMEOUT_SECONDS} s, killed; log: {out / 'job.log'}, "
                f"executors' logs under {out / 'spark-home' / 'work'}"
            ) from None
        finally:
            cpu = meter.stop()
    if exit_code != 0:
        raise RuntimeError(f"{command[2]} failed (exit {exit_code}); log: {out / 'job.log'}")
    return json.loads((out / "summary.json").read_text()), cpu


def handler_once(records_dir: Path, model_dir: str, out: Path, master: str, heap: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [
        sys.executable, "-m", "churn_tools.bench.stream_handler", "--records-dir", str(records_dir),
        "--model-dir", model_dir, "--out", str(out), "--master", master, "--driver-memory", heap,
        f"--driver-java-options=-Xms{heap} {gc_log.jvm_options(out / 'gc.log')}",
        # %p: each executor JVM writes its own log (JDK unified logging expands it to the process id).
        f"--executor-java-options={gc_log.jvm_options(out / 'executor-gc-%p.log')}",
    ]  # fmt: skip
    figures, cpu = _fresh_process(command, out)
    figures["cpu_seconds"] = round(cpu, 2)
    gc = gc_log.summarise(out / "gc.log")
    figures["jvm_heap_after_gc_mb"] = gc["peak_heap_after_gc_mb"]
    figures["jvm_live_heap_mb"] = gc["peak_live_heap_mb"]
    # An executor that never collected (no task came its way on a small batch) has nothing to say.
    executor_logs = [
        log for log in sorted(out.glob("executor-gc-*.log")) if gc_log.PAUSE.search(log.read_text())
    ]
    if not executor_logs:
        raise RuntimeError(
            f"no executor GC pause logged in {out}: did the handler run on a local-cluster master?"
        )
    figures["executor_jvm_heap_after_gc_mb"] = max(
        gc_log.summarise(log)["peak_heap_after_gc_mb"] for log in executor_logs
    )
    return figures


def batch_once(csv: Path, model_dir: str, out: Path, master: str, heap: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [
        sys.executable, "-m", "churn_pipeline.batch", "--input", str(csv), "--warehouse", str(out / "warehouse"),
        "--mode", "embedded", "--model-uri", model_dir, "--progress-seconds", "0", "--master", master,
        "--driver-memory", heap, "--batch-id", "bench", "--summary-json", str(out / "summary.json"),
    ]  # fmt: skip
    summary, cpu = _fresh_process(command, out)
    return {
        "records": summary["rows_read"],
        "wall_seconds": summary["wall_seconds"],
        "cpu_seconds": round(cpu, 2),
    }


def task_slots(master: str) -> int:
    """Cores a local master runs tasks on: local[*] all of them, local[N] N, local one."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)\])?", master)
    if found is None:
        raise ValueError(f"the handler bench runs on a local master, not {master!r}")
    return (os.cpu_count() or 1) if found[1] == "*" else int(found[1] or 1)


def cluster_master(master: str, executor_memory: str) -> str:
    """The local master's task slots as executors of one core each, in JVMs of their own: local[2] with 2g ->
    local-cluster[2,1,2048]."""
    found = re.fullmatch(r"(\d+)([mg])", executor_memory.lower())
    if found is None:
        raise ValueError(f"executor memory as <n>m or <n>g, not {executor_memory!r}")
    megabytes = int(found[1]) * (1024 if found[2] == "g" else 1)
    return f"local-cluster[{task_slots(master)},1,{megabytes}]"


def _median(values: list[float]) -> float:
    return stats(values)["median"]


def measure(sizes: tuple[int, ...], model_dir: str, data_dir: Path, work_dir: Path, repeat: int, master: str,
            heap: str, say) -> dict:  # fmt: skip
    """Each size REPEAT times (interleaved rounds, fresh processes), and the batch job on the largest size's
    rows in the same rounds. Medians per size; the per-core ratio at the largest size."""
    from churn_tools.bench.measure import ensure_data

    # The executors run in directories of their own: every path they are given is absolute.
    data_dir, work_dir = data_dir.resolve(), work_dir.resolve()
    model_dir = model_dir if "://" in model_dir else str(Path(model_dir).resolve())
    cores = task_slots(master)
    cluster = cluster_master(master, heap)
    inputs = {n: ensure_data(n, data_dir, say) for n in sizes}
    records = {n: raw_records(inputs[n], data_dir / f"raw-records-{n}", say) for n in sizes}
    runs: dict[int, list[dict]] = {n: [] for n in sizes}
    batch_runs: list[dict] = []
    largest = max(sizes)
    for round_index in range(repeat):
        for n in sizes:
            figures = handler_once(records[n], model_dir, work_dir / f"handler-{n}", cluster, heap)
            say(f"handler {n:,} records (round {round_index + 1}): {figures['wall_seconds']:.1f}s, "
                f"driver Python {figures['driver_python_peak_rss_mb']:,.0f} MB, "
                f"driver JVM live heap {figures['jvm_live_heap_mb']:,.0f} MB (after young GCs <= "
                f"{figures['jvm_heap_after_gc_mb']:,.0f} MB), executors' heap after GC <= "
                f"{figures['executor_jvm_heap_after_gc_mb']:,.0f} MB")  # fmt: skip
            runs[n].append(figures)
        batch_runs.append(batch_once(inputs[largest], model_dir, work_dir / "batch-same-rows", cluster, heap))
        say(f"batch job on the same {largest:,} rows: {batch_runs[-1]['wall_seconds']:.1f}s")
    per_size = {}
    for n, results in runs.items():
        wall = _median([r["wall_seconds"] for r in results])
        per_size[str(n)] = {
            "records": results[0]["records"],
            "partitions": results[0]["partitions"],
            "wall_seconds": wall,
            "records_per_second_per_core": results[0]["records"] / wall / cores,
            "driver_python_peak_rss_mb": _median([r["driver_python_peak_rss_mb"] for r in results]),
            "jvm_heap_after_gc_mb": _median([r["jvm_heap_after_gc_mb"] for r in results]),
            "jvm_live_heap_mb": _median([r["jvm_live_heap_mb"] for r in results]),
            "executor_jvm_heap_after_gc_mb": _median([r["executor_jvm_heap_after_gc_mb"] for r in results]),
            "runs": results,
        }
    batch_wall = _median([r["wall_seconds"] for r in batch_runs])
    batch_per_core = batch_runs[0]["records"] / batch_wall / cores
    python_rss = [size["driver_python_peak_rss_mb"] for size in per_size.values()]
    heap_used = [size["jvm_heap_after_gc_mb"] for size in per_size.values()]
    live_heap = [size["jvm_live_heap_mb"] for size in per_size.values()]
    return {
        "cores": cores,
        "master": cluster,
        "records_per_shard": RECORDS_PER_SHARD,
        "driver_heap": heap,
        "sizes": per_size,
        "batch_same_rows": {
            "records": batch_runs[0]["records"],
            "wall_seconds": batch_wall,
            "records_per_second_per_core": batch_per_core,
            "runs": batch_runs,
        },  # fmt: skip
        "largest": per_size[str(largest)],
        "driver_python_rss": {"min": min(python_rss), "max": max(python_rss)},
        "jvm_heap_after_gc": {"min": min(heap_used), "max": max(heap_used)},
        "jvm_live_heap": {"min": min(live_heap), "max": max(live_heap)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_tools.bench.stream_handler",
                                     description="One micro-batch through the streaming handler (a bench run)")  # fmt: skip
    parser.add_argument("--records-dir", required=True, type=Path)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--driver-java-options", default="")
    parser.add_argument("--executor-java-options", default="")
    args = parser.parse_args(argv)
    figures = run_handler(args.records_dir, args.model_dir, args.out, args.master, args.driver_memory,
                          args.driver_java_options, args.executor_java_options)  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
