"""`make bench`: every scoring path side by side, in one process tree, on the same generated data.

    python -m churn_pipeline.bench --rows 1000000 --repeat 3 --model-dir .work/model

This machine is shared and noisy, so the figures that matter are ratios of paths measured in the same run,
each path repeated REPEAT times (min / median / max kept, ratios taken between medians):

- floor A: raw XGBoost prediction on the already-encoded float matrix, one thread (rows/s per core);
- floor B: the batch job with scoring removed (read + validate + write);
- tutorial: a new boto3 client and one request per row against the local endpoint (on a sample);
- batch endpoint / batch embedded: the batch job (rows/s, peak memory of driver JVM and Python workers);
- embedded scoring step, no I/O: the function the scoring UDF applies to each Arrow batch, on one thread, on the
  same rows as floor A, in the same rounds (rows/s per core);
- the scoring UDF in Spark, over rows cached in memory, beside the Arrow round trip alone (a UDF with the same
  inputs and result that does no work): what moving the rows to the Python workers and back adds (per core);
- scaling: batch embedded at 1x, 4x, 16x ROWS, each in a fresh process (wall time and peak memory);
- streaming: the highest rate at which p95 PutRecords-to-visible latency stays under 10 s, and the latency
  distribution at 1,000 records/s.

Writes `<out-dir>/results.json`, `results.png` and `results.md` (the table of figures, ratios and targets, also
printed). Either long part can be left out for a quicker look: `--scale-factors ''`, `--stream-rates ''`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from churn_pipeline import synthetic
from churn_pipeline.bench import batch_throughput, gc_log, report, stream_latency
from churn_pipeline.bench.proc import TreeMeter
from churn_pipeline.features import SPEC_FILENAME, FeatureSpec, encode, resolve_columns
from churn_pipeline.model import Scorer

P95_LIMIT_SECONDS = 10.0
# A trial "sustains" a rate when the producer really sent at least this share of it.
SUSTAINED_SHARE = 0.9


@dataclass(frozen=True)
class Settings:
    rows: int
    repeat: int
    model_dir: str
    data_dir: Path
    work_dir: Path
    out_dir: Path
    per_row_sample: int = 2000
    floor_a_max_rows: int = 200_000  # the first rows of the data file; rows/s does not depend on the count
    warmup_rows: int = 5000  # an untimed pass of each batch mode first (0: none)
    scale_factors: tuple[int, ...] = (1, 4, 16)
    stream_rates: tuple[float, ...] = (1000, 2000, 4000, 8000)
    stream_seconds: float = 40.0
    # Production at the trial's rate before its measured records (see stream_latency: start-up is not steady).
    stream_warmup_seconds: float = 40.0
    # Trials that halve the gap between the last rate sustained and the first one not (to 50 records/s at most).
    stream_bisect_steps: int = 2
    latency_rate: float = 1000.0
    master: str = "local[*]"
    driver_memory: str = "4g"
    # The scaling runs get a fixed heap (-Xms = -Xmx), as a Glue worker has a fixed memory. With only a cap, G1
    # grows the heap toward it the longer a run allocates, so the JVM's resident memory grew with the input
    # while the job's own need did not; with the heap fixed, what can still grow is memory outside the heap
    # and the Python workers, which is what the check is for. The GC log shows the heap in use after each
    # collection and the pause time (a job short of heap would spend its time collecting).
    scaling_driver_memory: str = "2g"


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator, each a dotted path into the results (so a reader can check the quotient).

    `paired`: both figures were measured in the same rounds, side by side (batch_throughput interleaves the
    modes in each round); the value is then the median of the per-round quotients, so that a slow spell of a
    shared machine, which slows both sides of a round, cancels out. The quotient of the medians is kept too.
    """

    name: str
    numerator: str
    denominator: str
    target: str | None  # ">= 100", "<= 1.25", ...; None: a figure to read, with no target
    description: str
    paired: bool = False


