"""The measured paths of `make bench` that run in this process tree: floor A and the scoring step without I/O,
the scoring UDF in Spark beside the transfer alone, the scaling runs and the streaming trials. The batch paths
are `batch_throughput`'s, the streaming trials drive `stream_latency`'s."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.contract.features import encode, resolve_columns
from churn_pipeline.model import ModelDir, Scorer
from churn_tools import synthetic
from churn_tools.bench import gc_log, stream_latency
from churn_tools.bench.proc import TreeMeter
from churn_tools.bench.ratios import stats
from churn_tools.bench.settings import P95_LIMIT_SECONDS, SUSTAINED_SHARE, Settings

# --- data -------------------------------------------------------------------------------------------------


def count_data_rows(path: Path) -> int:
    """Lines after the header, read in large blocks (a 16M-row file is about 1.3 GB)."""
    lines = 0
    with open(path, "rb") as handle:
        while block := handle.read(16 * 1024 * 1024):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def ensure_data(
    rows: int,
    data_dir: Path,
    say,
    description: DatasetDescription | None = None,
    seed: int = synthetic.DEFAULT_SEED,
) -> Path:
    """`<data_dir>/churn-<rows>.csv` (the file `make bench-batch` uses too), written once, then reused.

    Data of another description's shape (or seed) is `<name>-<digest>-<rows>.csv`, the digest of the
    description and seed, so that a file of an older shape is never taken for it.
    """
    name = "churn"
    if (description is not None and description != tutorial()) or seed != synthetic.DEFAULT_SEED:
        description = description or tutorial()
        digest = hashlib.sha256(f"{seed}\n{description.to_json()}".encode()).hexdigest()[:8]
        name = f"{description.name}-{digest}"
    path = data_dir / f"{name}-{rows}.csv"
    if path.exists() and count_data_rows(path) == rows:
        say(f"data: reusing {path}")
        return path
    say(f"data: writing {rows:,} rows to {path}")
    return synthetic.write_csv(rows, path, seed, description)


# --- the paths --------------------------------------------------------------------------------------------


def in_process_paths(spark, data: Path, model_dir: str, max_rows: int, repeat: int) -> dict:
    """Floor A and the embedded scoring step without I/O: one thread, the same first rows, the same rounds.

    - floor A: XGBoost's predict alone on the already-encoded float matrix, the most any scorer can do;
    - the scoring step: the very function the scoring UDF applies in a Python worker to each Arrow batch
      (validate, encode, predict, build the result columns), called here on the Arrow batches Spark would
      hand over (Spark's own Arrow conversion of the rows), so no read, no transfer and no write is in it.
    """
    import pyarrow.compute as pc

    from churn_pipeline.scoring import spark as spark_scoring

    spec = ModelDir(model_dir).spec()
    table = first_rows_as_arrow(spark, data, ModelDir(model_dir), max_rows)
    scorer = Scorer.from_dir(model_dir)
    scorer.booster.set_param({"nthread": 1})  # per core, whatever the Scorer default becomes
    matrix = encode(table.to_pandas(), scorer.spec).matrix
    config = spark_scoring.ScoringConfig(mode="embedded", model_uri=model_dir)
    score_batch = spark_scoring.arrow_batch_scorer(config, spec)
    batches = [batch.columns for batch in table.to_batches(max_chunksize=config.arrow_batch_rows)]
    scorer.predict_matrix(matrix[:1000])  # first calls allocate and load the model: not the steady state
    score_batch(*batches[0])
    floor, step = [], []
    for _ in range(repeat):  # interleaved, so that a slow spell of the machine slows both
        started = time.perf_counter()
        scorer.predict_matrix(matrix)
        floor.append(len(matrix) / (time.perf_counter() - started))
        started = time.perf_counter()
        results = [score_batch(*columns) for columns in batches]
        step.append(table.num_rows / (time.perf_counter() - started))
        scored = sum(pc.sum(pc.equal(r.field("outcome"), spark_scoring.SCORED)).as_py() for r in results)
        if scored != table.num_rows:
            raise RuntimeError(f"scoring step scored {scored} of {table.num_rows} rows")
    return {
        "floor_a": {"rows": len(matrix), "threads": 1, "rows_per_second_per_core": stats(floor)},
        "embedded_scoring_step": {
            "rows": table.num_rows,
            "threads": 1,
            "batch_rows": config.arrow_batch_rows,
            "rows_per_second_per_core": stats(step),
        },
    }


def model_inputs(spark, data: Path, model: ModelDir):
    """Every line of `data` as the batch reader types it (by the model's dataset description): the model's
    input columns and the reader's error code."""
    from pyspark.sql import functions as F

    from churn_pipeline.batch.reader import READ_ERROR_CODE, read_churn_lines

    spec = model.spec()
    rows = read_churn_lines(spark, str(data), model.description()).rows
    needed = resolve_columns(rows.columns, spec.input_columns)
    return rows.select(
        *[F.col(f"`{needed[c]}`").alias(c) for c in spec.input_columns], F.col(READ_ERROR_CODE)
    )


def first_rows_as_arrow(spark, data: Path, model: ModelDir, max_rows: int):
    """The model's input columns of the file's first valid rows, converted to Arrow by Spark (its types)."""
    import pyarrow.compute as pc

    from churn_pipeline.batch.reader import READ_ERROR_CODE

    # max_rows + 1 lines: the header line is one of them (tagged by the reader, dropped below).
    table = model_inputs(spark, data, model).limit(max_rows + 1).toArrow()
    return table.filter(pc.is_null(table[READ_ERROR_CODE])).drop_columns([READ_ERROR_CODE])


def task_slots(spark) -> int:
    """Tasks Spark runs at once: N of local[N] (the cores it uses), else the default parallelism."""
    master = spark.sparkContext.master
    if master.startswith("local"):
        inside = master.partition("[")[2].partition(",")[0].rstrip("]")
        return os.cpu_count() or 1 if inside == "*" else int(inside or 1)
    return spark.sparkContext.defaultParallelism


def udf_in_spark_paths(spark, data: Path, model_dir: str, repeat: int) -> dict:
    """The scoring UDF inside Spark over rows cached in memory, beside a UDF that does no work on the same rows.

    The first is the scoring step plus what Spark spends to move each row to a Python worker and back (the
    cached rows' scan, Arrow conversion, the socket both ways, the result joined to its row); the second is
    that transfer alone (same input columns, same result type, a constant answer). Both are counted after a
    filter on the UDF's outcome, so the UDF runs on every row; they alternate in each round, after an untimed
    full pass of each (the JVM's JIT compiles the transfer's code paths during the first passes).
    """
    from pyspark.sql import functions as F

    from churn_pipeline.batch.reader import READ_ERROR_CODE
    from churn_pipeline.scoring import spark as spark_scoring
    from churn_pipeline.scoring import worker as scoring_worker

    spec = ModelDir(model_dir).spec()
    cores = task_slots(spark)
    # The reader's code column is cached and filtered on afterwards: a filter on it before the cache makes
    # Spark inline all of the reader's checks into the filter, and the cache then took 130 s, not 23 s.
    cached = model_inputs(spark, data, ModelDir(model_dir)).repartition(cores).cache()
    valid = cached.where(F.col(READ_ERROR_CODE).isNull()).drop(READ_ERROR_CODE)
    inputs = [F.col(f"`{c}`") for c in spec.input_columns]
    config = spark_scoring.ScoringConfig(mode="embedded", model_uri=model_dir, storage_level="NONE")

    def scored_rows():  # the model files are read here, on the driver, before any clock starts
        tagged = spark_scoring.score(valid, config).tagged
        return tagged.where(spark_scoring.outcome_column() == spark_scoring.SCORED)

    def constant_answer(*arrays):
        answer = scoring_worker.BatchResult.rejected(len(arrays[0]))
        answer.outcome[:] = spark_scoring.SCORED
        return answer.to_arrow()

    transfer_udf = F.arrow_udf(constant_answer, spark_scoring.RESULT_TYPE).asNondeterministic()

    def transferred_rows():
        answered = valid.withColumn("_answer", transfer_udf(*inputs))
        return answered.where(F.col("_answer.outcome") == spark_scoring.SCORED)

    plans = {"embedded_udf_in_spark": scored_rows, "arrow_round_trip": transferred_rows}
    runs: dict[str, list[float]] = {name: [] for name in plans}
    try:
        n_rows = valid.count()
        for plan in plans.values():
            plan().count()
        for _ in range(repeat):
            for name, plan in plans.items():
                frame = plan()
                started = time.perf_counter()
                counted = frame.count()
                runs[name].append(n_rows / (time.perf_counter() - started))
                if counted != n_rows:
                    raise RuntimeError(f"{name}: counted {counted} of {n_rows} cached rows")
    finally:
        cached.unpersist()
    return {
        name: {
            "rows": n_rows,
            "cores": cores,
            "rows_per_second": stats(found),
            "rows_per_second_per_core": stats([r / cores for r in found]),
        }
        for name, found in runs.items()
    }


def batch_paths(report: dict) -> dict:
    """floor B, floor C, tutorial, endpoint, embedded and embedded with drift from batch_throughput.measure's
    runs."""
    paths = {
        "tutorial": {"rows": report["per_row_sample"], "rows_per_second": stats(report["per_row_runs"])},
    }
    modes = (("no-scoring", "floor_b"), ("floor-c", "floor_c"), ("endpoint", "endpoint"),
             ("embedded", "embedded"), ("embedded-drift", "embedded_drift"))  # fmt: skip
    for mode, name in modes:
        paths[name] = mode_figures(report["runs"][mode])
    return paths


def mode_figures(runs: list[dict]) -> dict:
    """Min / median / max of `batch_throughput.run_mode`'s figures over a mode's runs (one per round)."""
    return {
        "rows": runs[0]["rows"],
        "wall_seconds": stats([r["wall_seconds"] for r in runs]),
        "rows_per_second": stats([r["rows"] / r["wall_seconds"] for r in runs]),
        "cpu_seconds": stats([r["cpu_seconds"] for r in runs]),
        **{
            f"peak_{role}_rss_mb": stats([r["peak_rss_mb"][role] for r in runs])
            for role in ("driver_jvm", "python_workers", "total")
        },
    }


def _rate_search(trial, rates: tuple[float, ...], bisect_steps: int, extend: int) -> list[dict]:
    """Trials upwards through `rates` (then doubling up to `extend` times) until one is not sustained, then
    `bisect_steps` bisections between the last sustained rate (or 0) and it."""
    search = []
    candidates = list(rates) + [rates[-1] * 2 ** (i + 1) for i in range(extend)]
    for rate in candidates:
        search.append(trial(rate))
        if not search[-1]["sustained"]:
            break
    if not search[-1]["sustained"]:  # every rate before the last one was sustained
        # Below the first rate tried when even that one was not sustained: a rate found, not "none".
        low = search[-2]["rate_target"] if len(search) > 1 else 0.0
        high = search[-1]["rate_target"]
        for _ in range(bisect_steps):
            rate = round((low + high) / 2 / 50) * 50
            if rate in (low, high):
                break
            search.append(trial(rate))
            low, high = (rate, high) if search[-1]["sustained"] else (low, rate)
    return search


def scaling(settings: Settings, say) -> dict:
    """Batch embedded at each factor of ROWS, each in a fresh process so that peak memory starts from zero."""
    runs = []
    for factor in settings.scale_factors:
        rows = settings.rows * factor
        data = ensure_data(rows, settings.data_dir, say)
        out = settings.work_dir / "scaling" / f"x{factor}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        heap = settings.scaling_driver_memory
        java_options = f"-Xms{heap} {gc_log.jvm_options(out / 'gc.log')}"
        command = [
            sys.executable, "-m", "churn_pipeline.batch", "--input", str(data), "--warehouse", str(out / "warehouse"),
            "--mode", "embedded", "--model-uri", settings.model_dir, "--progress-seconds", "0",
            "--master", settings.master, "--driver-memory", heap, f"--driver-java-options={java_options}",
            "--batch-id", "bench", "--summary-json", str(out / "summary.json"),
        ]  # fmt: skip
        with open(out / "job.log", "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            meter = TreeMeter(process.pid)
            exit_code = process.wait()
            meter.stop()
        if exit_code != 0:
            raise RuntimeError(f"scaling run at {factor}x failed (exit {exit_code}); log: {out / 'job.log'}")
        summary = json.loads((out / "summary.json").read_text())
        figures = {
            "factor": factor,
            "rows": summary["rows_read"],
            "wall_seconds": summary["wall_seconds"],
            "seconds_per_million_rows": summary["wall_seconds"] / summary["rows_read"] * 1e6,
            "peak_rss_mb": meter.peak_rss_mb(),
            "gc": gc_log.summarise(out / "gc.log"),
        }
        figures["gc"]["pause_share_of_wall"] = round(
            figures["gc"]["pause_seconds"] / figures["wall_seconds"], 4
        )
        say(f"scaling {factor}x: {figures['rows']:,} rows in {figures['wall_seconds']:.1f}s, "
            f"peak {figures['peak_rss_mb']['total']:,.0f} MB, heap after GC <= {figures['gc']['peak_heap_after_gc_mb']:,.0f} MB, "
            f"GC pauses {figures['gc']['pause_share_of_wall']:.1%} of the time")  # fmt: skip
        runs.append(figures)
    rows = np.array([r["rows"] for r in runs], dtype=float) / 1e6
    walls = np.array([r["wall_seconds"] for r in runs])
    slope, intercept = np.polyfit(rows, walls, 1) if len(runs) > 1 else (walls[0] / rows[0], 0.0)
    totals = [r["peak_rss_mb"]["total"] for r in runs]
    return {
        "driver_heap": settings.scaling_driver_memory,
        "runs": runs,
        "slope_seconds_per_million_rows": float(slope),
        "intercept_seconds": float(intercept),
        "seconds_per_million_rows": {
            "smallest": runs[0]["seconds_per_million_rows"],
            "largest": runs[-1]["seconds_per_million_rows"],
        },
        "peak_total_rss_mb": {"min": min(totals), "max": max(totals)},
    }


def streaming(settings: Settings, say) -> dict:
    """Rates tried upwards until one is not sustained, then bisected between the last sustained rate (or 0, when
    the first rate is not sustained) and it; then REPEAT trials at the latency rate in all. The same search
    with the transport floor (the producer, the local Kinesis and a reader that only reads) gives what the
    local Kinesis itself carries on this machine; past the last rate given it goes on doubling (up to 4 times)
    so that the floor is a rate found, not the top of the list."""

    def trial(rate: float, transport_only: bool = False) -> dict:
        who = "transport floor" if transport_only else "stream"
        result = stream_latency.measure(
            settings.model_dir,
            rate,
            settings.stream_seconds,
            settings.work_dir / ("transport" if transport_only else "stream") / f"rate-{rate:g}",
            warmup_seconds=settings.stream_warmup_seconds,
            transport_only=transport_only,
        )
        result["sustained"] = (
            result["not_visible_within_120s"] == 0
            and result["p95_seconds"] is not None
            and result["p95_seconds"] < P95_LIMIT_SECONDS
            and result["rate_achieved"] >= SUSTAINED_SHARE * rate
        )
        result["sustained_share"] = SUSTAINED_SHARE
        spread = ", ".join(f"{q} {result[f'{q}_seconds']}s" for q in ("p50", "p95", "max"))
        say(
            f"{who} {rate:g}/s: achieved {result['rate_achieved']:g}/s, {spread}, sustained: {result['sustained']}"
        )
        return result

    search = _rate_search(trial, settings.stream_rates, settings.stream_bisect_steps, extend=0)
    floor = _rate_search(lambda rate: trial(rate, transport_only=True), settings.stream_rates,
                         settings.stream_bisect_steps, extend=4)  # fmt: skip
    floor_sustained = [t["rate_target"] for t in floor if t["sustained"]]
    at_latency_rate = [t for t in search if t["rate_target"] == settings.latency_rate]
    while len(at_latency_rate) < settings.repeat:
        at_latency_rate.append(trial(settings.latency_rate))
    for result in at_latency_rate:
        if result["p95_seconds"] is None:
            raise RuntimeError(
                f"no record became visible at {settings.latency_rate:g}/s; log: {result['job_log']}"
            )
    sustained = [t["rate_target"] for t in search if t["sustained"]]
    summary_keys = [k for k in search[0] if k != "latencies_seconds"]
    return {
        "p95_limit_seconds": P95_LIMIT_SECONDS,
        "trial_seconds": settings.stream_seconds,
        "warmup_seconds": settings.stream_warmup_seconds,
        "max_sustained_rate": max(sustained) if sustained else 0.0,
        "search": [{k: t[k] for k in summary_keys} for t in search],
        "transport_floor": {
            "reader": "read and discard",
            "max_sustained_rate": max(floor_sustained) if floor_sustained else 0.0,
            "every_rate_sustained": all(t["sustained"] for t in floor),
            "search": [{k: t[k] for k in summary_keys if k in t} for t in floor],
        },
        "latency_rate": settings.latency_rate,
        **{
            f"{figure}_at_latency_rate": stats([t[figure] for t in at_latency_rate])
            for figure in ("p50_seconds", "p95_seconds", "max_seconds")
        },
        # The tables' commit per micro-batch (the job's log), p50 and p95 of each trial at the latency rate.
        **{
            f"{figure}_at_latency_rate": stats([t[figure] for t in at_latency_rate])
            for figure in ("commit_p50_seconds", "commit_p95_seconds")
            if all(t.get(figure) is not None for t in at_latency_rate)
        },
        # The median trial's records, for the histogram (one trial, not REPEAT pooled).
        "latencies_seconds": sorted(at_latency_rate, key=lambda t: t["p95_seconds"])[
            len(at_latency_rate) // 2
        ]["latencies_seconds"],
    }
