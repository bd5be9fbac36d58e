"""`make bench`: every scoring path side by side, in one process tree, on the same generated data.

    python -m churn_tools.bench --rows 1000000 --repeat 3 --model-dir .work/model

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
- streaming handler alone: one micro-batch of 10k, 100k and 1M records in the Kinesis source's raw schema (no
  Kinesis), each in a fresh process, the driver apart from the executors (local-cluster): per-core throughput
  against the batch job on the same rows, the driver's Python peak RSS and JVM live heap, the executors' heap
  after GC, at each size (churn_tools.bench.stream_handler);
- streaming: the highest rate at which p95 PutRecords-to-visible latency stays under 10 s, and the latency
  distribution at 1,000 records/s;
- by shape of data (issue 27): batch embedded and floor B side by side on the tutorial's shape and on the real
  Telco dataset's (its real rows resampled, a model trained on them), each with a model trained on its own
  shape (churn_tools.bench.shapes);
- the quality job (issue 29): ROWS outcomes joined to ROWS scored rows, side by side with floor B on the same
  rows (rows/s and the ratio; churn_tools.bench.quality_throughput).

Writes `<out-dir>/results.json`, `results.png` and `results.md` (the table of figures, ratios and targets, also
printed). Either long part can be left out for a quicker look: `--scale-factors ''`, `--stream-rates ''`; and so
can the handler alone (`--handler-sizes ''`), the shapes (`--shapes ''`), the quality job (`--skip-quality`) and
the paths from floor A to the UDF in Spark (`--skip-paths`), e.g. to run one part alone. A part left out keeps
the figures the previous `<out-dir>/results.json` holds for it, shown as not run in this run with the date of
the run that measured them (churn_tools.bench.parts).
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
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from churn_tools.bench import batch_throughput, parts, quality_throughput, shapes, stream_handler
from churn_tools.bench.measure import (
    batch_paths,
    ensure_data,
    in_process_paths,
    scaling,
    streaming,
    udf_in_spark_paths,
)
from churn_tools.bench.ratios import ratios
from churn_tools.bench.report import check_previous, write_results
from churn_tools.bench.settings import Settings, numbers

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
        }
        try:
            self._measure(results, spark)
            results["machine"]["load_average_after"] = list(os.getloadavg())
            results["elapsed_seconds"] = round(time.monotonic() - started, 1)
            results["ratios"] = ratios(results)
            parts.check_complete(results)  # a part missing here would be missing from results.md
        except BaseException:
            settings.work_dir.mkdir(parents=True, exist_ok=True)
            partial = settings.work_dir / "results.partial.json"
            partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
            self.say(f"failed; what was measured is in {partial}")
            raise
        return results

    def _measure(self, results: dict, spark) -> None:
        settings = self.settings
        own_session = spark is None and (settings.paths or bool(settings.shapes) or settings.quality)
        if own_session:
            from churn_pipeline.spark_session import local_session

            spark = local_session("churn-bench", settings.master, settings.driver_memory)
            spark.sparkContext.setLogLevel("ERROR")
        try:
            results["paths"] = parts.not_run("--skip-paths")
            if settings.paths:
                results["paths"] = {}
                self._paths(results, spark)
            results["shapes"] = parts.not_run("no shapes given")
            if settings.shapes:
                self.say(f"shapes {', '.join(settings.shapes)}: batch embedded and floor B, interleaved")
                results["shapes"] = shapes.measure(
                    spark, settings.shapes, settings.rows, settings.repeat, settings.data_dir,
                    settings.work_dir / "shapes", settings.warmup_rows, self.say,
                )  # fmt: skip
            results["quality"] = parts.not_run("--skip-quality")
            if settings.quality:
                self.say(
                    f"quality job: {settings.rows:,} outcomes joined to as many scored rows, beside floor B"
                )
                results["quality"] = quality_throughput.measure(
                    spark, settings.rows, settings.repeat, settings.model_dir, settings.data_dir,
                    settings.work_dir / "quality", settings.warmup_rows, self.say,
                )  # fmt: skip
        finally:
            if own_session:
                spark.stop()
        self._separate_processes(results)

    def _paths(self, results: dict, spark) -> None:
        """Floor A, the batch paths and the UDF in Spark, on the tutorial's shape with the given model."""
        settings, paths = self.settings, results["paths"]
        data = ensure_data(settings.rows, settings.data_dir, self.say)
        results["data"] = str(data)
        first_rows = min(settings.rows, settings.floor_a_max_rows)
        self.say(f"floor A and the scoring step without I/O: one thread, first {first_rows:,} rows")
        paths.update(
            in_process_paths(spark, data, settings.model_dir, settings.floor_a_max_rows, settings.repeat)
        )
        self.say("batch: tutorial method, floor B, endpoint and embedded, interleaved")
        warmup = None
        if settings.warmup_rows:
            warmup = str(ensure_data(min(settings.rows, settings.warmup_rows), settings.data_dir, self.say))
        report = batch_throughput.measure(
            str(data), settings.model_dir, settings.work_dir / "batch", settings.per_row_sample,
            settings.repeat, spark=spark, warmup_data=warmup,
        )  # fmt: skip
        paths.update(batch_paths(report))
        self.say("the scoring UDF in Spark over cached rows, beside the transfer alone")
        paths.update(udf_in_spark_paths(spark, data, settings.model_dir, settings.repeat))

    def _separate_processes(self, results: dict) -> None:
        """The parts that start processes of their own: scaling, the streaming handler, streaming."""
        settings = self.settings
        # Each part can be left out (no factors, sizes, rates) for a quicker look; the report then shows the
        # figures of the last run that measured it, with that run's date (churn_tools.bench.parts).
        results["scaling"] = parts.not_run("no scale factors given")
        if settings.scale_factors:
            self.say(f"scaling: batch embedded at {', '.join(f'{f}x' for f in settings.scale_factors)}")
            results["scaling"] = scaling(settings, self.say)
        results["stream_handler"] = parts.not_run("no handler sizes given")
        if settings.handler_sizes:
            self.say(
                f"streaming handler alone: {', '.join(f'{n:,}' for n in settings.handler_sizes)} records"
            )
            results["stream_handler"] = stream_handler.measure(
                settings.handler_sizes, settings.model_dir, settings.data_dir, settings.work_dir / "handler",
                settings.repeat, settings.master, settings.scaling_driver_memory, self.say,
            )  # fmt: skip
        results["streaming"] = parts.not_run("no stream rates given")
        if settings.stream_rates:
            self.say(f"streaming: rates {', '.join(f'{r:g}' for r in settings.stream_rates)} records/s")
            results["streaming"] = streaming(settings, self.say)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_tools.bench",
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
    parser.add_argument(
        "--handler-sizes", default="10000,100000,1000000", help="micro-batch sizes of the handler alone"
    )
    parser.add_argument(
        "--shapes",
        default=",".join(shapes.DEFAULT_SHAPES),
        help="shapes of data on which batch embedded and floor B run side by side ('' leaves them out)",
    )
    parser.add_argument(
        "--skip-paths",
        action="store_true",
        help="leave out floor A, the batch paths and the UDF in Spark (to run another part alone)",
    )
    parser.add_argument(
        "--skip-quality",
        action="store_true",
        help="leave out the quality job beside floor B (ROWS outcomes joined to ROWS scored rows)",
    )
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
    shape_names = tuple(name.strip() for name in args.shapes.split(",") if name.strip())
    if unknown := shapes.unknown_shapes(shape_names):
        parser.error(f"--shapes: unknown shape(s) {', '.join(unknown)}; known: {', '.join(shapes.SHAPES)}")
    try:
        shapes.check_data_available(shape_names)
    except shapes.ShapeDataError as exc:
        parser.error(f"--shapes: {exc}")
    settings = Settings(
        rows=args.rows, repeat=args.repeat, model_dir=args.model_dir, data_dir=Path(args.data_dir),
        work_dir=Path(args.work_dir), out_dir=Path(args.out_dir), per_row_sample=args.per_row_sample,
        floor_a_max_rows=args.floor_a_max_rows, warmup_rows=args.warmup_rows, scale_factors=numbers(args.scale_factors, int),
        stream_rates=numbers(args.stream_rates), stream_seconds=args.stream_seconds,
        stream_warmup_seconds=args.stream_warmup_seconds,
        stream_bisect_steps=args.stream_bisect_steps,
        latency_rate=args.latency_rate, master=args.master, driver_memory=args.driver_memory,
        scaling_driver_memory=args.scaling_driver_memory, handler_sizes=numbers(args.handler_sizes, int),
        paths=not args.skip_paths, shapes=shape_names, quality=not args.skip_quality,
    )  # fmt: skip
    try:  # the previous results, whose parts this run may carry, are read before an hour of measuring
        check_previous(settings.out_dir)
    except ValueError as exc:
        parser.error(f"--out-dir: {exc}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's workers need the package's interpreter
    results = Suite(settings).run()
    written = write_results(results, settings.out_dir)
    print(written["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in written.values())} in {results['elapsed_seconds']:.0f}s")
    return 0