RATIOS = (
    Ratio(
        "endpoint_vs_tutorial_rows_per_second_ratio",
        "paths.endpoint.rows_per_second.median",
        "paths.tutorial.rows_per_second.median",
        ">= 100",
        "batch endpoint mode / tutorial method (rows/s)",
        paired=True,
    ),
    Ratio(
        "embedded_vs_floor_b_wall_time_ratio",
        "paths.embedded.wall_seconds.median",
        "paths.floor_b.wall_seconds.median",
        "<= 1.25",
        "batch embedded / floor B (wall time)",
        paired=True,
    ),
    Ratio(
        "embedded_scoring_step_vs_floor_a_per_core_ratio",
        "paths.embedded_scoring_step.rows_per_second_per_core.median",
        "paths.floor_a.rows_per_second_per_core.median",
        ">= 0.25",
        "embedded scoring step, no I/O / floor A (rows/s per core)",
        paired=True,
    ),
    Ratio(
        "embedded_udf_in_spark_vs_floor_a_per_core_ratio",
        "paths.embedded_udf_in_spark.rows_per_second_per_core.median",
        "paths.floor_a.rows_per_second_per_core.median",
        None,
        "scoring UDF in Spark, with the rows' transfer / floor A (rows/s per core)",
    ),
    Ratio(
        "scaling_peak_memory_max_vs_min_ratio",
        "scaling.peak_total_rss_mb.max",
        "scaling.peak_total_rss_mb.min",
        "<= 1.2",
        "batch embedded 1x..16x ROWS: peak memory max / min",
    ),
    Ratio(
        "scaling_per_row_time_largest_vs_smallest_ratio",
        "scaling.seconds_per_million_rows.largest",
        "scaling.seconds_per_million_rows.smallest",
        "<= 1.25",
        "batch embedded: time per row at the largest / smallest size",
    ),
)


def stats(values: Sequence[float]) -> dict:
    runs = [float(v) for v in values]
    return {"min": min(runs), "median": float(np.median(runs)), "max": max(runs), "runs": runs}


def lookup(results: dict, dotted: str):
    value = results
    for key in dotted.split("."):
        value = value[key]
    return value


def meets(value: float, target: str) -> bool:
    operator, bound = target.split()
    return value >= float(bound) if operator == ">=" else value <= float(bound)


# --- data -------------------------------------------------------------------------------------------------


def count_data_rows(path: Path) -> int:
    """Lines after the header, read in large blocks (a 16M-row file is about 1.3 GB)."""
    lines = 0
    with open(path, "rb") as handle:
        while block := handle.read(16 * 1024 * 1024):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def ensure_data(rows: int, data_dir: Path, say) -> Path:
    """`<data_dir>/churn-<rows>.csv` (the file `make bench-batch` uses too), written once, then reused."""
    path = data_dir / f"churn-{rows}.csv"
    if path.exists() and count_data_rows(path) == rows:
        say(f"data: reusing {path}")
        return path
    say(f"data: writing {rows:,} rows to {path}")
    return synthetic.write_csv(rows, path)


# --- the paths --------------------------------------------------------------------------------------------


def in_process_paths(spark, data: Path, model_dir: str, max_rows: int, repeat: int) -> dict:
    """Floor A and the embedded scoring step without I/O: one thread, the same first rows, the same rounds.

    - floor A: XGBoost's predict alone on the already-encoded float matrix, the most any scorer can do;
    - the scoring step: the very function the scoring UDF applies in a Python worker to each Arrow batch
      (validate, encode, predict, build the result columns), called here on the Arrow batches Spark would
      hand over (Spark's own Arrow conversion of the rows), so no read, no transfer and no write is in it.
    """
    import pyarrow.compute as pc

    from churn_pipeline import spark_scoring

    spec = FeatureSpec.load(Path(model_dir) / SPEC_FILENAME)
    table = first_rows_as_arrow(spark, data, spec, max_rows)
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


def model_inputs(spark, data: Path, spec: FeatureSpec):
    """Every line of `data` as the batch reader types it: the model's input columns and the reader's error code."""
    from pyspark.sql import functions as F

    from churn_pipeline.batch.reader import READ_ERROR_CODE, read_churn_lines

    rows = read_churn_lines(spark, str(data)).rows
    needed = resolve_columns(rows.columns, spec.input_columns)
    return rows.select(
        *[F.col(f"`{needed[c]}`").alias(c) for c in spec.input_columns], F.col(READ_ERROR_CODE)
    )


def first_rows_as_arrow(spark, data: Path, spec: FeatureSpec, max_rows: int):
    """The model's input columns of the file's first valid rows, converted to Arrow by Spark (its types)."""
    import pyarrow.compute as pc

    from churn_pipeline.batch.reader import READ_ERROR_CODE

    # max_rows + 1 lines: the header line is one of them (tagged by the reader, dropped below).
    table = model_inputs(spark, data, spec).limit(max_rows + 1).toArrow()
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

    from churn_pipeline import spark_scoring
    from churn_pipeline.batch.reader import READ_ERROR_CODE

    spec = FeatureSpec.load(Path(model_dir) / SPEC_FILENAME)
    cores = task_slots(spark)
    # The reader's code column is cached and filtered on afterwards: a filter on it before the cache makes
    # Spark inline all of the reader's checks into the filter, and the cache then took 130 s, not 23 s.
    cached = model_inputs(spark, data, spec).repartition(cores).cache()
    valid = cached.where(F.col(READ_ERROR_CODE).isNull()).drop(READ_ERROR_CODE)
    inputs = [F.col(f"`{c}`") for c in spec.input_columns]
    config = spark_scoring.ScoringConfig(mode="embedded", model_uri=model_dir, storage_level="NONE")

    def scored_rows():  # the model files are read here, on the driver, before any clock starts
        tagged = spark_scoring.score(valid, config).tagged
        return tagged.where(spark_scoring.outcome_column() == spark_scoring.SCORED)

    def constant_answer(*arrays):
        answer = spark_scoring.BatchResult.rejected(len(arrays[0]))
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
    """floor B, tutorial, endpoint and embedded from batch_throughput.measure's per-run figures."""
    paths = {
        "tutorial": {"rows": report["per_row_sample"], "rows_per_second": stats(report["per_row_runs"])},
    }
    for mode, name in (("no-scoring", "floor_b"), ("endpoint", "endpoint"), ("embedded", "embedded")):
        runs = report["runs"][mode]
        paths[name] = {
            "rows": runs[0]["rows"],
            "wall_seconds": stats([r["wall_seconds"] for r in runs]),
            "rows_per_second": stats([r["rows"] / r["wall_seconds"] for r in runs]),
            "cpu_seconds": stats([r["cpu_seconds"] for r in runs]),
            **{
                f"peak_{role}_rss_mb": stats([r["peak_rss_mb"][role] for r in runs])
                for role in ("driver_jvm", "python_workers", "total")
            },
        }
    return paths


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
            sys.executable, "-m", "churn_pipeline.batch", "--input", str(data), "--output", str(out / "scored"),
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
    the first rate is not sustained) and it; then REPEAT trials at the latency rate in all."""

    def trial(rate: float) -> dict:
        result = stream_latency.measure(
            settings.model_dir,
            rate,
            settings.stream_seconds,
            settings.work_dir / "stream" / f"rate-{rate:g}",
            warmup_seconds=settings.stream_warmup_seconds,
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
            f"stream {rate:g}/s: achieved {result['rate_achieved']:g}/s, {spread}, sustained: {result['sustained']}"
        )
        return result

    search = []
    for rate in settings.stream_rates:
        search.append(trial(rate))
        if not search[-1]["sustained"]:
            break
    if not search[-1]["sustained"]:  # every rate before the last one was sustained
        # Below the first rate tried when even that one was not sustained: a rate found, not "none".
        low = search[-2]["rate_target"] if len(search) > 1 else 0.0
        high = search[-1]["rate_target"]
        for _ in range(settings.stream_bisect_steps):
            rate = round((low + high) / 2 / 50) * 50
            if rate in (low, high):
                break
            search.append(trial(rate))
            low, high = (rate, high) if search[-1]["sustained"] else (low, rate)
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
        "latency_rate": settings.latency_rate,
        **{
            f"{figure}_at_latency_rate": stats([t[figure] for t in at_latency_rate])
            for figure in ("p50_seconds", "p95_seconds", "max_seconds")
        },
        # The median trial's records, for the histogram (one trial, not REPEAT pooled).
        "latencies_seconds": sorted(at_latency_rate, key=lambda t: t["p95_seconds"])[
            len(at_latency_rate) // 2
        ]["latencies_seconds"],
    }


# --- the run ----------------------------------------------------------------------------------------------


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for name in (module, f"{module}-cpu"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "not installed"


def machine_facts() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    java = (
        subprocess.run(["java", "-version"], capture_output=True, text=True) if shutil.which("java") else None
    )
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": models[0] if models else platform.processor(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyspark": _version("pyspark"),
        "xgboost": _version("xgboost"),
        "java": (java.stderr or java.stdout).splitlines()[0]
        if java and java.returncode == 0
        else "not found",
    }


class Suite:
    def __init__(self, settings: Settings):
        self.settings = settings

    def say(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def run(self, spark=None) -> dict:
        """Every path, then the results dict (not yet written). Pass `spark` to reuse a running session.

        A long run that fails part-way leaves what it measured in <work-dir>/results.partial.json.
        """
        settings = self.settings
        started = time.monotonic()
        results: dict = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
            "machine": {**machine_facts(), "load_average_before": list(os.getloadavg())},
            "paths": {},
        }
        try:
            self._measure(results, spark)
        except BaseException:
            settings.work_dir.mkdir(parents=True, exist_ok=True)
            partial = settings.work_dir / "results.partial.json"
            partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
            self.say(f"failed; what was measured is in {partial}")
            raise
        results["machine"]["load_average_after"] = list(os.getloadavg())
        results["elapsed_seconds"] = round(time.monotonic() - started, 1)
        results["ratios"] = ratios(results)
        return results

    def _measure(self, results: dict, spark) -> None:
        settings, paths = self.settings, results["paths"]
        data = ensure_data(settings.rows, settings.data_dir, self.say)
        results["data"] = str(data)
        own_session = spark is None
        if own_session:
            from churn_pipeline.batch.__main__ import spark_session

            spark = spark_session(settings.master, settings.driver_memory)
            spark.sparkContext.setLogLevel("ERROR")
        try:
            first_rows = min(settings.rows, settings.floor_a_max_rows)
            self.say(f"floor A and the scoring step without I/O: one thread, first {first_rows:,} rows")
            paths.update(
                in_process_paths(spark, data, settings.model_dir, settings.floor_a_max_rows, settings.repeat)
            )
            self.say("batch: tutorial method, floor B, endpoint and embedded, interleaved")
            warmup = None
            if settings.warmup_rows:
                warmup = str(
                    ensure_data(min(settings.rows, settings.warmup_rows), settings.data_dir, self.say)
                )
            report = batch_throughput.measure(
                str(data), settings.model_dir, settings.work_dir / "batch", settings.per_row_sample,
                settings.repeat, spark=spark, warmup_data=warmup,
            )  # fmt: skip
            paths.update(batch_paths(report))
            self.say("the scoring UDF in Spark over cached rows, beside the transfer alone")
            paths.update(udf_in_spark_paths(spark, data, settings.model_dir, settings.repeat))
        finally:
            if own_session:
                spark.stop()
        # Either part can be left out (no factors, no rates) for a quicker look; the report then says so.
        results["scaling"] = {"skipped": "no scale factors given"}
        if settings.scale_factors:
            self.say(f"scaling: batch embedded at {', '.join(f'{f}x' for f in settings.scale_factors)}")
            results["scaling"] = scaling(settings, self.say)
        results["streaming"] = {"skipped": "no stream rates given"}
        if settings.stream_rates:
            self.say(f"streaming: rates {', '.join(f'{r:g}' for r in settings.stream_rates)} records/s")
            results["streaming"] = streaming(settings, self.say)


def runs_of(results: dict, dotted_median: str) -> list[float]:
    """The per-round runs behind a `<figure>.median` path."""
    return lookup(results, dotted_median.removesuffix(".median"))["runs"]


def ratios(results: dict) -> dict:
    found = {}
    for ratio in RATIOS:
        entry = {"numerator": ratio.numerator, "denominator": ratio.denominator}
        try:
            entry["of_medians"] = lookup(results, ratio.numerator) / lookup(results, ratio.denominator)
            if ratio.paired:
                pairs = zip(
                    runs_of(results, ratio.numerator), runs_of(results, ratio.denominator), strict=True
                )
                entry["per_round"] = [n / d for n, d in pairs]
                value = float(np.median(entry["per_round"]))
            else:
                value = entry["of_medians"]
        except KeyError:  # from a part that was left out: not measured
            value = None
        found[ratio.name] = {
            "value": value,
            "method": "median of per-round quotients" if ratio.paired else "quotient",
            "target": ratio.target,
            "meets_target": None if value is None or ratio.target is None else meets(value, ratio.target),
            **entry,
            "description": ratio.description,
        }
    return found


def write_results(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json (the histogram's raw latencies left out: one float per record), results.png, results.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stream = results["streaming"]
    stored = {**results, "streaming": {k: v for k, v in stream.items() if k != "latencies_seconds"}}
    if "latencies_seconds" in stream:
        counts, edges = np.histogram(stream["latencies_seconds"], bins=40)
        stored["streaming"]["latency_histogram"] = {
            "counts": counts.tolist(),
            "edges_seconds": edges.round(3).tolist(),
        }
    paths = {"json": out_dir / "results.json", "png": out_dir / "results.png", "md": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(stored, indent=2) + "\n")
    report.chart(results, paths["png"])
    paths["md"].write_text(report.markdown(results))
    return paths


def _numbers(text: str, kind=float) -> tuple:
    return tuple(kind(part) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_pipeline.bench",
        description="Every scoring path side by side, the ratios and their targets: results.json/.png/.md",
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument(
        "--data-dir", default=".work/data", help="generated data, reused when the size matches"
    )
    parser.add_argument(
        "--work-dir", default=".work/bench", help="outputs, logs, endpoint and job directories"
    )
    parser.add_argument("--out-dir", default="bench", help="results.json, results.png and results.md go here")
    parser.add_argument("--per-row-sample", type=int, default=2000, help="rows the tutorial method scores")
    parser.add_argument("--floor-a-max-rows", type=int, default=200_000)
    parser.add_argument(
        "--warmup-rows", type=int, default=5000, help="untimed pass of each batch mode (0: none)"
    )
    parser.add_argument("--scale-factors", default="1,4,16", help="multiples of ROWS for the scaling check")
    parser.add_argument("--stream-rates", default="1000,2000,4000,8000", help="records/s, tried in order")
    parser.add_argument("--stream-seconds", type=float, default=40.0, help="production time of each trial")
    parser.add_argument(
        "--stream-warmup-seconds", type=float, default=40.0, help="unmeasured production before each trial"
    )
    parser.add_argument(
        "--stream-bisect-steps",
        type=int,
        default=2,
        help="trials between the last rate sustained and the next",
    )
    parser.add_argument("--latency-rate", type=float, default=1000.0)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument(
        "--scaling-driver-memory", default="2g", help="fixed heap of the scaling runs (see Settings)"
    )
    args = parser.parse_args(argv)
    settings = Settings(
        rows=args.rows, repeat=args.repeat, model_dir=args.model_dir, data_dir=Path(args.data_dir),
        work_dir=Path(args.work_dir), out_dir=Path(args.out_dir), per_row_sample=args.per_row_sample,
        floor_a_max_rows=args.floor_a_max_rows, warmup_rows=args.warmup_rows, scale_factors=_numbers(args.scale_factors, int),
        stream_rates=_numbers(args.stream_rates), stream_seconds=args.stream_seconds,
        stream_warmup_seconds=args.stream_warmup_seconds,
        stream_bisect_steps=args.stream_bisect_steps,
        latency_rate=args.latency_rate, master=args.master, driver_memory=args.driver_memory,
        scaling_driver_memory=args.scaling_driver_memory,
    )  # fmt: skip
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's workers need the package's interpreter
    results = Suite(settings).run()
    written = write_results(results, settings.out_dir)
    print(written["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in written.values())} in {results['elapsed_seconds']:.0f}s")
    return 0
